import AS4Crypto
@testable import AS4Gateway
import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// What a start tells the operator in its log beside `/readyz`: a directory short of the
/// configured free space, one of our certificates not valid yet, and which messages a killed
/// predecessor held.
final class StartNoticeTests: XCTestCase {
    var harness: GatewayHarness!

    override func tearDown() {
        harness = nil
    }

    /// gw-a started with a configuration file of `members` (a JSON object's, given the harness
    /// and the node) beside the harness's options.
    func start(_ members: (GatewayHarness, GatewayHarness.Node) -> String) throws -> GatewayHarness.Node {
        harness = try GatewayHarness()
        try harness.configure(["gw-a", "gw-b"])
        let node = harness.nodes["gw-a"]!
        let config = harness.root.appendingPathComponent("a.json").path
        try "{\(members(harness, node))}".write(toFile: config, atomically: true, encoding: .utf8)
        node.extraArguments = ["--config", config]
        try harness.start("gw-a")
        return node
    }

    func lines(_ node: GatewayHarness.Node, _ event: String) -> [Substring] {
        node.log.split(separator: "\n").filter { $0.contains("event=\(event) ") }
    }

    /// Below `minimumFreeBytes` at start: one warning per directory, naming it, its free bytes
    /// and the threshold. (1 PiB is more than any test machine has free.)
    func testADirectoryShortOfTheReserveIsWarnedOfAtStart() throws {
        let threshold: UInt64 = 1 << 50
        var node = try start { "\"adminListener\": {\"address\": \"127.0.0.1\", \"port\": \($1.adminPort), \"minimumFreeBytes\": \(threshold)}" }
        let low = lines(node, "disk-low")
        XCTAssertFalse(low.isEmpty, node.log)
        let data = try XCTUnwrap(low.first { $0.split(separator: " ").contains("place=data") }, node.log)
        let fields = data.split(separator: " ")
        XCTAssertTrue(fields.contains("level=warn"), String(data))
        XCTAssertTrue(fields.contains("directory=\(node.data)"), String(data))
        XCTAssertTrue(fields.contains("minimum_free_bytes=\(threshold)"), String(data))
        let free = try XCTUnwrap(fields.first { $0.hasPrefix("free_bytes=") }.flatMap { UInt64($0.dropFirst("free_bytes=".count)) })
        XCTAssertLessThan(free, threshold)
        XCTAssertEqual(Set(low.map { $0.split(separator: " ").first { $0.hasPrefix("place=") } }).count, low.count, "one line per directory")

        // Enough room: no line.
        harness.stop(node, signal: SIGTERM)
        node = try start { "\"adminListener\": {\"address\": \"127.0.0.1\", \"port\": \($1.adminPort), \"minimumFreeBytes\": 1}" }
        XCTAssertTrue(lines(node, "disk-low").isEmpty, node.log)
    }

    /// Our signing certificate issued for tomorrow: a warning with its notBefore, once.
    func testOurCertificateNotValidYetIsWarnedOfOnce() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("as4gw-early-\(getpid())-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let from = Date() + 86_400
        func write(_ name: String, validFrom: Date) throws -> (key: String, certificate: String) {
            let key = try PrivateKey.generateRSA(bits: 2048)
            let certificate = try CertificateAuthority.selfSignedCertificate(subject: .init(commonName: "gw-a \(name)"), key: key,
                                                                             validFrom: validFrom, validUntil: Date() + 365 * 86_400)
            let paths = (folder + "/\(name).key", folder + "/\(name).pem")
            try Data(try key.pemEncoded().utf8).write(to: URL(fileURLWithPath: paths.0))
            try Data(try certificate.pemEncoded().utf8).write(to: URL(fileURLWithPath: paths.1))
            return paths
        }
        let signing = try write("signing", validFrom: from), encryption = try write("encryption", validFrom: Date() - 3600)
        let node = try start { h, _ in """
            "truststore": ["\(h.pmodeDirectory)/certs/dev-ca.pem"],
            "keys": {"signingKey": "\(signing.key)", "signingCertificate": "\(signing.certificate)",
                     "encryptionKey": "\(encryption.key)", "encryptionCertificate": "\(encryption.certificate)"}
            """ }
        let early = lines(node, "certificate-not-yet-valid")
        XCTAssertEqual(early.count, 1, node.log)
        let line = String(early.first ?? "")
        XCTAssertTrue(line.contains("level=warn") && line.contains("role=signing") && line.contains("source=keys"), line)
        XCTAssertTrue(line.contains("not_before=\(MessagesCommand.timestamp(try KeyMaterial.certificate(signing.certificate).notBefore))"), line)

        // The daily round tells it no more; a certificate valid already is never told.
        var notices = CertificateExpiryWatch.NotYetValid()
        let ours = try CertificateInventory.Entry(party: "gw-a", role: "signing", source: "keys",
                                                  certificate: KeyMaterial.certificate(signing.certificate))
        let valid = try CertificateInventory.Entry(party: "gw-a", role: "encryption", source: "keys",
                                                   certificate: KeyMaterial.certificate(encryption.certificate))
        XCTAssertEqual(notices.fresh([ours, valid], now: Date()).map(\.event), ["certificate-not-yet-valid"])
        XCTAssertEqual(notices.fresh([ours, valid], now: Date()).count, 0, "once per certificate")
        var later = CertificateExpiryWatch.NotYetValid()
        XCTAssertEqual(later.fresh([ours], now: from + 1).count, 0, "valid by then")
    }

    /// The ids a start released, bounded for one line.
    func testReleasedIdsAreListedUpToALimit() {
        let ids = (1...25).map { "m\($0)@gw-a" }
        XCTAssertEqual(OutboundWorkers.listed(Array(ids.prefix(2))), "m1@gw-a m2@gw-a")
        XCTAssertEqual(OutboundWorkers.listed(Array(ids.prefix(20))), ids.prefix(20).joined(separator: " "))
        XCTAssertEqual(OutboundWorkers.listed(ids), ids.prefix(20).joined(separator: " ") + " … and 5 more")
    }
}

import AS4Crypto
import Foundation
import MessageStore
import XCTest

/// The TLS certificates the P-Modes list for a party bind TLS to that party, beyond the
/// truststore's CA: a message pushed with another access point's client certificate (same CA)
/// is refused, and our connection to a partner whose server shows another key is not made.
class TLSBindingTests: SealingTestCase {
    var clientAuthentication: String { "required" }

    override func setUpWithError() throws {
        harness = try GatewayHarness()
        try harness.configure(["gw-a", "gw-b", "gw-c"])
        try harness.start("gw-b")  // generates the development PKI of all three
        harness.stop("gw-b")
        let certs = harness.pmodeDirectory + "/certs"
        let config = harness.root.appendingPathComponent("b-mtls.json").path
        try """
        {"as4Listener": {"address": "127.0.0.1", "port": 0, "path": "/as4",
          "tls": {"certificate": "\(certs)/gw-b.tls.pem", "key": "\(certs)/gw-b.tls.key", "clientAuthentication": "\(clientAuthentication)"}}}
        """.write(toFile: config, atomically: true, encoding: .utf8)
        harness.nodes["gw-b"]!.extraArguments = ["--config", config]
        try harness.start("gw-b")
    }

    /// `as4gw seal`ed as gw-a, posted with `party`'s TLS client certificate.
    func post(_ path: String, clientCertificateOf party: String?) throws -> (status: String, body: String) {
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        let separator: [UInt8] = [13, 10, 13, 10]
        var split = 0
        while split + 4 <= bytes.count, Array(bytes[split..<split + 4]) != separator { split += 1 }
        let head = String(decoding: bytes[..<split], as: UTF8.self)
        let contentType = head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-type:") }
            .map { String($0.dropFirst("content-type:".count)).trimmingCharacters(in: .whitespaces) } ?? ""
        bytes = Array(bytes[(split + 4)...])
        let body = harness.root.appendingPathComponent(UUID().uuidString).path
        try Data(bytes).write(to: URL(fileURLWithPath: body))
        let response = harness.root.appendingPathComponent(UUID().uuidString).path
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        p.arguments = ["-s", "-o", response, "-w", "%{http_code}", "--cacert", certs + "/dev-ca.pem"]
            + (party.map { ["--cert", certs + "/\($0).tls.pem", "--key", certs + "/\($0).tls.key"] } ?? [])
            + ["-H", "Content-Type: \(contentType)", "--data-binary", "@\(body)", harness.nodes["gw-b"]!.as4URL]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let code = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        return (code, (try? String(contentsOfFile: response, encoding: .utf8)) ?? "")
    }

    func testAMessageMustComeOverItsSendersOwnTLSCertificate() throws {
        let forged = try post(try seal(id: "other-ap@test"), clientCertificateOf: "gw-c")
        XCTAssertEqual(forged.status, "500")
        XCTAssertTrue(forged.body.contains("EBMS:0101"), forged.body)
        XCTAssertTrue(harness.nodes["gw-b"]!.log.contains("is not one the P-Modes list for gw-a"), harness.nodes["gw-b"]!.log)
        try assertNothingStored("other-ap@test")
        let genuine = try post(try seal(id: "own-ap@test"), clientCertificateOf: "gw-a")
        XCTAssertEqual(genuine.status, "200", genuine.body)
    }

    func testOurConnectionToAPartnerShowingAnotherKeyIsNotMade() throws {
        // gw-a's P-Modes say gw-b's TLS certificate is gw-c's: gw-b's real one does not match.
        let parties = harness.pmodeDirectory + "/parties.json"
        let text = try String(contentsOfFile: parties, encoding: .utf8)
        try text.replacingOccurrences(of: "\"tls\": [\"certs/gw-b.tls.pem\"]", with: "\"tls\": [\"certs/gw-c.tls.pem\"]")
            .write(toFile: parties, atomically: true, encoding: .utf8)
        try harness.start("gw-a")
        let id = try harness.send(from: "gw-a", to: "gw-b", files: [try harness.file("p.txt", Array("pinned".utf8))])
        let failed = try harness.waitFor("gw-a", id, .outbound, .failed)
        XCTAssertTrue(failed.outbound?.lastError?.reason.lowercased().contains("pinned") ?? false, "\(String(describing: failed.outbound?.lastError))")
        XCTAssertNil(try harness.message("gw-b", id, .inbound))
    }
}

/// With client certificates optional, a party whose P-Modes list TLS certificates must still
/// present one: sending none is no way around the binding.
final class OptionalTLSBindingTests: TLSBindingTests {
    override var clientAuthentication: String { "optional" }

    func testAPartyWithListedTLSCertificatesMustPresentOne() throws {
        let bare = try post(try seal(id: "no-cert@test"), clientCertificateOf: nil)
        XCTAssertEqual(bare.status, "500")
        XCTAssertTrue(bare.body.contains("EBMS:0101"), bare.body)
        XCTAssertTrue(harness.nodes["gw-b"]!.log.contains("no TLS client certificate came with the message"), harness.nodes["gw-b"]!.log)
        try assertNothingStored("no-cert@test")
    }

    /// A second `serve` on the data directory of a running one refuses to start, and the first
    /// goes on.
    func testASecondServeOnTheSameDataDirectoryRefusesToStart() throws {
        let node = harness.nodes["gw-b"]!
        let second = try GatewayProcess.run(["serve", "--party", "gw-b", "--data", node.data, "--pmode", harness.pmodeDirectory,
                                             "--as4-port", "0", "--submit-port", "0", "--admin-port", "0"])
        XCTAssertEqual(second.status, 2, second.stderr)
        XCTAssertTrue(second.stderr.contains("another as4gw serve is running with the data directory"), second.stderr)
        XCTAssertEqual(try post(try seal(id: "still-up@test"), clientCertificateOf: "gw-a").status, "200")
    }
}

import AS4Crypto
import Foundation
import MessageStore
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// A partner renews its signing certificate with an overlap: the receiver lists both
/// certificates, the sender switches keys while messages flow, and none is refused. Once the old
/// certificate is withdrawn, messages keep passing: proof that the sender really signs with the
/// new key.
final class CertificateRenewalTests: XCTestCase {
    func testRenewalWithOverlapRefusesNothing() throws {
        let harness = try GatewayHarness()
        try harness.configure(["gw-a", "gw-b"])
        try harness.start("gw-a")
        try harness.start("gw-b")
        let certs = harness.pmodeDirectory + "/certs"
        func deliveredAll(_ ids: [String]) throws {
            try harness.waitUntil(timeout: 30, "\(ids.count) deliveries") {
                let store = try harness.store("gw-a")
                defer { store.close() }
                return try ids.allSatisfy { try store.findMessage(id: $0, direction: .outbound)?.status == .delivered }
            }
        }
        let doc = try harness.file("d.txt", Array("renewal".utf8))
        var ids = try (0..<3).map { _ in try harness.send(from: "gw-a", to: "gw-b", files: [doc]) }
        try deliveredAll(ids)

        // gw-a gets a new signing certificate from the same CA.
        let caKey = try PrivateKey(pemEncoded: try String(contentsOfFile: certs + "/dev-ca.key", encoding: .utf8))
        let ca = try CertificateAuthority(key: caKey, certificate: try Certificate(pemEncoded: try String(contentsOfFile: certs + "/dev-ca.pem", encoding: .utf8)))
        let newKey = try PrivateKey.generateRSA(bits: 2048)
        let newCert = try ca.issueCertificate(for: newKey.publicKey, subject: .init(commonName: "gw-a signing 2027"),
                                              validFrom: Date() - 60, validUntil: Date() + 86400, keyUsage: [.digitalSignature, .nonRepudiation])
        try Data(try newCert.pemEncoded().utf8).write(to: URL(fileURLWithPath: certs + "/gw-a.signing-new.pem"))
        try Data(try newKey.pemEncoded().utf8).write(to: URL(fileURLWithPath: certs + "/gw-a.signing-new.key"))

        // 1. The receiver lists both certificates (overlap) and reloads.
        let parties = harness.pmodeDirectory + "/parties.json"
        let original = try String(contentsOfFile: parties, encoding: .utf8)
        try original.replacingOccurrences(of: "\"signing\": [\"certs/gw-a.signing.pem\"]",
                                          with: "\"signing\": [\"certs/gw-a.signing.pem\", \"certs/gw-a.signing-new.pem\"]")
            .write(toFile: parties, atomically: true, encoding: .utf8)
        let b = harness.nodes["gw-b"]!
        kill(b.process!.processIdentifier, SIGHUP)
        try harness.waitUntil(timeout: 10, "gw-b reload") { b.log.contains("event=pmodes-reloaded") }

        // 2. Messages keep flowing while the sender switches to the new key (restart with it).
        ids = try (0..<3).map { _ in try harness.send(from: "gw-a", to: "gw-b", files: [doc]) }
        let config = try harness.configWithSigningKey("gw-a", key: certs + "/gw-a.signing-new.key", certificate: certs + "/gw-a.signing-new.pem",
                                                      file: "a-renewed.json")
        harness.stop("gw-a")
        harness.nodes["gw-a"]!.extraArguments = ["--config", config]
        try harness.start("gw-a")
        ids += try (0..<3).map { _ in try harness.send(from: "gw-a", to: "gw-b", files: [doc]) }
        try deliveredAll(ids)
        XCTAssertFalse(b.log.contains("event=refused"), "nothing refused during the overlap")

        // 3. The old certificate is withdrawn: new-key messages still pass.
        try original.replacingOccurrences(of: "\"signing\": [\"certs/gw-a.signing.pem\"]",
                                          with: "\"signing\": [\"certs/gw-a.signing-new.pem\"]")
            .write(toFile: parties, atomically: true, encoding: .utf8)
        kill(b.process!.processIdentifier, SIGHUP)
        try harness.waitUntil(timeout: 10, "second reload") { b.log.components(separatedBy: "event=pmodes-reloaded").count == 3 }
        let late = try harness.send(from: "gw-a", to: "gw-b", files: [doc])
        try deliveredAll([late])
        XCTAssertFalse(b.log.contains("event=refused"))
    }
}

import AS4Crypto
import Foundation
import MessageStore
import XCTest

/// A gateway with partners on both eDelivery profiles holds keys of each kind: RSA for 1.15,
/// Ed25519 and X25519 for 2.0. Each leg signs with a key its profile suits and encrypts to the
/// partner's certificate of that kind; each receipt is signed the way its message's agreement says.
final class DualProfileTests: XCTestCase {
    func testEachLegSignsAndEncryptsWithTheKeysOfItsProfile() throws {
        let h = try GatewayHarness()
        try h.configure(["gw-a", "gw-b"], legs: [.init(action: "DeliverDocument", profile: "1.15"), .init(action: "Deliver20", profile: "2.0")])
        // The 2.0 certificates are issued by the development CA; the first start adds the RSA and
        // TLS certificates it finds missing.
        try h.addProfile20Identities(["gw-a", "gw-b"], by: try h.makeDevelopmentCA())
        try h.start("gw-a")
        try h.start("gw-b")

        let old = try h.send(from: "gw-a", to: "gw-b", action: "DeliverDocument", files: [try h.file("a.xml", Array("<a>1.15</a>".utf8))])
        let new = try h.send(from: "gw-a", to: "gw-b", action: "Deliver20", files: [try h.file("b.xml", Array("<b>2.0</b>".utf8))])
        let oldSent = try h.waitFor("gw-a", old, .outbound, .delivered)
        let newSent = try h.waitFor("gw-a", new, .outbound, .delivered)
        func text(_ data: Data?) -> String { String(decoding: data ?? Data(), as: UTF8.self) }
        let rsa = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256", ed25519 = "http://www.w3.org/2021/04/xmldsig-more#eddsa-ed25519"
        // What gw-a sent: signed and encrypted the way each profile says.
        XCTAssertTrue(text(oldSent.outbound?.messageBytes).contains(rsa))
        XCTAssertTrue(text(oldSent.outbound?.messageBytes).contains("http://www.w3.org/2009/xmlenc11#rsa-oaep"))
        XCTAssertTrue(text(newSent.outbound?.messageBytes).contains(ed25519), text(newSent.outbound?.messageBytes).prefix(3000).description)
        XCTAssertTrue(text(newSent.outbound?.messageBytes).contains("http://www.w3.org/2021/04/xmldsig-more#x25519"))
        // What gw-b answered: each receipt signed with the key of its message's profile.
        XCTAssertTrue(text(oldSent.receipt).contains(rsa))
        XCTAssertFalse(text(oldSent.receipt).contains(ed25519))
        XCTAssertTrue(text(newSent.receipt).contains(ed25519), text(newSent.receipt))
        let b = try h.store("gw-b")
        defer { b.close() }
        XCTAssertEqual(try b.findMessage(id: new, direction: .inbound)?.status, .received)
    }
}

extension DualProfileTests {
    /// The further identities' files are checked like the primary ones, named by their place.
    func testAdditionalKeysAreCheckedBeforeStart() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("as4gw-dual-\(getpid())-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let key = try PrivateKey.generateEd25519()
        let ca = try CertificateAuthority.createSelfSigned(subject: .init(commonName: "ca"), key: try PrivateKey.generateRSA(bits: 2048),
                                                           validFrom: Date() - 60, validUntil: Date() + 3600)
        let cert = try ca.issueCertificate(for: key.publicKey, subject: .init(commonName: "s"), validFrom: Date() - 60, validUntil: Date() + 3600,
                                           keyUsage: [.digitalSignature])
        try Data(try key.pemEncoded().utf8).write(to: dir.appendingPathComponent("s.key"))
        try Data(try cert.pemEncoded().utf8).write(to: dir.appendingPathComponent("s.pem"))
        let config = dir.appendingPathComponent("gateway.json").path
        try """
        {"keys": {"signingKey": "s.key", "signingCertificate": "s.pem", "encryptionKey": "s.key", "encryptionCertificate": "s.pem",
                  "additional": [{"signingKey": "missing.key", "signingCertificate": "s.pem", "encryptionKey": "s.key", "encryptionCertificate": "s.pem"}]}}
        """.write(toFile: config, atomically: true, encoding: .utf8)
        let r = try GatewayProcess.run(["serve", "--check-config", "--config", config, "--pmode", GatewayProcess.projectRoot.appendingPathComponent("pmode").path])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("keys.additional[0].signingKey") && r.stderr.contains("missing.key"), r.stderr + r.stdout)
        try String(contentsOfFile: config, encoding: .utf8).replacingOccurrences(of: "missing.key", with: "s.key")
            .write(toFile: config, atomically: true, encoding: .utf8)
        let fixed = try GatewayProcess.run(["serve", "--check-config", "--config", config, "--pmode", GatewayProcess.projectRoot.appendingPathComponent("pmode").path])
        XCTAssertFalse(fixed.stderr.contains("keys.additional"), fixed.stderr)
        XCTAssertFalse(fixed.stderr.contains("not valid JSON"), fixed.stderr)
    }
}

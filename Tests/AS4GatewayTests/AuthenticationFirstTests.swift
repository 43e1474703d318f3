import AS4Crypto
@testable import AS4Gateway
import EnvelopeXML
import Foundation
import XCTest

/// The signer decides before the parts cost anything: a message the sending party did not sign
/// is refused for its signer, its parts never decrypted and its XML attachments never parsed.
/// Needs no partner key: a throw-away self-signed key, gw-b's public encryption certificate and
/// the public party ids, service and action are all it takes to post one.
final class AuthenticationFirstTests: SealingTestCase {
    override func setUpWithError() throws {
        harness = try GatewayHarness()
        // Leg 0 encrypts (DeliverDocument); leg 1 (Plain) is signed only, so its XML attachment
        // travels as XML.
        try harness.configure(["gw-a", "gw-b"], legs: [.init(), .init(action: "Plain", encrypt: false)])
        try harness.start("gw-b")
    }

    /// A key and self-signed certificate anyone can make, as files for `seal`.
    func stranger() throws -> (key: String, cert: String) {
        let key = try PrivateKey.generateRSA(bits: 2048)
        let cert = try CertificateAuthority.selfSignedCertificate(subject: .init(commonName: "nobody"), key: key,
                                                                  validFrom: Date() - 60, validUntil: Date() + 3600)
        return (try harness.file("nobody.key", Array(try key.pemEncoded().utf8)), try harness.file("nobody.pem", Array(try cert.pemEncoded().utf8)))
    }

    static let strangerReason = "the message is signed by CN=nobody, not by the expected party's certificate"

    func testAStrangersEncryptedMessageIsRefusedForItsSignerBeforeDecryption() throws {
        let (key, cert) = try stranger()
        // Ciphertext that would fail its GCM tag (EBMS:0102) were it decrypted.
        let (status, error) = try post(try seal(id: "nobody-tampered@test", signKey: key, signCert: cert), editBytes: { bytes in
            bytes[bytes.count - 300] ^= 0x01
        })
        XCTAssertEqual(status, 500)
        XCTAssertEqual(error, "EBMS:0101", lastReply)
        XCTAssertEqual(lastReason, Self.strangerReason)
        // Sent in clear on the leg that requires encryption: the signer is refused first too.
        XCTAssertEqual(try post(try seal(id: "nobody-clear@test", signKey: key, signCert: cert, encrypt: false)).1, "EBMS:0101", lastReply)
        XCTAssertEqual(lastReason, Self.strangerReason)
        try assertNothingStored("nobody-tampered@test")
        try assertNothingStored("nobody-clear@test")
        // gw-a's own tampered message is decrypted, and refused for its ciphertext.
        XCTAssertEqual(try post(try seal(id: "own-tampered@test"), editBytes: { $0[$0.count - 300] ^= 0x01 }).1, "EBMS:0102", lastReply)
    }

    func testAStrangersXMLAttachmentIsNeverParsed() throws {
        let (key, cert) = try stranger()
        // After signing, the XML document becomes bytes no XML parser takes: parsing it for its
        // digest would fail ("cannot be canonicalised").
        func broken(_ id: String) -> (inout [UInt8]) -> Void {
            { bytes in
                guard let at = self.find(bytes, "<doc>\(id)</doc>") else { return XCTFail("no XML attachment in \(id)") }
                bytes.replaceSubrange(at..<at + "<doc>\(id)</doc>".utf8.count, with: Array("<doc><unclosed></doc>".utf8))
            }
        }
        let (status, error) = try post(try seal(id: "nobody-xml@test", signKey: key, signCert: cert, encrypt: false, action: "Plain",
                                                pmode: "gw-a-to-gw-b-1", compress: false), editBytes: broken("nobody-xml@test"))
        XCTAssertEqual(status, 500)
        XCTAssertEqual(error, "EBMS:0101", lastReply)
        XCTAssertEqual(lastReason, Self.strangerReason)
        try assertNothingStored("nobody-xml@test")
        // gw-a's own message gets its attachment digested, and refused for it.
        XCTAssertEqual(try post(try seal(id: "own-xml@test", encrypt: false, action: "Plain", pmode: "gw-a-to-gw-b-1", compress: false),
                                editBytes: broken("own-xml@test")).1, "EBMS:0101", lastReply)
        XCTAssertTrue(lastReason.hasPrefix("XML attachment cannot be canonicalised"), lastReason)
        // Untouched, it is received.
        XCTAssertEqual(try post(try seal(id: "own-xml-intact@test", encrypt: false, action: "Plain", pmode: "gw-a-to-gw-b-1",
                                         compress: false)).0, 200, lastReply)
    }
}

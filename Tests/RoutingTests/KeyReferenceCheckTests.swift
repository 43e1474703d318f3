import AS4Crypto
import Foundation
import XCTest
@testable import Routing

/// A leg that names our signing certificate by Subject Key Identifier needs a certificate with
/// that extension: loaded for the gateway that signs under the leg, the set is refused with the
/// position of the `keyReference`, not left to fail at the first signature.
final class KeyReferenceCheckTests: XCTestCase {
    private let day: TimeInterval = 86_400
    private var dir: ScratchDirectory!
    private var ca: CertificateAuthority!

    override func setUpWithError() throws {
        dir = try ScratchDirectory()
        ca = try CertificateAuthority.createSelfSigned(subject: CertificateSubject(commonName: "key reference CA"),
                                                       key: try PrivateKey.generateEC(curve: .p256), validUntil: Date() + 400 * day)
    }

    override func tearDown() {
        dir = nil
        ca = nil
    }

    /// Writes certs/NAME.pem for a new key of `key`'s kind, with or without the SKI extension.
    @discardableResult
    func certificate(_ name: String, ski: Bool, key: PrivateKey? = nil) throws -> Certificate {
        let key = try key ?? PrivateKey.generateRSA(bits: 2048)
        let certificate = try ca.issueCertificate(for: key.publicKey, subject: CertificateSubject(commonName: name), validFrom: Date() - day,
                                                  validUntil: Date() + 300 * day, subjectKeyIdentifier: ski)
        XCTAssertEqual(certificate.subjectKeyIdentifier == nil, !ski)
        try dir.write("certs/\(name).pem", try certificate.pemEncoded())
        return certificate
    }

    func parties(aSigning: [String] = ["certs/a.pem"], bSigning: [String] = ["certs/b.pem"]) -> String {
        func list(_ files: [String]) -> String { files.map { "\"\($0)\"" }.joined(separator: ", ") }
        return """
        {
          "parties": [
            { "name": "a", "partyIds": [{ "value": "id-a", "type": "\(unregistered)" }], "endpoint": "https://a.example/as4",
              "certificates": { "signing": [\(list(aSigning))] } },
            { "name": "b", "partyIds": [{ "value": "id-b", "type": "\(unregistered)" }], "endpoint": "https://b.example/as4",
              "certificates": { "signing": [\(list(bSigning))] } }
          ]
        }
        """
    }

    /// A push P-Mode from a to b with `security` as its leg's (line 6 holds the security object).
    func pmode(_ security: String, binding: String = "push", id: String = "p1") -> String {
        """
        {
          "id": "\(id)", "binding": "\(binding)",
          "initiator": { "party": "a", "role": "\(Roles.initiator)" },
          "responder": { "party": "b", "role": "\(Roles.responder)" },
          "legs": [ { "service": { "value": "urn:svc:one" }, "action": "Act",
                      "security": \(security) } ]
        }
        """
    }

    func signer(_ party: String, _ certificates: [PartyCertificate]? = nil) -> PModeLoader.Options {
        PModeLoader.Options(signer: PModeLoader.Signer(party: party, certificates: certificates))
    }

    func testAnSKIReferenceToOurCertificateWithoutTheExtensionIsRefusedAtItsPosition() throws {
        try certificate("a", ski: false)
        try certificate("b", ski: true)
        try dir.write("parties.json", parties())
        try dir.write("p.pmode.json", pmode(#"{ "keyReference": "ski" }"#))

        let found = diagnostics(dir.path, options: signer("a"))
        XCTAssertEqual(found.count, 1, "\(found)")
        let text = try XCTUnwrap(found.first)
        XCTAssertTrue(text.hasPrefix("p.pmode.json:6:29: legs[0].security.keyReference is \"ski\", but party \"a\" (this gateway) signs "
                                     + "under this leg (profile 1.15) with the certificate certs/a.pem, which has no Subject Key Identifier "
                                     + "extension"), text)
        XCTAssertTrue(text.hasSuffix("Use \"bst\" or \"issuer-serial\", or a signing certificate with the extension"), text)

        // Not whose the directory is: not checked. For b, which signs its receipts under the leg
        // with a certificate that has the extension: fine.
        XCTAssertNoThrow(try loadOrFail(dir.path))
        XCTAssertNoThrow(try loadOrFail(dir.path, options: signer("b")))
        // The other references name any certificate.
        for reference in ["bst", "issuer-serial"] {
            try dir.write("p.pmode.json", pmode(#"{ "keyReference": "\#(reference)" }"#))
            XCTAssertNoThrow(try loadOrFail(dir.path, options: signer("a")), reference)
        }
    }

    /// The receiver signs its receipts (and error signals) with the leg's reference even when the
    /// leg does not sign its user messages; the sender of such a push leg signs nothing under it.
    func testTheReceiverIsCheckedForItsReceiptsAndAnUnsignedSenderIsNot() throws {
        try certificate("a", ski: false)
        try certificate("b", ski: false)
        try dir.write("parties.json", parties())
        try dir.write("p.pmode.json", pmode(#"{ "sign": false, "encrypt": false, "keyReference": "ski" }"#))
        XCTAssertNoThrow(try loadOrFail(dir.path, options: signer("a")))
        let found = diagnostics(dir.path, options: signer("b"))
        XCTAssertEqual(found.count, 1, "\(found)")
        XCTAssertTrue(found.first?.contains("but party \"b\" (this gateway) signs under this leg") ?? false, "\(found)")

        // On a pull leg the sender (b, the responder, holding the message for a) answers the
        // PullRequests, signed, though the leg does not sign its user messages.
        try dir.write("p.pmode.json", pmode(#"{ "sign": false, "encrypt": false, "keyReference": "ski" }"#, binding: "pull"))
        let pulled = diagnostics(dir.path, options: signer("b"))
        XCTAssertEqual(pulled.count, 1, "\(pulled)")
        XCTAssertTrue(pulled.first?.contains("but party \"b\" (this gateway) signs under this leg") ?? false, "\(pulled)")
    }

    /// Under each profile the certificate of the identity that signs under it is judged, by the
    /// daemon's rule: the first whose key suits the profile, else the primary. Configured
    /// certificates replace parties.json's.
    func testTheCertificateThatSignsUnderTheLegsProfileIsJudged() throws {
        let rsa = try certificate("a-rsa", ski: false)
        let ed = try certificate("a-ed", ski: true, key: try PrivateKey.generateEd25519())
        try certificate("b", ski: true)
        try dir.write("parties.json", parties(aSigning: ["certs/a-rsa.pem", "certs/a-ed.pem"]))
        try dir.write("p.pmode.json", pmode(#"{ "profile": "2.0", "keyReference": "ski" }"#))
        XCTAssertNoThrow(try loadOrFail(dir.path, options: signer("a")), "the Ed25519 certificate signs under 2.0")
        try dir.write("p.pmode.json", pmode(#"{ "profile": "1.15", "keyReference": "ski" }"#))
        XCTAssertTrue(diagnostics(dir.path, options: signer("a")).first?.contains("with the certificate certs/a-rsa.pem,") ?? false)

        // The configured keys are what is signed with, whatever parties.json lists.
        let configured = [PartyCertificate(certificate: try certificate("a-configured", ski: true), file: "/etc/as4gw/a-configured.pem")]
        XCTAssertNoThrow(try loadOrFail(dir.path, options: signer("a", configured)))
        let unfit = [PartyCertificate(certificate: rsa, file: "/etc/as4gw/sign.pem"), PartyCertificate(certificate: ed, file: "/etc/as4gw/ed.pem")]
        try dir.write("parties.json", parties(aSigning: ["certs/a-configured.pem"]))
        XCTAssertTrue(diagnostics(dir.path, options: signer("a", unfit)).first?.contains("with the certificate /etc/as4gw/sign.pem,") ?? false)
    }

    /// A reload for this gateway applies the check: the set that would fail to sign is refused and
    /// the one in force stays.
    func testAReloadThatWouldSignWithAnUnusableReferenceKeepsTheOldSet() throws {
        try certificate("a", ski: false)
        try certificate("b", ski: true)
        try dir.write("parties.json", parties())
        try dir.write("p.pmode.json", pmode(#"{ "keyReference": "bst" }"#, id: "first"))
        let registry = PModeRegistry(try loadOrFail(dir.path, options: signer("a")), options: signer("a"))
        try dir.write("p.pmode.json", pmode(#"{ "keyReference": "ski" }"#, id: "second"))
        let problems = registry.reload(from: dir.path, requiredParties: ["a"])
        XCTAssertEqual(problems.count, 1)
        XCTAssertTrue(problems.first?.description.hasPrefix("p.pmode.json:6:29: legs[0].security.keyReference is \"ski\"") ?? false, "\(problems)")
        XCTAssertEqual(registry.current.pmodes.map(\.id), ["first"])
    }
}

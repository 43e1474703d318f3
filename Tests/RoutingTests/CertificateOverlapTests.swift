import AS4Crypto
import Foundation
import XCTest
@testable import Routing

/// A renewed certificate overlaps the old one: both count while both are valid, only the new one after.
final class CertificateOverlapTests: XCTestCase {
    private let day: TimeInterval = 86400

    func testOldAndNewCertificatesDuringAndAfterTheOverlap() throws {
        let now = Date()
        let ca = try CertificateAuthority.createSelfSigned(subject: CertificateSubject(commonName: "routing test CA"),
                                                           key: try PrivateKey.generateEC(curve: .p256),
                                                           validFrom: now - 400 * day, validUntil: now + 4000 * day)
        let key = try PrivateKey.generateEC(curve: .p256)
        let old = try ca.issueCertificate(for: key.publicKey, subject: CertificateSubject(commonName: "a signing 2025"),
                                          validFrom: now - 300 * day, validUntil: now + 30 * day)
        let renewed = try ca.issueCertificate(for: key.publicKey, subject: CertificateSubject(commonName: "a signing 2026"),
                                              validFrom: now - day, validUntil: now + 365 * day)
        let encryption = try ca.issueCertificate(for: key.publicKey, subject: CertificateSubject(commonName: "a encryption"),
                                                 validFrom: now - day, validUntil: now + 365 * day)

        let dir = try ScratchDirectory()
        try dir.write("certs/a.signing.old.pem", try old.pemEncoded())
        try dir.write("certs/a.signing.new.pem", try renewed.pemEncoded() + ca.certificate.pemEncoded())
        try Data(encryption.derBytes).write(to: dir.url.appendingPathComponent("certs/a.encryption.der"))
        try dir.write("parties.json", """
        {
          "parties": [
            { "name": "a", "partyIds": [{ "value": "id-a", "type": "t" }], "endpoint": "https://a.example/as4",
              "certificates": { "signing": ["certs/a.signing.old.pem", "certs/a.signing.new.pem"],
                                "encryption": ["certs/a.encryption.der"] } },
            { "name": "b", "partyIds": [{ "value": "id-b", "type": "t" }], "endpoint": "https://b.example/as4" }
          ]
        }
        """)
        try dir.write("p.pmode.json", onePMode())
        let set = try loadOrFail(dir.path)
        let a = try XCTUnwrap(set.party(named: "a"))

        XCTAssertEqual(a.certificates(role: .signing, at: now), [renewed, old], "both during the overlap, newest first")
        XCTAssertEqual(a.certificates(role: .signing, at: now + 60 * day), [renewed], "only the new one after the old expired")
        XCTAssertEqual(a.certificates(role: .signing, at: now - 100 * day), [old], "only the old one before the renewal")
        XCTAssertEqual(a.certificates(role: .signing, at: now + 400 * day), [], "none once both expired")
        XCTAssertEqual(a.signingCertificates, [renewed, old])
        XCTAssertEqual(a.allCertificates(role: .signing), [old, renewed])

        XCTAssertEqual(a.certificates[.signing]?[1].chain, [ca.certificate], "further certificates of a file are its chain")
        XCTAssertEqual(a.certificates[.signing]?[1].file, "certs/a.signing.new.pem")
        XCTAssertEqual(a.encryptionCertificates, [encryption], "DER files load too")
        XCTAssertEqual(a.tlsCertificates, [])

        let match = try set.match(userMessage(from: "id-a", to: "id-b", service: "urn:svc:one", action: "Act",
                                              fromIds: [PartyId("id-a", type: "t")]).withTo(PartyId("id-b", type: "t"))).get()
        XCTAssertEqual(match.sender.signingCertificates, [renewed, old], "the match carries the sender's certificates")
    }
}

import EnvelopeXML

extension UserMessage {
    func withTo(_ id: PartyId) -> UserMessage {
        var copy = self
        copy.to.ids = [id]
        return copy
    }
}

import AS4Crypto
@testable import AS4Gateway
import Foundation
import MessageStore
import WSSecurity
import XCTest

/// The seal alone: what it signs, and the shapes a forger could try instead (a second Content,
/// the signature moved, an Id elsewhere, a tampered event that still carries its old hash).
final class EvidenceSealTests: XCTestCase {
    static let ca: CertificateAuthority = {
        try! CertificateAuthority.createSelfSigned(subject: .init(commonName: "evidence test CA"), key: try! PrivateKey.generateEC(curve: .p256),
                                                   validFrom: Date() - 60, validUntil: Date() + 86400)
    }()

    static func identity(_ key: PrivateKey) throws -> SigningIdentity {
        SigningIdentity(privateKey: key, certificate: try ca.issueCertificate(for: key.publicKey, subject: .init(commonName: "gw-test seal"),
                                                                              validFrom: Date() - 60, validUntil: Date() + 86400))
    }

    static func content(eventHash: String? = nil) -> String {
        let fields: [String?] = ["m-1", "_DEFAULT@40003032949", "1790000000123", "Accepted", "stored \"here\"\n"]
        let hash = eventHash ?? EventChain.hash(table: .documentEvents, id: 7, prevHash: EventChain.genesis, fields: fields)
        return """
            <ev:Content Id="evidence-content"><ev:Message messageId="m-1" sender="DVS@90000048472" generatedAt="\(EvidenceBundle.time(Date()))"/>\
            <ev:Files><ev:File n="1" name="a.pdf" mimeType="application/pdf" size="3" sha256="\(String(repeating: "ab", count: 32))"/></ev:Files>\
            <ev:Events table="document_events"><ev:Event eventId="7" messageId="m-1" recipient="_DEFAULT@40003032949" \
            at="2026-09-21T14:13:20.123Z" status="Accepted" detail="stored &quot;here&quot;&#xA;" prevHash="\(EventChain.genesis)" hash="\(hash)"/>\
            </ev:Events></ev:Content>
            """
    }

    func verify(_ text: String) -> String {
        do {
            _ = try EvidenceVerifier(anchors: [Self.ca.certificate]).verify(Array(text.utf8))
            return "valid"
        } catch {
            return "\(error)"
        }
    }

    func testAnECAndAnRSASealVerifyAndTheEventHashMatchesTheStoresFormat() throws {
        for key in [try PrivateKey.generateEC(curve: .p256), try PrivateKey.generateRSA(bits: 2048)] {
            let sealed = String(decoding: try EvidenceSeal.seal(content: Array(Self.content().utf8), identity: try Self.identity(key)), as: UTF8.self)
            XCTAssertEqual(verify(sealed), "valid", sealed)
            // Pretty-printing the envelope around Content does not matter; inside it does.
            XCTAssertEqual(verify(sealed.replacingOccurrences(of: "\n<ds:Signature", with: "\n\n  <ds:Signature")), "valid")
        }
        XCTAssertEqual(EvidenceBundle.millis("2026-09-21T14:13:20.123Z"), "1790000000123")
    }

    func testAForgedShapeOrAStaleHashIsRefused() throws {
        let identity = try Self.identity(try PrivateKey.generateEC(curve: .p256))
        let sealed = String(decoding: try EvidenceSeal.seal(content: Array(Self.content().utf8), identity: identity), as: UTF8.self)
        let content = try XCTUnwrap(sealed.range(of: #"<ev:Content.*</ev:Content>"#, options: .regularExpression))

        // A second, forged Content before the signed one (signature wrapping).
        let forged = Self.content().replacingOccurrences(of: "a.pdf", with: "b.pdf").replacingOccurrences(of: "Id=\"evidence-content\"", with: "")
        var changed = sealed
        changed.insert(contentsOf: forged, at: content.lowerBound)
        XCTAssertEqual(verify(changed), "ev:EvidenceBundle must hold exactly ev:Content and then ds:Signature")

        changed = sealed.replacingOccurrences(of: "<ev:Files>", with: "<ev:Files Id=\"x\">")
        XCTAssertEqual(verify(changed), "only ev:Content may carry an Id attribute")

        changed = sealed.replacingOccurrences(of: "urn:as4gw:evidence:1", with: "urn:as4gw:evidence:2")
        XCTAssertEqual(verify(changed), "the root element is not ev:EvidenceBundle (urn:as4gw:evidence:1)")

        XCTAssertTrue(verify(String(sealed.dropLast(30))).hasPrefix("not well-formed XML"))

        // An event whose detail was changed, sealed anew by someone holding a trusted key: the
        // seal holds, but the event's chain hash no longer matches its fields.
        let stale = Self.content().replacingOccurrences(of: "status=\"Accepted\"", with: "status=\"Failed\"")
        let resealed = String(decoding: try EvidenceSeal.seal(content: Array(stale.utf8), identity: identity), as: UTF8.self)
        XCTAssertTrue(verify(resealed).hasPrefix("document_events event 7: its hash does not match its fields"), verify(resealed))

        // A seal by a key the anchors do not know.
        let unknownKey = try PrivateKey.generateEC(curve: .p256)
        let other = try CertificateAuthority.createSelfSigned(subject: .init(commonName: "other CA"), key: unknownKey, validUntil: Date() + 3600)
        let foreign = SigningIdentity(privateKey: unknownKey, certificate: other.certificate)
        let foreignSealed = String(decoding: try EvidenceSeal.seal(content: Array(Self.content().utf8), identity: foreign), as: UTF8.self)
        XCTAssertTrue(verify(foreignSealed).hasPrefix("the sealing certificate (CN=other CA) is not trusted"), verify(foreignSealed))
    }
}

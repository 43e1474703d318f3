import AS4Crypto
import EnvelopeXML
import Foundation
import XCTest
@testable import WSSecurity

/// The signer is judged before anything a reference points at is read: a message that the
/// expected party did not sign, or whose SignatureValue does not verify, gets no digest of its
/// attachments (an XML attachment would be parsed into a tree many times its size), however
/// its attachments look.
final class AuthenticationOrderTests: XCTestCase {
    let pki = TestPKI.shared

    /// A message signed by `identity` with one XML attachment, which after signing was replaced by
    /// `attachment`: bytes no XML parser takes, unless told otherwise.
    func message(signedBy identity: SigningIdentity, attachment: String = "<doc><unclosed></doc>",
                 editSignedInfo: (inout String) -> Void = { _ in }) throws -> AS4Message {
        let sealed = try MessageSealer(signer: try SignatureBuilder(identity: identity), compress: false)
            .seal(SealAndVerifyTests.user(), payloads: SealAndVerifyTests.payloads(1))
        var sink = MemorySink()
        let contentType = try sealed.write(to: &sink)
        var text = String(decoding: sink.bytes, as: UTF8.self)
        let signed = "<doc n=\"0\">\r\n <a   b='1'/>\n</doc>"
        XCTAssertNotNil(text.range(of: signed), "the XML attachment as sealed")
        text = text.replacingOccurrences(of: signed, with: attachment)
        editSignedInfo(&text)
        return try AS4Message.read(try MessageInput.load(bytes: Array(text.utf8), contentType: contentType))
    }

    /// The receiver of party-a's messages.
    func verifier() throws -> SignatureVerifier {
        SignatureVerifier(policy: .receiving, trust: try pki.validator(), candidates: [pki.rsa.certificate],
                          expectedSigners: [pki.rsa.certificate])
    }

    /// A key and a self-signed certificate anyone can make (the attacker's "CN=nobody").
    func selfSigned() throws -> SigningIdentity {
        let key = try PrivateKey.generateRSA(bits: 2048)
        let now = Date()
        let root = try CertificateAuthority.createSelfSigned(subject: .init(commonName: "nobody"), key: key,
                                                            validFrom: now - 86400, validUntil: now + 86400)
        return SigningIdentity(privateKey: key, certificate: root.certificate)
    }

    func testAnotherSignersAttachmentsAreNeverDigested() throws {
        // Another party of the same CA, an impostor of another CA, a self-signed stranger: each
        // signature is sound in itself, and none is the expected party's.
        for identity in [pki.rsaB, pki.stranger, try selfSigned()] {
            let signed = try message(signedBy: identity)
            let report = try verifier().verify(signed, attachments: signed.attachments)
            XCTAssertEqual(report.error, EbmsError(.failedAuthentication,
                                                   "the message is signed by \(identity.certificate.subject), not by the expected party's certificate"))
            XCTAssertEqual(report.signatureValueValid, true)
            XCTAssertTrue(report.references.isEmpty, "no reference of \(identity.certificate.subject) was resolved or digested")
        }
        // The expected party's message gets its references checked, and this attachment refused.
        let own = try message(signedBy: pki.rsa)
        let report = try verifier().verify(own, attachments: own.attachments)
        XCTAssertEqual(report.error?.code, .failedAuthentication)
        XCTAssertTrue(report.error?.reason.hasPrefix("XML attachment cannot be canonicalised") ?? false, "\(String(describing: report.error))")
        XCTAssertEqual(report.references.count, 3)
    }

    func testASignatureValueThatDoesNotVerifyStopsBeforeTheReferences() throws {
        // SignedInfo changed after signing (the attachment's DigestValue, as one would to match a
        // replaced attachment): the expected party's key no longer verifies it.
        let forged = try message(signedBy: pki.rsa, attachment: "<doc/>") { text in
            guard let range = text.range(of: "<ds:DigestValue>") else { return XCTFail("no DigestValue") }
            text.insert(contentsOf: "AAAA", at: range.upperBound)
        }
        let report = try verifier().verify(forged, attachments: forged.attachments)
        XCTAssertEqual(report.error, EbmsError(.failedAuthentication, "the SignatureValue does not verify with the signer's key"))
        XCTAssertTrue(report.references.isEmpty)
    }

    func testThePhasesApartAsAReceiverRunsThem() throws {
        let verifier = try verifier()
        // Authenticated first, then the references with the parts as they are after decryption.
        let own = try message(signedBy: pki.rsa, attachment: "<doc n=\"0\">\r\n <a   b='1'/>\n</doc>")
        let authentication = verifier.authenticate(own)
        XCTAssertTrue(authentication.isAuthenticated)
        XCTAssertTrue(authentication.report.references.isEmpty, "nothing resolved yet")
        let report = verifier.checkReferences(authentication, attachments: own.attachments)
        XCTAssertNil(report.error)
        XCTAssertEqual(report.references.map(\.status), [.valid, .valid, .valid])
        // Not authenticated: the second phase adds nothing, whatever parts it is given.
        let other = try message(signedBy: pki.rsaB)
        let refused = verifier.authenticate(other)
        XCTAssertFalse(refused.isAuthenticated)
        let after = verifier.checkReferences(refused, attachments: other.attachments)
        XCTAssertEqual(after.error, refused.report.error)
        XCTAssertTrue(after.references.isEmpty)
    }

    func testExaminingStillReportsEveryReference() throws {
        // `as4gw verify`: the operator sees each reference's verdict under any signer.
        var examining = try verifier()
        examining.examinesUnauthenticated = true
        let other = try message(signedBy: pki.rsaB)
        let report = examining.verify(other, attachments: other.attachments)
        XCTAssertEqual(report.error?.reason, "the message is signed by \(pki.rsaB.certificate.subject), not by the expected party's certificate")
        XCTAssertEqual(report.references.count, 3)
        guard case .invalid(let why)? = report.references.first(where: { $0.uri.hasPrefix("cid:") })?.status else {
            return XCTFail("the attachment's reference: \(report.references)")
        }
        XCTAssertTrue(why.hasPrefix("XML attachment cannot be canonicalised"), why)
    }

    func testAnXMLAttachmentIsBoundedByTheVerifiersLimits() throws {
        // A receiver narrows the bound to its agreement's message size (InboundProcessor).
        var verifier = try verifier()
        verifier.attachmentXMLLimits = .attachment(maxBytes: 20)
        let own = try message(signedBy: pki.rsa, attachment: "<doc n=\"0\">\r\n <a   b='1'/>\n</doc>")
        let report = verifier.verify(own, attachments: own.attachments)
        XCTAssertEqual(report.error?.code, .failedAuthentication)
        XCTAssertEqual(report.error?.reason, "XML attachment cannot be canonicalised: document of 33 bytes exceeds the limit of 20")
        XCTAssertEqual(XMLLimits.attachment(maxBytes: 100 << 20).maxBytes, 100 << 20)
        XCTAssertEqual(XMLLimits.attachment(maxBytes: Int.max), XMLLimits.attachment)
    }
}

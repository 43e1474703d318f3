import XCTest
import AS4Crypto
import EnvelopeXML
@testable import WSSecurity

/// An XML attachment whose namespace URI holds `&` (a query string) is signed over the canonical
/// form Canonical XML prescribes (`&amp;` in the declaration, as other implementations write
/// it) and verifies; a different URI in its place is a digest mismatch.
final class XMLAttachmentNamespaceTests: XCTestCase {
    let pki = TestPKI.shared
    let document = #"<?xml version="1.0"?>"# + "\n"
        + #"<inv:Invoice xmlns:inv="urn:x?a=1&amp;b=2&amp;c=3"><inv:ID>7</inv:ID></inv:Invoice>"# + "\n"
    let canonical = #"<inv:Invoice xmlns:inv="urn:x?a=1&amp;b=2&amp;c=3"><inv:ID>7</inv:ID></inv:Invoice>"#

    func seal(_ xml: String) throws -> (RawMessage, SealedMessage) {
        let sealed = try MessageSealer(signer: try SignatureBuilder(identity: pki.rsa), compress: false)
            .seal(SealAndVerifyTests.user(), payloads: [Payload(mimeType: "application/xml", body: .bytes(Array(xml.utf8)))])
        var sink = MemorySink()
        let contentType = try sealed.write(to: &sink)
        return (try MessageInput.load(bytes: sink.bytes, contentType: contentType), sealed)
    }

    func verify(_ input: RawMessage) throws -> SignatureReport {
        let message = try AS4Message.read(input)
        return SignatureVerifier(policy: .receiving, trust: try pki.validator(), candidates: [pki.rsa.certificate])
            .verify(message, attachments: message.attachments)
    }

    func testSignedOverTheCanonicalFormAndVerifies() throws {
        let (input, sealed) = try seal(document)
        let attachment = try XCTUnwrap(sealed.references.first { $0.uri.hasPrefix("cid:") })
        XCTAssertEqual(attachment.digestValue, try Digest.sha256(Array(canonical.utf8)))
        let report = try verify(input)
        XCTAssertNil(report.error, "\(String(describing: report.error))")
        XCTAssertEqual(report.references.count, 3)
    }

    func testAnotherNamespaceInItsPlaceIsADigestMismatch() throws {
        let (input, _) = try seal(document)
        let swapped = Array(document.replacingOccurrences(of: "c=3", with: "c=4").utf8)
        var sink = MemorySink()
        let contentType = try MultipartWriter().write(envelope: input.envelope, attachments: input.attachments.map {
            .init(contentID: $0.contentID!, contentType: $0.headers["Content-Type"]!, body: .bytes(swapped))
        }, to: &sink)
        let report = try verify(try MessageInput.load(bytes: sink.bytes, contentType: contentType))
        XCTAssertEqual(report.error?.code, .failedAuthentication)
        XCTAssertTrue(report.error?.reason.contains("digest mismatch") ?? false, "\(String(describing: report.error))")
    }
}

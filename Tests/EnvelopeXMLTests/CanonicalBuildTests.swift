import XCTest
@testable import EnvelopeXML

/// The builder writes eb:Messaging and the Body in exclusive-canonical form; the signer digests
/// those bytes directly. libxml2's canonicalisation of the parsed envelope must give the very
/// same bytes, for every kind of content and every character that needs escaping.
final class CanonicalBuildTests: XCTestCase {
    static let nasty = "a&b<c>d\"e'\tf\ng\rh Rīga ✓ ]]>"

    func messagings() -> [(Messaging, SOAPVersion)] {
        var out: [(Messaging, SOAPVersion)] = []
        for n in [0, 1, 5] {
            var u = EnvelopeRoundTripTests.sampleUser(attachments: n, compressed: n == 5)
            out.append((Messaging(u, id: "_m\(n)"), .soap12))
            u.properties.append(Property(Self.nasty, Self.nasty, type: Self.nasty))
            u.collaboration.agreementRef = AgreementRef(Self.nasty, type: "t>", pmode: "p\"1")
            u.collaboration.service = Service(Self.nasty, type: Self.nasty)
            u.from.ids.append(PartyId(Self.nasty, type: Self.nasty))
            if n > 0 {
                u.payloads[0].schemas = [PartSchema(location: Self.nasty, version: "1", namespace: "urn:x")]
                u.payloads[0].description = PartDescription(Self.nasty, lang: "lv")
            }
            out.append((Messaging(u, id: "_n\(n)"), .soap12))
            out.append((Messaging(u), .soap12))
            out.append((Messaging(u, id: "_s\(n)"), .soap11))
        }
        let info = MessageInfo(messageId: "sig@x", refToMessageId: "ref@x")
        out.append((Messaging(SignalMessage(messageInfo: info, kind: .errors([
            ErrorDetail(EbmsError(.failedDecryption, Self.nasty, detail: Self.nasty, refToMessageId: "ref@x")),
            ErrorDetail(errorCode: "EBMS:0004", severity: "warning")])), id: "_e"), .soap12))
        out.append((Messaging(SignalMessage(messageInfo: info, kind: .pullRequest(PullRequest(mpc: Self.nasty))), id: "_p"), .soap12))
        out.append((Messaging(SignalMessage(messageInfo: info, kind: .pullRequest(PullRequest())), id: "_p2"), .soap11))
        return out
    }

    func testMessagingAndBodyAreWrittenInCanonicalForm() throws {
        for (m, version) in messagings() {
            let built = EnvelopeBuilder.build(m, bodyId: "_body", soapVersion: version)
            XCTAssertTrue(built.messagingIsCanonical)
            let parsed = try EnvelopeParser.parse(built.bytes)
            XCTAssertEqual(parsed.messaging, m)
            let c14nMessaging = try Canonicalizer.exclusive(parsed.messagingElement)
            XCTAssertEqual(String(decoding: c14nMessaging, as: UTF8.self),
                           String(decoding: built.bytes[built.messagingRange], as: UTF8.self))
            let c14nBody = try Canonicalizer.exclusive(parsed.bodyElement)
            XCTAssertEqual(String(decoding: c14nBody, as: UTF8.self), String(decoding: built.bytes[built.bodyRange], as: UTF8.self))
        }
    }

    func testSecurityHeaderSpliceKeepsTheSignedBytes() throws {
        let (m, _) = messagings()[1]
        let built = EnvelopeBuilder.build(m, bodyId: "_body")
        let header = Array(#"<wsse:Security xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"/>"#.utf8)
        let spliced = built.inserting(securityHeader: header)
        XCTAssertEqual(spliced, EnvelopeBuilder.envelope(m, bodyId: "_body", securityHeader: header))
        let parsed = try EnvelopeParser.parse(spliced)
        XCTAssertEqual(parsed.securityHeaders.count, 1)
        XCTAssertEqual(try Canonicalizer.exclusive(parsed.messagingElement), Array(built.bytes[built.messagingRange]))
    }

    func testReceiptsAreMarkedForCanonicalisationByParsing() {
        let receipt = SignalMessage(messageInfo: MessageInfo(messageId: "r@x", refToMessageId: "m@x"),
                                    kind: .receipt(Receipt(content: ["<x:y xmlns:x=\"urn:x\"></x:y>"])))
        XCTAssertFalse(EnvelopeBuilder.build(Messaging(receipt, id: "_r"), bodyId: "_b").messagingIsCanonical)
    }
}

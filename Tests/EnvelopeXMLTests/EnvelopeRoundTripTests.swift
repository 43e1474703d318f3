import XCTest
@testable import EnvelopeXML

final class EnvelopeRoundTripTests: XCTestCase {
    static func sampleUser(attachments: Int, compressed: Bool = false) -> UserMessage {
        let payloads = (0..<attachments).map { i -> PartInfo in
            var props = [Property(EbmsConstants.mimeType, "application/xml"), Property(EbmsConstants.characterSet, "utf-8")]
            if compressed { props.append(Property(EbmsConstants.compressionType, EbmsConstants.gzip)) }
            return PartInfo(href: "cid:part\(i)@as4gw.test",
                            schemas: i == 0 ? [PartSchema(location: "http://example.org/s.xsd", version: "1")] : [],
                            description: i == 0 ? PartDescription("Invoice & <annex>", lang: "lv") : nil,
                            properties: props)
        }
        return UserMessage(
            mpc: attachments == 1 ? "urn:as4gw:mpc:one" : nil,
            messageInfo: MessageInfo(timestamp: Timestamp(lexical: "2026-11-27T10:00:00.123Z")!,
                                     messageId: "5b3e7f1c-0f4e-4c34-9e0c-\(attachments)@as4gw.test",
                                     refToMessageId: attachments == 5 ? "earlier@as4gw.test" : nil),
            from: Party(PartyId("0088:111", type: "urn:oasis:names:tc:ebcore:partyid-type:iso6523:0088"), role: "http://example.org/roles/Sender"),
            to: Party(PartyId("urn:example:receiver"), role: "http://example.org/roles/Receiver"),
            collaboration: CollaborationInfo(agreementRef: AgreementRef("urn:as4gw:agreement", pmode: "pm-1"),
                                             service: Service("eadrese", type: "urn:as4gw:services"),
                                             action: "Deliver", conversationId: "conv \"1\""),
            properties: [Property("originalSender", "_DEFAULT@40003000001", type: "urn:lv:eaddress"),
                         Property("finalRecipient", "_PRIVATE@010101-12345")],
            payloads: payloads)
    }

    func roundTrip(_ messaging: Messaging, file: StaticString = #filePath, line: UInt = #line) throws {
        let bytes = EnvelopeBuilder.envelope(messaging, bodyId: "_body-1")
        let parsed = try EnvelopeParser.parse(bytes)
        XCTAssertEqual(parsed.messaging, messaging, file: file, line: line)
        XCTAssertEqual(parsed.soapVersion, .soap12, file: file, line: line)
        XCTAssertEqual(parsed.bodyElement.attribute("Id", NS.wsu), "_body-1", file: file, line: line)
        // Deterministic: building the parsed model again gives the same bytes.
        XCTAssertEqual(EnvelopeBuilder.envelope(parsed.messaging, bodyId: "_body-1"), bytes, file: file, line: line)
    }

    func testUserMessagesRoundTrip() throws {
        for n in [0, 1, 5] {
            try roundTrip(Messaging(Self.sampleUser(attachments: n), id: "_msg-\(n)"))
            try roundTrip(Messaging(Self.sampleUser(attachments: n, compressed: true)))
        }
    }

    func testSignalsRoundTrip() throws {
        let info = MessageInfo(timestamp: Timestamp(lexical: "2026-11-27T10:00:00Z")!, messageId: "sig@as4gw.test",
                               refToMessageId: "orig@as4gw.test")
        let receipt = SignalMessage(messageInfo: info, kind: .receipt(Receipt(content: [
            ##"<ebbp:NonRepudiationInformation xmlns:ebbp="http://docs.oasis-open.org/ebxml-bp/ebbp-signals-2.0"><ebbp:MessagePartNRInformation><ds:Reference xmlns:ds="http://www.w3.org/2000/09/xmldsig#" URI="#_msg"><ds:DigestValue>AAAA</ds:DigestValue></ds:Reference></ebbp:MessagePartNRInformation></ebbp:NonRepudiationInformation>"##
        ])))
        try roundTrip(Messaging(receipt, id: "_r"))
        let err = SignalMessage(messageInfo: info, kind: .errors([
            ErrorDetail(EbmsError(.failedAuthentication, "bad <signature>", detail: "cid:x", refToMessageId: "orig@as4gw.test")),
            ErrorDetail(errorCode: "EBMS:0004", severity: "warning"),
        ]))
        try roundTrip(Messaging(err))
        var pullInfo = info
        pullInfo.refToMessageId = nil
        try roundTrip(Messaging(SignalMessage(messageInfo: pullInfo, kind: .pullRequest(PullRequest(mpc: "urn:mpc:a")))))
        try roundTrip(Messaging(SignalMessage(messageInfo: pullInfo, kind: .pullRequest(PullRequest()))))
    }

    func testRandomIdentifiersAreVersion4UUIDs() {
        var seen: Set<String> = []
        for _ in 0..<1000 {
            let id = Identifier.uuid()
            XCTAssertEqual(id.count, 36)
            let parts = id.split(separator: "-")
            XCTAssertEqual(parts.map(\.count), [8, 4, 4, 4, 12])
            XCTAssertEqual(parts[2].first, "4")
            XCTAssertTrue("89ab".contains(parts[3].first!))
            XCTAssertTrue(id.allSatisfy { "0123456789abcdef-".contains($0) })
            seen.insert(id)
        }
        XCTAssertEqual(seen.count, 1000)
    }

    func testTimestampParsingAndValidation() {
        XCTAssertNil(Timestamp(lexical: "2006-30-30T30:99:99"))
        XCTAssertNil(Timestamp(lexical: "2023-02-29T10:00:00Z"))
        XCTAssertNil(Timestamp(lexical: "2023-02-28T10:00:00+25:00"))
        XCTAssertNil(Timestamp(lexical: "2023-02-28 10:00:00Z"))
        XCTAssertEqual(Timestamp(lexical: "1970-01-01T00:00:01Z")?.date.timeIntervalSince1970, 1)
        XCTAssertEqual(Timestamp(lexical: "1970-01-01T02:00:01+02:00")?.date.timeIntervalSince1970, 1)
        XCTAssertEqual(Timestamp(lexical: "2024-02-29T00:00:00.5")?.date.timeIntervalSince1970, 1709164800.5)
        XCTAssertEqual(Timestamp(Date(timeIntervalSince1970: 1.2345)).lexical, "1970-01-01T00:00:01.234Z")
        XCTAssertEqual(Timestamp(Date(timeIntervalSince1970: 1_795_600_000.5)).lexical, "2026-11-25T09:46:40.500Z")
        XCTAssertEqual(Timestamp(Date(timeIntervalSince1970: 951_782_400)).lexical, "2000-02-29T00:00:00.000Z")
        let now = Timestamp()
        XCTAssertEqual(Timestamp(lexical: now.lexical), now)
    }
}

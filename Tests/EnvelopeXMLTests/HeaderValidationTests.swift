import XCTest
@testable import EnvelopeXML

/// Malformed headers, each refused with the ebMS error ebMS3 Core assigns to it.
final class HeaderValidationTests: XCTestCase {
    let good = String(decoding: EnvelopeBuilder.envelope(Messaging(EnvelopeRoundTripTests.sampleUser(attachments: 1))), as: UTF8.self)

    func assertError(_ xml: String, _ code: EbmsError.Code, containing text: String,
                     file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try EnvelopeParser.parse(Array(xml.utf8)), file: file, line: line) { error in
            guard let e = error as? EbmsError else { return XCTFail("\(error)", file: file, line: line) }
            XCTAssertEqual(e.code, code, e.reason, file: file, line: line)
            XCTAssertTrue(e.reason.contains(text), "reason was: \(e.reason)", file: file, line: line)
        }
    }

    func replacing(_ a: String, _ b: String) -> String {
        precondition(good.contains(a), a)
        return good.replacingOccurrences(of: a, with: b)
    }

    func testMissingMessagingHeader() {
        assertError(#"<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Header/><env:Body/></env:Envelope>"#,
                    .invalidHeader, containing: "eb:Messaging header is missing")
    }

    func testTwoMessagingHeaders() {
        let m = good.range(of: "<eb:Messaging")!.lowerBound
        let end = good.range(of: "</eb:Messaging>")!.upperBound
        let block = String(good[m..<end])
        assertError(good.replacingOccurrences(of: block, with: block + block), .invalidHeader, containing: "2 eb:Messaging headers")
    }

    func testUnknownEnvelopeNamespace() {
        assertError(#"<e:Envelope xmlns:e="urn:not-soap"><e:Header/><e:Body/></e:Envelope>"#, .invalidHeader,
                    containing: "not a SOAP 1.2 or 1.1 Envelope")
    }

    func testMissingRequiredElements() {
        assertError(replacing("<eb:Action>Deliver</eb:Action>", ""), .invalidHeader, containing: "no eb:Action")
        assertError(replacing("<eb:ConversationId>conv \"1\"</eb:ConversationId>", ""), .invalidHeader, containing: "no eb:ConversationId")
        assertError(replacing("<eb:PartyInfo>", "<eb:PartyInfoX>").replacingOccurrences(of: "</eb:PartyInfo>", with: "</eb:PartyInfoX>"),
                    .invalidHeader, containing: "no eb:PartyInfo")
        assertError(replacing("<eb:Role>http://example.org/roles/Receiver</eb:Role>", ""), .invalidHeader, containing: "To has no eb:Role")
        assertError(replacing("<eb:MessageId>", "<eb:MessageIdX>").replacingOccurrences(of: "</eb:MessageId>", with: "</eb:MessageIdX>"),
                    .invalidHeader, containing: "no eb:MessageId")
    }

    func testBadValues() {
        assertError(replacing("2026-11-27T10:00:00.123Z", "2026-13-01T00:00:00Z"), .invalidHeader, containing: "not a valid xsd:dateTime")
        assertError(replacing("5b3e7f1c-0f4e-4c34-9e0c-1@as4gw.test", "&lt;id@x&gt;"), .invalidHeader, containing: "angle brackets")
        assertError(replacing(#"mustUnderstand="true""#, #"mustUnderstand="maybe""#), .invalidHeader, containing: "mustUnderstand")
    }

    /// 255 characters at most (what Domibus takes), and none of the characters an RFC 5322
    /// msg-id cannot have that would reach log lines raw: white space, controls, format characters.
    func testMessageIdLengthAndCharacters() {
        let id = "5b3e7f1c-0f4e-4c34-9e0c-1@as4gw.test"
        let longest = String(repeating: "a", count: 255 - 6) + "@as4gw"
        XCTAssertNoThrow(try EnvelopeParser.parse(Array(replacing(id, longest).utf8)))
        assertError(replacing(id, "a" + longest), .invalidHeader, containing: "eb:MessageId is 256 characters long; at most 255 are accepted")
        assertError(replacing(id + "</eb:MessageId>", "x@y</eb:MessageId><eb:RefToMessageId>" + String(repeating: "r", count: 300) + "</eb:RefToMessageId>"),
                    .invalidHeader, containing: "eb:RefToMessageId is 300 characters long")
        assertError(replacing(id, "a\u{2028}b@x"), .invalidHeader, containing: "eb:MessageId contains white space")
        assertError(replacing(id, "a\u{A0}b@x"), .invalidHeader, containing: "eb:MessageId contains white space")
        assertError(replacing(id, "a\u{202E}b@x"), .invalidHeader, containing: "control or format character U+202E")
        assertError(replacing(id, "a\u{9B}b@x"), .invalidHeader, containing: "control or format character U+9B")
        XCTAssertNoThrow(try EnvelopeParser.parse(Array(replacing(id, "\u{E9}t\u{E9}-\u{4E2D}@x").utf8)), "letters of any script stay")
    }

    /// The printable-ASCII shortcut of `checkMessageId` refuses what the full check refuses, with
    /// the same words: ASCII white space and controls, brackets at either end, and length.
    func testMessageIdASCIIEdges() {
        func refusal(_ id: String) -> String? {
            do { try EnvelopeParser.checkMessageId(id, "MessageId"); return nil } catch { return error.reason }
        }
        XCTAssertNil(refusal("!~a@b"), "printable ASCII from ! to ~")
        XCTAssertNil(refusal("a<b>c@x"), "brackets inside are no enclosure")
        XCTAssertNil(refusal(String(repeating: "a", count: 255)))
        XCTAssertEqual(refusal(String(repeating: "a", count: 256)), "eb:MessageId is 256 characters long; at most 255 are accepted")
        XCTAssertEqual(refusal("<a@b"), "eb:MessageId \"<a@b\" must not be enclosed in angle brackets")
        XCTAssertEqual(refusal("a@b>"), "eb:MessageId \"a@b>\" must not be enclosed in angle brackets")
        for ws in ["a b@x", "a\tb@x", "a\nb@x", "a\rb@x", "a\u{B}b@x", "a\u{C}b@x"] {
            XCTAssertEqual(refusal(ws), "eb:MessageId contains white space", ws.debugDescription)
        }
        XCTAssertEqual(refusal("a\u{1}b@x"), "eb:MessageId contains the control or format character U+1")
        XCTAssertEqual(refusal("a\u{1F}b@x"), "eb:MessageId contains the control or format character U+1F")
        XCTAssertEqual(refusal("a\u{7F}b@x"), "eb:MessageId contains the control or format character U+7F")
        XCTAssertEqual(refusal(""), "eb:MessageId is empty")
    }

    func testTwoUserMessagesAndSignalOrder() {
        let u = good.range(of: "<eb:UserMessage")!.lowerBound
        let end = good.range(of: "</eb:UserMessage>")!.upperBound
        let unit = String(good[u..<end])
        assertError(good.replacingOccurrences(of: unit, with: unit + unit), .invalidHeader, containing: "more than one eb:UserMessage")
        let signal = #"<eb:SignalMessage><eb:MessageInfo><eb:Timestamp>2026-01-01T00:00:00Z</eb:Timestamp><eb:MessageId>s@x</eb:MessageId></eb:MessageInfo><eb:PullRequest/></eb:SignalMessage>"#
        assertError(good.replacingOccurrences(of: unit, with: unit + signal), .invalidHeader, containing: "after eb:UserMessage")
    }

    func testReceiptWithoutRefToMessageId() {
        let xml = #"<S:Envelope xmlns:S="http://www.w3.org/2003/05/soap-envelope"><S:Header><eb:Messaging xmlns:eb="http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/" S:mustUnderstand="true"><eb:SignalMessage><eb:MessageInfo><eb:Timestamp>2026-01-01T00:00:00Z</eb:Timestamp><eb:MessageId>r@x</eb:MessageId></eb:MessageInfo><eb:Receipt><x:a xmlns:x="urn:x"/></eb:Receipt></eb:SignalMessage></eb:Messaging></S:Header><S:Body/></S:Envelope>"#
        assertError(xml, .invalidHeader, containing: "needs eb:RefToMessageId")
        let errorSignal = xml.replacingOccurrences(of: #"<eb:Receipt><x:a xmlns:x="urn:x"/></eb:Receipt>"#,
                                                   with: #"<eb:Error errorCode="EBMS:0004" severity="fatal"/>"#)
        assertError(errorSignal, .valueNotRecognized, containing: "severity")
    }

    /// xsd:token admits an empty ConversationId (white space collapses to it): ENTSOG's AS4
    /// profile prescribes one and RSSBus sends one. Read as "", no finding: a receiver takes it.
    func testAnEmptyConversationIdIsReadAsEmpty() throws {
        for empty in ["<eb:ConversationId/>", "<eb:ConversationId></eb:ConversationId>", "<eb:ConversationId> \n\t </eb:ConversationId>"] {
            let parsed = try EnvelopeParser.parse(Array(replacing("<eb:ConversationId>conv \"1\"</eb:ConversationId>", empty).utf8))
            XCTAssertEqual(parsed.messaging.userMessage?.collaboration.conversationId, "", empty)
            XCTAssertEqual(parsed.profileFindings, [], empty)
        }
        // An empty Action names no agreement's leg: still a finding.
        let noAction = try EnvelopeParser.parse(Array(replacing("<eb:Action>Deliver</eb:Action>", "<eb:Action/>").utf8))
        XCTAssertEqual(noAction.profileFindings.map(\.message), ["eb:Action is empty"])
    }

    /// Several PartyIds (ebMS3 §5.2.2.4; Holodeck B2B sends them) are read, in order, without a
    /// finding: P-Mode selection decides whether they name one party. The record keeps the
    /// least of them, whatever their order.
    func testSeveralPartyIdsAreReadForSelectionToJudge() throws {
        let one = #"<eb:PartyId type="urn:oasis:names:tc:ebcore:partyid-type:iso6523:0088">0088:111</eb:PartyId>"#
        let two = one + #"<eb:PartyId type="urn:oasis:names:tc:ebcore:partyid-type:iso6523:0060">123456789</eb:PartyId>"#
        let parsed = try EnvelopeParser.parse(Array(replacing(one, two).utf8))
        XCTAssertEqual(parsed.profileFindings, [])
        let from = try XCTUnwrap(parsed.messaging.userMessage?.from)
        XCTAssertEqual(from.ids, [PartyId("0088:111", type: "urn:oasis:names:tc:ebcore:partyid-type:iso6523:0088"),
                                  PartyId("123456789", type: "urn:oasis:names:tc:ebcore:partyid-type:iso6523:0060")])
        XCTAssertEqual(from.recordedId, from.ids[1])
        XCTAssertEqual(Party(ids: from.ids.reversed()).recordedId, from.ids[1])
        XCTAssertEqual(Party(ids: [from.ids[0]]).recordedId, from.ids[0])
        XCTAssertNil(Party(ids: []).recordedId)
    }

    /// An empty eb:Receipt (phase4 before 3.0, to an unsigned message) is a receipt with no
    /// content; whether that is enough is the ReceiptValidator's to say.
    func testAnEmptyReceiptIsRead() throws {
        let receipt = #"<S:Envelope xmlns:S="http://www.w3.org/2003/05/soap-envelope"><S:Header><eb:Messaging xmlns:eb="http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/" S:mustUnderstand="true"><eb:SignalMessage><eb:MessageInfo><eb:Timestamp>2026-01-01T00:00:00Z</eb:Timestamp><eb:MessageId>r@x</eb:MessageId><eb:RefToMessageId>m@x</eb:RefToMessageId></eb:MessageInfo>RECEIPT</eb:SignalMessage></eb:Messaging></S:Header><S:Body/></S:Envelope>"#
        for form in ["<eb:Receipt/>", "<eb:Receipt>\n  </eb:Receipt>"] {
            let parsed = try EnvelopeParser.parse(Array(receipt.replacingOccurrences(of: "RECEIPT", with: form).utf8))
            XCTAssertEqual(parsed.messaging.signals.first?.kind, .receipt(Receipt(content: [])), form)
        }
        // Other ebMS elements there are still not a receipt's content.
        assertError(receipt.replacingOccurrences(of: "RECEIPT", with: "<eb:Receipt><eb:PullRequest/></eb:Receipt>"), .invalidHeader,
                    containing: "foreign namespace")
    }

    func testProfileFindingsAreReportedNotFatal() throws {
        let untyped = replacing(#"<eb:PartyId type="urn:oasis:names:tc:ebcore:partyid-type:iso6523:0088">0088:111</eb:PartyId>"#,
                                "<eb:PartyId>APP_1000000101</eb:PartyId>")
        let parsed = try EnvelopeParser.parse(Array(untyped.utf8))
        XCTAssertEqual(parsed.profileFindings.map(\.code), [.valueInconsistent])
        XCTAssertEqual(parsed.messaging.userMessage?.from.ids.first, PartyId("APP_1000000101"))
    }
}

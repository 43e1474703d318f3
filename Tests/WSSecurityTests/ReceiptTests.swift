import XCTest
import AS4Crypto
import EnvelopeXML
@testable import WSSecurity

/// A receipt built by the receiver for a sealed message validates at the sender; altered,
/// unsigned, misdirected or incomplete receipts are EBMS:0302.
final class ReceiptTests: XCTestCase {
    let pki = TestPKI.shared

    func read(_ sealed: SealedMessage) throws -> AS4Message {
        var sink = MemorySink()
        let ct = try sealed.write(to: &sink)
        return try AS4Message.read(try MessageInput.load(bytes: sink.bytes, contentType: ct))
    }

    func exchange(attachments: Int = 2) throws -> (sent: SealedMessage, received: AS4Message) {
        let sealer = MessageSealer(signer: try SignatureBuilder(identity: pki.rsa))
        let sent = try sealer.seal(SealAndVerifyTests.user(), payloads: SealAndVerifyTests.payloads(attachments))
        return (sent, try read(sent))
    }

    func receipt(for received: AS4Message, signer: SigningIdentity? = nil) throws -> AS4Message {
        let signal = try ReceiptBuilder.receipt(for: received, signature: try ReceiptBuilder.signature(of: received),
                                                messageId: UUID().uuidString + "@receiver")
        let sealer = MessageSealer(signer: try SignatureBuilder(identity: signer ?? pki.rsaB))
        return try read(try sealer.seal(signal: signal))
    }

    var validator: ReceiptValidator {
        ReceiptValidator(verifier: SignatureVerifier(policy: .receiving, trust: try! pki.validator(), expectedSigners: [pki.rsaB.certificate]))
    }

    func testReceiptValidatesAgainstWhatWasSent() throws {
        let (sent, received) = try exchange()
        let response = try receipt(for: received)
        let result = try validator.validate(response, sentMessageId: sent.messageId, sentReferences: sent.references)
        XCTAssertEqual(result.receipt.messageInfo.refToMessageId, sent.messageId)
        XCTAssertEqual(try ReceiptValidator.references(in: Receipt(content: response.messaging.signals[0].kind.receiptContent)).count, 4)
    }

    func assertInvalid(_ body: () throws -> Void, _ text: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try body(), file: file, line: line) { error in
            XCTAssertEqual((error as? EbmsError)?.code, .invalidReceipt, "\(error)", file: file, line: line)
            XCTAssertTrue((error as? EbmsError)?.reason.contains(text) ?? false, "\(error)", file: file, line: line)
        }
    }

    func testWrongMessageAndDigestsAndSigner() throws {
        let (sent, received) = try exchange()
        let response = try receipt(for: received)
        assertInvalid({ _ = try validator.validate(response, sentMessageId: "other@x", sentReferences: sent.references) }, "refers to")
        var altered = sent.references
        altered[2].digestValue[0] ^= 1
        assertInvalid({ _ = try validator.validate(response, sentMessageId: sent.messageId, sentReferences: altered) }, "differs")
        assertInvalid({ _ = try validator.validate(response, sentMessageId: sent.messageId, sentReferences: sent.references + [
            SentReference(uri: "cid:missing@x", transforms: [Alg.attachmentContentSignature], digestMethod: Alg.sha256, digestValue: [0])
        ]) }, "does not acknowledge cid:missing@x")
        assertInvalid({ _ = try validator.validate(response, sentMessageId: sent.messageId, sentReferences: Array(sent.references.dropLast())) },
                      "acknowledges 4 parts, but 3 were sent")
        // Signed by someone else than the responder.
        let forged = try receipt(for: received, signer: pki.rsa)
        assertInvalid({ _ = try validator.validate(forged, sentMessageId: sent.messageId, sentReferences: sent.references) }, "not by the expected party")
    }

    func testUnsignedReceiptIsInvalid() throws {
        let (sent, received) = try exchange()
        let signal = try ReceiptBuilder.receipt(for: received, signature: try ReceiptBuilder.signature(of: received), messageId: "r@x")
        let unsigned = try read(try MessageSealer(signer: nil).seal(signal: signal))
        assertInvalid({ _ = try validator.validate(unsigned, sentMessageId: sent.messageId, sentReferences: sent.references) }, "not signed")
    }

    func testErrorResponseIsReportedWithItsCode() throws {
        let (sent, _) = try exchange()
        let error = SignalMessage(messageInfo: MessageInfo(messageId: "e@x", refToMessageId: sent.messageId),
                                  kind: .errors([ErrorDetail(EbmsError(.failedDecryption, "cannot decrypt"))]))
        let response = try read(try MessageSealer(signer: try SignatureBuilder(identity: pki.rsaB)).seal(signal: error))
        XCTAssertThrowsError(try validator.validate(response, sentMessageId: sent.messageId, sentReferences: sent.references)) {
            XCTAssertEqual(($0 as? EbmsError)?.code, .failedDecryption)
        }
        // The same error, but about another message: no answer to ours.
        let other = SignalMessage(messageInfo: MessageInfo(messageId: "e2@x", refToMessageId: "someone-else@x"),
                                  kind: .errors([ErrorDetail(EbmsError(.failedDecryption, "cannot decrypt"))]))
        let misdirected = try read(try MessageSealer(signer: try SignatureBuilder(identity: pki.rsaB)).seal(signal: other))
        XCTAssertThrowsError(try validator.validate(misdirected, sentMessageId: sent.messageId, sentReferences: sent.references)) {
            XCTAssertEqual(($0 as? EbmsError)?.code, .invalidReceipt)
        }
    }

    /// An Error signal answered with HTTP 500 carries a SOAP Fault in its Body: the Body, fault
    /// and all, is signed in the form a verifier's exc-c14n gives it, and the eb:Error still decides.
    func testAnErrorWithASOAPFaultIsSignedOverTheFaultAndStillReportsItsCode() throws {
        let (sent, _) = try exchange()
        let error = SignalMessage(messageInfo: MessageInfo(messageId: "e@x", refToMessageId: sent.messageId),
                                  kind: .errors([ErrorDetail(EbmsError(.failedDecryption, "cannot decrypt"))]))
        let fault = SOAPFault(code: .sender, reason: "EBMS:0102 FailedDecryption & <more> \"quoted\"")
        let sealed = try MessageSealer(signer: try SignatureBuilder(identity: pki.rsaB)).seal(signal: error, fault: fault)
        let text = String(decoding: sealed.envelope, as: UTF8.self)
        XCTAssertTrue(text.contains("<env:Fault><env:Code><env:Value>env:Sender</env:Value></env:Code><env:Reason><env:Text xml:lang=\"en\">"
                                    + "EBMS:0102 FailedDecryption &amp; &lt;more&gt; \"quoted\"</env:Text></env:Reason></env:Fault>"), text)
        let response = try read(sealed)
        let report = SignatureVerifier(policy: .receiving, trust: try pki.validator(), expectedSigners: [pki.rsaB.certificate])
            .verify(response, attachments: [])
        XCTAssertNil(report.error, "\(String(describing: report.error))")
        XCTAssertThrowsError(try validator.validate(response, sentMessageId: sent.messageId, sentReferences: sent.references)) {
            XCTAssertEqual(($0 as? EbmsError)?.code, .failedDecryption)
        }
        let receiver = EnvelopeBuilder.envelope(Messaging(error), fault: SOAPFault(code: .receiver, reason: "r"))
        XCTAssertTrue(String(decoding: receiver, as: UTF8.self).contains("<env:Value>env:Receiver</env:Value>"))
    }

    /// Reception-awareness receipts: a copy of eb:UserMessage directly in eb:Receipt (as AS4's
    /// text has it) is read, other ebMS elements there are not; with nothing signed by us, a
    /// receipt without NonRepudiationInformation is enough, and never when we signed.
    func testReceptionAwarenessReceiptsWithoutNRI() throws {
        func envelope(_ content: String) -> [UInt8] {
            Array("""
            <env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Header>
            <eb:Messaging xmlns:eb="http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/" env:mustUnderstand="true">
            <eb:SignalMessage><eb:MessageInfo><eb:Timestamp>2026-11-28T01:00:00Z</eb:Timestamp><eb:MessageId>r@x</eb:MessageId>
            <eb:RefToMessageId>m@x</eb:RefToMessageId></eb:MessageInfo><eb:Receipt>\(content)</eb:Receipt></eb:SignalMessage>
            </eb:Messaging></env:Header><env:Body/></env:Envelope>
            """.utf8)
        }
        let copy = try AS4Message.read(try MessageInput.load(bytes: envelope("<eb:UserMessage><eb:MessageInfo><eb:Timestamp>2026-11-28T01:00:00Z</eb:Timestamp><eb:MessageId>m@x</eb:MessageId></eb:MessageInfo></eb:UserMessage>"),
                                                             contentType: "application/soap+xml"))
        XCTAssertEqual(copy.messaging.signals.first?.messageInfo.refToMessageId, "m@x")
        XCTAssertThrowsError(try AS4Message.read(try MessageInput.load(bytes: envelope("<eb:PullRequest/>"), contentType: "application/soap+xml")))
        var policy = SecurityPolicy.receiving
        policy.requireSignature = false
        policy.requireEncryption = false
        let unsigned = ReceiptValidator(verifier: SignatureVerifier(policy: policy, trust: try pki.validator(), expectedSigners: []))
        XCTAssertNoThrow(try unsigned.validate(copy, sentMessageId: "m@x", sentReferences: []))
        let (sent, _) = try exchange()
        assertInvalid({ _ = try self.validator.validate(copy, sentMessageId: "m@x", sentReferences: sent.references) }, "not signed")

        // An empty eb:Receipt (phase4 before 3.0) or one with only a marker of the sender's own:
        // enough where we signed nothing; where we signed, even signed by the responder, no
        // receipt without the NonRepudiationInformation.
        for content in ["", " \n ", "<p4:phase4 xmlns:p4=\"urn:fdc:com.helger.phase4:ns:info\" p4:version=\"2.8\"/>"] {
            let bare = try AS4Message.read(try MessageInput.load(bytes: envelope(content), contentType: "application/soap+xml"))
            XCTAssertNoThrow(try unsigned.validate(bare, sentMessageId: "m@x", sentReferences: []), content)
            assertInvalid({ _ = try unsigned.validate(bare, sentMessageId: "other@x", sentReferences: []) }, "refers to")
            assertInvalid({ _ = try self.validator.validate(bare, sentMessageId: "m@x", sentReferences: sent.references) }, "not signed")
            guard case .receipt(let receipt)? = bare.messaging.signals.first?.kind else { return XCTFail(content) }
            let signed = try read(try MessageSealer(signer: try SignatureBuilder(identity: pki.rsaB)).seal(
                signal: SignalMessage(messageInfo: MessageInfo(messageId: "r2@x", refToMessageId: sent.messageId), kind: .receipt(receipt))))
            assertInvalid({ _ = try self.validator.validate(signed, sentMessageId: sent.messageId, sentReferences: sent.references) },
                          "the receipt has no NonRepudiationInformation")
        }
    }

    func testRealReceiptsVerifyAndCarryNRI() throws {
        let url = SecurityHeaderReadTests.vectors.appendingPathComponent("phase4/signed-receipt/governikus.as4in")
        let m = try AS4Message.read(try MessageInput.load(path: url.path))
        guard case .receipt(let r) = m.messaging.signals[0].kind else { return XCTFail() }
        let refs = try ReceiptValidator.references(in: r)
        XCTAssertGreaterThanOrEqual(refs.count, 2)
        XCTAssertTrue(refs.allSatisfy { $0.digestMethod == Alg.sha256 && $0.digestValue.count == 32 })
    }
}

/// The validator reads the NonRepudiationInformation from the parsed response's elements
/// instead of parsing each canonical content string again; both must say the same, and where the
/// parse would fail the validator must still parse and fail.
final class ReceiptContentElementTests: XCTestCase {
    func parse(_ xml: String) throws -> AS4Message {
        try AS4Message.read(try MessageInput.load(bytes: Array(xml.utf8), contentType: "application/soap+xml"))
    }

    func receiptEnvelope(_ content: String, messagingDeclarations: String = "") -> String {
        "<env:Envelope xmlns:env=\"http://www.w3.org/2003/05/soap-envelope\"><env:Header>"
            + "<eb:Messaging xmlns:eb=\"\(NS.eb)\" \(messagingDeclarations) env:mustUnderstand=\"true\"><eb:SignalMessage><eb:MessageInfo>"
            + "<eb:Timestamp>2026-11-28T01:00:00Z</eb:Timestamp><eb:MessageId>r@x</eb:MessageId><eb:RefToMessageId>m@x</eb:RefToMessageId>"
            + "</eb:MessageInfo><eb:Receipt>\(content)</eb:Receipt></eb:SignalMessage></eb:Messaging></env:Header><env:Body/></env:Envelope>"
    }

    func both(_ message: AS4Message) throws -> (parsed: Result<[SentReference], EbmsError>, read: Result<[SentReference], EbmsError>) {
        guard case .receipt(let r) = message.messaging.signals[0].kind else { throw EbmsError(.other, "no receipt") }
        let elements = ReceiptValidator.contentElements(of: message.envelope, count: r.content.count)
        XCTAssertEqual(elements?.count, r.content.count)
        let parsed = Result { () throws(EbmsError) in try ReceiptValidator.references(in: r) }
        let read = Result { () throws(EbmsError) in try ReceiptValidator.references(in: r, elements: elements) }
        return (parsed, read)
    }

    func testReadingTheElementsGivesWhatParsingTheContentGives() throws {
        let vector = SecurityHeaderReadTests.vectors.appendingPathComponent("phase4/signed-receipt/governikus.as4in")
        let reference = { (uri: String, rest: String) in
            "<ebbp:MessagePartNRInformation><ds:Reference URI=\"\(uri)\"><ds:Transforms><ds:Transform Algorithm=\"\(Alg.excC14N)\"/>"
                + "</ds:Transforms><ds:DigestMethod Algorithm=\"\(Alg.sha256)\"/>\(rest)</ds:Reference></ebbp:MessagePartNRInformation>"
        }
        // Namespaces declared outside the content, a comment and CDATA inside a DigestValue,
        // escaped characters in an attribute, a second content element, foreign content.
        let nri = "<ebbp:NonRepudiationInformation>"
            + reference("#a&amp;&lt;&#9;&quot;", "<ds:DigestValue>AAEC<!-- c -->AwQF<![CDATA[Bgc=]]></ds:DigestValue>")
            + reference("cid:p@x", "<ds:DigestValue>\n  AAECAwQFBgc=\n</ds:DigestValue>")
            + "</ebbp:NonRepudiationInformation>"
        let crafted = try parse(receiptEnvelope(nri + "<x:other xmlns:x=\"urn:x\"><x:y/></x:other>",
                                                messagingDeclarations: "xmlns:ebbp=\"\(NS.ebbp)\" xmlns:ds=\"\(NS.ds)\""))
        let governikus = try AS4Message.read(try MessageInput.load(path: vector.path))
        for message in [governikus, crafted] {
            let (parsed, read) = try both(message)
            XCTAssertEqual(try read.get(), try parsed.get())
        }
        func admitted(_ message: AS4Message) throws -> [Bool] {
            guard case .receipt(let r) = message.messaging.signals[0].kind,
                  let elements = ReceiptValidator.contentElements(of: message.envelope, count: r.content.count) else { throw EbmsError(.other, "no elements") }
            return zip(r.content, elements).map { XMLLimits.envelope.admitCanonicalForm($0, of: $1) }
        }
        XCTAssertEqual(try admitted(governikus), [true], "a real receipt's elements are read")
        // The comment and CDATA send the NonRepudiationInformation to the parse of its text.
        XCTAssertEqual(try admitted(crafted), [false, true])
        XCTAssertEqual(try both(crafted).read.get().map(\.uri), ["#a&<\t\"", "cid:p@x"])
        XCTAssertEqual(try both(crafted).read.get().map(\.digestValue), [[0, 1, 2, 3, 4, 5, 6, 7], [0, 1, 2, 3, 4, 5, 6, 7]])
    }

    /// 200 attributes whose prefixes are declared on eb:Messaging: within the envelope's limit of
    /// 256 per element, but the canonical copy declares each prefix on the element too, and a
    /// parse of it refuses 400. The element is then not read; the answer stays the parse's.
    func testContentWhoseParseWouldFailIsStillRefused() throws {
        let prefixes = (0..<200).map { "p\($0)" }
        let declarations = prefixes.map { "xmlns:\($0)=\"urn:p:\($0)\"" }.joined(separator: " ")
        let attributes = prefixes.map { "\($0):a=\"1\"" }.joined(separator: " ")
        let message = try parse(receiptEnvelope("<ebbp:NonRepudiationInformation xmlns:ebbp=\"\(NS.ebbp)\" \(attributes)/>",
                                                messagingDeclarations: declarations))
        let (parsed, read) = try both(message)
        for result in [parsed, read] {
            XCTAssertThrowsError(try result.get()) { error in
                XCTAssertEqual((error as? EbmsError)?.reason, "receipt content is not XML")
            }
        }
    }

    /// A text that a comment splits into pieces under libxml2's 10 MB text-node bound parses in
    /// the receipt; its canonical form drops the comment, and the one text node it becomes is
    /// over the bound. Reading the element must then refuse it as parsing the text does.
    func testCommentSplitHugeTextIsTreatedAlike() throws {
        // Non-ASCII: libxml2 then hands the text over in small pieces, which it counts against the limit.
        let piece = String(repeating: "\u{E9}", count: 3_000_000)  // 6 MB of UTF-8
        let nri = "<ebbp:NonRepudiationInformation xmlns:ebbp=\"\(NS.ebbp)\" xmlns:ds=\"\(NS.ds)\"><ebbp:MessagePartNRInformation>"
            + "<ds:Reference URI=\"cid:p@x\"><ds:DigestMethod Algorithm=\"\(Alg.sha256)\"/><ds:DigestValue>AAECAwQFBgc=</ds:DigestValue>"
            + "</ds:Reference></ebbp:MessagePartNRInformation></ebbp:NonRepudiationInformation>"
        let junk = "<x:junk xmlns:x=\"urn:x\">\(piece)<!---->\(piece)</x:junk>"
        let xml = "<env:Envelope xmlns:env=\"http://www.w3.org/2003/05/soap-envelope\"><env:Header>"
            + "<eb:Messaging xmlns:eb=\"\(NS.eb)\" env:mustUnderstand=\"true\"><eb:SignalMessage><eb:MessageInfo>"
            + "<eb:Timestamp>2026-11-28T01:00:00Z</eb:Timestamp><eb:MessageId>r@x</eb:MessageId><eb:RefToMessageId>m@x</eb:RefToMessageId>"
            + "</eb:MessageInfo><eb:Receipt>\(nri)\(junk)</eb:Receipt></eb:SignalMessage></eb:Messaging></env:Header><env:Body/></env:Envelope>"
        let message = try AS4Message.read(try MessageInput.load(bytes: Array(xml.utf8), contentType: "application/soap+xml"))
        guard case .receipt(let r) = message.messaging.signals[0].kind else { return XCTFail("no receipt") }
        XCTAssertThrowsError(try XMLDocument(parsing: r.content[1]), "the canonical text of the junk does not parse")
        let elements = ReceiptValidator.contentElements(of: message.envelope, count: r.content.count)
        XCTAssertFalse(XMLLimits.envelope.admitCanonicalForm(r.content[1], of: elements![1]),
                       "admitCanonicalForm says the parse would succeed")
        let parsed = Result { () throws(EbmsError) in try ReceiptValidator.references(in: r) }
        let read = Result { () throws(EbmsError) in try ReceiptValidator.references(in: r, elements: elements) }
        XCTAssertEqual(try? parsed.get(), try? read.get(), "old path and element path disagree")
    }
}

extension SignalMessage.Kind {
    var receiptContent: [String] { if case .receipt(let r) = self { return r.content } else { return [] } }
}

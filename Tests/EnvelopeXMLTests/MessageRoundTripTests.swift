import XCTest
@testable import EnvelopeXML

/// model → envelope → MIME → parse → equal model, with the attachments' bytes intact, for
/// 0, 1 and 5 attachments, compressed and not, and for every signal kind.
final class MessageRoundTripTests: XCTestCase {
    func roundTrip(_ messaging: Messaging, attachments: [MultipartWriter.Attachment]) throws -> AS4Message {
        let envelope = EnvelopeBuilder.envelope(messaging, bodyId: "_b")
        var sink = MemorySink()
        let contentType: String
        if attachments.isEmpty {
            try MultipartWriter.writeSOAPOnly(envelope: envelope, to: &sink)
            contentType = MultipartWriter.soapContentType
        } else {
            contentType = try MultipartWriter().write(envelope: envelope, attachments: attachments, to: &sink)
        }
        let message = try AS4Message.read(try MessageInput.load(bytes: sink.bytes, contentType: contentType))
        try message.verifyCompressedParts()
        XCTAssertEqual(message.messaging, messaging)
        XCTAssertEqual(message.isMultipart, !attachments.isEmpty)
        return message
    }

    func testUserMessagesWithAttachments() throws {
        for n in [0, 1, 5] {
            for compressed in [false, true] {
                let user = EnvelopeRoundTripTests.sampleUser(attachments: n, compressed: compressed)
                var attachments: [MultipartWriter.Attachment] = []
                var originals: [String: [UInt8]] = [:]
                for (i, info) in user.payloads.enumerated() {
                    let doc = Array("<doc n=\"\(i)\">\(String(repeating: "e-adrese ", count: 50 * (i + 1)))</doc>".utf8)
                    originals[info.contentID!] = doc
                    attachments.append(.init(contentID: info.contentID!, contentType: compressed ? "application/gzip" : "application/xml",
                                             body: .bytes(compressed ? try Gzip.compress(doc) : doc)))
                }
                let message = try roundTrip(Messaging(user, id: "_m"), attachments: attachments)
                XCTAssertEqual(message.attachments.count, n)
                for (cid, doc) in originals {
                    var bytes = try XCTUnwrap(message.attachment(contentID: cid)).body.readAll()
                    if compressed { bytes = try Gzip.decompress(bytes) }
                    XCTAssertEqual(bytes, doc, "\(cid) compressed=\(compressed)")
                }
            }
        }
    }

    func testEverySignalKind() throws {
        let info = MessageInfo(messageId: "s@as4gw.test", refToMessageId: "m@as4gw.test")
        let kinds: [SignalMessage.Kind] = [
            .receipt(Receipt(content: [#"<ebbp:NonRepudiationInformation xmlns:ebbp="http://docs.oasis-open.org/ebxml-bp/ebbp-signals-2.0"></ebbp:NonRepudiationInformation>"#])),
            .errors([ErrorDetail(EbmsError(.missingReceipt, "no receipt", refToMessageId: "m@as4gw.test"))]),
            .pullRequest(PullRequest(mpc: "urn:as4gw:mpc:inbox")),
        ]
        for kind in kinds {
            _ = try roundTrip(Messaging(SignalMessage(messageInfo: info, kind: kind), id: "_s"), attachments: [])
        }
    }
}

@testable import AS4Gateway
import EnvelopeXML
import Foundation
import MessageStore
import Routing
import WSSecurity
import XCTest

/// A pulled user message with mandatory header blocks the puller does not process: the puller
/// must not process it and generates a MustUnderstand fault (SOAP 1.2 Part 1 §2.6), whose fault
/// message should name each block in an env:NotUnderstood header block (§5.4.8). Here that fault
/// travels in the ebMS error the puller pushes to the holder, not on a back-channel; the holder
/// (gw-a, in process) takes the error and fails the message.
final class PulledMustUnderstandTests: XCTestCase {
    let mpc = "urn:as4gw:mpc:test-for-gw-b"

    func testThePushedErrorIsAMustUnderstandFaultNamingEachBlock() throws {
        let harness = try GatewayHarness()
        try harness.configure(["gw-a", "gw-b"], pull: [.init(mpc: mpc)])
        let a = try InProcessNode(harness, party: "gw-a")
        let b = try InProcessNode(harness, party: "gw-b")
        let id = try a.submit(to: "gw-b", action: "Notify")
        let request = SignalMessage(messageInfo: MessageInfo(messageId: "\(UUID().uuidString)@gw-b"), kind: .pullRequest(PullRequest(mpc: mpc)))
        let pullRequest = try MessageSealer(signer: try b.context.signatureBuilder(for: LegSecurity())).seal(signal: request).envelope
        let pulled = a.post(InboundProcessor(context: a.context), path: "/as4", contentType: MultipartWriter.soapContentType, body: pullRequest)
        XCTAssertEqual(pulled.status, 200, pulled.bodyText)

        // The holder's message with two mandatory blocks and an optional one added to its header.
        let raw = try MessageInput.load(bytes: pulled.bodyBytes, contentType: pulled.headers["Content-Type"], spoolDirectory: b.context.spoolDirectory)
        let blocks = #"<abc:Extension xmlns:abc="urn:x:ext?v=1&amp;w=2" env:mustUnderstand="true">1</abc:Extension>"#
            + #"<Routing xmlns="urn:y:routing" env:mustUnderstand="1"><Hop>2</Hop></Routing><opt:Hint xmlns:opt="urn:z">optional</opt:Hint>"#
        let envelope = Array(String(decoding: raw.envelope, as: UTF8.self).replacingOccurrences(of: "</env:Header>", with: blocks + "</env:Header>").utf8)
        var sink = MemorySink()
        let contentType = try MultipartWriter().write(envelope: envelope, attachments: raw.attachments.map {
            .init(contentID: $0.contentID!, contentType: $0.headers["Content-Type"]!, body: $0.body)
        }, to: &sink)
        let reply = try AS4Message.read(try MessageInput.load(bytes: sink.bytes, contentType: contentType, spoolDirectory: b.context.spoolDirectory))

        let target = PullWorker.Target(mpc: mpc, endpoint: "https://127.0.0.1:1/as4", party: "gw-a")
        let (answer, event) = PullWorker(context: b.context).answer(to: reply, target: target, started: Date())
        XCTAssertEqual(event, "error-sent")
        let text = String(decoding: answer, as: UTF8.self)
        let root = try XCTUnwrap(try XMLDocument(parsing: answer).root, text)
        XCTAssertEqual(root.firstChild("Body", NS.soap12)?.firstChild("Fault", NS.soap12)?.firstChild("Code", NS.soap12)?
            .firstChild("Value", NS.soap12)?.trimmedText, "env:MustUnderstand", text)
        let named = try XCTUnwrap(root.firstChild("Header", NS.soap12)).children("NotUnderstood", NS.soap12).map { element -> String in
            let qname = element.attribute("qname") ?? ""
            let parts = qname.split(separator: ":", maxSplits: 1).map(String.init)
            return "{\(element.namespaceURI(forPrefix: parts.count == 2 ? parts[0] : nil) ?? "")}\(parts.last ?? "")"
        }
        XCTAssertEqual(named, ["{urn:x:ext?v=1&w=2}Extension", "{urn:y:routing}Routing"], text)
        XCTAssertTrue(text.contains(#"errorCode="EBMS:0009""#) && text.contains(#"refToMessageInError="\#(id)""#), text)
        XCTAssertNil(try b.store.findMessage(id: id, direction: .inbound), "nothing stored at the puller")

        // The holder verifies the puller's signed error and fails the message with it.
        let taken = a.post(InboundProcessor(context: a.context), path: "/as4", contentType: MultipartWriter.soapContentType, body: answer)
        XCTAssertEqual(taken.status, 200, taken.bodyText)
        let failed = try XCTUnwrap(try a.store.findMessage(id: id, direction: .outbound))
        XCTAssertEqual(failed.status, .failed)
        XCTAssertEqual(failed.outbound?.lastError?.code, "EBMS:0009")
        XCTAssertTrue(failed.outbound?.lastError?.reason.contains("abc:Extension, Routing are marked mustUnderstand") ?? false,
                      "\(String(describing: failed.outbound?.lastError))")
    }
}

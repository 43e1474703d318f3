@testable import AS4Gateway
import EnvelopeXML
import Foundation
import HTTPServer
import MessageStore
import XCTest

/// A store that cannot answer now (PostgreSQL restarting, failing over) is answered as the
/// temporary condition it is on every listener: 503 with Retry-After, so senders and clients
/// come back instead of giving their message up; the AS4 endpoint still carries its ebMS error.
final class StoreOutageTests: XCTestCase {
    var harness: GatewayHarness!

    override func setUpWithError() throws {
        harness = try GatewayHarness()
        try harness.configure(["gw-a", "gw-b"])
    }

    override func tearDown() { harness = nil }

    /// The eb:Error codes and what they refer to, in an AS4 answer.
    func errors(in response: HTTPResponse) throws -> [ErrorDetail] {
        let message = try AS4Message.read(try MessageInput.load(bytes: response.bodyBytes, contentType: response.headers["Content-Type"]))
        return message.messaging.signals.flatMap { s -> [ErrorDetail] in if case .errors(let e) = s.kind { return e } else { return [] } }
    }

    func submission(to party: String) throws -> [UInt8] {
        let payload = harness.root.appendingPathComponent("\(UUID().uuidString).xml").path
        try Data("<doc/>".utf8).write(to: URL(fileURLWithPath: payload))
        return Array("""
            {"to": "\(party)", "service": "urn:eadrese:services:delivery", "action": "DeliverDocument", "payloads": [{"path": "\(payload)"}]}
            """.utf8)
    }

    func testTheAS4EndpointAnswers503WithRetryAfterAndDeliveryFailure() throws {
        let a = try InProcessNode(harness, party: "gw-a")
        let b = try InProcessNode(harness, party: "gw-b")
        let id = try a.submit(to: "gw-b")
        let job = try a.claim()
        let sent = [UInt8](try XCTUnwrap(job.messageBytes))
        let receiver = InboundProcessor(context: b.context)

        b.faults.fail([.findMessage, .recordInbound])
        let refused = b.post(receiver, path: "/as4", contentType: job.contentType, body: sent)
        XCTAssertEqual(refused.status, 503, refused.bodyText)
        XCTAssertEqual(refused.headers["Retry-After"], String(StoreOutage.retryAfterSeconds))
        let errors = try errors(in: refused)
        XCTAssertEqual(errors.map(\.errorCode), ["EBMS:0202"], refused.bodyText)
        XCTAssertEqual(errors.first?.refToMessageInError, id)
        XCTAssertFalse(refused.bodyText.contains("injected"), "no store internals on the wire")
        XCTAssertNil(try b.store.findMessage(id: id, direction: .inbound))

        // The sender's next attempt, once the store answers, is taken and receipted.
        b.faults.heal()
        let taken = b.post(receiver, path: "/as4", contentType: job.contentType, body: sent)
        XCTAssertEqual(taken.status, 200, taken.bodyText)
        XCTAssertNotNil(try b.store.findMessage(id: id, direction: .inbound)?.receipt)
    }

    /// A Two-Way reply whose request cannot be looked up now meets our outage (503, sent again),
    /// not a reply to nothing (EBMS:0003, which its sender would give up on).
    func testATwoWayReplyMeetingAStoreOutageIsAnswered503NotRefused() throws {
        try harness.configure(["gw-a", "gw-b"], twoWay: [.init()])
        let a = try InProcessNode(harness, party: "gw-a")
        let b = try InProcessNode(harness, party: "gw-b")
        let request = try a.submit(to: "gw-b", action: "Query")
        let conversation = try XCTUnwrap(a.store.findMessage(id: request, direction: .outbound)).metadata.conversationId
        let file = harness.root.appendingPathComponent("answer.xml").path
        try Data("<A/>".utf8).write(to: URL(fileURLWithPath: file))
        let reply = try Outbound(context: b.context).submit(.init(to: "gw-a", service: "urn:eadrese:services:delivery", action: "Answer",
                                                                 conversationId: conversation, refToMessageId: request,
                                                                 payloads: [.init(path: file, mimeType: "application/xml")]))
        let job = try b.claim()
        XCTAssertEqual(job.metadata.messageId, reply)
        let sent = [UInt8](try XCTUnwrap(job.messageBytes))
        let receiver = InboundProcessor(context: a.context)

        a.faults.fail([.findMessage])
        let refused = a.post(receiver, path: "/as4", contentType: job.contentType, body: sent)
        XCTAssertEqual(refused.status, 503, refused.bodyText)
        XCTAssertEqual(refused.headers["Retry-After"], String(StoreOutage.retryAfterSeconds))
        XCTAssertEqual(try errors(in: refused).map(\.errorCode), ["EBMS:0202"], refused.bodyText)
        XCTAssertNil(try a.store.findMessage(id: reply, direction: .inbound))

        a.faults.heal()
        let taken = a.post(receiver, path: "/as4", contentType: job.contentType, body: sent)
        XCTAssertEqual(taken.status, 200, taken.bodyText)
        XCTAssertEqual(try a.store.findReply(toRequest: request)?.metadata.messageId, reply)
    }

    /// A partner sending (or pulling) every second during an outage got two lines a request
    /// (`internal-error` and `refused … EBMS:0202`): now each listener logs the condition by its
    /// name once a minute, each request still answered 503 and counted in the metrics.
    func testRequestsDuringAnOutageAreLoggedOnceAMinutePerListener() throws {
        let a = try InProcessNode(harness, party: "gw-a")
        let b = try InProcessNode(harness, party: "gw-b")
        _ = try a.submit(to: "gw-b")
        let job = try a.claim()
        let sent = [UInt8](try XCTUnwrap(job.messageBytes))
        let receiver = InboundProcessor(context: b.context), api = APIHandler(context: b.context)

        b.faults.fail([.findMessage, .recordInbound, .enqueueOutbound])
        for _ in 0..<20 {
            XCTAssertEqual(b.post(receiver, path: "/as4", contentType: job.contentType, body: sent).status, 503)
            XCTAssertEqual(b.post(api, path: "/submit", contentType: "application/json", body: try submission(to: "gw-a"),
                                  headers: [("Authorization", "Bearer " + b.context.submitToken)]).status, 503)
        }
        let lines = b.log.split(separator: "\n")
        let outage = lines.filter { $0.contains("event=store-unavailable") }
        XCTAssertEqual(outage.count, 2, outage.joined(separator: "\n"))
        XCTAssertTrue(outage.contains { $0.contains("listener=as4") && $0.contains("error_code=EBMS:0202") && $0.contains("message_id=\(job.metadata.messageId)") },
                      outage.joined(separator: "\n"))
        XCTAssertTrue(outage.contains { $0.contains("listener=submit") && $0.contains("status=503") && $0.contains("to=gw-a") }, outage.joined(separator: "\n"))
        XCTAssertTrue(outage.allSatisfy { $0.contains("level=error") && $0.contains("reason=") })
        XCTAssertFalse(lines.contains { $0.contains("event=internal-error") || $0.contains("event=refused") }, b.log)
        XCTAssertEqual(b.context.metrics.inboundErrorsByCode["EBMS:0202"], 20, "every answer is still counted")
    }

    /// A full disk alike, and its line says so (`disk-full`), not an internal error.
    func testAFullDiskOnTheAS4EndpointIsNamedAndLoggedOnce() throws {
        let a = try InProcessNode(harness, party: "gw-a")
        let b = try InProcessNode(harness, party: "gw-b")
        _ = try a.submit(to: "gw-b")
        let job = try a.claim()
        let sent = [UInt8](try XCTUnwrap(job.messageBytes))
        let receiver = InboundProcessor(context: b.context)
        b.faults.fail([.recordInbound], with: .io(operation: "write", path: b.context.config.storeDirectory + "/payloads/x", errno: ENOSPC))
        for _ in 0..<10 { XCTAssertEqual(b.post(receiver, path: "/as4", contentType: job.contentType, body: sent).status, 503) }
        let lines = b.log.split(separator: "\n")
        let full = lines.filter { $0.contains("event=disk-full") }
        XCTAssertEqual(full.count, 1, b.log)
        XCTAssertTrue(full.first?.contains("listener=as4") ?? false, b.log)
        XCTAssertFalse(lines.contains { $0.contains("event=internal-error") || $0.contains("event=refused") }, b.log)
    }

    func testTheSubmissionEndpointAnswers503WithRetryAfter() throws {
        let a = try InProcessNode(harness, party: "gw-a")
        let api = APIHandler(context: a.context)
        a.faults.fail([.enqueueOutbound])
        let refused = a.post(api, path: "/submit", contentType: "application/json", body: try submission(to: "gw-b"),
                        headers: [("Authorization", "Bearer " + a.context.submitToken)])
        XCTAssertEqual(refused.status, 503, refused.bodyText)
        XCTAssertEqual(refused.headers["Retry-After"], String(StoreOutage.retryAfterSeconds))
        XCTAssertTrue(refused.bodyText.contains("urn:as4gw:problem:unavailable"), refused.bodyText)
        XCTAssertTrue(a.log.split(separator: "\n").contains { $0.contains("event=store-unavailable") && $0.contains("status=503") }, a.log)
        XCTAssertEqual(try a.store.queueDepth().total, 0, "nothing queued")

        a.faults.heal()
        let accepted = a.post(api, path: "/submit", contentType: "application/json", body: try submission(to: "gw-b"),
                        headers: [("Authorization", "Bearer " + a.context.submitToken)])
        XCTAssertEqual(accepted.status, 202, accepted.bodyText)
    }

    /// The real thing: the PostgreSQL server of gw-a stopped (connections refused), and every
    /// listener of gw-a asked: the AS4 endpoint, the operators' /submit and the backend API.
    func testEveryListenerAnswers503WhilePostgreSQLIsDown() throws {
        let server = try ThrowAwayPostgres.start()
        defer { server.stop() }
        let a = try InProcessNode(harness, party: "gw-a", store: server.url)
        let b = try InProcessNode(harness, party: "gw-b")
        _ = try b.submit(to: "gw-a")
        let job = try b.claim()
        server.stop()

        let as4 = a.post(InboundProcessor(context: a.context), path: "/as4", contentType: job.contentType,
                         body: [UInt8](try XCTUnwrap(job.messageBytes)))
        XCTAssertEqual(as4.status, 503, as4.bodyText)
        XCTAssertEqual(as4.headers["Retry-After"], String(StoreOutage.retryAfterSeconds))
        XCTAssertEqual(try errors(in: as4).map(\.errorCode), ["EBMS:0202"])

        let api = APIHandler(context: a.context)
        let submit = a.post(api, path: "/submit", contentType: "application/json", body: try submission(to: "gw-b"),
                        headers: [("Authorization", "Bearer " + a.context.submitToken)])
        XCTAssertEqual(submit.status, 503, submit.bodyText)
        XCTAssertEqual(submit.headers["Retry-After"], String(StoreOutage.retryAfterSeconds))

        let backend = a.post(api, path: "/api/v1/messages", contentType: "multipart/form-data; boundary=x", body: Array("--x--\r\n".utf8),
                             headers: [("Authorization", "Bearer some-token")])
        XCTAssertEqual(backend.status, 503, backend.bodyText)
        XCTAssertEqual(backend.headers["Retry-After"], String(StoreOutage.retryAfterSeconds))
        XCTAssertTrue(a.log.contains("PostgreSQL connection lost"), a.log)
    }
}

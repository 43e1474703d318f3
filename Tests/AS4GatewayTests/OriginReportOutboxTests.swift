@testable import AS4Gateway
import Foundation
import HTTPServer
import MessageStore
import XCTest

/// A recipient here that moves on (reads, answers; a hub's recipient whose status it relays)
/// owes the access point the document came from a status report. When that report cannot be
/// queued at the moment of the step (the message store fails, the disk is full, the process
/// dies), the obligation recorded with the step is kept, and the mailbox worker queues the
/// report once it can, after a restart too: the origin's sender gets its proof of the reading
/// and is not told later that the document was never read. In the order of the steps, once.
final class OriginReportOutboxTests: XCTestCase {
    static let sender = "DVS@90000048472", company = "_DEFAULT@40003032949"
    var harness: GatewayHarness!
    /// The sender's gateway (the origin), the recipient's gateway, and for the hub case the
    /// gateway behind the hub.
    var a: InProcessNode!
    var b: InProcessNode!
    var c: InProcessNode?
    var dmsToken = "", companyToken = ""

    override func setUpWithError() throws {
        harness = try GatewayHarness()
    }

    override func tearDown() {
        a = nil
        b = nil
        c = nil
        harness = nil
    }

    /// gw-a sends to the company's mailbox at gw-b (`hub`: gw-b forwards it to gw-c, which holds it).
    func start(hub: Bool = false) throws {
        let parties = hub ? ["gw-a", "gw-b", "gw-c"] : ["gw-a", "gw-b"]
        try harness.configure(parties, legs: GatewayHarness.eAddressLegs)
        let holder = hub ? "gw-c" : "gw-b"
        try harness.importDirectory("gw-a", [harness.remoteEntry(Self.company, ownerId: "40003032949", kind: "company", party: "gw-b")])
        if hub { try harness.importDirectory("gw-b", [harness.remoteEntry(Self.company, ownerId: "40003032949", kind: "company", party: "gw-c")]) }
        try harness.importDirectory(holder, [GatewayHarness.localEntry(Self.company, ownerId: "40003032949", kind: "company")])
        dmsToken = try harness.addConnection("gw-a", name: "dms", addresses: [Self.sender])
        companyToken = try harness.addConnection(holder, name: "company", addresses: [Self.company])
        a = try node("gw-a")
        b = try node("gw-b")
        if hub { c = try node("gw-c") }
    }

    /// A node in the process on the harness's data directory of `party` (where the CLI put the
    /// connections and the directory), so that a new one after dropping it is a restart.
    func node(_ party: String) throws -> InProcessNode {
        let data = harness.nodes[party]!.data
        return try InProcessNode(harness, party: party) { $0.dataDirectory = data }
    }

    /// The next message queued at `from`, posted to `to`'s AS4 endpoint as a delivery worker would,
    /// its receipt recorded at `from`; then `to`'s mailbox worker takes it in. Its AS4 id.
    @discardableResult
    func carry(from: InProcessNode, to: InProcessNode) throws -> String {
        let job = try from.claim()
        let answer = to.post(InboundProcessor(context: to.context), path: "/as4", contentType: job.contentType,
                             body: [UInt8](try XCTUnwrap(job.messageBytes)))
        XCTAssertEqual(answer.status, 200, answer.bodyText)
        try from.store.markDelivered(messageId: job.metadata.messageId, owner: "test/w0", receipt: Data(answer.bodyBytes), at: Date())
        try MailboxWorker(context: to.context).runOnce()
        try MailboxWorker(context: from.context).runOnce()
        return job.metadata.messageId
    }

    /// gw-a's DMS sends a document to the company; it reaches the mailbox (through the hub). Its id.
    func sendDocument() throws -> String {
        let metadata = "{\"sender\": \"\(Self.sender)\", \"recipients\": [\"\(Self.company)\"], \"subject\": \"Lēmums\"}"
        let form = Array("--b\r\nContent-Disposition: form-data; name=\"metadata\"\r\nContent-Type: application/json\r\n\r\n\(metadata)\r\n".utf8)
            + Array("--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"l.txt\"\r\nContent-Type: text/plain\r\n\r\nlasiet\r\n--b--\r\n".utf8)
        let answer = a.post(APIHandler(context: a.context), path: "/api/v1/messages", contentType: "multipart/form-data; boundary=b", body: form,
                            headers: [("Authorization", "Bearer \(dmsToken)")])
        XCTAssertEqual(answer.status, 202, answer.bodyText)
        let id = try XCTUnwrap((try JSONSerialization.jsonObject(with: Data(answer.bodyBytes)) as? [String: Any])?["messageId"] as? String)
        try carry(from: a, to: b)
        if let c { try carry(from: b, to: c) }
        XCTAssertEqual(try holder.context.mailbox.document(messageId: id)?.recipients.first?.status, .accepted, "in the mailbox")
        XCTAssertEqual(try recipient(id, at: a).status, .accepted, "the receipt is held at the origin")
        return id
    }

    var holder: InProcessNode { c ?? b }

    func recipient(_ id: String, at node: InProcessNode) throws -> DocumentRecipient {
        try XCTUnwrap(try node.context.mailbox.document(messageId: id)?.recipients.first { $0.address == Self.company })
    }

    /// The company's DMS reads the document's file at its gateway.
    func read(_ id: String) {
        let answer = holder.get(APIHandler(context: holder.context), path: "/api/v1/messages/\(id)/files/1",
                                headers: [("Authorization", "Bearer \(companyToken)")])
        XCTAssertEqual(answer.status, 200, answer.bodyText)
    }

    func answer(_ id: String) {
        let answer = holder.post(APIHandler(context: holder.context), path: "/api/v1/messages/\(id)/confirm", contentType: "application/json",
                                 body: Array("{\"decision\": \"accept\"}".utf8), headers: [("Authorization", "Bearer \(companyToken)")])
        XCTAssertEqual(answer.status, 200, answer.bodyText)
    }

    /// The status reports queued at `node`, in the order they were queued: their statuses, known
    /// by their ids (each status of a recipient has its own, `OriginStatusReport`).
    func reports(at node: InProcessNode) throws -> [String] {
        try node.store.listMessages(status: nil, since: nil, direction: .outbound, limit: 100)
            .filter { $0.metadata.action == EAddressMessages.statusAction }
            .map { m in
                let documentId = m.metadata.conversationId
                for status in OwedReport.reportable where try OriginStatusReport.messageId(
                    carrier: m.metadata.refToMessageId ?? documentId, documentId: documentId, recipient: Self.company, status: status,
                    domain: node.context.messageIdDomain) == m.metadata.messageId {
                    return status.rawValue
                }
                return "unknown: \(m.metadata.messageId)"
            }
    }

    func lines(_ event: String, in node: InProcessNode) -> [Substring] {
        node.log.split(separator: "\n").filter { $0.contains("event=\(event) ") }
    }

    /// One pass of `node`'s mailbox worker an hour from now: whatever waits is due by then.
    func workerPass(_ node: InProcessNode) {
        let worker = MailboxWorker(context: node.context)
        var state = worker.newPassState()
        _ = worker.pass(&state, now: Date() + 3600)
    }

    /// What `node`'s /metrics would show now.
    func scrape(_ node: InProcessNode) throws -> String {
        try MetricsReport(metrics: node.context.metrics, store: node.context.store, registry: node.context.registry,
                          certificates: CertificateInventory(own: []), storeKind: "sqlite", mailbox: node.context.mailbox).render()
    }

    func testAReadingWhoseReportCouldNotBeQueuedReachesTheOriginOnceTheFaultClears() throws {
        try start()
        let id = try sendDocument()
        b.faults.fail([.enqueueOutbound])
        read(id)
        let readAt = try XCTUnwrap(try recipient(id, at: b).retrievedAt)
        XCTAssertEqual(try recipient(id, at: b).status, .delivered, "the reading stands")
        XCTAssertEqual(try reports(at: b), [], "nothing could be queued")

        let owed = lines("status-report-owed", in: b)
        XCTAssertEqual(owed.count, 1, b.log)
        for field in ["level=error", "document_id=\(id)", "recipient=\(Self.company)", "status=Delivered", "to=gw-a", "injected"] {
            XCTAssertTrue(owed.first?.contains(field) ?? false, "\(field): \(owed)")
        }

        XCTAssertTrue(try scrape(b).contains("\nas4gw_status_reports_owed 1\n"), "an operator sees it owed")

        workerPass(b)
        XCTAssertEqual(try reports(at: b), [], "the store still fails")
        XCTAssertEqual(lines("status-report-owed", in: b).count, 1, "the same failure again is not logged again within the minute")
        XCTAssertEqual(try b.context.mailbox.owedReports(messageId: id, address: Self.company).map(\.attempts), [2], "both attempts counted")
        b.faults.heal()
        workerPass(b)
        XCTAssertEqual(try reports(at: b), ["Delivered"], "queued once the store answers")
        XCTAssertEqual(try b.context.mailbox.owedReports(messageId: id, address: Self.company), [], "no longer owed")
        let late = lines("status-report-queued-late", in: b)
        XCTAssertEqual(late.count, 1, b.log)
        for field in ["level=warn", "document_id=\(id)", "recipient=\(Self.company)", "status=Delivered", "attempts=2"] {
            XCTAssertTrue(late.first?.contains(field) ?? false, "\(field): \(late)")
        }
        workerPass(b)
        XCTAssertEqual(try reports(at: b), ["Delivered"], "once")
        let metrics = try scrape(b)
        XCTAssertTrue(metrics.contains("\nas4gw_status_reports_owed 0\n") && metrics.contains("\nas4gw_status_reports_owed_oldest_age_seconds 0\n"), metrics)

        try carry(from: b, to: a)
        let atOrigin = try recipient(id, at: a)
        XCTAssertEqual(atOrigin.status, .delivered)
        XCTAssertEqual(try XCTUnwrap(atOrigin.retrievedAt).timeIntervalSince1970, readAt.timeIntervalSince1970, accuracy: 0.001,
                       "the time of the reading at gw-b, not of the late report")
    }

    func testAReadingWhoseReportWasNotQueuedBeforeTheProcessEndedReachesTheOriginAfterARestart() throws {
        try start()
        let id = try sendDocument()
        b.faults.fail([.enqueueOutbound])
        read(id)
        XCTAssertEqual(try reports(at: b), [])

        // The process ends with the fault still there; the next one starts on the same data.
        b = nil
        b = try node("gw-b")
        workerPass(b)
        XCTAssertEqual(try reports(at: b), ["Delivered"])
        try carry(from: b, to: a)
        XCTAssertEqual(try recipient(id, at: a).status, .delivered)
    }

    /// An attempt that queued the report but ended before it could end the obligation (the
    /// process died, the mailbox store failed just then): the next attempt finds the report
    /// queued under its id and queues none, and the obligation ends.
    func testAReportQueuedByAnAttemptThatDidNotEndTheObligationIsNotQueuedTwice() throws {
        try start()
        let id = try sendDocument()
        b.faults.fail([.enqueueOutbound])
        read(id)
        b.faults.heal()
        let owed = try b.context.mailbox.owedReports(messageId: id, address: Self.company)
        XCTAssertEqual(owed.map(\.status), [.delivered])
        let d = try XCTUnwrap(try b.context.mailbox.document(messageId: id))
        XCTAssertTrue(try OriginReports(context: b.context).send(owed[0], of: d), "queued; the obligation stays as it was")
        XCTAssertEqual(try reports(at: b), ["Delivered"])

        workerPass(b)
        XCTAssertEqual(try reports(at: b), ["Delivered"], "not queued twice")
        XCTAssertEqual(try b.context.mailbox.owedReports(messageId: id, address: Self.company), [], "the obligation ended")
        XCTAssertEqual(lines("status-reported-already", in: b).count, 1, b.log)
        XCTAssertEqual(lines("status-report-queued-late", in: b).count, 0, "nothing was queued late")
        XCTAssertFalse(try OriginReports(context: b.context).send(owed[0], of: d), "another attempt queues nothing either")
        try carry(from: b, to: a)
        XCTAssertEqual(try recipient(id, at: a).status, .delivered)
    }

    /// The answer's report never goes before the reading's: when the reading's could not be
    /// queued, the answer's waits behind it, whether the worker or the answer's request queues them.
    func testAnAnswerIsReportedAfterTheReadingItFollows() throws {
        try start()
        for faultClearsBeforeTheAnswer in [false, true] {
            let id = try sendDocument()
            let before = try reports(at: b).count
            b.faults.fail([.enqueueOutbound])
            read(id)
            if faultClearsBeforeTheAnswer { b.faults.heal() }
            answer(id)
            b.faults.heal()
            workerPass(b)
            XCTAssertEqual(Array(try reports(at: b).dropFirst(before)), ["Delivered", "RecipientAccepted"], "fault cleared first: \(faultClearsBeforeTheAnswer)")
            try carry(from: b, to: a)
            try carry(from: b, to: a)
            XCTAssertEqual(try a.context.mailbox.events(messageId: id).filter { $0.address == Self.company }.map(\.status),
                           ["Submitted", "Accepted", "Delivered", "RecipientAccepted"])
        }
    }

    /// A hub that could not queue the relay of a status report from the access point it
    /// forwarded the document to relays it later.
    func testAHubRelaysAReportItCouldNotQueueAtOnce() throws {
        try start(hub: true)
        let id = try sendDocument()
        read(id)
        let hub = try XCTUnwrap(b), behind = try XCTUnwrap(c)
        XCTAssertEqual(try reports(at: behind), ["Delivered"])
        hub.faults.fail([.enqueueOutbound])
        try carry(from: behind, to: hub)
        XCTAssertEqual(try recipient(id, at: hub).status, .delivered, "applied at the hub")
        XCTAssertEqual(try reports(at: hub), [], "not relayed yet")
        hub.faults.heal()
        workerPass(hub)
        XCTAssertEqual(try reports(at: hub), ["Delivered"])
        try carry(from: hub, to: a)
        XCTAssertEqual(try recipient(id, at: a).status, .delivered)
    }
}

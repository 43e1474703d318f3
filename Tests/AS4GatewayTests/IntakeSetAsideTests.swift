import AS4Crypto
@testable import AS4Gateway
import EnvelopeXML
import Foundation
import MessageStore
import WSSecurity
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// The mailbox worker takes received messages in the order of the store's history, and a failed
/// intake fails its round so that nothing is skipped. A message the store refuses for its own
/// values, round after round, must not hold every later message behind it for ever: once the
/// refusal has lasted `IntakeStrikes.holdFor` it is set aside (Failed with the refusal, logged,
/// counted) and the others are taken in. An outage still holds everything, in order, however long.
/// Rounds run on a clock of the test's (`tick`), one a second as the loop runs them after a failure.
final class IntakeSetAsideTests: XCTestCase {
    static let sender = "DVS@90000048472", company = "_DEFAULT@40003032949"
    /// What SQLite says of a CHECK constraint (SQLITE_CONSTRAINT_CHECK) that one row breaks.
    static let refusal = StoreError.sqlite(code: 275, message: "CHECK constraint failed: handed_over (injected)", sql: nil)
    var harness: GatewayHarness!
    var a: InProcessNode!
    var b: InProcessNode!
    var worker: MailboxWorker!

    override func setUpWithError() throws {
        harness = try GatewayHarness()
        try harness.configure(["gw-a", "gw-b"], legs: GatewayHarness.eAddressLegs)
        a = try InProcessNode(harness, party: "gw-a")
        b = try InProcessNode(harness, party: "gw-b")
        _ = try b.context.addresses.importRecords([AddressRecord(address: Self.company, ownerId: "40003032949", ownerKind: "company")],
                                                  replace: false, at: Date())
        worker = MailboxWorker(context: b.context)
    }

    override func tearDown() {
        worker = nil
        a = nil
        b = nil
        harness = nil
    }

    /// gw-a's e-address document `documentId` for the company, received (and receipted) by gw-b; its AS4 MessageId.
    func carry(_ documentId: String) throws -> String {
        let bytes = Array("Lēmums \(documentId)".utf8)
        let header = EAddressMessages.DocumentHeader(
            documentId: documentId, sender: Self.sender, recipient: Self.company,
            metadata: #"{"recipients": ["\#(Self.company)"], "sender": "\#(Self.sender)", "subject": "Lēmums"}"#,
            files: [.init(name: "l.txt", mimeType: "text/plain", size: Int64(bytes.count), sha256: InboundProcessor.hex(try Digest.sha256(bytes)))])
        let request = SubmissionHandler.Request(
            to: "gw-b", service: EAddressMessages.service, action: EAddressMessages.documentAction, conversationId: documentId,
            properties: ["originalSender": .init(Self.sender), "finalRecipient": .init(Self.company), "documentId": .init(documentId)], payloads: [])
        let id = Identifier.messageId(domain: "gw-a")
        try Outbound(context: a.context).queue(request, payloads: [
            Payload(contentID: EAddressMessages.headerContentID, mimeType: "application/json", body: .bytes(Array(try EAddressMessages.encode(header)))),
            Payload(mimeType: "text/plain", body: .bytes(bytes)),
        ], id: id)
        let job = try a.claim()
        let answer = b.post(InboundProcessor(context: b.context), path: "/as4", contentType: job.contentType, body: [UInt8](try XCTUnwrap(job.messageBytes)))
        XCTAssertEqual(answer.status, 200, answer.bodyText)
        return id
    }

    func message(_ id: String) throws -> StoredMessage { try XCTUnwrap(b.store.findInbound(id: id).first) }

    /// The test's clock for the worker's rounds.
    var clock = Date()

    /// One pass of the worker at the test's clock, which then moves on a second.
    @discardableResult
    func tick(_ state: inout MailboxWorker.PassState) -> TimeInterval {
        defer { clock += 1 }
        return worker.pass(&state, now: clock)
    }

    func statuses(_ ids: [String]) throws -> [MessageStatus] { try ids.map { try message($0).status } }

    func inbox() throws -> [String] {
        try b.context.mailbox.inbox(address: Self.company, after: 0, limit: 100).map(\.document.messageId)
    }

    func statusReports() throws -> [StoredMessage] {
        try b.store.listMessages(status: nil, since: nil, direction: .outbound, limit: 100).filter { $0.metadata.action == EAddressMessages.statusAction }
    }

    /// One message and one refusal, for a length of time; an outage in between neither counts nor clears.
    func testStrikesCountTheSameRefusalOfTheSameMessage() {
        let t = Date()
        let duplicate = StoreError.postgres(sqlState: "23505", message: "duplicate key", sql: nil)
        var strikes = IntakeStrikes(holdFor: 3)
        XCTAssertFalse(strikes.failed(row: 1, with: Self.refusal, at: t))
        XCTAssertFalse(strikes.failed(row: 1, with: FaultInjectingStore.connectionLost, at: t + 5), "an outage neither counts nor clears")
        XCTAssertFalse(strikes.failed(row: 1, with: StoreError.io(operation: "write", path: "p", errno: EIO), at: t + 5), "nor does an I/O error")
        XCTAssertFalse(strikes.failed(row: 2, with: Self.refusal, at: t + 5), "another message starts again")
        XCTAssertFalse(strikes.failed(row: 2, with: duplicate, at: t + 6), "another refusal starts again")
        XCTAssertFalse(strikes.failed(row: 2, with: duplicate, at: t + 8))
        XCTAssertTrue(strikes.failed(row: 2, with: duplicate, at: t + 9))
        XCTAssertEqual(strikes.lasted(at: t + 9), 3)
        strikes.settled(row: 2)
        XCTAssertEqual(strikes.rounds, 0)
        XCTAssertFalse(strikes.failed(row: 2, with: Self.refusal, at: t + 20))
        XCTAssertFalse(StoreError.sqlite(code: 10, message: "disk I/O error", sql: nil).refusesValues)
        XCTAssertFalse(StoreError.postgres(sqlState: "42P01", message: "relation does not exist", sql: nil).refusesValues)
        XCTAssertTrue(StoreError.sqlite(code: 18, message: "string or blob too big", sql: nil).refusesValues)
        XCTAssertTrue(StoreError.postgres(sqlState: "54000", message: "index row size exceeds maximum", sql: nil).refusesValues)
        XCTAssertFalse(StoreError.sqlite(code: 25, message: "column index out of range", sql: nil).refusesValues, "a bind out of range fails every call")
    }

    /// A refusal that meets message after message is the store's: after three messages set aside
    /// with none taken in between, the next is held, however many rounds it fails, until one is taken in.
    func testARefusalOfMessageAfterMessageHoldsInsteadOfFailingThemAll() {
        let t = Date()
        var strikes = IntakeStrikes(holdFor: 1)
        for row in Int64(1)...Int64(IntakeStrikes.inARowLimit) {
            XCTAssertFalse(strikes.failed(row: row, with: Self.refusal, at: t + Double(2 * row)))
            XCTAssertTrue(strikes.failed(row: row, with: Self.refusal, at: t + Double(2 * row + 1)))
            strikes.setAside(row: row)
        }
        for n in 1...10 { XCTAssertFalse(strikes.failed(row: 9, with: Self.refusal, at: t + Double(10 + n)), "held, as for an outage") }
        strikes.settled(row: 8)
        XCTAssertFalse(strikes.failed(row: 9, with: Self.refusal, at: t + 30))
        XCTAssertTrue(strikes.failed(row: 9, with: Self.refusal, at: t + 31), "a message taken in ends the run")
    }

    /// What bounds the wait of the messages behind is time, not a count of rounds: rounds in
    /// quick succession (a node that ran many) do not set a message aside before `holdFor`, and
    /// rounds far apart (nodes taking the job in turns, each counting its own) do not put it off
    /// beyond it. One refusal alone is never enough, however long ago the count began.
    func testAMessageIsSetAsideAfterALengthOfTimeNotACountOfRounds() {
        let t = Date()
        var quick = IntakeStrikes()
        for n in 0..<50 { XCTAssertFalse(quick.failed(row: 1, with: Self.refusal, at: t + Double(n) * 0.05), "round \(n)") }
        XCTAssertTrue(quick.failed(row: 1, with: Self.refusal, at: t + IntakeStrikes.holdFor))
        var turns = IntakeStrikes()
        XCTAssertFalse(turns.failed(row: 1, with: Self.refusal, at: t))
        XCTAssertTrue(turns.failed(row: 1, with: Self.refusal, at: t + IntakeStrikes.holdFor + 1), "the second round of this node, 6 s on")
        var once = IntakeStrikes()
        XCTAssertFalse(once.failed(row: 1, with: Self.refusal, at: t + 3600), "one round is no count")
        XCTAssertFalse(once.failed(row: 1, with: Self.refusal, at: t + 3599), "a clock set back starts the count again")
        XCTAssertTrue(once.failed(row: 1, with: Self.refusal, at: t + 3599 + IntakeStrikes.holdFor))
    }

    /// Two nodes of one store: the first counts one refusal, the second runs the job until it
    /// sets the message aside. The operator's retry is refused again, and the first node runs
    /// that round: a new hold of the message, counted afresh (held for `holdFor` again), not the
    /// old count of that node, which would set it aside at the retry's first refusal.
    func testAnotherNodesSetAsideAndARetryStartTheCountAgain() throws {
        let id = try carry("doc-n1")
        let row = try message(id).rowId
        b.faults.fail([.markHandedOver], with: Self.refusal, row: row)
        let other = MailboxWorker(context: b.context)
        var here = worker.newPassState(), there = other.newPassState()
        tick(&here)
        XCTAssertEqual(try message(id).status, .received)
        for _ in 0...Int(IntakeStrikes.holdFor) {
            defer { clock += 1 }
            _ = other.pass(&there, now: clock)
        }
        XCTAssertEqual(try message(id).status, .failed, "set aside by the other node")

        try b.store.retryIntake(rowId: row, requestedBy: "test", at: Date())
        tick(&here)
        XCTAssertEqual(try message(id).status, .received, "one refusal of the retry is no count")
        for _ in 0..<Int(IntakeStrikes.holdFor) { tick(&here) }
        XCTAssertEqual(try message(id).status, .failed, "held for holdFor, then set aside again")
    }

    /// On a shared store a node leaves a job whose rounds keep failing to the others
    /// (`JobStandAside`); a message the store refuses is refused on every node, so its rounds
    /// must not send the node aside for 30 s at a time, which would hold the messages behind
    /// it for minutes instead of `holdFor`.
    func testRefusedIntakeRoundsDoNotSendTheNodeAside() throws {
        let ids = try ["doc-j1", "doc-j2"].map(carry)
        b.faults.fail([.markHandedOver], with: Self.refusal, row: try message(ids[0]).rowId)
        var state = worker.newPassState()
        state.standAside = JobStandAside(enabled: true)
        for _ in 0..<Int(IntakeStrikes.holdFor) { tick(&state) }
        XCTAssertEqual(try statuses(ids), [.received, .received])
        XCTAssertTrue(state.standAside.mayRun(at: clock), "not standing aside")
        XCTAssertFalse(b.log.contains("event=mailbox-worker-standing-aside"), b.log)
        tick(&state)
        XCTAssertEqual(try statuses(ids), [.failed, .delivered], "set aside after \(IntakeStrikes.holdFor) s")
    }

    /// Three documents; the store refuses to mark the first one handed over, every time. Before
    /// `holdFor` every later one waits (nothing is skipped on a first failure); then the
    /// first is set aside and the others are taken in, in order. The first one's document stays
    /// in the mailbox (it was taken in; only its mark failed), so its origin is not told Failed.
    func testAMessageTheStoreKeepsRefusingIsSetAsideAndTheMessagesBehindItAreTakenIn() throws {
        let ids = try ["doc-1", "doc-2", "doc-3"].map(carry)
        let row = try message(ids[0]).rowId
        b.faults.fail([.markHandedOver], with: Self.refusal, row: row)
        var state = worker.newPassState()
        for _ in 0..<Int(IntakeStrikes.holdFor) {
            XCTAssertEqual(tick(&state), 1, "the round failed")
            XCTAssertEqual(try statuses(ids), [.received, .received, .received])
        }
        XCTAssertFalse(b.log.contains("event=intake-set-aside"), b.log)

        tick(&state)
        XCTAssertEqual(try statuses(ids), [.failed, .delivered, .delivered], "the messages behind it are taken in")
        let failed = try message(ids[0])
        XCTAssertEqual(failed.intakeError?.code, IntakeFailure.storeRefused)
        let reason = failed.intakeError?.reason ?? ""
        XCTAssertTrue(reason.contains("the store refused its intake in 6 rounds in a row over 5 s")
                      && reason.contains("CHECK constraint failed") && reason.contains("is held here for \(Self.company) already"), reason)
        XCTAssertEqual(Set(try inbox()), ["doc-1", "doc-2", "doc-3"], "nothing accepted is lost")
        XCTAssertEqual(try statusReports().count, 0, "the recipient holds the document: gw-a is not told it failed")
        XCTAssertEqual(b.context.metrics.intakeFailuresUnreported.load(ordering: .relaxed), 1)

        let lines = b.log.split(separator: "\n").filter { $0.contains("event=intake-set-aside") }
        XCTAssertEqual(lines.count, 1, lines.joined(separator: "\n"))
        let line = String(lines.first ?? "")
        XCTAssertTrue(line.contains("level=error") && line.contains(ids[0]) && line.contains("code=StoreRefused") && line.contains("status=Failed"), line)

        // Set aside, not lost: once the cause is gone the operator has it taken in again.
        b.faults.heal()
        try b.store.retryIntake(rowId: row, requestedBy: "test", at: Date())
        tick(&state)
        XCTAssertEqual(try message(ids[0]).status, .delivered)
    }

    /// A store that cannot answer now (a lost connection) or that is broken for every message
    /// (an I/O error) says nothing about the first message: everything waits, however many rounds,
    /// nothing is set aside, and once the store works the messages are taken in in their order.
    func testAnOutageOrABrokenStoreHoldsEveryMessageAndSetsNoneAside() throws {
        for (n, fault) in [FaultInjectingStore.connectionLost, StoreError.sqlite(code: 5, message: "database is locked (injected)", sql: nil),
                      StoreError.io(operation: "write", path: "/data/store.db-wal", errno: EIO)].enumerated() {
            let ids = try (1...3).map { try carry("doc-\(n)-\($0)") }
            b.faults.fail([.markHandedOver], with: fault, row: try message(ids[0]).rowId)
            var state = worker.newPassState()
            for _ in 1...(3 * Int(IntakeStrikes.holdFor)) { tick(&state) }
            XCTAssertEqual(try statuses(ids), [.received, .received, .received], "\(fault)")
            XCTAssertFalse(b.log.contains("event=intake-set-aside"), b.log)

            b.faults.heal()
            tick(&state)
            XCTAssertEqual(try statuses(ids), [.delivered, .delivered, .delivered], "\(fault)")
            let handedOver = try ids.map { id in try XCTUnwrap(b.store.events(for: try message(id).rowId).last(where: { $0.status == .delivered })?.id) }
            XCTAssertEqual(handedOver, handedOver.sorted(), "taken in in the order received")
        }
        XCTAssertEqual(b.context.metrics.intakeFailuresUnreported.load(ordering: .relaxed), 0)
        XCTAssertEqual(b.context.metrics.intakeFailuresReported.load(ordering: .relaxed), 0)
    }

    /// A message the store refuses even to read is set aside by its row all the same; its origin
    /// cannot be told (the message cannot be read), which its reason says. Its receipt's Received
    /// event, read again when the round fails on a later message (an outage here), is passed by.
    func testAMessageTheStoreRefusesToReadIsSetAsideByItsRow() throws {
        let ids = try ["doc-r1", "doc-r2"].map(carry)
        b.faults.fail([.findMessage], with: .postgres(sqlState: "22021", message: "invalid byte sequence for encoding \"UTF8\" (injected)", sql: nil),
                      message: ids[0])
        b.faults.fail([.markHandedOver], times: 1, row: try message(ids[1]).rowId)
        var state = worker.newPassState()
        for _ in 0...Int(IntakeStrikes.holdFor) { tick(&state) }
        XCTAssertEqual(try statuses(ids), [.failed, .received], "the outage holds the message behind it")
        tick(&state)
        XCTAssertEqual(try statuses(ids), [.failed, .delivered])
        XCTAssertEqual(b.log.components(separatedBy: "event=intake-set-aside").count - 1, 1, b.log)
        XCTAssertFalse(b.log.contains("event=intake-settled-elsewhere"), b.log)
        let reason = try message(ids[0]).intakeError?.reason ?? ""
        XCTAssertTrue(reason.contains("22021") && reason.contains("the store refused to read it as well") && reason.contains("so its origin could not be told"), reason)
        XCTAssertEqual(b.context.metrics.intakeFailuresUnreported.load(ordering: .relaxed), 1)
    }

    /// A row the store refuses to mark either way is passed over as it stands (Received, nothing
    /// deleted), and the message behind it is taken in. It must not vanish from view: the log line
    /// says so, /metrics counts it, `messages list --passed-over` lists it, and the operator's
    /// `messages retry-intake` reaches it (it is not Failed, so the Failed path refuses it) and,
    /// once the cause is gone, has it taken in.
    func testAMessageTheStoreRefusesToMarkFailedTooStaysInViewAndWithinTheOperatorsReach() throws {
        let ids = try ["doc-m1", "doc-m2"].map(carry)
        let row = try message(ids[0]).rowId
        b.faults.fail([.markHandedOver, .markIntakeFailed], with: Self.refusal, row: row)
        var state = worker.newPassState()
        for _ in 0...Int(IntakeStrikes.holdFor) { tick(&state) }
        XCTAssertEqual(try statuses(ids), [.received, .delivered])
        let line = String(b.log.split(separator: "\n").first { $0.contains("event=intake-set-aside") } ?? "")
        XCTAssertTrue(line.contains("status=Received") && line.contains("the store refused to mark it Failed as well"), line)
        XCTAssertEqual(b.context.metrics.intakeFailuresUnreported.load(ordering: .relaxed), 0, "not marked Failed, so not an intake failure")
        XCTAssertEqual(b.context.metrics.intakePassedOver.load(ordering: .relaxed), 1, "counted as passed over")
        let scraped = try MetricsReport(metrics: b.context.metrics, store: b.context.store, registry: b.context.registry,
                                        certificates: CertificateInventory(own: []), storeKind: "sqlite").render()
        XCTAssertTrue(scraped.contains("as4gw_intake_passed_over_total 1"), scraped)

        let data = b.context.config.dataDirectory
        let listed = try GatewayProcess.run(["messages", "list", "--passed-over", "--data", data])
        XCTAssertEqual(listed.status, 0, listed.stderr)
        XCTAssertTrue(listed.stdout.contains(ids[0]) && !listed.stdout.contains(ids[1]), listed.stdout)
        XCTAssertEqual(try IntakePassedOver.messages(in: b.store, cursor: try b.context.mailbox.cursor(MailboxWorker.cursorName)).map(\.rowId), [row])
        XCTAssertThrowsError(try b.store.retryIntake(rowId: row, requestedBy: "test", at: Date()), "not Failed: the Failed path cannot reach it")

        // Still refused: asked for again, set aside again after the same time, passed over again.
        let retried = try GatewayProcess.run(["messages", "retry-intake", ids[0], "--data", data])
        XCTAssertEqual(retried.status, 0, retried.stderr)
        XCTAssertTrue(retried.stdout.contains("passed over"), retried.stdout)
        let again = try GatewayProcess.run(["messages", "retry-intake", ids[0], "--data", data])
        XCTAssertEqual(again.status, 1, "asked for already: \(again.stdout)")
        for _ in 0...Int(IntakeStrikes.holdFor) { tick(&state) }
        XCTAssertEqual(b.context.metrics.intakePassedOver.load(ordering: .relaxed), 2)
        XCTAssertEqual(try statuses(ids), [.received, .delivered])

        b.faults.heal()
        let all = try GatewayProcess.run(["messages", "retry-intake", "--all", "--data", data])
        XCTAssertEqual(all.status, 0, all.stderr)
        XCTAssertTrue(all.stdout.contains(ids[0]), all.stdout)
        tick(&state)
        XCTAssertEqual(try statuses(ids), [.delivered, .delivered], "taken in once the cause is gone")
        XCTAssertTrue(b.log.contains("event=intake-retried"), b.log)
        let none = try GatewayProcess.run(["messages", "list", "--passed-over", "--data", data])
        XCTAssertEqual(none.stdout, "", none.stdout)
    }

    /// A received message of another service (a ping) stays Received by design, behind the
    /// worker's position: the intake has nothing to take in, so `messages retry-intake` refuses
    /// it, as `messages list --passed-over` leaves it out, rather than say the gateway takes it
    /// in again and add a request to its history that nothing acts on.
    func testARetryOfAMessageTheIntakeDoesNotTakeInIsRefused() throws {
        let ping = InboundMessage(metadata: MessageMetadata(messageId: "ping-1@gw-a", fromParty: "gw-a", toParty: "gw-b",
                                                            service: EbmsConstants.testService, action: EbmsConstants.testAction),
                                  parts: [], storedPath: "/msgs/ping-1.mime", receivedAt: Date())
        _ = try b.store.recordInbound(ping, duplicateWindow: 60)
        let row = try message("ping-1@gw-a").rowId
        var state = worker.newPassState()
        tick(&state)
        XCTAssertGreaterThan(try b.context.mailbox.cursor(MailboxWorker.cursorName), 0)
        let events = try b.store.events(for: row).count

        let data = b.context.config.dataDirectory
        let retried = try GatewayProcess.run(["messages", "retry-intake", "ping-1@gw-a", "--data", data])
        XCTAssertEqual(retried.status, 1, retried.stdout)
        XCTAssertFalse(retried.stdout.contains("asked for again"), retried.stdout)
        XCTAssertTrue(retried.stderr.contains("not an e-address document or status message"), retried.stderr)
        XCTAssertEqual(try b.store.events(for: row).count, events, "nothing added to its history")
        XCTAssertEqual(try message("ping-1@gw-a").status, .received)
    }

    /// A document set aside before it was taken in is reported Failed to its origin, with the
    /// code, as a refusal is, and once however often that is repeated.
    func testADocumentSetAsideBeforeItWasTakenInIsReportedFailedToItsOrigin() throws {
        let id = try carry("doc-s")
        let m = try message(id)
        let exchange = DocumentExchange(context: b.context)
        let failure = try exchange.setAside(m, code: IntakeFailure.storeRefused, reason: "refused (test)")
        XCTAssertEqual(failure.report, .sent)
        XCTAssertTrue(failure.reason.hasPrefix("refused (test); reported Failed to gw-a"), failure.reason)
        XCTAssertEqual(try exchange.setAside(m, code: IntakeFailure.storeRefused, reason: "refused (test)").report, .sent)
        let reports = try statusReports()
        XCTAssertEqual(reports.count, 1, "told once")
        XCTAssertEqual(reports.first?.metadata.refToMessageId, id)
        let refused = b.log.split(separator: "\n").filter { $0.contains("event=document-refused") }
        XCTAssertEqual(refused.count, 1, b.log)
        XCTAssertTrue(refused.first?.contains("code=StoreRefused") ?? false, b.log)
        XCTAssertEqual(try inbox(), [], "not taken in")

        // A status report (not a document) is never answered.
        var status = m
        status.metadata.action = EAddressMessages.statusAction
        XCTAssertEqual(try exchange.setAside(status, code: IntakeFailure.storeRefused, reason: "refused (test)").report, .none)
    }
}

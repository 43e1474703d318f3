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
/// values, round after round, must not hold every later message behind it for ever: after
/// `IntakeStrikes.limit` such rounds it is set aside (Failed with the refusal, logged, counted)
/// and the others are taken in. An outage still holds everything, in order, however long.
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

    func statuses(_ ids: [String]) throws -> [MessageStatus] { try ids.map { try message($0).status } }

    func inbox() throws -> [String] {
        try b.context.mailbox.inbox(address: Self.company, after: 0, limit: 100).map(\.document.messageId)
    }

    func statusReports() throws -> [StoredMessage] {
        try b.store.listMessages(status: nil, since: nil, direction: .outbound, limit: 100).filter { $0.metadata.action == EAddressMessages.statusAction }
    }

    /// One message and one refusal, in rounds in a row; an outage in between is no round of it.
    func testStrikesCountTheSameRefusalOfTheSameMessage() {
        var strikes = IntakeStrikes(limit: 3)
        XCTAssertFalse(strikes.failed(row: 1, with: Self.refusal))
        XCTAssertFalse(strikes.failed(row: 1, with: FaultInjectingStore.connectionLost), "an outage neither counts nor clears")
        XCTAssertFalse(strikes.failed(row: 1, with: StoreError.io(operation: "write", path: "p", errno: EIO)), "nor does an I/O error")
        XCTAssertFalse(strikes.failed(row: 1, with: Self.refusal))
        XCTAssertFalse(strikes.failed(row: 2, with: Self.refusal), "another message starts again")
        XCTAssertFalse(strikes.failed(row: 2, with: StoreError.postgres(sqlState: "23505", message: "duplicate key", sql: nil)),
                       "another refusal starts again")
        XCTAssertFalse(strikes.failed(row: 2, with: StoreError.postgres(sqlState: "23505", message: "duplicate key", sql: nil)))
        XCTAssertTrue(strikes.failed(row: 2, with: StoreError.postgres(sqlState: "23505", message: "duplicate key", sql: nil)))
        strikes.settled(row: 2)
        XCTAssertEqual(strikes.rounds, 0)
        XCTAssertFalse(strikes.failed(row: 2, with: Self.refusal))
        XCTAssertFalse(StoreError.sqlite(code: 10, message: "disk I/O error", sql: nil).refusesValues)
        XCTAssertFalse(StoreError.postgres(sqlState: "42P01", message: "relation does not exist", sql: nil).refusesValues)
        XCTAssertTrue(StoreError.sqlite(code: 18, message: "string or blob too big", sql: nil).refusesValues)
        XCTAssertTrue(StoreError.postgres(sqlState: "54000", message: "index row size exceeds maximum", sql: nil).refusesValues)
        XCTAssertFalse(StoreError.sqlite(code: 25, message: "column index out of range", sql: nil).refusesValues, "a bind out of range fails every call")
    }

    /// A refusal that meets message after message is the store's: after three messages set aside
    /// with none taken in between, the next is held, however many rounds it fails, until one is taken in.
    func testARefusalOfMessageAfterMessageHoldsInsteadOfFailingThemAll() {
        var strikes = IntakeStrikes(limit: 2)
        for row in Int64(1)...Int64(IntakeStrikes.inARowLimit) {
            XCTAssertFalse(strikes.failed(row: row, with: Self.refusal))
            XCTAssertTrue(strikes.failed(row: row, with: Self.refusal))
            strikes.setAside(row: row)
        }
        for _ in 1...10 { XCTAssertFalse(strikes.failed(row: 9, with: Self.refusal), "held, as for an outage") }
        strikes.settled(row: 8)
        XCTAssertFalse(strikes.failed(row: 9, with: Self.refusal))
        XCTAssertTrue(strikes.failed(row: 9, with: Self.refusal), "a message taken in ends the run")
    }

    /// Three documents; the store refuses to mark the first one handed over, every time. Before
    /// the limit every later one waits (nothing is skipped on a first failure); at the limit the
    /// first is set aside and the others are taken in, in order. The first one's document stays
    /// in the mailbox (it was taken in; only its mark failed), so its origin is not told Failed.
    func testAMessageTheStoreKeepsRefusingIsSetAsideAndTheMessagesBehindItAreTakenIn() throws {
        let ids = try ["doc-1", "doc-2", "doc-3"].map(carry)
        let row = try message(ids[0]).rowId
        b.faults.fail([.markHandedOver], with: Self.refusal, row: row)
        var state = worker.newPassState()
        for _ in 1..<IntakeStrikes.limit {
            XCTAssertEqual(worker.pass(&state), 1, "the round failed")
            XCTAssertEqual(try statuses(ids), [.received, .received, .received])
        }
        XCTAssertFalse(b.log.contains("event=intake-set-aside"), b.log)

        _ = worker.pass(&state)
        XCTAssertEqual(try statuses(ids), [.failed, .delivered, .delivered], "the messages behind it are taken in")
        let failed = try message(ids[0])
        XCTAssertEqual(failed.intakeError?.code, IntakeFailure.storeRefused)
        let reason = failed.intakeError?.reason ?? ""
        XCTAssertTrue(reason.contains("the store refused its intake in \(IntakeStrikes.limit) rounds in a row")
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
        _ = worker.pass(&state)
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
            for _ in 1...(3 * IntakeStrikes.limit) { _ = worker.pass(&state) }
            XCTAssertEqual(try statuses(ids), [.received, .received, .received], "\(fault)")
            XCTAssertFalse(b.log.contains("event=intake-set-aside"), b.log)

            b.faults.heal()
            _ = worker.pass(&state)
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
        for _ in 1...IntakeStrikes.limit { _ = worker.pass(&state) }
        XCTAssertEqual(try statuses(ids), [.failed, .received], "the outage holds the message behind it")
        _ = worker.pass(&state)
        XCTAssertEqual(try statuses(ids), [.failed, .delivered])
        XCTAssertEqual(b.log.components(separatedBy: "event=intake-set-aside").count - 1, 1, b.log)
        XCTAssertFalse(b.log.contains("event=intake-settled-elsewhere"), b.log)
        let reason = try message(ids[0]).intakeError?.reason ?? ""
        XCTAssertTrue(reason.contains("22021") && reason.contains("the store refused to read it as well") && reason.contains("so its origin could not be told"), reason)
        XCTAssertEqual(b.context.metrics.intakeFailuresUnreported.load(ordering: .relaxed), 1)
    }

    /// A row the store refuses to mark either way is passed over as it stands (Received, nothing
    /// deleted), and the log line says so; the message behind it is taken in.
    func testAMessageTheStoreRefusesToMarkFailedTooIsPassedOverAsItStands() throws {
        let ids = try ["doc-m1", "doc-m2"].map(carry)
        b.faults.fail([.markHandedOver, .markIntakeFailed], with: Self.refusal, row: try message(ids[0]).rowId)
        var state = worker.newPassState()
        for _ in 1...IntakeStrikes.limit { _ = worker.pass(&state) }
        XCTAssertEqual(try statuses(ids), [.received, .delivered])
        let line = String(b.log.split(separator: "\n").first { $0.contains("event=intake-set-aside") } ?? "")
        XCTAssertTrue(line.contains("status=Received") && line.contains("the store refused to mark it Failed as well"), line)
        XCTAssertEqual(b.context.metrics.intakeFailuresUnreported.load(ordering: .relaxed), 0, "not marked, so not counted")
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

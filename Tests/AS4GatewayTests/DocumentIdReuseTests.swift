import AS4Crypto
@testable import AS4Gateway
import EnvelopeXML
import Foundation
import MessageStore
import WSSecurity
import XCTest

/// A document id, or an AS4 MessageId, that arrives at the mailbox worker again after the
/// receipt (another MessageId, so duplicate detection does not catch it, or the same one after
/// its duplicate-detection window). The same document adds its recipient or changes nothing;
/// another document under the id, or a MessageId that carried another document here, ends
/// Failed with why and is reported to its origin, and never holds up the messages after it.
/// `PostgresDocumentIdReuseTests` runs the same on a PostgreSQL store.
class DocumentIdReuseTests: XCTestCase {
    static let sender = "DVS@90000048472", person = "_PRIVATE@16117519997", company = "_DEFAULT@40003032949"
    var harness: GatewayHarness!
    var a: InProcessNode!
    var b: InProcessNode!
    var c: InProcessNode!
    var worker: MailboxWorker!

    /// gw-b's store; nil: SQLite in its data directory.
    func storeURL() throws -> String? { nil }

    override func setUpWithError() throws {
        harness = try GatewayHarness()
        try harness.configure(["gw-a", "gw-b", "gw-c"], legs: GatewayHarness.eAddressLegs)
        a = try InProcessNode(harness, party: "gw-a")
        c = try InProcessNode(harness, party: "gw-c")
        b = try InProcessNode(harness, party: "gw-b", store: try storeURL())
        _ = try b.context.addresses.importRecords([
            AddressRecord(address: Self.person, ownerId: "16117519997", ownerKind: "naturalPerson"),
            AddressRecord(address: Self.company, ownerId: "40003032949", ownerKind: "company"),
        ], replace: false, at: Date())
        worker = MailboxWorker(context: b.context)
    }

    override func tearDown() {
        worker = nil
        a = nil
        b = nil
        c = nil
        harness = nil
    }

    /// `from`'s e-address document, received (and receipted) by gw-b; its AS4 MessageId.
    @discardableResult
    func carry(_ documentId: String, to recipient: String, file: String, from node: InProcessNode? = nil, sender: String = sender,
               subject: String = "Lēmums", id: String? = nil) throws -> String {
        let node = node ?? a!
        let bytes = Array(file.utf8)
        let header = EAddressMessages.DocumentHeader(
            documentId: documentId, sender: sender, recipient: recipient,
            metadata: #"{"recipients": ["\#(recipient)"], "sender": "\#(sender)", "subject": "\#(subject)"}"#,
            files: [.init(name: "l.txt", mimeType: "text/plain", size: Int64(bytes.count), sha256: InboundProcessor.hex(try Digest.sha256(bytes)))])
        let request = SubmissionHandler.Request(
            to: "gw-b", service: EAddressMessages.service, action: EAddressMessages.documentAction, conversationId: documentId,
            properties: ["originalSender": .init(sender), "finalRecipient": .init(recipient), "documentId": .init(documentId)], payloads: [])
        let messageId = id ?? Identifier.messageId(domain: node.context.party)
        try Outbound(context: node.context).queue(request, payloads: [
            Payload(contentID: EAddressMessages.headerContentID, mimeType: "application/json", body: .bytes(Array(try EAddressMessages.encode(header)))),
            Payload(mimeType: "text/plain", body: .bytes(bytes)),
        ], id: messageId)
        let job = try node.claim()
        let answer = b.post(InboundProcessor(context: b.context), path: "/as4", contentType: job.contentType, body: [UInt8](try XCTUnwrap(job.messageBytes)))
        XCTAssertEqual(answer.status, 200, answer.bodyText)
        return messageId
    }

    /// gw-a's message `carrier` recorded again with its document id changed to `documentId`: what
    /// gw-b stores when gw-a uses the MessageId again after its duplicate-detection window (the
    /// window plus twice the clock skew: real time the test does not wait). Its row.
    @discardableResult
    func receiveAgainAfterItsWindow(_ carrier: String, documentId: String) throws -> Int64 {
        let first = try XCTUnwrap(b.store.findInbound(id: carrier).first)
        var header = try EAddressMessages.decode(EAddressMessages.DocumentHeader.self, from: Data(try storedPayload(first.parts[0])))
        header.documentId = documentId
        var parts = first.parts
        parts[0].file = try b.store.storePayload(.bytes(try EAddressMessages.encode(header)), at: Date())
        parts[0].bytes = nil
        var metadata = first.metadata
        metadata.conversationId = documentId
        metadata.properties = metadata.properties.map { $0.name == EAddressMessages.documentIdProperty ? MessageProperty($0.name, documentId) : $0 }
        guard case .stored(let row) = try b.store.recordInbound(InboundMessage(metadata: metadata, parts: parts, receivedAt: Date()),
                                                                duplicateWindow: 0) else {
            XCTFail("not stored again")
            return 0
        }
        return row
    }

    func statusReports() throws -> [StoredMessage] {
        try b.store.listMessages(status: nil, since: nil, direction: .outbound, limit: 100).filter { $0.metadata.action == EAddressMessages.statusAction }
    }

    func inbound(_ id: String) throws -> [StoredMessage] { try b.store.findInbound(id: id) }

    func sha256(_ text: String) throws -> String { InboundProcessor.hex(try Digest.sha256(Array(text.utf8))) }

    /// A document for two recipients served here arrives as two messages under one id (the
    /// metadata of each may list only its own recipient); a copy sent again under a new
    /// MessageId, or with the same one after its window, changes nothing and is no failure.
    func testTheSameDocumentArrivingAgainAddsItsRecipientOrChangesNothing() throws {
        let first = try carry("doc-1", to: Self.person, file: "Lēmums")
        try worker.runOnce()
        let copy = try carry("doc-1", to: Self.person, file: "Lēmums")
        let other = try carry("doc-1", to: Self.company, file: "Lēmums")
        let again = try receiveAgainAfterItsWindow(first, documentId: "doc-1")
        XCTAssertNoThrow(try worker.runOnce())

        XCTAssertEqual(try inbound(copy).map(\.status), [.delivered], "handed over: the document it carries is held")
        XCTAssertEqual(try inbound(other).map(\.status), [.delivered])
        XCTAssertEqual(try inbound(first).first { $0.rowId == again }?.status, .delivered, "its copy after the window too")
        let d = try XCTUnwrap(b.context.mailbox.document(messageId: "doc-1"))
        XCTAssertEqual(d.recipients.map(\.address), [Self.person, Self.company])
        XCTAssertEqual(d.recipients.map(\.as4MessageId), [first, other], "each recipient named by the message that brought it")
        XCTAssertEqual(d.files.map(\.file.sha256), [try sha256("Lēmums")])
        XCTAssertEqual(try statusReports().count, 0, "nothing to report")
        XCTAssertTrue(b.log.contains("event=document-held-already message_id=\(copy) document_id=doc-1 from=gw-a"), b.log)
        XCTAssertFalse(b.log.contains("document-refused"), b.log)
    }

    /// gw-a uses a document id again for another document: for the recipient held already its
    /// new document would be dropped, for another recipient that recipient would be handed the
    /// first document. Each ends Failed with DocumentIdTaken and what differs, gw-a is told, and
    /// the held document and the messages after them are as if they had not come.
    func testAnotherDocumentUnderAHeldIdIsRefusedReportedAndHoldsUpNothing() throws {
        _ = try carry("doc-1", to: Self.person, file: "first")
        try worker.runOnce()
        let otherFiles = try carry("doc-1", to: Self.person, file: "second")
        let otherMetadata = try carry("doc-1", to: Self.company, file: "first", subject: "Cits")
        let otherSender = try carry("doc-1", to: Self.company, file: "first", sender: "_DEFAULT@90000048472")
        let after = try carry("doc-2", to: Self.company, file: "after")
        XCTAssertNoThrow(try worker.runOnce())

        for (id, what) in [(otherFiles, "other files"), (otherMetadata, "other metadata"), (otherSender, "another sender and other metadata")] {
            let m = try XCTUnwrap(inbound(id).first)
            XCTAssertEqual(m.status, .failed, what)
            XCTAssertEqual(m.intakeError?.code, IntakeFailure.documentIdTaken)
            XCTAssertEqual(m.intakeError?.reason, "document id doc-1 is already held here for another document from access point gw-a "
                           + "(this one has \(what)); a document is identified by its id, so this one was not taken in "
                           + "(send it again under a new id); reported Failed to gw-a")
        }
        let d = try XCTUnwrap(b.context.mailbox.document(messageId: "doc-1"))
        XCTAssertEqual(d.recipients.map(\.address), [Self.person], "the company was handed nothing")
        XCTAssertEqual(d.files.map(\.file.sha256), [try sha256("first")])
        XCTAssertEqual(try b.context.mailbox.inbox(address: Self.company, after: 0, limit: 10).map(\.document.messageId), ["doc-2"])
        XCTAssertEqual(try inbound(after).map(\.status), [.delivered])

        let reports = try statusReports()
        XCTAssertEqual(Set(reports.compactMap(\.metadata.refToMessageId)), [otherFiles, otherMetadata, otherSender])
        XCTAssertEqual(Set(reports.map(\.metadata.toParty)), ["urn:oasis:names:tc:ebcore:partyid-type:unregistered::gw-a"])
        XCTAssertEqual(b.context.metrics.intakeFailuresReported.load(ordering: .relaxed), 3)

        // Taken in again (messages retry-intake), each fails again, and gw-a is not told twice.
        for id in [otherFiles, otherMetadata, otherSender] {
            try b.store.retryIntake(rowId: try XCTUnwrap(inbound(id).first?.rowId), requestedBy: "test", at: Date())
        }
        try worker.runOnce()
        XCTAssertEqual(try [otherFiles, otherMetadata, otherSender].flatMap { try inbound($0).map(\.status) }, [.failed, .failed, .failed])
        XCTAssertEqual(try statusReports().count, 3)
    }

    /// The mailbox knows a document's message by its MessageId, which names one recipient: one
    /// that carried another document here (gw-a's own after its window, or one of gw-b's own
    /// messages' ids) made the insert break the unique index, and the worker retried that batch
    /// every round, so no later message was taken in. Now it ends Failed with MessageIdTaken.
    func testAMessageIdThatCarriedAnotherDocumentHereIsRefusedAndHoldsUpNothing() throws {
        let first = try carry("doc-1", to: Self.person, file: "first")
        try worker.runOnce()
        let reusedRow = try receiveAgainAfterItsWindow(first, documentId: "doc-2")
        _ = try b.context.mailbox.insertDocument(NewDocument(
            messageId: "forwarded", connection: nil, idempotencyKey: nil, sender: Self.sender, metadata: "{}", originParty: "gw-c",
            originMessageId: "from-c@gw-c", files: [],
            recipients: [.init(address: "_DEFAULT@40003000001", route: .remote, status: .submitted, party: "gw-a", as4MessageId: "ours-1@gw-b")]),
            notifications: [], at: Date())
        try carry("doc-3", to: Self.person, file: "third", id: "ours-1@gw-b")
        let after = try carry("doc-4", to: Self.company, file: "after")
        let cursor = try b.context.mailbox.cursor(MailboxWorker.cursorName)
        XCTAssertNoThrow(try worker.runOnce())
        XCTAssertGreaterThan(try b.context.mailbox.cursor(MailboxWorker.cursorName), cursor, "the batch is done")

        let reused = try XCTUnwrap(inbound(first).first { $0.rowId == reusedRow })
        XCTAssertEqual(try inbound(first).first { $0.rowId != reusedRow }?.status, .delivered, "the first message as it was")
        for m in [reused, try XCTUnwrap(inbound("ours-1@gw-b").first)] {
            XCTAssertEqual(m.status, .failed)
            XCTAssertEqual(m.intakeError?.code, IntakeFailure.messageIdTaken)
            XCTAssertEqual(m.intakeError?.reason, "the AS4 MessageId \(m.metadata.messageId) already carried another document or recipient here; "
                           + "a document's message is identified by its MessageId, so this one was not taken in "
                           + "(send it again under a new MessageId); reported Failed to gw-a")
        }
        XCTAssertNil(try b.context.mailbox.document(messageId: "doc-2"))
        XCTAssertNil(try b.context.mailbox.document(messageId: "doc-3"))
        XCTAssertEqual(try b.context.mailbox.recipient(as4MessageId: first)?.messageId, "doc-1")
        XCTAssertEqual(try b.context.mailbox.recipient(as4MessageId: "ours-1@gw-b")?.messageId, "forwarded")
        XCTAssertEqual(try inbound(after).map(\.status), [.delivered])
        XCTAssertEqual(try b.context.mailbox.inbox(address: Self.company, after: 0, limit: 10).map(\.document.messageId), ["doc-4"])
        XCTAssertEqual(try statusReports().compactMap(\.metadata.refToMessageId).sorted(), [first, "ours-1@gw-b"].sorted())
        XCTAssertTrue(b.log.contains("event=document-refused document_id=doc-2"), b.log)
        XCTAssertFalse(b.log.contains("event=mailbox-worker "), "no failed round: \(b.log)")
    }

    /// Another access point cannot take a document id held from gw-a, change that document or
    /// hold up the messages after its own.
    func testAnotherAccessPointCannotTakeOrChangeAHeldDocumentId() throws {
        let first = try carry("doc-1", to: Self.person, file: "first")
        try worker.runOnce()
        let squatter = try carry("doc-1", to: Self.company, file: "first", from: c)
        let copy = try carry("doc-1", to: Self.person, file: "first", from: c)
        let after = try carry("doc-2", to: Self.company, file: "after", from: c)
        XCTAssertNoThrow(try worker.runOnce())

        for id in [squatter, copy] {
            let m = try XCTUnwrap(inbound(id).first)
            XCTAssertEqual(m.status, .failed)
            XCTAssertEqual(m.intakeError?.code, IntakeFailure.documentIdTaken)
            XCTAssertTrue(m.intakeError?.reason.hasPrefix("document id doc-1 is already held here for a document from access point gw-a;") ?? false,
                          "\(String(describing: m.intakeError))")
        }
        let d = try XCTUnwrap(b.context.mailbox.document(messageId: "doc-1"))
        XCTAssertEqual(d.recipients.map(\.as4MessageId), [first])
        XCTAssertEqual(d.originParty, "gw-a")
        XCTAssertEqual(try inbound(after).map(\.status), [.delivered])
        XCTAssertEqual(Set(try statusReports().map(\.metadata.toParty)), ["urn:oasis:names:tc:ebcore:partyid-type:unregistered::gw-c"])
    }
}

final class PostgresDocumentIdReuseTests: DocumentIdReuseTests {
    var server: ThrowAwayPostgres?

    override func storeURL() throws -> String? {
        server = try ThrowAwayPostgres.start()
        return server?.url
    }

    override func tearDown() {
        super.tearDown()
        server?.stop()
        server = nil
    }

    override func testTheSameDocumentArrivingAgainAddsItsRecipientOrChangesNothing() throws {
        try super.testTheSameDocumentArrivingAgainAddsItsRecipientOrChangesNothing()
    }
    override func testAnotherDocumentUnderAHeldIdIsRefusedReportedAndHoldsUpNothing() throws {
        try super.testAnotherDocumentUnderAHeldIdIsRefusedReportedAndHoldsUpNothing()
    }
    override func testAMessageIdThatCarriedAnotherDocumentHereIsRefusedAndHoldsUpNothing() throws {
        try super.testAMessageIdThatCarriedAnotherDocumentHereIsRefusedAndHoldsUpNothing()
    }
    override func testAnotherAccessPointCannotTakeOrChangeAHeldDocumentId() throws {
        try super.testAnotherAccessPointCannotTakeOrChangeAHeldDocumentId()
    }
}

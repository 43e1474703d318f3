import Foundation
@testable import MessageStore
import XCTest

/// Background jobs on a shared PostgreSQL store: one node at a time holds a job, a held job is
/// free again when its node lets go or its session ends; notification ids are handed out in
/// commit order; and the schema refuses what the API would.
final class PostgresMailboxJobTests: StoreTestCase {
    override class var backend: StoreBackend { .postgres }

    func testOneNodeAtATimeRunsAJob() throws {
        let a = try PostgresMailboxStore(url: postgresURL, schema: .migrate, now: t0), b = try PostgresMailboxStore(url: postgresURL, schema: .migrate, now: t0)
        defer { a.close(); b.close() }
        let ran = try a.exclusively(job: "mailbox-worker") { () throws -> [String?] in
            [try b.exclusively(job: "mailbox-worker") { "b ran" },
             try a.exclusively(job: "mailbox-worker") { "a ran twice" },
             try b.exclusively(job: "webhook-pusher") { "b ran another job" }]
        }
        XCTAssertEqual(ran, [nil, nil, "b ran another job"])
        XCTAssertEqual(try b.exclusively(job: "mailbox-worker") { "b ran" }, "b ran", "free once a let go")
    }

    func testAJobThatThrowsIsFreeAgain() throws {
        let a = try PostgresMailboxStore(url: postgresURL, schema: .migrate, now: t0), b = try PostgresMailboxStore(url: postgresURL, schema: .migrate, now: t0)
        defer { a.close(); b.close() }
        XCTAssertThrowsError(try a.exclusively(job: "j") { throw MailboxStoreError.conflict("boom") })
        XCTAssertEqual(try b.exclusively(job: "j") { 1 }, 1)
        XCTAssertEqual(try a.exclusively(job: "j") { 2 }, 2)
    }

    func testANodeWhoseSessionEndsLosesItsJobs() throws {
        let a = try PostgresMailboxStore(url: postgresURL, schema: .migrate, now: t0), b = try PostgresMailboxStore(url: postgresURL, schema: .migrate, now: t0)
        defer { b.close() }
        let seen = try a.exclusively(job: "j") { () throws -> String? in
            a.close()  // the node goes away mid-job: the server frees its session locks
            // ... once its backend has seen the connection close, which on a loaded machine
            // takes a moment: B tries again meanwhile, as its next round would.
            let deadline = Date().addingTimeInterval(10)
            while Date() < deadline {
                if let took = try b.exclusively(job: "j", { "b took over" }) { return took }
                Thread.sleep(forTimeInterval: 0.05)
            }
            return nil
        }
        XCTAssertEqual(seen, "b took over")
    }

    /// While one node's transaction is between handing out a notification id and its COMMIT (it
    /// holds the order lock), another node's notification waits: ids become visible in order.
    func testANotificationWaitsForAnEarlierUncommittedOne() throws {
        let store = try PostgresMailboxStore(url: postgresURL, schema: .migrate, now: t0)
        defer { store.close() }
        let other = try PostgresConnection(url: postgresURL)
        defer { other.close() }
        try other.execute("BEGIN")
        try other.execute("SELECT pg_advisory_xact_lock($1::integer, $2::integer)",
                          [Int(PostgresSchema.lockNamespace), Int(PostgresSchema.mailboxOrderLock)])
        let finished = DispatchSemaphore(value: 0)
        let t0 = t0
        DispatchQueue.global().async {
            _ = try? store.insertDocument(NewDocument(messageId: "m", connection: "dms", idempotencyKey: nil, sender: "S@1", metadata: "{}",
                                                      originParty: nil, originMessageId: nil, files: [],
                                                      recipients: [.init(address: "R@1", route: .mailbox, status: .accepted)]),
                                          notifications: [BackendNotification(address: "R@1", kind: "new", messageId: "m", recipient: nil,
                                                                              detail: nil, at: t0)], at: t0)
            finished.signal()
        }
        XCTAssertEqual(finished.wait(timeout: .now() + 0.5), .timedOut, "the insert must wait for the earlier transaction")
        try other.execute("COMMIT")
        XCTAssertEqual(finished.wait(timeout: .now() + 10), .success)
        XCTAssertEqual(try store.notifications(after: 0, addresses: ["R@1"], limit: 10).count, 1)
    }

    func testSchemaRefusesWhatTheAPIWouldNot() throws {
        let store = try PostgresMailboxStore(url: postgresURL, schema: .migrate, now: t0)
        defer { store.close() }
        _ = try store.insertDocument(NewDocument(messageId: "m", connection: "dms", idempotencyKey: "k", sender: "S@1", metadata: "{}",
                                                 originParty: nil, originMessageId: nil, files: [],
                                                 recipients: [.init(address: "R@1", route: .mailbox, status: .accepted)]),
                                     notifications: [], at: t0)
        for sql in [
            "INSERT INTO documents (message_id, connection, idempotency_key, sender, metadata, created_at) VALUES ('m2', 'dms', 'k', 's', '{}', 0)",
            "INSERT INTO documents (message_id, sender, metadata, created_at) VALUES ('m3', 's', '{}', 0)",
            "INSERT INTO document_recipients (message_id, address, route, status, updated_at) VALUES ('m', 'X@1', 'remote', 'Submitted', 0)",
            "UPDATE document_events SET status = 'x'",
            "DELETE FROM document_events",
            "INSERT INTO directory_addresses (address, owner_id, owner_kind, access_point, updated_at) VALUES ('a', 'o', 'company', 'remote', 0)",
            "INSERT INTO api_connections (name, addresses, created_at) VALUES ('n', '', 0)",
        ] {
            XCTAssertThrowsError(try store.pool.withConnection { c in _ = try c.execute(sql) }, sql)
        }
        XCTAssertEqual(try store.events(messageId: "m").count, 1, "the history is untouched")
    }
}

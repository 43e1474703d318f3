import Foundation
@testable import MessageStore
import XCTest

/// A fenced job whose lock is lost while it runs (its job session's server process ended, as in a
/// database restart): it may not start another effect, nor record a result once another node has
/// taken the job; a node taking the job over waits for an effect the last holder announced, so a
/// webhook batch under way when the lock went is recorded by the node that sent it, not sent again.
final class PostgresJobFenceTests: StoreTestCase {
    override class var backend: StoreBackend { .postgres }

    var a: PostgresMailboxStore!
    var b: PostgresMailboxStore!

    override func setUpWithError() throws {
        try super.setUpWithError()
        a = try PostgresMailboxStore(url: postgresURL, schema: .migrate, now: t0)
        b = try PostgresMailboxStore(url: postgresURL, schema: .migrate, now: t0)
        try a.addConnection(BackendConnection(name: "dms", tokenSHA256: String(repeating: "a", count: 64), certificateSHA256: nil,
                                              addresses: ["R@1"], createdAt: t0, webhookURL: "https://dms.example/hook", webhookSecret: "s"))
    }

    override func tearDownWithError() throws {
        a?.close()
        b?.close()
        try super.tearDownWithError()
    }

    /// Ends the server process of the session holding `job`'s lock: what a restart does to it.
    func killJobSession(_ job: String) throws {
        let c = try PostgresConnection(url: postgresURL)
        defer { c.close() }
        let ended = try c.execute("""
            SELECT pg_terminate_backend(pid) FROM pg_locks
            WHERE locktype = 'advisory' AND granted AND classid = $1::integer::oid AND objid = hashtext($2)::oid AND objsubid = 2
            """, [Int(PostgresSchema.lockNamespace), "job:" + job]).count
        XCTAssertEqual(ended, 1, "one session holds the job")
    }

    /// Node B's next rounds, until it runs the job (its lock is free once the server has seen the
    /// session end) or `seconds` pass.
    func takeOver<T>(_ job: String, within seconds: Double = 10, _ body: (JobFence) throws -> T) throws -> T? {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let result = try b.exclusively(job: job, fenced: body) { return result }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return nil
    }

    func upTo() throws -> Int64 { try XCTUnwrap(a.webhookState(connection: "dms")).upTo }

    func testAHeldFenceRecordsAndTheNextHolderReadsIt() throws {
        let recorded = try a.exclusively(job: "push-1", fenced: { fence -> Bool in
            try fence.beginEffect(lasting: 30)
            try a.recordWebhookDelivery(connection: "dms", upTo: 7, fence: fence)
            return true
        })
        XCTAssertEqual(recorded, true)
        XCTAssertEqual(try upTo(), 7)
        // The result recorded ended the announced effect: B takes the job at once, a new generation.
        let generations = try b.exclusively(job: "push-1", fenced: { $0.generation })
        XCTAssertEqual(generations, 2)
        XCTAssertEqual(try a.exclusively(job: "push-1", fenced: { $0.generation }), 3)
        XCTAssertEqual(try a.exclusively(job: "push-1", fenced: { $0.generation }), 3, "the same session again: nothing changed hands")
    }

    func testALostJobStartsNoEffectAndRecordsNothingOverTheNewHolder() throws {
        try a.exclusively(job: "push-2", fenced: { fenceA in
            try killJobSession("push-2")
            XCTAssertThrowsError(try fenceA.beginEffect(lasting: 30)) { error in
                guard case .lost? = error as? JobFenceError else { return XCTFail("\(error)") }
            }
            // No effect was announced: B takes the job over as soon as the lock is free.
            let took = try takeOver("push-2") { fenceB -> Int64 in
                XCTAssertThrowsError(try a.recordWebhookDelivery(connection: "dms", upTo: 5, fence: fenceA), "A's result is refused") { error in
                    guard case .lost? = error as? JobFenceError else { return XCTFail("\(error)") }
                }
                try b.recordWebhookFailure(connection: "dms", error: "HTTP 503", nextAttemptAt: t0, fence: fenceB)
                return fenceB.generation
            }
            XCTAssertEqual(took, fenceA.generation + 1)
        })
        XCTAssertEqual(try upTo(), 0)
        XCTAssertEqual(try a.webhookState(connection: "dms")?.attempts, 1, "B's result is recorded")
    }

    /// The reviewer's case: the job lock goes while a webhook POST is under way. B waits for the
    /// POST's announced bound instead of sending the same batch; A's answer, recorded under its
    /// unchanged fence, is what B then reads.
    func testATakeOverWaitsForTheAnnouncedEffectWhoseResultIsThenRecorded() throws {
        try a.exclusively(job: "push-3", fenced: { fenceA in
            try fenceA.beginEffect(lasting: 3)  // the POST starts
            try killJobSession("push-3")
            XCTAssertNil(try takeOver("push-3", within: 1) { _ in "B ran while A's POST may be under way" })
            try a.recordWebhookDelivery(connection: "dms", upTo: 9, fence: fenceA)  // the POST's answer
            let seen = try takeOver("push-3") { _ in try b.webhookState(connection: "dms")?.upTo }
            XCTAssertEqual(seen, 9, "B reads the batch as delivered")
        })
    }

    /// An effect that outlasts the bound it announced: B takes the job over after the bound, and
    /// A's late result is refused (B sends again: at-least-once).
    func testAnEffectBeyondItsBoundLosesTheJob() throws {
        try a.exclusively(job: "push-4", fenced: { fenceA in
            try fenceA.beginEffect(lasting: 0.5)
            try killJobSession("push-4")
            XCTAssertNotNil(try takeOver("push-4") { _ in true })
            XCTAssertThrowsError(try a.recordWebhookDelivery(connection: "dms", upTo: 9, fence: fenceA))
        })
        XCTAssertEqual(try upTo(), 0)
    }

    /// A restarted server ends every session: the job's and the pool's. The pool reconnects by
    /// itself, the fence does not pretend to.
    func testADatabaseRestartEndsTheFence() throws {
        try a.exclusively(job: "push-5", fenced: { fenceA in
            try PostgresTestCluster.running().restart()
            XCTAssertThrowsError(try fenceA.beginEffect(lasting: 30)) { error in
                guard case .lost? = error as? JobFenceError else { return XCTFail("\(error)") }
            }
            XCTAssertNotNil(try takeOver("push-5") { _ in true })
            XCTAssertThrowsError(try a.recordWebhookDelivery(connection: "dms", upTo: 3, fence: fenceA))
        })
        XCTAssertEqual(try upTo(), 0)
    }
}

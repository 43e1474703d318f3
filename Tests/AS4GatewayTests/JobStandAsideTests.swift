@testable import AS4Gateway
import Foundation
import MessageStore
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// A node whose background job keeps failing for a reason of its own leaves the job to the other
/// nodes for a while, instead of taking it back every round; a round that finds the job held
/// elsewhere says nothing about this node's health.
final class JobStandAsideTests: XCTestCase {
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)
    let full = StoreError.io(operation: "open", path: "/payloads/2026/11/28/x", errno: ENOSPC)

    func testAfterItsLimitOfFailedRoundsANodeStandsAsideForThePauseAndAfterItOneFailureIsEnough() {
        var turns = JobStandAside(enabled: true, limit: 3, pause: 30)
        XCTAssertFalse(turns.failed(full, at: t0))
        XCTAssertFalse(turns.failed(full, at: t0 + 1))
        XCTAssertTrue(turns.mayRun(at: t0 + 2))
        XCTAssertTrue(turns.failed(full, at: t0 + 2), "the third failure in a row: standing aside begins (logged)")
        XCTAssertFalse(turns.mayRun(at: t0 + 2))
        XCTAssertFalse(turns.mayRun(at: t0 + 31.9))
        XCTAssertTrue(turns.mayRun(at: t0 + 32))
        XCTAssertFalse(turns.failed(full, at: t0 + 32), "still failing: aside again, not logged again")
        XCTAssertFalse(turns.mayRun(at: t0 + 61))
        XCTAssertTrue(turns.mayRun(at: t0 + 62))
        turns.succeeded()
        XCTAssertTrue(turns.mayRun(at: t0 + 62))
        XCTAssertFalse(turns.failed(full, at: t0 + 63), "a round that worked starts the count again")
        XCTAssertFalse(turns.failed(full, at: t0 + 64))
        XCTAssertTrue(turns.failed(full, at: t0 + 65))
    }

    func testAnUnreachableDatabaseAndAStoreNobodySharesNeverMakeANodeStandAside() {
        var outage = JobStandAside(enabled: true, limit: 3, pause: 30)
        for i in 0..<10 { XCTAssertFalse(outage.failed(StoreError.connectionLost("refused"), at: t0 + Double(i))) }
        XCTAssertTrue(outage.mayRun(at: t0 + 10), "every node is in the same outage, and none can hold the job")
        XCTAssertFalse(outage.failed(full, at: t0 + 11), "other failures count from there")

        var alone = JobStandAside(enabled: false)
        for i in 0..<10 { XCTAssertFalse(alone.failed(full, at: t0 + Double(i))) }
        XCTAssertTrue(alone.mayRun(at: t0 + 10), "nobody else could run it: try again every round")
    }

    /// Two nodes of one party on PostgreSQL. A's mailbox worker fails (its reading of the history
    /// fails as a full disk would); after three rounds it stands aside, so B runs the job and A
    /// does not ask for it until the pause is over. A round of A's that finds the job held by B
    /// leaves A not ready as before; a round of its own that works ends all of it.
    func testAFailingNodeLeavesTheMailboxWorkerToAHealthyOne() throws {
        let server = try ThrowAwayPostgres.start()
        defer { server.stop() }
        let h = try GatewayHarness()
        try h.configure(["gw-a", "gw-b"])
        let shared = h.root.appendingPathComponent("shared-payloads").path
        let a = try InProcessNode(h, party: "gw-a", store: server.url) { $0.dataDirectory = h.root.path + "/node-a"; $0.payloadDirectory = shared }
        let b = try InProcessNode(h, party: "gw-a", store: server.url) { $0.dataDirectory = h.root.path + "/node-b"; $0.payloadDirectory = shared }
        XCTAssertTrue(a.context.sharesJobs)
        let workerA = MailboxWorker(context: a.context), workerB = MailboxWorker(context: b.context)
        var stateA = workerA.newPassState(), stateB = workerB.newPassState()
        let t = Date()

        a.faults.fail([.events], with: full)
        for _ in 1...JobStandAside.limit { XCTAssertEqual(workerA.pass(&stateA, now: t), 1) }
        XCTAssertEqual(a.faults.calls(.events), JobStandAside.limit)
        XCTAssertEqual(a.log.components(separatedBy: "event=mailbox-worker-standing-aside").count - 1, 1, a.log)
        let since = try XCTUnwrap(a.context.mailboxWorkerHealth.failing?.since)

        _ = try b.submit(to: "gw-b")  // an event of the history
        let latest = try b.store.latestEventId()
        XCTAssertEqual(workerB.pass(&stateB, now: t), MailboxWorker.interval)
        XCTAssertEqual(try b.context.mailbox.cursor(MailboxWorker.cursorName), latest, "B ran the job")
        XCTAssertEqual(workerA.pass(&stateA, now: t + 1), MailboxWorker.interval)
        XCTAssertEqual(a.faults.calls(.events), JobStandAside.limit, "A did not ask for the job")
        XCTAssertEqual(a.context.mailboxWorkerHealth.failing?.since, since, "and is still failing")

        // After the pause A tries again, fails, and is aside again at once.
        XCTAssertEqual(workerA.pass(&stateA, now: t + JobStandAside.pause), 1)
        XCTAssertEqual(a.faults.calls(.events), JobStandAside.limit + 1)
        XCTAssertFalse(stateA.standAside.mayRun(at: t + JobStandAside.pause + 1))
        XCTAssertEqual(a.log.components(separatedBy: "event=mailbox-worker-standing-aside").count - 1, 1, "logged once")

        // Its fault gone, A's next turn finds the job held by B: that says nothing about A.
        a.faults.heal()
        let later = t + 2 * JobStandAside.pause
        _ = try b.context.mailbox.exclusively(job: MailboxWorker.cursorName) { workerA.pass(&stateA, now: later) }
        XCTAssertEqual(a.faults.calls(.events), JobStandAside.limit + 1)
        XCTAssertEqual(a.context.mailboxWorkerHealth.failing?.since, since, "a job held elsewhere does not make A ready")

        XCTAssertEqual(workerA.pass(&stateA, now: later), MailboxWorker.interval)
        XCTAssertNil(a.context.mailboxWorkerHealth.failing, "a round of A's own worked")
        XCTAssertTrue(stateA.standAside.mayRun(at: later))
        XCTAssertTrue(a.log.contains("event=mailbox-worker-recovered"), a.log)
    }

    /// A node that cannot send notices (its SMTP password file is missing) stands aside after
    /// three rounds: within the pause it leaves a due notice alone even once it could send it,
    /// and sends it on its first turn after.
    func testANoticeMailerThatCannotSendStandsAside() throws {
        let h = try GatewayHarness()
        try h.configure(["gw-a", "gw-b"])
        let out = h.root.appendingPathComponent("smtp").path
        let port = try BackendAPINoticeTests.startSink(out, arguments: [], for: self)
        let node = try InProcessNode(h, party: "gw-a")
        var settings = NoticeSettings(smtp: "smtp://127.0.0.1:\(port)", from: "e-adrese@as4gw.test")
        settings.startTLS = "off"
        let password = h.root.appendingPathComponent("smtp-password").path
        settings.passwordFile = password
        // The document the notice announces, still unread (a notice of one gone is withdrawn).
        XCTAssertEqual(try node.context.mailbox.insertDocument(NewDocument(messageId: "m-1", connection: "dms", idempotencyKey: nil, sender: "DVS@90000048472",
                                                                           metadata: "{}", files: [],
                                                                           recipients: [.init(address: "_PRIVATE@16117519997", route: .mailbox, status: .accepted)]),
                                                               notifications: [], at: Date()), .stored)
        try node.context.notices.recordNotices([NewEmailNotice(notificationId: 1, address: "_PRIVATE@16117519997", messageId: "m-1",
                                                               email: "janis@example.lv")], upTo: 0, at: Date())
        let mailer = NoticeMailer(context: node.context, settings: settings, notices: node.context.notices)
        var state = NoticeMailer.PassState(server: mailer.newMailServer(), standAside: JobStandAside(enabled: true))
        func mails() -> Int { ((try? FileManager.default.contentsOfDirectory(atPath: out)) ?? []).filter { $0.hasSuffix(".eml") }.count }
        let t = Date()

        for _ in 1...JobStandAside.limit { mailer.pass(&state, now: t) }
        XCTAssertTrue(node.log.contains("event=notice-mailer-standing-aside"), node.log)
        try "secret\n".write(toFile: password, atomically: true, encoding: .utf8)
        mailer.pass(&state, now: t + 1)
        XCTAssertEqual(mails(), 0, "aside: the notice is left for another node")
        XCTAssertEqual(try node.context.notices.notices(address: nil, status: .pending, after: 0, limit: 10).count, 1)

        mailer.pass(&state, now: t + JobStandAside.pause)
        XCTAssertEqual(mails(), 1)
        XCTAssertEqual(try node.context.notices.notices(address: nil, status: .sent, after: 0, limit: 10).count, 1)
        XCTAssertTrue(node.log.contains("event=notice-recovered"), node.log)
        XCTAssertTrue(state.standAside.mayRun(at: t + JobStandAside.pause))
    }
}

@testable import AS4Gateway
import Foundation
import MessageStore
import XCTest

/// A clock stepped forward does not purge archives early: the purge (the daemon's and the
/// operators' command) is deferred when its clock is far past the last recorded run, purges
/// what is due when runs follow each other, and never takes a document under a legal hold.
final class RetentionClockTests: XCTestCase {
    let sender = "DVS@90000048472", company = "_DEFAULT@40003032949", archive = "ARHIVS@40003032949"
    var dir: String!

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "as4gw-purge-clock-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// A document due now (retention ended a day ago), to `to`.
    func storeDue(_ mailbox: any MailboxStore, _ id: String, to: String? = nil) throws {
        var d = NewDocument(messageId: id, connection: "dms", idempotencyKey: nil, sender: sender, metadata: "{}",
                            files: [DocumentFile(name: "a.txt", mimeType: "text/plain", file: StoredFile(path: dir + "/" + id, size: 1, sha256: String(repeating: "0", count: 64)))],
                            recipients: [.init(address: to ?? company, route: .mailbox, status: .accepted)])
        d.retainUntil = Date(timeIntervalSinceNow: -86_400)
        XCTAssertEqual(try mailbox.insertDocument(d, notifications: [], at: Date()), .stored)
        FileManager.default.createFile(atPath: dir + "/" + id, contents: Data("x".utf8))
    }

    func testAPurgeFarPastTheLastRunPurgesNothingAndConsecutiveRunsPurgeWhatIsDue() throws {
        let mailbox = try SQLiteMailboxStore(dataDirectory: dir)
        defer { mailbox.close() }
        let store = try SQLiteRetentionStore(dataDirectory: dir)
        defer { store.close() }
        let purge = RetentionPurge(store: store, log: nil, by: "mailbox-worker")
        try storeDue(mailbox, "first")
        try storeDue(mailbox, "held", to: archive)
        _ = try store.placeHold(.address(archive), reason: "audit", by: "ops", at: Date())
        let t = Date()
        var summary = try purge.run(now: t)
        XCTAssertEqual(summary.purged.map(\.messageId), ["first"])
        XCTAssertEqual(summary.held.map(\.messageId), ["held"])

        // The next run an hour on takes what fell due meanwhile.
        try storeDue(mailbox, "second")
        summary = try purge.run(now: t + 3600)
        XCTAssertEqual(summary.purged.map(\.messageId), ["second"])
        XCTAssertNil(summary.deferred)

        // 49 hours on (a clock stepped forward, as the review found): deferred, nothing goes,
        // although the database's clock would let it (retention ended a day ago).
        try storeDue(mailbox, "third")
        summary = try purge.run(now: t + 3600 + 49 * 3600)
        XCTAssertEqual(summary.purged, [])
        XCTAssertEqual(summary.held.map(\.messageId), [], "deferred before anything is listed")
        XCTAssertEqual(summary.deferred?.until, t + 3600 + 49 * 3600 + 86_400)
        XCTAssertNotNil(try mailbox.document(messageId: "third"))
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/third"))
        // A step the process saw itself defers as well.
        XCTAssertNotNil(try purge.run(now: t + 3600 + 50 * 3600, observedStep: 7200).deferred)
        XCTAssertNotNil(try mailbox.document(messageId: "third"))

        // An operator who vouches for the clock purges; the hold still wins.
        summary = try purge.run(now: t + 3600 + 51 * 3600, trustClock: true)
        XCTAssertEqual(summary.purged.map(\.messageId), ["third"])
        XCTAssertEqual(summary.held.map(\.messageId), ["held"])
        XCTAssertNotNil(try mailbox.document(messageId: "held"))
    }

    func testThePurgeCommandRefusesAfterAJumpUnlessTheClockIsVouchedFor() throws {
        let mailbox = try SQLiteMailboxStore(dataDirectory: dir)
        try storeDue(mailbox, "due")
        try storeDue(mailbox, "held", to: archive)
        mailbox.close()
        let store = try SQLiteRetentionStore(dataDirectory: dir)
        _ = try store.placeHold(.message("held"), reason: "court order", by: "ops", at: Date())
        // The last run 49 hours before this machine's clock: as if the clock had jumped since.
        XCTAssertEqual(try store.checkPurgeClock(PurgeClockCheck(now: Date(timeIntervalSinceNow: -49 * 3600), bound: 86_400, by: "mailbox-worker")), .proceed)
        store.close()

        for extra in [["--dry-run"], []] {
            let r = try GatewayProcess.run(["retention", "purge", "--data", dir] + extra)
            XCTAssertEqual(r.status, 3, "\(extra): \(r.stderr)")
            XCTAssertNotNil((r.json?["deferred"] as? [String: Any])?["until"] as? String, r.stdout)
            XCTAssertEqual((r.json?["due"] as? [Any])?.count, 0, r.stdout)
            XCTAssertEqual((r.json?["purged"] as? [Any])?.count, 0, r.stdout)
            XCTAssertTrue(r.stderr.contains("--trust-clock"), r.stderr)
            XCTAssertTrue(r.stderr.contains("event=retention-purge-deferred"), r.stderr)
            XCTAssertTrue(r.stderr.contains("clock jumped forward or the node was down for long: purge deferred"), r.stderr)
        }
        let check = try SQLiteMailboxStore(dataDirectory: dir)
        XCTAssertNotNil(try check.document(messageId: "due"))

        let trusted = try GatewayProcess.run(["retention", "purge", "--data", dir, "--trust-clock"])
        XCTAssertEqual(trusted.status, 0, trusted.stderr)
        XCTAssertEqual(((trusted.json?["purged"] as? [[String: Any]]) ?? []).compactMap { $0["messageId"] as? String }, ["due"])
        XCTAssertEqual(((trusted.json?["held"] as? [[String: Any]]) ?? []).compactMap { $0["messageId"] as? String }, ["held"])
        XCTAssertNil(try check.document(messageId: "due"))
        XCTAssertNotNil(try check.document(messageId: "held"))
        check.close()
        // Judged from the override on: the next run proceeds.
        let next = try GatewayProcess.run(["retention", "purge", "--data", dir])
        XCTAssertEqual(next.status, 0, next.stderr)
        XCTAssertNil(next.json?["deferred"])
    }

    func testTheStepWatchTellsASetClockFromTimePassing() {
        var watch = ClockStepWatch()
        let t = Date(timeIntervalSince1970: 1_800_000_000)
        XCTAssertNil(watch.step(wall: t, boot: 100))
        XCTAssertEqual(watch.step(wall: t + 3600, boot: 3700) ?? .nan, 0, accuracy: 0.001)
        XCTAssertEqual(watch.step(wall: t + 3600 + 49 * 3600 + 3600, boot: 7300) ?? .nan, 49 * 3600, accuracy: 0.001)
        XCTAssertEqual(watch.step(wall: t + 3600, boot: 10_900) ?? .nan, -51 * 3600, accuracy: 0.001, "set back 50 h while an hour passed")
    }
}

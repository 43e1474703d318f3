@testable import AS4Gateway
import EnvelopeXML
import Foundation
import HTTPClient
import MessageStore
import XCTest

/// A loop failing the same way every round logs it once a minute, a new failure at once, and
/// its recovery once.
final class RepeatedFailureLogTests: XCTestCase {
    func testTheSameFailureIsLoggedOncePerIntervalWithItsCount() {
        var log = RepeatedFailureLog(interval: 60)
        let t0 = Date(timeIntervalSince1970: 1_800_000_000)
        XCTAssertEqual(log.failed("password file unreadable", at: t0)?["reason"], "password file unreadable")
        var quiet = 0
        for i in 1...239 where log.failed("password file unreadable", at: t0 + Double(i) * 0.25) == nil { quiet += 1 }
        XCTAssertEqual(quiet, 239, "four rounds a second for a minute: no line")
        let again = log.failed("password file unreadable", at: t0 + 60)
        XCTAssertEqual(again?["repeated"], "239")
        XCTAssertNil(log.failed("password file unreadable", at: t0 + 61))
        // Another failure is news.
        XCTAssertEqual(log.failed("store closed", at: t0 + 62)?["reason"], "store closed")
        XCTAssertNil(log.failed("store closed", at: t0 + 63))
        let recovered = log.succeeded()
        XCTAssertEqual(recovered?["reason"], "working again after: store closed")
        XCTAssertEqual(recovered?["repeated"], "1")
        XCTAssertNil(log.succeeded(), "a recovery is logged once")
        XCTAssertNotNil(log.failed("store closed", at: t0 + 64), "after a recovery the same failure is news again")
    }

    /// A full disk names a new random payload file every round: compared by its kind and errno
    /// it is one failure, logged once with the first round's full reason.
    func testFailuresThatDifferOnlyInTheirPathAreTheSameFailure() {
        var log = RepeatedFailureLog(interval: 60)
        let t0 = Date(timeIntervalSince1970: 1_800_000_000)
        func full(_ n: Int) -> StoreError { .io(operation: "open", path: "/data/payloads/2026/11/28/\(String(n, radix: 16))abc", errno: ENOSPC) }
        XCTAssertEqual(FailureKey.of(full(1)), FailureKey.of(full(2)))
        XCTAssertNotEqual(FailureKey.of(full(1)), FailureKey.of(StoreError.io(operation: "open", path: "/x", errno: EACCES)))
        XCTAssertEqual(FailureKey.of(ByteIOError(operation: "write", path: "/a", errorNumber: ENOSPC)),
                       FailureKey.of(ByteIOError(operation: "write", path: "/b", errorNumber: ENOSPC)))
        let first = log.failed("\(full(0))", key: FailureKey.of(full(0)), at: t0)
        XCTAssertEqual(first?["reason"], "\(full(0))", "the first line keeps the path")
        for i in 1...59 { XCTAssertNil(log.failed("\(full(i))", key: FailureKey.of(full(i)), at: t0 + Double(i)), "round \(i)") }
        XCTAssertEqual(log.failed("\(full(60))", key: FailureKey.of(full(60)), at: t0 + 60)?["repeated"], "59")
        XCTAssertEqual(log.succeeded()?["reason"], "working again after: \(full(60))")
    }

    func testSuccessWithoutFailureIsQuiet() {
        var log = RepeatedFailureLog()
        XCTAssertNil(log.succeeded())
        XCTAssertNil(log.succeeded())
    }
}

/// Request paths during a full disk or a store outage: per listener and condition one line at
/// once, then one a minute with the count of requests since, whatever error each request met.
final class RequestFailureLogTests: XCTestCase {
    func testEachListenerLogsItsConditionOnceAMinute() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("request-failures-\(UUID().uuidString).log").path
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        defer { close(fd); unlink(path) }
        let log = EventLog(format: .logfmt, fileDescriptor: fd)
        let failures = RequestFailureLog(interval: 60)
        let t0 = Date(timeIntervalSince1970: 1_800_000_000)
        // A full disk fails SQLite's writes and payload files' writes in turn: one condition.
        let sqliteFull = StoreError.sqlite(code: 13, message: "database or disk is full", sql: nil)
        let fileFull = StoreError.io(operation: "write", path: "/data/payloads/ab", errno: ENOSPC)
        for i in 0...120 {
            failures.note(.diskFull, listener: "as4", error: i % 2 == 0 ? sqliteFull : fileFull, log: log, fields: ["message_id": "m\(i)"],
                          at: t0 + Double(i) * 0.5)
        }
        failures.note(.diskFull, listener: "api", error: fileFull, log: log, fields: ["status": "507"], at: t0 + 1)
        failures.note(.storeUnavailable, listener: "as4", error: StoreError.connectionLost("refused"), log: log, fields: [:], at: t0 + 2)
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 4, lines.joined(separator: "\n"))
        XCTAssertTrue(lines[0].contains("event=disk-full") && lines[0].contains("message_id=m0") && lines[0].contains("listener=as4"))
        XCTAssertFalse(lines[0].contains("repeated="))
        XCTAssertTrue(lines[1].contains("event=disk-full") && lines[1].contains("message_id=m120") && lines[1].contains("repeated=119"), "\(lines)")
        XCTAssertTrue(lines[2].contains("listener=api") && lines[2].contains("status=507"), "\(lines)")
        XCTAssertTrue(lines[3].contains("event=store-unavailable"), "\(lines)")
        XCTAssertNil(RequestFailureLog.Condition(EbmsError(.deliveryFailure, "not ours")))
        XCTAssertEqual(RequestFailureLog.Condition(sqliteFull), .diskFull)
        XCTAssertEqual(RequestFailureLog.Condition(StoreError.connectionLost("x")), .storeUnavailable)
    }
}

/// The webhook pusher during a store outage: four rounds a second fail alike, and the log gets
/// one line a minute with the count, and one when it works again (as the queue and mailbox
/// workers do), not forty lines in ten seconds.
final class WebhookOutageLogTests: XCTestCase {
    func testAnOutageIsLoggedOnceAMinuteAndItsRecoveryOnce() throws {
        let harness = try GatewayHarness()
        try harness.configure(["gw-a", "gw-b"])
        let failing = try InProcessNode(harness, party: "gw-a"), working = try InProcessNode(harness, party: "gw-b")
        failing.context.mailbox.close()  // every round now fails the same way
        var failures = RepeatedFailureLog(interval: 60)
        let t0 = Date(timeIntervalSince1970: 1_800_000_000)
        let pusher = WebhookPusher(context: failing.context)
        for i in 0..<240 { pusher.round(at: t0 + Double(i) * WebhookPusher.interval, failures: &failures) }
        pusher.round(at: t0 + 60, failures: &failures)

        let lines = failing.log.split(separator: "\n").filter { $0.contains("event=webhook ") }
        XCTAssertEqual(lines.count, 2, lines.joined(separator: "\n"))
        XCTAssertTrue(lines.first?.contains("level=error") ?? false)
        XCTAssertTrue(lines.first?.contains("closed") ?? false, "the reason: \(lines)")
        XCTAssertFalse(lines.first?.contains("repeated=") ?? true)
        XCTAssertTrue(lines.last?.contains("repeated=239") ?? false, "\(lines)")

        WebhookPusher(context: working.context).round(at: t0 + 61, failures: &failures)
        WebhookPusher(context: working.context).round(at: t0 + 61.25, failures: &failures)
        let recovered = working.log.split(separator: "\n").filter { $0.contains("event=webhook-recovered") }
        XCTAssertEqual(recovered.count, 1, working.log)
        XCTAssertTrue(recovered.first?.contains("working again after") ?? false, "\(recovered)")
    }

    /// A PostgreSQL outage as the pusher meets it: each round's connection fails with another
    /// message (refused, reset, closed by the server), yet it is one outage and one line a minute.
    func testConnectionLossesWithDifferentMessagesAreOneOutage() throws {
        let harness = try GatewayHarness()
        try harness.configure(["gw-a", "gw-b"])
        let node = try InProcessNode(harness, party: "gw-a")
        let messages = ["cannot connect to postgres://as4gw@db/as4gw: Connection refused",
                        "server closed the connection unexpectedly",
                        "could not receive data from server: Connection reset by peer"]
        var failures = RepeatedFailureLog(interval: 60)
        let t0 = Date(timeIntervalSince1970: 1_800_000_000)
        let pusher = WebhookPusher(context: node.context)
        for i in 0..<480 {
            let lost = StoreError.connectionLost(messages[i % messages.count] + " (round \(i))")
            pusher.note(.failure(lost), at: t0 + Double(i) * WebhookPusher.interval, failures: &failures)
        }
        let lines = node.log.split(separator: "\n").filter { $0.contains("event=webhook ") }
        XCTAssertEqual(lines.count, 2, "one line at the start and one a minute later:\n" + lines.joined(separator: "\n"))
        XCTAssertTrue(lines.last?.contains("repeated=239") ?? false, "\(lines)")
        pusher.note(.success(()), at: t0 + 120, failures: &failures)
        XCTAssertEqual(node.log.split(separator: "\n").filter { $0.contains("event=webhook-recovered") }.count, 1, node.log)
    }
}

/// The pulling side while the partner it pulls from is down: every round fails alike, one line
/// (not one per round at warn, as before), and one line when the partner answers again.
final class PullFailureLogTests: XCTestCase {
    func testAPartnerDownIsLoggedOnceAndItsReturnOnce() throws {
        let harness = try GatewayHarness()
        try harness.configure(["gw-a", "gw-b"], pull: [.init()])
        let puller = try InProcessNode(harness, party: "gw-b")
        let worker = PullWorker(context: puller.context)
        let target = try XCTUnwrap(worker.targets().first)
        let client = try HTTPClient(configuration: puller.context.outboundClientConfiguration())
        var failures = RepeatedFailureLog(interval: 60)
        for _ in 0..<20 { XCTAssertFalse(worker.pullOnce(target, client: client, failures: &failures)) }
        var lines = puller.log.split(separator: "\n").filter { $0.contains("event=pull-") }
        XCTAssertEqual(lines.count, 1, lines.joined(separator: "\n"))
        XCTAssertTrue(lines.first?.contains("event=pull-failed") ?? false, "\(lines)")
        XCTAssertTrue(lines.first?.contains("from=gw-a") ?? false, "\(lines)")

        try harness.start("gw-a")
        XCTAssertFalse(worker.pullOnce(target, client: client, failures: &failures), "nothing waits")
        XCTAssertFalse(worker.pullOnce(target, client: client, failures: &failures))
        lines = puller.log.split(separator: "\n").filter { $0.contains("event=pull-") && !$0.contains("event=pull-empty") }
        XCTAssertEqual(lines.count, 2, lines.joined(separator: "\n"))
        XCTAssertTrue(lines.last?.contains("event=pull-recovered") ?? false, "\(lines)")
        XCTAssertTrue(lines.last?.contains("repeated=19") ?? false, "\(lines)")
    }
}

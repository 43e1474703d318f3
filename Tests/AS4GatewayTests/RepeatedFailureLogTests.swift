@testable import AS4Gateway
import EnvelopeXML
import Foundation
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

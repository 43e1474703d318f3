@testable import AS4Gateway
import Foundation
import MessageStore
import XCTest

/// The webhook pusher's queue: each connection once, oldest first, never pushed by two threads
/// at once; connections whose receivers failed never take the last free thread.
final class WebhookQueueTests: XCTestCase {
    func connection(_ name: String) -> BackendConnection {
        BackendConnection(name: name, tokenSHA256: nil, certificateSHA256: nil, addresses: ["\(name)@1"], createdAt: Date(timeIntervalSince1970: 0),
                          webhookURL: "http://127.0.0.1:9/\(name)", webhookSecret: "s")
    }

    func testAConnectionIsQueuedOnceAndTakenInTurnAndAgainOnlyWhenItsPushIsOver() {
        var queue = WebhookQueue()
        XCTAssertTrue(queue.add(connection("a"), retrying: false))
        XCTAssertTrue(queue.add(connection("b"), retrying: false))
        XCTAssertFalse(queue.add(connection("a"), retrying: false), "waiting already")
        XCTAssertEqual(queue.next(threads: 4)?.name, "a")
        XCTAssertFalse(queue.add(connection("a"), retrying: false), "being pushed: its next batch waits for this one")
        XCTAssertTrue(queue.holds("a"))
        XCTAssertEqual(queue.next(threads: 4)?.name, "b")
        XCTAssertNil(queue.next(threads: 4))
        queue.done("a")
        XCTAssertFalse(queue.holds("a"))
        XCTAssertTrue(queue.add(connection("a"), retrying: false))
        XCTAssertEqual(queue.next(threads: 4)?.name, "a")
        XCTAssertEqual(queue.busyCount, 2)
    }

    func testFailedReceiversLeaveOneThreadToTheOthers() {
        var queue = WebhookQueue()
        for name in ["dead-1", "dead-2", "dead-3", "dead-4"] { XCTAssertTrue(queue.add(connection(name), retrying: true)) }
        XCTAssertTrue(queue.add(connection("live"), retrying: false))
        XCTAssertEqual(queue.next(threads: 4)?.name, "dead-1")
        XCTAssertEqual(queue.next(threads: 4)?.name, "dead-2")
        XCTAssertEqual(queue.next(threads: 4)?.name, "dead-3")
        XCTAssertEqual(queue.next(threads: 4)?.name, "live", "dead-4 waits: the fourth thread is the live ones'")
        XCTAssertNil(queue.next(threads: 4))
        queue.done("dead-1")
        XCTAssertEqual(queue.next(threads: 4)?.name, "dead-4")
        XCTAssertEqual(queue.waitingCount, 0)

        var single = WebhookQueue()
        XCTAssertTrue(single.add(connection("dead"), retrying: true))
        XCTAssertEqual(single.next(threads: 1)?.name, "dead", "one thread still serves a failing receiver")
    }
}

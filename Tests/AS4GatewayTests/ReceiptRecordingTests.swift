@testable import AS4Gateway
import Foundation
import MessageStore
import XCTest

/// A valid receipt is tried again while the store cannot record it, and given up only when the
/// store refuses for good or the deadline comes; a clock of its own, so nothing really waits.
final class ReceiptRecordingTests: XCTestCase {
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)
    let lost = StoreError.connectionLost("server closed the connection unexpectedly")

    /// A clock that only its sleeps move, and what they waited.
    final class FakeClock {
        var now: Date
        var waits: [TimeInterval] = []
        init(_ now: Date) { self.now = now }
    }

    func recording(_ clock: FakeClock) -> ReceiptRecording {
        var r = ReceiptRecording()
        r.now = { clock.now }
        r.sleep = { clock.waits.append($0); clock.now += $0 }
        return r
    }

    func testTransientFailuresAreTriedAgainWithGrowingWaits() {
        let clock = FakeClock(t0)
        var calls = 0, heard: [Int] = []
        let outcome = recording(clock).run(until: t0 + 60, retrying: { _, n in heard.append(n) }) {
            calls += 1
            if calls <= 3 { throw lost }
        }
        guard case .recorded(retries: 3) = outcome else { return XCTFail("\(outcome)") }
        XCTAssertEqual(calls, 4)
        XCTAssertEqual(clock.waits, [0.1, 0.2, 0.4])
        XCTAssertEqual(heard, [1, 2, 3])
    }

    func testAPermanentRefusalStopsAtOnce() {
        let clock = FakeClock(t0)
        var calls = 0
        let outcome = recording(clock).run(until: t0 + 60) {
            calls += 1
            throw StoreError.notFound(messageId: "m", direction: .outbound)
        }
        guard case .refused(let error) = outcome else { return XCTFail("\(outcome)") }
        XCTAssertEqual(error as? StoreError, .notFound(messageId: "m", direction: .outbound))
        XCTAssertEqual(calls, 1)
        XCTAssertEqual(clock.waits, [])
    }

    /// The connection broke during COMMIT and the commit went through: the next try finds the
    /// message Delivered, which is the outcome wanted.
    func testACommitWhoseOutcomeWasUnknownCountsAsRecorded() {
        let clock = FakeClock(t0)
        var calls = 0
        let outcome = recording(clock).run(until: t0 + 60) {
            calls += 1
            if calls == 1 { throw StoreError.connectionLost("EOF (during COMMIT: the transaction may or may not have committed)") }
            throw StoreError.illegalTransition(messageId: "m", from: .delivered, to: .delivered)
        }
        guard case .alreadyDelivered(retries: 1) = outcome else { return XCTFail("\(outcome)") }
        // A message an operator queued again (attempts reset) has no attempt to complete.
        let reset = recording(clock).run(until: clock.now + 60) {
            throw StoreError.illegalTransition(messageId: "m", from: .submitted, to: .delivered)
        }
        guard case .refused = reset else { return XCTFail("\(reset)") }
    }

    func testTheDeadlineEndsTheTriesAndNoWaitGoesPastIt() {
        let clock = FakeClock(t0)
        var calls = 0
        var r = recording(clock)
        r.longestDelay = 0.5
        let outcome = r.run(until: t0 + 2) {
            calls += 1
            throw lost
        }
        guard case .unavailable(let error, let tries) = outcome else { return XCTFail("\(outcome)") }
        XCTAssertEqual(error as? StoreError, lost)
        XCTAssertEqual(tries, calls)
        XCTAssertEqual(clock.waits.prefix(4), [0.1, 0.2, 0.4, 0.5], "doubling up to the longest wait")
        XCTAssertEqual(clock.now.timeIntervalSince(t0), 2, accuracy: 1e-9, "the last wait ends at the deadline")
        // One try is made even past the deadline: a late answer still counts.
        var late = 0
        guard case .recorded(retries: 0) = r.run(until: t0 - 1, { late += 1 }) else { return XCTFail("no try past the deadline") }
        XCTAssertEqual(late, 1)
    }
}

@testable import AS4Gateway
import Foundation
import MessageStore
import Synchronization
import XCTest

/// The hand-off between submissions and idle delivery workers: a job reaches exactly the worker
/// it was leased to, a wake-up is never lost, and a worker that times out just as it is taken
/// still receives what it was handed.
final class WorkerHandoffTests: XCTestCase {
    private var directory = ""
    private var store: SQLiteMessageStore!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("as4gw-handoff-\(UUID().uuidString)").path
        store = try SQLiteMessageStore(dataDirectory: directory)
    }

    override func tearDownWithError() throws {
        store.close()
        try? FileManager.default.removeItem(atPath: directory)
    }

    private func job(_ id: String, owner: String) throws -> OutboundJob {
        let metadata = MessageMetadata(messageId: id, fromParty: "a", toParty: "b", service: "s", action: "x")
        let message = OutboundMessage(metadata: metadata, endpoint: "https://b.example/as4", contentType: "application/soap+xml",
                                      messagePath: "/m", maxAttempts: 3, submittedAt: Date())
        return try store.enqueueOutbound(message, leasingTo: owner, lease: 60, now: Date())
    }

    private func parkInBackground(_ handoff: WorkerHandoff, _ slot: WorkerHandoff.Slot, timeout: Double) -> () -> WorkerHandoff.Wake {
        let done = DispatchSemaphore(value: 0)
        let result = Mutex<WorkerHandoff.Wake?>(nil)
        Thread {
            let wake = handoff.park(slot, timeout: timeout)
            result.withLock { $0 = wake }
            done.signal()
        }.start()
        return {
            done.wait()
            return result.withLock { $0! }
        }
    }

    private func waitUntilParked(_ handoff: WorkerHandoff, count: Int) {
        let deadline = Date().addingTimeInterval(10)
        while handoff.parkedCount < count, Date() < deadline { Thread.sleep(forTimeInterval: 0.002) }
        XCTAssertEqual(handoff.parkedCount, count)
    }

    func testAParkedWorkerGetsTheJobLeasedToIt() throws {
        let handoff = WorkerHandoff()
        XCTAssertNil(handoff.takeParked(), "nobody parked yet")
        let slot = WorkerHandoff.Slot(owner: "n/w0")
        let wake = parkInBackground(handoff, slot, timeout: 30)
        waitUntilParked(handoff, count: 1)
        let taken = try XCTUnwrap(handoff.takeParked())
        XCTAssertTrue(taken === slot)
        XCTAssertNil(handoff.takeParked(), "a slot is taken once")
        handoff.hand(try job("m1", owner: taken.owner), to: taken)
        guard case .handed(let handed) = wake() else { return XCTFail("not handed") }
        XCTAssertEqual(handed.metadata.messageId, "m1")
        XCTAssertEqual(handed.owner, "n/w0")
    }

    func testAWakeUpWithNobodyParkedSendsTheNextWorkerToTheQueue() {
        let handoff = WorkerHandoff()
        handoff.wakeOne()
        handoff.wakeOne()
        let slot = WorkerHandoff.Slot(owner: "n/w0")
        guard case .lookAtQueue = handoff.park(slot, timeout: 30) else { return XCTFail("the first wake-up was lost") }
        guard case .lookAtQueue = handoff.park(slot, timeout: 30) else { return XCTFail("the second wake-up was lost") }
        guard case .timedOut = handoff.park(slot, timeout: 0.05) else { return XCTFail("no third wake-up was given") }
        XCTAssertEqual(handoff.parkedCount, 0, "a timed-out worker is no longer parked")
        // Remembered wake-ups are bounded: each costs a claim when a worker parks.
        for _ in 0..<100 { handoff.wakeOne() }
        var lookups = 0
        while case .lookAtQueue = handoff.park(slot, timeout: 0.01) { lookups += 1 }
        XCTAssertEqual(lookups, WorkerHandoff.maxMissed)
    }

    func testAWakeUpReachesAParkedWorkerAndStopWakesThemAll() {
        let handoff = WorkerHandoff()
        let first = parkInBackground(handoff, WorkerHandoff.Slot(owner: "n/w0"), timeout: 30)
        waitUntilParked(handoff, count: 1)
        handoff.wakeOne()
        guard case .lookAtQueue = first() else { return XCTFail("not woken") }
        let a = parkInBackground(handoff, WorkerHandoff.Slot(owner: "n/w1"), timeout: 30)
        let b = parkInBackground(handoff, WorkerHandoff.Slot(owner: "n/w2"), timeout: 30)
        waitUntilParked(handoff, count: 2)
        handoff.wakeAll()
        guard case .lookAtQueue = a(), case .lookAtQueue = b() else { return XCTFail("not all woken") }
    }

    /// Taken by a submission just before its wait times out, handed the job only after: the
    /// worker, finding itself no longer parked, waits for the hand-off instead of leaving with
    /// the job leased to it and nobody to send it.
    func testAWorkerTakenAsItTimesOutStillReceivesItsJob() throws {
        for round in 0..<3 {
            let handoff = WorkerHandoff()
            let slot = WorkerHandoff.Slot(owner: "n/w\(round)")
            let wake = parkInBackground(handoff, slot, timeout: 0.2)
            waitUntilParked(handoff, count: 1)
            let taken = try XCTUnwrap(handoff.takeParked(), "round \(round)")
            Thread.sleep(forTimeInterval: 0.4)  // well past the timeout: the worker must still be waiting
            handoff.hand(try job("t\(round)", owner: taken.owner), to: taken)
            guard case .handed(let handed) = wake() else { return XCTFail("round \(round): the handed job was dropped") }
            XCTAssertEqual(handed.metadata.messageId, "t\(round)")
        }
    }
}

import Foundation
import MessageStore
import XCTest

/// What each claimer thread saw, filled from several threads.
private final class ClaimLog: @unchecked Sendable {
    // @unchecked Sendable: every field is read and written only while holding `lock`.
    private let lock = NSLock()
    private var claimed: [String: [String]] = [:]
    private var errors: [String] = []

    func record(_ ids: [String], by owner: String) {
        lock.withLock { claimed[owner, default: []] += ids }
    }

    func record(error: Error, by owner: String) {
        lock.withLock { errors.append("\(owner): \(error)") }
    }

    var snapshot: (claimed: [String: [String]], errors: [String]) { lock.withLock { (claimed, errors) } }
}

class ConcurrentClaimTests: StoreTestCase {
    /// Two threads, each with its own store object (its own SQLite connection, as two processes
    /// would have), claim from the same queue: every message is claimed exactly once.
    func testTwoClaimersNeverGetTheSameMessage() throws {
        let count = 1000
        let setup = try openStore()
        for i in 0..<count { _ = try setup.enqueueOutbound(outbound("m\(i)", at: t0)) }
        setup.close()

        let log = ClaimLog()
        let done = DispatchGroup()
        let now = t0
        for owner in ["A", "B"] {
            let store = try openStore()
            done.enter()
            let thread = Thread {
                defer { store.close(); done.leave() }
                do {
                    while true {
                        let jobs = try store.claimDue(now: now, limit: 5, owner: owner, lease: 3600)
                        if jobs.isEmpty { break }
                        log.record(jobs.map(\.metadata.messageId), by: owner)
                        for job in jobs {
                            usleep(300)  // "sending", outside any transaction, as a real worker does
                            try store.markDelivered(messageId: job.metadata.messageId, owner: owner,
                                                    receipt: Data(owner.utf8), at: now + 1)
                        }
                    }
                } catch {
                    log.record(error: error, by: owner)
                }
            }
            thread.start()
        }
        XCTAssertEqual(done.wait(timeout: .now() + 120), .success, "claimers did not finish")

        let (claimed, errors) = log.snapshot
        XCTAssertEqual(errors, [])
        let a = claimed["A"] ?? [], b = claimed["B"] ?? []
        print("claimed by A: \(a.count), by B: \(b.count)")
        XCTAssertFalse(a.isEmpty || b.isEmpty, "the claimers were meant to interleave")
        XCTAssertEqual(a.count, Set(a).count, "A claimed a message twice")
        XCTAssertEqual(b.count, Set(b).count, "B claimed a message twice")
        XCTAssertTrue(Set(a).isDisjoint(with: b), "a message was claimed by both")
        XCTAssertEqual(Set(a).union(b), Set((0..<count).map { "m\($0)" }), "every message claimed")

        let store = try openStore()
        defer { store.close() }
        XCTAssertEqual(try store.queueDepth(), QueueDepth(submitted: 0, sending: 0))
        let delivered = try store.listMessages(status: .delivered, since: nil, direction: .outbound, limit: 2 * count)
        XCTAssertEqual(delivered.count, count)
        for message in delivered.prefix(50) {
            XCTAssertEqual(message.outbound?.attempts, 1)
            let owner = String(decoding: message.receipt ?? Data(), as: UTF8.self)
            XCTAssertTrue((owner == "A" ? a : b).contains(message.metadata.messageId))
        }
    }

    /// Several threads sharing one store object are serialized by its lock.
    func testOneStoreSharedByThreads() throws {
        let store = try openStore()
        defer { store.close() }
        for i in 0..<200 { _ = try store.enqueueOutbound(outbound("s\(i)", at: t0)) }
        let log = ClaimLog()
        let now = t0
        DispatchQueue.concurrentPerform(iterations: 4) { worker in
            let owner = "w\(worker)"
            do {
                while case let jobs = try store.claimDue(now: now, limit: 3, owner: owner, lease: 60), !jobs.isEmpty {
                    log.record(jobs.map(\.metadata.messageId), by: owner)
                }
            } catch {
                log.record(error: error, by: owner)
            }
        }
        let (claimed, errors) = log.snapshot
        XCTAssertEqual(errors, [])
        let all = claimed.values.flatMap { $0 }
        XCTAssertEqual(all.count, 200)
        XCTAssertEqual(Set(all).count, 200)
    }
}

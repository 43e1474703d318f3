import Foundation
@testable import MessageStore
import Synchronization
import XCTest

/// Two mailbox store objects on one database are two nodes serving the API: what they do at the
/// same moment must come out as if one had gone first.
class MailboxConcurrencyTests: StoreTestCase {
    static let sender = "DVS@90000048472", company = "_DEFAULT@40003032949"

    static func document(_ id: String, key: String?) -> NewDocument {
        NewDocument(messageId: id, connection: "dms", idempotencyKey: key, sender: Self.sender, metadata: "{}", originParty: nil,
                    originMessageId: nil, files: [],
                    recipients: [.init(address: Self.company, route: .mailbox, status: .accepted)])
    }

    func testOneIdempotencyKeyFromTwoNodesGivesOneDocument() throws {
        let nodes = [try openMailboxStore(), try openMailboxStore()]
        let t0 = t0, company = Self.company
        defer { nodes.forEach { $0.close() } }
        let outcomes = Mutex<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 8) { i in
            let outcome: String
            do {
                switch try nodes[i % 2].insertDocument(Self.document("m\(i)", key: "order-1"), notifications: [], at: t0) {
                case .stored: outcome = "stored m\(i)"
                case .existing(let first): outcome = "existing " + first
                }
            } catch {
                outcome = "error \(error)"
            }
            outcomes.withLock { $0.append(outcome) }
        }
        let all = outcomes.withLock { $0 }
        let stored = all.filter { $0.hasPrefix("stored ") }
        XCTAssertEqual(stored.count, 1, "\(all)")
        let winner = try XCTUnwrap(stored.first).dropFirst("stored ".count)
        XCTAssertEqual(all.filter { $0 == "existing \(winner)" }.count, 7, "every other submission names the first: \(all)")
        for i in 0..<8 where "m\(i)" != winner {
            XCTAssertNil(try nodes[0].document(messageId: "m\(i)"), "m\(i) must not be stored")
        }
        XCTAssertEqual(try nodes[1].inbox(address: company, after: 0, limit: 10).map(\.document.messageId), [String(winner)])
    }

    func testOneRecipientStepRecordedByTwoNodesHasOneWinner() throws {
        let nodes = [try openMailboxStore(), try openMailboxStore()]
        let t0 = t0, sender = Self.sender, company = Self.company
        defer { nodes.forEach { $0.close() } }
        _ = try nodes[0].insertDocument(Self.document("m", key: nil), notifications: [], at: t0)
        let wins = Atomic<Int>(0), failures = Mutex<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 6) { i in
            let notice = BackendNotification(address: sender, kind: "status", messageId: "m", recipient: company, detail: nil, at: t0)
            do {
                let decision = RecipientDecision(accepted: i % 2 == 0, code: nil, reason: nil, at: t0)
                if try nodes[i % 2].updateRecipient(RecipientUpdate(messageId: "m", address: company, status: decision.accepted ? .recipientAccepted : .recipientRejected,
                                                                    decision: decision, notifications: [notice]), at: t0 + 1) {
                    wins.wrappingAdd(1, ordering: .relaxed)
                }
            } catch MailboxStoreError.conflict {
                // The expected answer of every node that came second.
            } catch {
                failures.withLock { $0.append("\(error)") }
            }
        }
        XCTAssertEqual(failures.withLock { $0 }, [])
        XCTAssertEqual(wins.load(ordering: .relaxed), 1)
        XCTAssertEqual(try nodes[1].notifications(after: 0, addresses: [sender], limit: 10).count, 1, "one decision, one notification")
        XCTAssertEqual(try nodes[0].events(messageId: "m").count, 2, "the Accepted at insert and the one decision")
    }

    /// Notifications written by two nodes at once while a third follows "ids after the last one
    /// seen" (as the webhook pusher does): it must see every one, never stepping over an id that
    /// commits late.
    func testAReaderFollowingNotificationIdsMissesNoneWhileTwoNodesWrite() throws {
        let nodes = [try openMailboxStore(), try openMailboxStore(), try openMailboxStore()]
        defer { nodes.forEach { $0.close() } }
        let t0 = t0, company = Self.company
        let failures = Mutex<[String]>([]), writing = Atomic<Int>(4), seen = Mutex<[Int64]>([])
        DispatchQueue.concurrentPerform(iterations: 5) { i in
            do {
                if i == 4 {
                    var cursor: Int64 = 0
                    while true {
                        let done = writing.load(ordering: .sequentiallyConsistent) == 0
                        let batch = try nodes[2].notifications(after: cursor, addresses: [company], limit: 1000)
                        seen.withLock { $0 += batch.map(\.id) }
                        cursor = batch.last?.id ?? cursor
                        if done && batch.isEmpty { break }
                    }
                    return
                }
                defer { writing.wrappingSubtract(1, ordering: .sequentiallyConsistent) }
                for n in 0..<25 {
                    let notice = BackendNotification(address: company, kind: "new", messageId: "m\(i)-\(n)", recipient: nil, detail: nil, at: t0)
                    _ = try nodes[i % 2].insertDocument(Self.document("m\(i)-\(n)", key: nil), notifications: [notice], at: t0)
                }
            } catch {
                failures.withLock { $0.append("\(error)") }
            }
        }
        XCTAssertEqual(failures.withLock { $0 }, [])
        let all = try nodes[0].notifications(after: 0, addresses: [company], limit: 1000).map(\.id)
        XCTAssertEqual(all.count, 100)
        XCTAssertEqual(seen.withLock { $0 }, all, "the follower skipped an id")
        XCTAssertEqual(try nodes[1].inbox(address: company, after: 0, limit: 1000).count, 100)
    }
}

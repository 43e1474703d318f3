@testable import AS4Gateway
import Foundation
import MessageStore
import XCTest

/// Notices announce what waits in a mailbox: enabling them on a gateway that ran without them
/// does not mail the arrivals from before, and an arrival read or purged before the mailer came
/// to it is not announced.
final class NoticeBacklogTests: XCTestCase {
    static let person = NoticeTestMailbox.person

    func testOnlyArrivalsThatStillWaitAreAnnounced() throws {
        let mailbox = try NoticeTestMailbox()
        let (node, context, settings) = (mailbox.node, mailbox.context, mailbox.settings)
        func arrive(_ id: String, retainUntil: Date? = nil) throws { try mailbox.arrive(id, retainUntil: retainUntil) }
        func read(_ id: String) throws { try mailbox.read(id) }
        func announced() throws -> [String] { try context.notices.notices(address: nil, status: nil, after: 0, limit: 100).map(\.messageId) }

        // While the gateway ran without notices: one read, one still waiting.
        try arrive("old-read")
        try read("old-read")
        try arrive("old-waiting")

        let mailer = NoticeMailer(context: context, settings: settings, notices: context.notices)
        try mailer.takePosition()
        XCTAssertTrue(node.log.contains("event=notices-started"), node.log)
        try mailer.recordArrivals(now: Date())
        XCTAssertEqual(try announced(), [], "enabling notices mails no backlog")

        // From now on: announced if it still waits when the mailer comes to it.
        try arrive("new-waiting")
        try arrive("new-read")
        try read("new-read")
        try arrive("new-purged", retainUntil: Date().addingTimeInterval(-1))
        let purge = try RetentionPurge(store: context.retention, log: nil, by: "test").run(now: Date(), trustClock: true)
        XCTAssertEqual(purge.purged.map(\.messageId), ["new-purged"])
        try mailer.recordArrivals(now: Date())
        XCTAssertEqual(try announced(), ["new-waiting"])
        XCTAssertTrue(node.log.contains("event=notice-skipped") && node.log.contains("the recipient has read it already")
                      && node.log.contains("the document was purged"), node.log)

        // A restart keeps the position: nothing is announced twice, nothing skipped.
        let restarted = NoticeMailer(context: context, settings: settings, notices: context.notices)
        try restarted.takePosition()
        try arrive("after-restart")
        try restarted.recordArrivals(now: Date())
        XCTAssertEqual(try announced(), ["new-waiting", "after-restart"])
        XCTAssertEqual(node.log.components(separatedBy: "event=notices-started").count, 2, "started once")
    }
}

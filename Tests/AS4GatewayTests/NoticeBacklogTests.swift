@testable import AS4Gateway
import Foundation
import MessageStore
import XCTest

/// Notices announce what waits in a mailbox: enabling them on a gateway that ran without them
/// does not mail the arrivals from before, and an arrival read or purged before the mailer came
/// to it is not announced.
final class NoticeBacklogTests: XCTestCase {
    static let sender = "DVS@90000048472", person = "_PRIVATE@16117519997"

    func testOnlyArrivalsThatStillWaitAreAnnounced() throws {
        let harness = try GatewayHarness()
        try harness.configure(["gw-a", "gw-b"], legs: GatewayHarness.eAddressLegs)
        try harness.importDirectory("gw-a", [GatewayHarness.localEntry(Self.person, ownerId: "16117519997", kind: "naturalPerson")])
        let settings = NoticeSettings(smtp: "smtp://127.0.0.1:9", from: "e-adrese@as4gw.test")
        let node = try InProcessNode(harness, party: "gw-a") {
            $0.dataDirectory = harness.nodes["gw-a"]!.data
            $0.notices = settings
        }
        let context = node.context
        try context.notices.setContact(NoticeContact(address: Self.person, email: "janis@example.lv", updatedAt: Date(), updatedBy: "person"))
        func arrive(_ id: String, retainUntil: Date? = nil) throws {
            let file = try context.store.storePayload(.bytes(Data("x".utf8)), at: Date())
            var d = NewDocument(messageId: id, connection: "dms", idempotencyKey: nil, sender: Self.sender, metadata: "{}",
                                files: [DocumentFile(name: "x.txt", mimeType: "text/plain", file: file)],
                                recipients: [.init(address: Self.person, route: .mailbox, status: .accepted)])
            d.retainUntil = retainUntil
            let notice = BackendNotification(address: Self.person, kind: "newMessage", messageId: id, recipient: Self.person, detail: nil, at: Date())
            XCTAssertEqual(try context.mailbox.insertDocument(d, notifications: [notice], at: Date()), .stored)
        }
        func read(_ id: String) throws {
            XCTAssertTrue(try context.mailbox.updateRecipient(RecipientUpdate(messageId: id, address: Self.person, status: .delivered, retrieved: true), at: Date()))
        }
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

@testable import AS4Gateway
import Foundation
import MessageStore
import XCTest

/// The setting of the notice mailer's tests: gateway A in process, its directory holding a
/// natural person with an e-mail contact, notices configured to an SMTP port nobody listens on
/// (the server unreachable: no attempt is made), and documents arriving in that person's mailbox.
struct NoticeTestMailbox {
    static let sender = "DVS@90000048472", person = "_PRIVATE@16117519997"

    /// Kept for the test's life: its folder holds the node's data and log.
    let harness: GatewayHarness
    let node: InProcessNode
    let settings = NoticeSettings(smtp: "smtp://127.0.0.1:9", from: "e-adrese@as4gw.test")
    var context: GatewayContext { node.context }

    init() throws {
        harness = try GatewayHarness()
        try harness.configure(["gw-a", "gw-b"], legs: GatewayHarness.eAddressLegs)
        try harness.importDirectory("gw-a", [GatewayHarness.localEntry(Self.person, ownerId: "16117519997", kind: "naturalPerson")])
        let (harness, settings) = (harness, settings)
        node = try InProcessNode(harness, party: "gw-a") {
            $0.dataDirectory = harness.nodes["gw-a"]!.data
            $0.notices = settings
        }
        try node.context.notices.setContact(NoticeContact(address: Self.person, email: "janis@example.lv", updatedAt: Date(), updatedBy: "person"))
    }

    /// A document for the person arrives, with the `newMessage` notification the mailer follows.
    func arrive(_ id: String, retainUntil: Date? = nil, for person: String = Self.person) throws {
        let file = try context.store.storePayload(.bytes(Data("x".utf8)), at: Date())
        var d = NewDocument(messageId: id, connection: "dms", idempotencyKey: nil, sender: Self.sender, metadata: "{}",
                            files: [DocumentFile(name: "x.txt", mimeType: "text/plain", file: file)],
                            recipients: [.init(address: person, route: .mailbox, status: .accepted)])
        d.retainUntil = retainUntil
        let notice = BackendNotification(address: person, kind: "newMessage", messageId: id, recipient: person, detail: nil, at: Date())
        XCTAssertEqual(try context.mailbox.insertDocument(d, notifications: [notice], at: Date()), .stored)
    }

    /// The person reads document `id`.
    func read(_ id: String) throws {
        XCTAssertTrue(try context.mailbox.updateRecipient(RecipientUpdate(messageId: id, address: Self.person, status: .delivered, retrieved: true),
                                                          at: Date()))
    }
}

/// What the mailer's outage tests read and set up alike (NoticeOutageTests, NoticeRefusalTests).
extension NoticeTestMailbox {
    /// Every notice, oldest first.
    func allNotices() throws -> [EmailNotice] {
        try context.notices.notices(address: nil, status: nil, after: 0, limit: 100)
    }

    /// The node's `/metrics`, parsed.
    func scrape() throws -> [PrometheusParser.Family] {
        let c = context
        return try PrometheusParser.parse(try MetricsReport(metrics: c.metrics, store: c.store, registry: c.registry, certificates: CertificateInventory(own: []),
                                                            storeKind: "sqlite", notices: c.notices, mailbox: c.mailbox).render())
    }

    /// The node's log lines of `event`.
    func lines(_ event: String) -> [Substring] {
        node.log.split(separator: "\n").filter { $0.contains("event=\(event) ") || $0.hasSuffix("event=\(event)") }
    }

    /// Notices to a test SMTP server on 127.0.0.1:`port`: plain, two attempts 0.05 s apart.
    static func settings(port: UInt16) -> NoticeSettings {
        var settings = NoticeSettings(smtp: "smtp://127.0.0.1:\(port)", from: "e-adrese@as4gw.test")
        settings.startTLS = "off"
        settings.maxAttempts = 2
        settings.retrySeconds = 0.05
        settings.maxRetrySeconds = 0.05
        return settings
    }
}

extension XCTestCase {
    /// A folder for a test SMTP server's mail, removed after the test.
    func smtpOutFolder() -> String {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("smtp-\(UUID().uuidString)").path
        addTeardownBlock { try? FileManager.default.removeItem(atPath: out) }
        return out
    }
}

import Foundation
@testable import MessageStore
import XCTest

/// eb:MessageProperties and eb:PartProperties kept with a message (eDelivery AS4 1.15 §1.5.1:
/// they must reach the consumer): stored in one transaction with it, in order, with their types,
/// on both backends; bounded; and a database written before they were kept upgrades with its
/// messages, which have none.
class PropertyTests: StoreTestCase {
    let fourCorner = [
        MessageProperty("originalSender", "urn:oasis:names:tc:ebcore:partyid-type:unregistered:C1",
                        type: "urn:oasis:names:tc:ebcore:partyid-type:iso6523:0088"),
        MessageProperty("finalRecipient", "C4-GLN", type: "urn:oasis:names:tc:ebcore:partyid-type:iso6523:0088"),
        MessageProperty("trackingIdentifier", "t-1"),
        // Agreement-specific: order, repeated names, quotes, backslashes, line breaks and any
        // script are kept as they came.
        MessageProperty("x-agreement", "a \"quoted\" \\ value\nwith ünïcødé ✓ \u{1F4E8}"),
        MessageProperty("x-agreement", ""),
    ]

    func characterSetPart(_ n: Int) -> MessagePart {
        var p = part(n)
        p.properties = [MessageProperty("CharacterSet", "utf-8"), MessageProperty("x-part", "v\(n)", type: "urn:x")]
        return p
    }

    func testMessageAndPartPropertiesComeBackAsReceived() throws {
        let store = try openStore()
        defer { store.close() }
        var message = inbound("props@blue", at: t0, parts: [characterSetPart(1), part(2)])
        message.metadata.properties = fourCorner
        _ = try store.recordInbound(message, duplicateWindow: 60)
        _ = try store.recordInbound(inbound("plain@blue", at: t0 + 1), duplicateWindow: 60)

        let stored = try XCTUnwrap(store.findMessage(id: "props@blue", direction: .inbound))
        XCTAssertEqual(stored.metadata.properties, fourCorner)
        XCTAssertEqual(stored.metadata, message.metadata)
        XCTAssertEqual(stored.parts.map(\.properties), [characterSetPart(1).properties, []])
        XCTAssertEqual(stored.parts[0].properties["CharacterSet"], "utf-8")
        XCTAssertEqual(try store.findMessage(id: "plain@blue", direction: .inbound)?.metadata.properties, [])

        let listed = try store.listMessages(status: nil, since: nil, direction: .inbound, limit: 10)
        XCTAssertEqual(listed.map(\.metadata.properties), [fourCorner, []], "listings carry them too")
        XCTAssertEqual(listed.first?.parts.first?.properties, characterSetPart(1).properties)
        guard case let .duplicate(original) = try store.recordInbound(inbound("props@blue", at: t0 + 5), duplicateWindow: 60) else {
            return XCTFail("not a duplicate")
        }
        XCTAssertEqual(original.metadata.properties, fourCorner, "the original keeps its own, not the copy's")
    }

    func testAnOutboundRowKeepsItsPropertiesThroughTheQueue() throws {
        let store = try openStore()
        defer { store.close() }
        var message = outbound("out-props@red", at: t0)
        message.metadata.properties = fourCorner
        _ = try store.enqueueOutbound(message)
        let jobs = try store.claimDue(now: t0, limit: 10, owner: "w1", lease: 30)
        XCTAssertEqual(jobs.map(\.metadata.properties), [fourCorner])
        XCTAssertEqual(try store.findMessage(id: "out-props@red", direction: .outbound)?.metadata.properties, fourCorner)
    }

    func testPropertiesBeyondTheLimitsAreRefusedAndNothingIsStored() throws {
        let store = try openStore()
        defer { store.close() }
        let long = { (n: Int) in String(repeating: "é", count: n / 2 + 1) }  // two UTF-8 bytes each: just over n bytes
        let tooMany = (0...PropertyLimits.maxCount).map { MessageProperty("p\($0)", "v") }
        let cases: [(String, [MessageProperty], [MessageProperty])] = [
            ("count", tooMany, []),
            ("value", [MessageProperty("finalRecipient", long(PropertyLimits.maxValueBytes))], []),
            ("name", [MessageProperty(long(PropertyLimits.maxNameBytes), "v")], []),
            ("type", [MessageProperty("n", "v", type: long(PropertyLimits.maxTypeBytes))], []),
            ("empty name", [MessageProperty("", "v")], []),
            ("part count", [], tooMany),
            ("part value", [], [MessageProperty("CharacterSet", long(PropertyLimits.maxValueBytes))]),
        ]
        for (what, messageProperties, partProperties) in cases {
            var message = inbound("limit-\(what)", at: t0, parts: [part(1)])
            message.metadata.properties = messageProperties
            message.parts[0].properties = partProperties
            XCTAssertThrowsError(try store.recordInbound(message, duplicateWindow: 60), what) { error in
                guard case .invalidArgument? = error as? StoreError else { return XCTFail("\(what): \(error)") }
            }
            var queued = outbound("limit-\(what)", at: t0)
            queued.metadata.properties = messageProperties
            queued.parts = message.parts
            XCTAssertThrowsError(try store.enqueueOutbound(queued), what)
        }
        XCTAssertEqual(try store.listMessages(status: nil, since: nil, direction: nil, limit: 10), [])

        // Exactly at every limit is kept whole.
        let full = (0..<PropertyLimits.maxCount).map {
            MessageProperty(String(repeating: "n", count: PropertyLimits.maxNameBytes - 3) + String(format: "%03d", $0),
                            String(repeating: "v", count: PropertyLimits.maxValueBytes),
                            type: String(repeating: "t", count: PropertyLimits.maxTypeBytes))
        }
        var message = inbound("limit-full", at: t0, parts: [part(1)])
        message.metadata.properties = full
        message.parts[0].properties = full
        _ = try store.recordInbound(message, duplicateWindow: 60)
        let stored = try XCTUnwrap(store.findMessage(id: "limit-full", direction: .inbound))
        XCTAssertEqual(stored.metadata.properties, full)
        XCTAssertEqual(stored.parts[0].properties, full)
    }

    func testADatabaseWrittenBeforePropertiesUpgradesWithItsMessages() throws {
        let added = try XCTUnwrap((Self.backend == .sqlite ? Schema.migrations : PostgresSchema.migrations)
            .first { $0.sql == PropertySchema.sql }?.version)
        try createDatabase(before: added)
        let ms = t0.storeMilliseconds
        let sha = String(repeating: "ab", count: 32)
        for sql in [
            """
            INSERT INTO messages (message_id, direction, status, from_party, to_party, service, action, created_at, updated_at)
            VALUES ('old-in', 'in', 'Received', 'urn:ap:blue', 'urn:ap:red', 'urn:svc:invoice', 'Submit', \(ms), \(ms))
            """,
            """
            INSERT INTO parts (message_row, position, content_id, mime_type, path, size, sha256)
            VALUES ((SELECT row_id FROM messages WHERE message_id = 'old-in'), 0, 'cid:old', 'text/plain', '/payloads/old', 3, '\(sha)')
            """,
            """
            INSERT INTO messages (message_id, direction, status, from_party, to_party, service, action, created_at, updated_at,
                                  endpoint, content_type, message_path, max_attempts, next_attempt_at)
            VALUES ('old-out', 'out', 'Submitted', 'urn:ap:blue', 'urn:ap:red', 'urn:svc:invoice', 'Submit', \(ms), \(ms),
                    'https://red.example/as4', 'multipart/related', '/msgs/old-out', 3, \(ms))
            """,
        ] {
            try rawSQL(sql)
        }

        let store = try openStore()
        defer { store.close() }
        let old = try XCTUnwrap(store.findMessage(id: "old-in", direction: .inbound), "kept through the upgrade")
        XCTAssertEqual(old.metadata.properties, [])
        XCTAssertEqual(old.parts, [MessagePart(contentId: "cid:old", mimeType: "text/plain",
                                               file: StoredFile(path: "/payloads/old", size: 3, sha256: sha))])
        XCTAssertEqual(try store.claimDue(now: t0, limit: 10, owner: "w1", lease: 30).map(\.metadata.properties), [[]])

        var message = inbound("new-in", at: t0 + 1, parts: [characterSetPart(1)])
        message.metadata.properties = fourCorner
        _ = try store.recordInbound(message, duplicateWindow: 60)
        let stored = try XCTUnwrap(store.findMessage(id: "new-in", direction: .inbound))
        XCTAssertEqual(stored.metadata.properties, fourCorner)
        XCTAssertEqual(stored.parts.first?.properties, characterSetPart(1).properties)
    }
}

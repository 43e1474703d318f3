import Foundation
@testable import MessageStore
import XCTest

/// Small sealed outbound messages kept in the database instead of a payload file.
final class InlineMessageTests: StoreTestCase {
    func testAnInlineMessageComesBackWithItsLeaseAfterAReopen() throws {
        let sealed = Data((0..<20_000).map { UInt8(truncatingIfNeeded: $0 &* 7) })
        var message = outbound("m1", at: t0)
        message.messagePath = ""
        message.messageBytes = sealed
        let store = try openSQLiteStore()
        XCTAssertGreaterThanOrEqual(store.inlineMessageLimit, sealed.count)
        _ = try store.enqueueOutbound(message)
        _ = try store.enqueueOutbound(outbound("m2", at: t0))  // a file-backed one beside it
        store.close()

        let reopened = try openSQLiteStore()
        defer { reopened.close() }
        let jobs = try reopened.claimDue(now: t0, limit: 2, owner: "w0", lease: 60)
        XCTAssertEqual(try reopened.findMessage(id: "m1", direction: .outbound)?.outbound?.messageBytes, sealed)
        XCTAssertNil(try reopened.findMessage(id: "m2", direction: .outbound)?.outbound?.messageBytes)
        XCTAssertEqual(jobs.map(\.metadata.messageId), ["m1", "m2"])
        XCTAssertEqual(jobs[0].messageBytes, sealed)
        XCTAssertEqual(jobs[0].messagePath, "")
        XCTAssertNil(jobs[1].messageBytes)
        XCTAssertEqual(jobs[1].messagePath, "/msgs/m2.mime")
        // A retry leases the same bytes again.
        try reopened.markRetry(messageId: "m1", owner: "w0", error: DeliveryError(code: "http-503", reason: "busy"),
                               nextAttemptAt: t0, at: t0)
        XCTAssertEqual(try reopened.claimDue(now: t0 + 1, limit: 1, owner: "w1", lease: 60).first?.messageBytes, sealed)
    }

    func testAMessageOverTheLimitIsRefusedAndNothingIsQueued() throws {
        let store = try SQLiteMessageStore(dataDirectory: dataDirectory, options: .init(inlineMessageLimit: 100), now: t0)
        defer { store.close() }
        var message = outbound("m1", at: t0)
        message.messageBytes = Data(count: 101)
        XCTAssertThrowsError(try store.enqueueOutbound(message)) { error in
            guard case .invalidArgument = error as? StoreError else { return XCTFail("\(error)") }
        }
        XCTAssertNil(try store.findMessage(id: "m1", direction: .outbound))
        message.messageBytes = Data(count: 100)
        _ = try store.enqueueOutbound(message)
        XCTAssertEqual(try store.claimDue(now: t0, limit: 1, owner: "w0", lease: 60).first?.messageBytes?.count, 100)
    }

    func testInlinePayloadsOfAReceivedMessageComeBackFromFindMessage() throws {
        let payload = Data("<Invoice>42</Invoice>".utf8)
        let inlinePart = MessagePart(contentId: "cid:p1", mimeType: "application/xml",
                                     file: StoredFile(path: "", size: Int64(payload.count), sha256: String(repeating: "cd", count: 32)),
                                     bytes: payload)
        let store = try openSQLiteStore()
        _ = try store.recordInbound(inbound("in-1", at: t0, parts: [inlinePart, part(2)]), duplicateWindow: 3600)
        store.close()

        let reopened = try openSQLiteStore()
        defer { reopened.close() }
        let found = try XCTUnwrap(reopened.findMessage(id: "in-1", direction: .inbound))
        XCTAssertEqual(found.parts, [inlinePart, part(2)])
        // Listings leave the bytes out.
        let listed = try reopened.listMessages(status: nil, since: nil, direction: .inbound, limit: 10)
        XCTAssertEqual(listed.first?.parts.map(\.bytes), [nil, nil])

        // Bytes over the limit, or not matching the declared size, are refused and nothing is stored.
        var wrongSize = inlinePart
        wrongSize.file.size += 1
        XCTAssertThrowsError(try reopened.recordInbound(inbound("in-2", at: t0, parts: [wrongSize]), duplicateWindow: 3600))
        XCTAssertNil(try reopened.findMessage(id: "in-2", direction: .inbound))
    }
}

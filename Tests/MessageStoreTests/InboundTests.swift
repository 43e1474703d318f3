import Foundation
import MessageStore
import XCTest

class InboundTests: StoreTestCase {
    func testRecordsMessagePartsAndEventTogether() throws {
        let store = try openStore()
        defer { store.close() }
        let message = inbound("in-1@blue", at: t0, parts: [part(1), part(2)])
        guard case let .stored(rowId) = try store.recordInbound(message, duplicateWindow: 86400) else {
            return XCTFail("not stored")
        }

        let stored = try XCTUnwrap(try store.findMessage(id: "in-1@blue", direction: .inbound))
        XCTAssertEqual(stored.rowId, rowId)
        XCTAssertEqual(stored.direction, .inbound)
        XCTAssertEqual(stored.status, .received)
        XCTAssertEqual(stored.metadata, message.metadata)
        XCTAssertEqual(stored.parts, [part(1), part(2)])
        XCTAssertEqual(stored.storedPath, "/msgs/in-1@blue.mime")
        XCTAssertEqual(stored.createdAt, t0)
        XCTAssertNil(stored.outbound)
        XCTAssertNil(stored.receipt)
        XCTAssertNil(try store.findMessage(id: "in-1@blue", direction: .outbound), "ids are per direction")

        let events = try store.events(for: rowId)
        XCTAssertEqual(events.count, 1)
        XCTAssertEqual(events.first?.status, .received)
        XCTAssertEqual(events.first?.at, t0)
        XCTAssertEqual(events.first?.direction, .inbound)
    }

    func testAFailedInsertLeavesNothingBehind() throws {
        let store = try openStore()
        defer { store.close() }
        var bad = part(2)
        bad.file.sha256 = "short"  // violates the parts CHECK: the whole transaction must roll back
        XCTAssertThrowsError(try store.recordInbound(inbound("in-2@blue", at: t0, parts: [part(1), bad]),
                                                     duplicateWindow: 60))
        XCTAssertNil(try store.findMessage(id: "in-2@blue", direction: .inbound))
        XCTAssertEqual(try store.listMessages(status: nil, since: nil, direction: nil, limit: 10), [])
    }

    func testDuplicateInsideTheWindowReturnsTheOriginalAndItsReceipt() throws {
        let store = try openStore()
        defer { store.close() }
        guard case let .stored(rowId) = try store.recordInbound(inbound("dup@blue", at: t0, parts: [part(1)]),
                                                                duplicateWindow: 3600) else {
            return XCTFail("not stored")
        }
        let receipt = Data("<eb:Receipt>signed</eb:Receipt>".utf8)
        try store.attachReceipt(messageId: "dup@blue", direction: .inbound, receipt: receipt, at: t0 + 1)

        let retry = inbound("dup@blue", at: t0 + 3599)
        guard case let .duplicate(original) = try store.recordInbound(retry, duplicateWindow: 3600) else {
            return XCTFail("a retry inside the window must be a duplicate")
        }
        XCTAssertEqual(original.rowId, rowId)
        XCTAssertEqual(original.receipt, receipt, "the receipt answered the first time comes back to be resent")
        XCTAssertEqual(original.receiptAt, t0 + 1)
        XCTAssertEqual(original.parts, [part(1)])
        XCTAssertEqual(try store.listMessages(status: nil, since: nil, direction: .inbound, limit: 10).count, 1)

        let events = try store.events(for: rowId)
        XCTAssertEqual(events.map(\.code), [nil, "receipt", "duplicate"], "the duplicate is noted on the original")
        XCTAssertEqual(events.last?.status, .received, "a duplicate changes no status")
    }

    func testReceiptStoredWithTheMessageComesBackOnADuplicate() throws {
        let store = try openStore()
        defer { store.close() }
        let receipt = Data([0, 1, 2, 255])
        _ = try store.recordInbound(inbound("r@blue", at: t0, receipt: receipt), duplicateWindow: 60)
        guard case let .duplicate(original) = try store.recordInbound(inbound("r@blue", at: t0 + 5), duplicateWindow: 60)
        else { return XCTFail("not a duplicate") }
        XCTAssertEqual(original.receipt, receipt)
        XCTAssertEqual(original.receiptAt, t0)
    }

    func testSameIdOutsideTheWindowIsStoredAnew() throws {
        let store = try openStore()
        defer { store.close() }
        guard case let .stored(first) = try store.recordInbound(inbound("old@blue", at: t0), duplicateWindow: 60),
              case let .stored(second) = try store.recordInbound(inbound("old@blue", at: t0 + 61), duplicateWindow: 60)
        else { return XCTFail("both must be stored") }
        XCTAssertNotEqual(first, second)
        XCTAssertEqual(try store.findMessage(id: "old@blue", direction: .inbound)?.rowId, second, "lookups answer the newest")
        // The window is per call: a wide one sees the newest row again.
        guard case let .duplicate(original) = try store.recordInbound(inbound("old@blue", at: t0 + 120),
                                                                      duplicateWindow: 86400)
        else { return XCTFail("inside a one-day window") }
        XCTAssertEqual(original.rowId, second)
    }

    func testHandOverThenRetrieve() throws {
        let store = try openStore()
        defer { store.close() }
        _ = try store.recordInbound(inbound("h@blue", at: t0), duplicateWindow: 60)
        assertThrows(.illegalTransition(messageId: "h@blue", from: .received, to: .retrieved)) {
            try store.markRetrieved(messageId: "h@blue", at: t0 + 1)
        }
        try store.markHandedOver(messageId: "h@blue", at: t0 + 2)
        XCTAssertEqual(try store.findMessage(id: "h@blue", direction: .inbound)?.status, .delivered)
        try store.markRetrieved(messageId: "h@blue", at: t0 + 3)
        let message = try XCTUnwrap(try store.findMessage(id: "h@blue", direction: .inbound))
        XCTAssertEqual(message.status, .retrieved)
        XCTAssertEqual(message.retrievedAt, t0 + 3)
        XCTAssertEqual(message.updatedAt, t0 + 3)
        assertThrows(.illegalTransition(messageId: "h@blue", from: .retrieved, to: .retrieved)) {
            try store.markRetrieved(messageId: "h@blue", at: t0 + 4)
        }
        assertThrows(.illegalTransition(messageId: "h@blue", from: .retrieved, to: .delivered)) {
            try store.markHandedOver(messageId: "h@blue", at: t0 + 4)
        }
        XCTAssertEqual(try store.events(for: message.rowId).map(\.status), [.received, .delivered, .retrieved])
        assertThrows(.notFound(messageId: "nope", direction: .inbound)) { try store.markRetrieved(messageId: "nope", at: t0) }
    }

    func testListingFiltersAndOrders() throws {
        let store = try openStore()
        defer { store.close() }
        for i in 0..<5 { _ = try store.recordInbound(inbound("l\(i)", at: t0 + Double(i)), duplicateWindow: 60) }
        _ = try store.enqueueOutbound(outbound("o1", at: t0 + 2.5))
        try store.markHandedOver(messageId: "l3", at: t0 + 10)

        XCTAssertEqual(try store.listMessages(status: nil, since: nil, direction: nil, limit: 100).map(\.metadata.messageId),
                       ["l0", "l1", "l2", "o1", "l3", "l4"])
        XCTAssertEqual(try store.listMessages(status: .received, since: t0 + 1, direction: .inbound, limit: 2)
            .map(\.metadata.messageId), ["l1", "l2"])
        XCTAssertEqual(try store.listMessages(status: .delivered, since: nil, direction: nil, limit: 10)
            .map(\.metadata.messageId), ["l3"])
        XCTAssertEqual(try store.listMessages(status: nil, since: nil, direction: .outbound, limit: 10)
            .map(\.metadata.messageId), ["o1"])
        assertThrows(.invalidArgument("limit must be positive")) {
            try store.listMessages(status: nil, since: nil, direction: nil, limit: 0)
        }
    }
}

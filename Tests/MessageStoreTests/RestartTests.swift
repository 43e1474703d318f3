import Foundation
import MessageStore
import XCTest

/// Restart safety: a closed store and a killed process both keep everything committed.
final class RestartTests: StoreTestCase {
    func testReopeningAfterCloseKeepsEverything() throws {
        let store = try openStore()
        let payload = try store.storePayload(.bytes(Data("payload".utf8)), at: t0)
        let part = MessagePart(contentId: "cid:p@blue", mimeType: "text/plain", file: payload)
        _ = try store.recordInbound(inbound("in", at: t0, parts: [part], receipt: Data("answered".utf8)), duplicateWindow: 60)
        _ = try store.enqueueOutbound(outbound("out-1", at: t0))
        _ = try store.enqueueOutbound(outbound("out-2", at: t0))
        _ = try store.claimDue(now: t0, limit: 2, owner: "w", lease: 30)
        try store.markDelivered(messageId: "out-1", owner: "w", receipt: Data("rcpt".utf8), at: t0 + 1)
        let before = try snapshot(store)
        store.close()
        assertThrows(.closed) { try store.findMessage(id: "in", direction: .inbound) }

        let reopened = try openStore()
        defer { reopened.close() }
        let after = try snapshot(reopened)
        XCTAssertEqual(after.messages, before.messages)
        XCTAssertEqual(after.events, before.events)
        XCTAssertEqual(after.messages.count, 3)
        XCTAssertEqual(try reopened.findMessage(id: "out-2", direction: .outbound)?.outbound?.leaseOwner, "w",
                       "a lease survives a restart and expires on its own")
        XCTAssertEqual(FileManager.default.contents(atPath: payload.path), Data("payload".utf8))
    }

    /// Runs a child process that writes through the store and then SIGKILLs itself without
    /// closing or checkpointing: everything it committed must be there on reopen.
    func testCommittedDataSurvivesKillMinus9() throws {
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        child.arguments = ["MessageStoreTests.CrashingWriter/testWriteThenDie"]
        child.environment = ProcessInfo.processInfo.environment.merging([CrashingWriter.variable: dataDirectory]) { $1 }
        let output = Pipe()
        child.standardOutput = output
        child.standardError = FileHandle.nullDevice
        try child.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        child.waitUntilExit()
        XCTAssertEqual(child.terminationReason, .uncaughtSignal, text)
        XCTAssertEqual(child.terminationStatus, SIGKILL)
        let marker = try XCTUnwrap(text.split(separator: "\n").first { $0.hasPrefix("COMMITTED ") }, text)
        let payloadPath = String(marker.dropFirst("COMMITTED ".count))

        let wal = try FileManager.default.attributesOfItem(atPath: dataDirectory + "/messages.sqlite-wal")
        XCTAssertGreaterThan((wal[.size] as? NSNumber)?.intValue ?? 0, 0, "the commits were still in the WAL")

        let store = try openStore()
        defer { store.close() }
        XCTAssertEqual(try store.listMessages(status: .received, since: nil, direction: .inbound, limit: 100).count,
                       CrashingWriter.inboundCount)
        XCTAssertEqual(try store.queueDepth(), QueueDepth(submitted: CrashingWriter.outboundCount - 3, sending: 2))
        let delivered = try XCTUnwrap(try store.findMessage(id: "crash-out-0", direction: .outbound))
        XCTAssertEqual(delivered.status, .delivered)
        XCTAssertEqual(delivered.receipt, Data("receipt-0".utf8))
        XCTAssertEqual(try store.events(for: delivered.rowId).map(\.status), [.submitted, .sending, .delivered])
        let first = try XCTUnwrap(try store.findMessage(id: "crash-in-0", direction: .inbound))
        XCTAssertEqual(first.parts.first?.file.path, payloadPath)
        XCTAssertEqual(FileManager.default.contents(atPath: payloadPath), Data("crash payload".utf8))
        XCTAssertEqual(first.parts.first?.file.size, 13)
    }

    private func snapshot(_ store: MessageStore) throws -> (messages: [StoredMessage], events: [[MessageEvent]]) {
        let messages = try store.listMessages(status: nil, since: nil, direction: nil, limit: 100)
        return (messages, try messages.map { try store.events(for: $0.rowId) })
    }
}

/// The child half of `testCommittedDataSurvivesKillMinus9`: does nothing unless that test
/// started this process with the data directory in the environment.
final class CrashingWriter: XCTestCase {
    static let variable = "AS4GW_STORE_CRASH_DIR"
    static let inboundCount = 20
    static let outboundCount = 10

    func testWriteThenDie() throws {
        guard let directory = ProcessInfo.processInfo.environment[Self.variable] else {
            throw XCTSkip("helper process for RestartTests.testCommittedDataSurvivesKillMinus9")
        }
        let now = Date(timeIntervalSince1970: 1_750_000_000)
        let store = try SQLiteMessageStore(dataDirectory: directory, now: now)
        let payload = try store.storePayload(.bytes(Data("crash payload".utf8)), at: now)
        for i in 0..<Self.inboundCount {
            let metadata = MessageMetadata(messageId: "crash-in-\(i)", fromParty: "a", toParty: "b", service: "s", action: "x")
            _ = try store.recordInbound(InboundMessage(metadata: metadata, parts: [MessagePart(contentId: "c", mimeType: "t",
                                                                                                 file: payload)],
                                                       receivedAt: now), duplicateWindow: 60)
        }
        for i in 0..<Self.outboundCount {
            let metadata = MessageMetadata(messageId: "crash-out-\(i)", fromParty: "a", toParty: "b", service: "s", action: "x")
            _ = try store.enqueueOutbound(OutboundMessage(metadata: metadata, endpoint: "https://x", contentType: "t",
                                                          messagePath: "/m", maxAttempts: 3, submittedAt: now))
        }
        _ = try store.claimDue(now: now, limit: 3, owner: "w", lease: 60)
        try store.markDelivered(messageId: "crash-out-0", owner: "w", receipt: Data("receipt-0".utf8), at: now)
        FileHandle.standardOutput.write(Data("COMMITTED \(payload.path)\n".utf8))
        kill(getpid(), SIGKILL)
    }
}

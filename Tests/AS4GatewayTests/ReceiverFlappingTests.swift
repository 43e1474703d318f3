import Foundation
import HTTPClient
import MessageStore
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Issue 7's flapping receiver: gateway B is killed (-9) and restarted again and again while A
/// submits and delivers. A retry budget longer than the downtime must bring every message to
/// Delivered at A and store it exactly once at B. Prints the counts; the size is
/// `AS4GW_FLAP_MESSAGES` (default 200).
final class ReceiverFlappingTests: XCTestCase {
    func testEveryMessageIsDeliveredOnceWhileTheReceiverFlaps() throws {
        let count = Int(ProcessInfo.processInfo.environment["AS4GW_FLAP_MESSAGES"] ?? "") ?? 200
        let harness = try GatewayHarness()
        // 100 attempts one second apart cover any single downtime below (at most ~1.5 s plus a start).
        try harness.configure(["gw-a", "gw-b"], legs: [.init(retries: 100, interval: 1)])
        try harness.start("gw-a")
        try harness.start("gw-b")
        var random = SystemRandomNumberGenerator()
        let doc = try harness.file("m.txt", Array("flapping receiver".utf8))
        let client = try HTTPClient(configuration: HTTPClientConfiguration())
        var sent: [String] = []
        var restarts = 0
        let batch = max(1, count / 8)
        // Each round: B dies (-9), a batch is submitted while it is down (A's first attempts are
        // refused), B comes back, and dies again a moment later while that batch is in flight.
        while sent.count < count {
            harness.stop("gw-b", signal: SIGKILL)
            for _ in 0..<min(batch, count - sent.count) {
                sent.append(try harness.submit(from: "gw-a", to: "gw-b", files: [doc], client: client))
            }
            Thread.sleep(forTimeInterval: Double.random(in: 0.2...1.5, using: &random))
            try harness.start("gw-b")
            restarts += 1
            Thread.sleep(forTimeInterval: Double.random(in: 0...0.4, using: &random))
        }
        // A last kill mid-delivery, then B stays up until the queue drains.
        harness.stop("gw-b", signal: SIGKILL)
        Thread.sleep(forTimeInterval: 0.5)
        try harness.start("gw-b")
        restarts += 1

        let sender = try harness.store("gw-a")
        defer { sender.close() }
        try harness.waitUntil(timeout: 60 + Double(count) / 5, "A's queue to drain") {
            let open = try sender.listMessages(status: nil, since: nil, direction: .outbound, limit: 10 * count)
                .filter { $0.status != .delivered && $0.status != .failed }
            return open.isEmpty
        }
        let receiver = try harness.store("gw-b")
        defer { receiver.close() }
        let run = try FaultRunTally(sent: sent, sender: sender, receiver: receiver, limit: 10 * count)
        // Attempts beyond the first: the receiver's downtime seen from the sender.
        let retries = run.outbound.reduce(0) { $0 + max(0, ($1.outbound?.attempts ?? 1) - 1) }
        // Kills between B's commit and A reading the receipt: A resends, B answers the stored receipt.
        let resentReceipts = harness.nodes["gw-b"]!.log.components(separatedBy: "event=duplicate").count - 1
        print("flapping run: sent=\(sent.count) delivered=\(run.delivered.count) failed=\(run.failed.count) "
            + "duplicates=\(run.duplicates) lost=\(run.lost.count) receiver_restarts=\(restarts) "
            + "received=\(run.received.count) retries=\(retries) resent_receipts=\(resentReceipts)")
        XCTAssertEqual(run.failed.map(\.metadata.messageId), [], "the retry budget covers the downtime: nothing may fail")
        XCTAssertEqual(run.delivered, Set(sent))
        XCTAssertEqual(run.duplicates, 0, "a message stored twice at the receiver")
        XCTAssertEqual(run.received, Set(sent), "B holds exactly the messages A sent")
        XCTAssertGreaterThanOrEqual(restarts, 5)
        XCTAssertGreaterThan(retries, 0, "the kills never met a delivery")
    }
}

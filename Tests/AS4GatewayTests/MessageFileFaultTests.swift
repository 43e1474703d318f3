import Foundation
import HTTPClient
import MessageStore
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// A queued message whose file this node cannot read (its payload volume not mounted, the file
/// gone) is a local storage fault: the peer is not charged an attempt, no EBMS:0005 is recorded
/// as if it had failed, the log names the file, and the message waits in the queue until a node
/// can read it; then it is delivered.
final class MessageFileFaultTests: XCTestCase {
    func testAnUnreadableMessageFileIsNotChargedToThePeer() throws {
        let h = try GatewayHarness()
        try h.configure(["gw-a", "gw-b"], legs: [.init(retries: 20, interval: 1)])
        try h.start("gw-a")
        // Over the 1 MiB a SQLite store keeps in its rows, so the sealed message is a file; random
        // bytes, so compression does not shrink it below.
        var random = SystemRandomNumberGenerator()
        let doc = try h.file("large.bin", (0..<(3 << 19)).map { _ in UInt8.random(in: 0...255, using: &random) })
        let id = try h.submit(from: "gw-a", to: "gw-b", files: [doc], client: try HTTPClient(configuration: HTTPClientConfiguration()))
        // gw-b is not running: the first attempt fails at the peer, as it should count.
        try h.waitUntil(timeout: 30, "a failed attempt") {
            try h.message("gw-a", id, .outbound)?.outbound?.lastError?.code == "EBMS:0005"
        }
        h.stop("gw-a")
        let before = try XCTUnwrap(h.message("gw-a", id, .outbound))
        let path = try XCTUnwrap(before.outbound?.messagePath)
        XCTAssertTrue(FileManager.default.fileExists(atPath: path), "a message of this size is kept as a file")
        let attempts = try XCTUnwrap(before.outbound?.attempts)
        let aside = h.root.appendingPathComponent("aside.mime").path
        try FileManager.default.moveItem(atPath: path, toPath: aside)

        try h.start("gw-a")
        try h.waitUntil(timeout: 30, "the message released as a local fault") {
            try h.message("gw-a", id, .outbound)?.outbound?.lastError?.code == DeliveryError.localStorageCode
        }
        let released = try XCTUnwrap(h.message("gw-a", id, .outbound))
        XCTAssertEqual(released.status, .submitted)
        XCTAssertEqual(released.outbound?.attempts, attempts, "the unreadable file spent no attempt")
        let store = try h.store("gw-a")
        let events = try store.events(for: released.rowId)
        store.close()
        let lastPeerFailure = try XCTUnwrap(events.lastIndex { $0.code == "EBMS:0005" })
        let firstLocal = try XCTUnwrap(events.firstIndex { $0.code == DeliveryError.localStorageCode })
        XCTAssertLessThan(lastPeerFailure, firstLocal, "no peer failure recorded after the file went away: \(events)")
        let log = h.nodes["gw-a"]!.log
        XCTAssertTrue(log.contains("event=message-file-unreadable"), log.suffix(3000).description)
        XCTAssertTrue(log.contains(path), "the log names the file")

        // The file is back (the volume mounted again): the next claim delivers it.
        try FileManager.default.moveItem(atPath: aside, toPath: path)
        try h.start("gw-b")
        let delivered = try h.waitFor("gw-a", id, .outbound, .delivered, timeout: 60)
        XCTAssertEqual(delivered.outbound?.attempts, attempts + 1)
    }
}

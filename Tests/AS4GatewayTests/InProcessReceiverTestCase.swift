@testable import AS4Gateway
import Foundation
import MessageStore
import XCTest

/// For tests of what gw-b answers a crafted message from gw-a: gw-b runs in process on a fresh
/// harness with one unencrypted leg each way, so each test posts, reads the answer and checks
/// what the store kept without starting a daemon.
class InProcessReceiverTestCase: XCTestCase {
    var harness: GatewayHarness!
    var b: InProcessNode!

    override func setUpWithError() throws {
        harness = try GatewayHarness()
        try harness.configure(["gw-a", "gw-b"], legs: [.init(encrypt: false)])
        b = try InProcessNode(harness, party: "gw-b")
    }

    override func tearDown() {
        b = nil
        harness = nil
    }

    /// The inbound message gw-b stored under `id`, if any.
    func stored(_ id: String) throws -> StoredMessage? { try b.store.findMessage(id: id, direction: .inbound) }
}

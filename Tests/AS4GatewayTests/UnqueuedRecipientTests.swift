@testable import AS4Gateway
import Foundation
import HTTPServer
import MessageStore
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// A submission stored for its recipients whose AS4 message for a remote recipient cannot be
/// queued because of a fault that may pass (a full disk, a store that cannot answer): the
/// document stays accepted (202), that recipient stays Submitted, the log says why, and the
/// unsent requeue queues it once the fault has passed. Nothing accepted is lost, and nothing is
/// reported Failed that did not fail.
final class UnqueuedRecipientTests: XCTestCase {
    static let sender = "DVS@90000048472", local = "_DEFAULT@40003032949", remote = "_DEFAULT@90000048472"

    func testAPassingFaultWhileQueueingLeavesTheRecipientSubmittedForTheRequeue() throws {
        let harness = try GatewayHarness()
        try harness.configure(["gw-a", "gw-b"], legs: [GatewayHarness.Leg(), .init(action: "EAddressDocument"), .init(action: "EAddressStatus")])
        try harness.importDirectory("gw-a", [GatewayHarness.localEntry(Self.local, ownerId: "40003032949", kind: "company"),
                                             harness.remoteEntry(Self.remote, ownerId: "90000048472", kind: "institution", party: "gw-b")])
        let token = try harness.addConnection("gw-a", name: "dms", addresses: [Self.sender])
        let node = try InProcessNode(harness, party: "gw-a") { $0.dataDirectory = harness.nodes["gw-a"]!.data }
        let api = APIHandler(context: node.context)

        for fault in [StoreError.io(operation: "write", path: node.context.spoolDirectory + "/as4gw-enc-1.bin", errno: ENOSPC),
                      FaultInjectingStore.connectionLost] {
            node.faults.fail([.enqueueOutbound], with: fault, times: 1)
            let answer = node.post(api, path: "/api/v1/messages", contentType: "multipart/form-data; boundary=b", body: Self.form(),
                                   headers: [("Authorization", "Bearer \(token)")])
            XCTAssertEqual(answer.status, 202, answer.bodyText)
            let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(answer.bodyBytes)) as? [String: Any])
            let id = try XCTUnwrap(json["messageId"] as? String)
            let answered = Dictionary(uniqueKeysWithValues: ((json["recipients"] as? [[String: Any]]) ?? []).map {
                ($0["address"] as! String, $0["status"] as! String)
            })
            XCTAssertEqual(answered, [Self.local: "Accepted", Self.remote: "Submitted"], "\(fault): not Failed for a fault that may pass")

            let line = try XCTUnwrap(node.log.split(separator: "\n").last { $0.contains("event=document-unqueueable") && $0.contains(id) },
                                     node.log)
            XCTAssertTrue(line.contains("level=error"), String(line))
            XCTAssertTrue(line.contains("recipient=\(Self.remote)"), String(line))
            XCTAssertTrue(line.contains(fault == FaultInjectingStore.connectionLost ? "\(fault)" : "No space left on device"), String(line))
            XCTAssertTrue(line.contains("left Submitted"), String(line))

            let held = try XCTUnwrap(try node.context.mailbox.document(messageId: id))
            let recipient = try XCTUnwrap(held.recipients.first { $0.address == Self.remote })
            XCTAssertEqual(recipient.status, .submitted)
            XCTAssertEqual(try node.context.mailbox.events(messageId: id).filter { $0.address == Self.remote }.map(\.status), ["Submitted"])
            XCTAssertFalse(try node.context.mailbox.notifications(after: 0, addresses: [Self.sender], limit: 100)
                .contains { $0.messageId == id && $0.kind == "failed" }, "the sender is not told of a failure that did not happen")
            let as4 = try XCTUnwrap(recipient.as4MessageId)
            XCTAssertNil(try node.store.findMessage(id: as4, direction: .outbound), "nothing was queued")

            // The fault passed: the requeue queues the recipient's AS4 message.
            try MailboxWorker(context: node.context).queueUnsent(olderThan: 0)
            XCTAssertEqual(try node.store.findMessage(id: as4, direction: .outbound)?.status, .submitted)
            XCTAssertEqual(try node.context.mailbox.document(messageId: id)?.recipients.first { $0.address == Self.remote }?.status, .submitted)
        }
    }

    /// A multipart submission from the sender to both recipients, boundary `b`.
    static func form(file: [UInt8] = Array("<doc>x</doc>".utf8), type: String = "application/octet-stream") -> [UInt8] {
        let metadata = "{\"sender\": \"\(sender)\", \"recipients\": [\"\(local)\", \"\(remote)\"], \"subject\": \"s\"}"
        return Array("--b\r\nContent-Disposition: form-data; name=\"metadata\"\r\nContent-Type: application/json\r\n\r\n\(metadata)\r\n".utf8)
            + Array("--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"d.xml\"\r\nContent-Type: \(type)\r\n\r\n".utf8)
            + file + Array("\r\n--b--\r\n".utf8)
    }
}

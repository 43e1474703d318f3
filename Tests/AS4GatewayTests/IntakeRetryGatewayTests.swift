@testable import AS4Gateway
import Foundation
import MessageStore
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// `as4gw messages retry-intake` beside running gateways: a document B receipted and could not
/// take in is taken in once the operator fixed the cause, the origin is told Failed at most once
/// however often the intake fails, and its Failed gives way to the recipient's reading.
final class IntakeRetryGatewayTests: XCTestCase {
    static let sender = "DVS@90000048472"
    static let institution = "_DEFAULT@90000048472"

    /// The failed message at B, once there is one.
    private func failedAtB(_ h: GatewayHarness) throws -> StoredMessage {
        var failed: StoredMessage?
        try h.waitUntil(timeout: 30, "gw-b to mark the document it could not take in Failed") {
            let store = try h.store("gw-b")
            defer { store.close() }
            failed = try store.listMessages(status: .failed, since: nil, direction: .inbound, limit: 10).first
            return failed != nil
        }
        return try XCTUnwrap(failed)
    }

    /// B's status reports queued to A.
    private func statusReports(_ h: GatewayHarness) throws -> [StoredMessage] {
        let store = try h.store("gw-b")
        defer { store.close() }
        return try store.listMessages(status: nil, since: nil, direction: .outbound, limit: 100)
            .filter { $0.metadata.action == EAddressMessages.statusAction }
    }

    /// B had no status leg back to A and no entry for the address, so it could tell nobody. The
    /// operator adds both while B runs; the retried intake puts the document in the mailbox.
    func testADocumentStuckAfterItsReceiptIsTakenInOnceTheOperatorFixedPModesAndDirectory() throws {
        let h = try GatewayHarness()
        try h.configure(["gw-a", "gw-b"], legs: GatewayHarness.eAddressLegs)
        try h.start("gw-a")  // writes the development PKI both P-Mode directories share
        let bDir = h.root.appendingPathComponent("pmode-b").path
        try FileManager.default.createDirectory(atPath: bDir, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: h.pmodeDirectory + "/certs", toPath: bDir + "/certs")
        try h.configure(["gw-a", "gw-b"], legs: [.init(), .init(action: EAddressMessages.documentAction)], directory: bDir)
        try h.importDirectory("gw-a", [h.remoteEntry(Self.institution, ownerId: "90000048472", kind: "institution", party: "gw-b")])
        let dmsA = try BackendClient(port: h.nodes["gw-a"]!.submitPort, token: try h.addConnection("gw-a", name: "a", addresses: [Self.sender]))
        try h.start("gw-b", pmode: bDir)

        let sent = try dmsA.submit(metadata: BackendClient.metadata(from: Self.sender, to: [Self.institution]), files: [("1.txt", Array("one".utf8))])
        XCTAssertEqual(sent.status, 202, sent.text)
        let documentId = try XCTUnwrap(sent.json["messageId"] as? String)
        let stuck = try failedAtB(h)
        let id = stuck.metadata.messageId
        XCTAssertEqual(stuck.intakeError?.code, "unknownAddress")
        XCTAssertTrue(stuck.intakeError?.reason.contains("gw-a could not be told") ?? false, "\(String(describing: stuck.intakeError))")

        // The fix, while B runs: the status leg (reloaded), the address's mailbox, its DMS.
        try h.configure(["gw-a", "gw-b"], legs: GatewayHarness.eAddressLegs, directory: bDir)
        let reloads = h.nodes["gw-b"]!.log.components(separatedBy: "event=pmodes-reloaded").count
        kill(h.nodes["gw-b"]!.process!.processIdentifier, SIGHUP)
        try h.waitUntil(timeout: 30, "gw-b to reload its P-Modes") {
            h.nodes["gw-b"]!.log.components(separatedBy: "event=pmodes-reloaded").count > reloads
        }
        try h.importDirectory("gw-b", [GatewayHarness.localEntry(Self.institution, ownerId: "90000048472", kind: "institution")])
        let dmsB = try BackendClient(port: h.nodes["gw-b"]!.submitPort, token: try h.addConnection("gw-b", name: "b", addresses: [Self.institution]))

        let retried = try GatewayProcess.run(["messages", "retry-intake", id, "--data", h.nodes["gw-b"]!.data])
        XCTAssertEqual(retried.status, 0, retried.stderr)
        XCTAssertEqual(retried.stdout, "\(id): back to Received (its intake had failed with unknownAddress); "
                       + "the running gateway takes it in again and logs event=intake-retried\n")
        let handedOver = try h.waitFor("gw-b", id, .inbound, .delivered)
        XCTAssertNil(handedOver.intakeError)
        let inbox = try dmsB.get("/api/v1/inbox?address=\(Self.institution)")
        XCTAssertEqual(((inbox.json["items"] as? [[String: Any]]) ?? []).compactMap { $0["messageId"] as? String }, [documentId], inbox.text)

        // One log line for the retried intake, naming who asked and how it ended (written just
        // after the store's mark, so waited for).
        try h.waitUntil(timeout: 30, "B to log the retried intake") { h.nodes["gw-b"]!.log.contains("event=intake-retried") }
        let logB = h.nodes["gw-b"]!.log
        let lines = logB.split(separator: "\n").filter { $0.contains("event=intake-retried") }
        XCTAssertEqual(lines.count, 1, logB)
        XCTAssertTrue(lines.first?.contains("message_id=\(id)") ?? false, "\(lines)")
        XCTAssertTrue(lines.first?.contains("outcome=\"taken in\"") ?? false, "\(lines)")
        XCTAssertTrue(lines.first?.contains("requested by cli:\(CLI.operatorAccount()); it had failed with unknownAddress") ?? false, "\(lines)")
        let store = try h.store("gw-b")
        defer { store.close() }
        XCTAssertEqual(try store.events(for: handedOver.rowId).map { "\($0.status.rawValue) \($0.code ?? "-")" },
                       ["Received -", "Received receipt", "Failed unknownAddress", "Received intake-retry-requested", "Delivered -"])
        // A was never told Failed: nothing to take back. The reading is reported as usual.
        XCTAssertEqual(try dmsB.get("/api/v1/messages/\(documentId)").status, 200)
        try h.waitUntil(timeout: 30, "A to learn that the institution read the document") {
            try dmsA.recipient(of: documentId, Self.institution)["status"] as? String == "Delivered"
        }
        XCTAssertEqual(try statusReports(h).count, 1)
    }

    /// B told A the recipient Failed. A retry that fails again (for another reason) leaves the
    /// message Failed with that reason and tells A nothing more; after the fix it is taken in,
    /// and A's Failed gives way to Delivered when the recipient reads the document.
    func testAnIntakeFailingAgainIsNotReportedTwiceAndAFixedOneSupersedesTheFailure() throws {
        let h = try GatewayHarness()
        try h.configure(["gw-a", "gw-b"], legs: GatewayHarness.eAddressLegs)
        try h.importDirectory("gw-a", [h.remoteEntry(Self.institution, ownerId: "90000048472", kind: "institution", party: "gw-b")])
        let dmsA = try BackendClient(port: h.nodes["gw-a"]!.submitPort, token: try h.addConnection("gw-a", name: "a", addresses: [Self.sender]))
        try h.start("gw-a")
        try h.start("gw-b")
        let b = h.nodes["gw-b"]!

        let sent = try dmsA.submit(metadata: BackendClient.metadata(from: Self.sender, to: [Self.institution]), files: [("1.txt", Array("one".utf8))])
        XCTAssertEqual(sent.status, 202, sent.text)
        let documentId = try XCTUnwrap(sent.json["messageId"] as? String)
        let id = try failedAtB(h).metadata.messageId
        try h.waitUntil(timeout: 30, "A to learn the recipient Failed") {
            try dmsA.recipient(of: documentId, Self.institution)["status"] as? String == "Failed"
        }
        XCTAssertEqual(try statusReports(h).count, 1)

        // Not fixed but changed: B's directory now sends the address back to A.
        try h.importDirectory("gw-b", [h.remoteEntry(Self.institution, ownerId: "90000048472", kind: "institution", party: "gw-a")])
        let all = try GatewayProcess.run(["messages", "retry-intake", "--all", "--data", b.data])
        XCTAssertEqual(all.status, 0, all.stderr)
        XCTAssertEqual(all.stdout, "\(id): back to Received (its intake had failed with unknownAddress)\n"
                       + "1 message(s) asked for again; the running gateway takes them in again and logs event=intake-retried\n")
        var again: StoredMessage?
        try h.waitUntil(timeout: 30, "the intake to fail again with the new reason") {
            again = try h.message("gw-b", id, .inbound)
            return again?.status == .failed && again?.intakeError?.code == "noAgreement"
        }
        let reason = again?.intakeError?.reason ?? ""
        XCTAssertTrue(reason.contains("this gateway cannot forward to access point gw-a")
                      && reason.hasSuffix("reported Failed to gw-a at an earlier intake, not again"), reason)
        XCTAssertEqual(try statusReports(h).count, 1, "A is not told Failed twice")
        // The log line follows the store's update: wait for it rather than read the log at once.
        try h.waitUntil(timeout: 30, "B to log the retried intake") {
            b.log.split(separator: "\n").contains {
                $0.contains("event=intake-retried") && $0.contains("outcome=\"failed again\"") && $0.contains("code=noAgreement")
            }
        }

        // The fix: the mailbox is here. Taken in; the reading supersedes A's Failed.
        try h.importDirectory("gw-b", [GatewayHarness.localEntry(Self.institution, ownerId: "90000048472", kind: "institution")])
        let dmsB = try BackendClient(port: b.submitPort, token: try h.addConnection("gw-b", name: "b", addresses: [Self.institution]))
        XCTAssertEqual(try GatewayProcess.run(["messages", "retry-intake", id, "--data", b.data]).status, 0)
        _ = try h.waitFor("gw-b", id, .inbound, .delivered)
        try h.waitUntil(timeout: 30, "B to log the second retried intake") { b.log.contains("outcome=\"taken in\"") }
        XCTAssertEqual(try dmsB.get("/api/v1/messages/\(documentId)").status, 200)
        try h.waitUntil(timeout: 30, "A's Failed to give way to Delivered") {
            try dmsA.recipient(of: documentId, Self.institution)["status"] as? String == "Delivered"
        }
        XCTAssertEqual(try statusReports(h).count, 2)
        XCTAssertEqual(b.log.components(separatedBy: "event=intake-retried").count - 1, 2, b.log)

        // Taken in: nothing left to retry.
        let refused = try GatewayProcess.run(["messages", "retry-intake", id, "--data", b.data])
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.stderr.contains("message \(id) is inbound Delivered, not Failed"), refused.stderr)
    }
}

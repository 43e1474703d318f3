@testable import AS4Gateway
import Foundation
import HTTPClient
import MessageStore
import XCTest

/// What a receiving gateway does with an e-address document it receipted and then cannot take
/// in: the AS4 message ends inbound Failed with why (never "handed over"), the origin is told
/// whenever a status leg leads back to it, and a set without that leg is warned of.
final class IntakeFailureTests: XCTestCase {
    /// The reviewer's case: B's P-Modes lack the status leg back to A, and A routes an address
    /// to B that B does not know. B cannot report the refusal; the document must still end in a
    /// status an operator lists, and the missing leg must be said at load and by `pmode check`.
    func testADocumentBCannotAnswerEndsFailedAtBAndTheMissingStatusLegIsWarnedOf() throws {
        let sender = "DVS@90000048472", unknown = "_DEFAULT@90000048472"
        let h = try GatewayHarness()
        try h.configure(["gw-a", "gw-b"], legs: GatewayHarness.eAddressLegs)
        try h.start("gw-a")  // writes the development PKI both directories share
        let bDir = h.root.appendingPathComponent("pmode-b").path
        try FileManager.default.createDirectory(atPath: bDir, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: h.pmodeDirectory + "/certs", toPath: bDir + "/certs")
        try h.configure(["gw-a", "gw-b"], legs: [.init(), .init(action: EAddressMessages.documentAction)], directory: bDir)
        try h.importDirectory("gw-a", [h.remoteEntry(unknown, ownerId: "90000048472", kind: "institution", party: "gw-b")])
        let dmsA = try BackendClient(port: h.nodes["gw-a"]!.submitPort, token: try h.addConnection("gw-a", name: "a", addresses: [sender]))
        try h.start("gw-b", pmode: bDir)

        XCTAssertEqual(try dmsA.submit(metadata: BackendClient.metadata(from: sender, to: [unknown]), files: [("1.txt", [1])]).status, 202)
        var failed: StoredMessage?
        try h.waitUntil(timeout: 30, "gw-b to mark the document it could not take in Failed") {
            let store = try h.store("gw-b")
            defer { store.close() }
            failed = try store.listMessages(status: .failed, since: nil, direction: .inbound, limit: 10).first
            return failed != nil
        }
        let message = try XCTUnwrap(failed)
        XCTAssertEqual(message.metadata.action, EAddressMessages.documentAction)
        XCTAssertEqual(message.intakeError?.code, "unknownAddress")
        let reason = message.intakeError?.reason ?? ""
        XCTAssertTrue(reason.contains("gw-a could not be told") && reason.contains(EAddressMessages.statusAction), reason)
        let logB = h.nodes["gw-b"]!.log
        XCTAssertTrue(logB.contains("event=document-intake-unanswered"), logB)
        XCTAssertFalse(logB.contains("handed to the backend"), "not handed over")

        // The operator finds it by status, with why.
        let listed = try GatewayProcess.run(["messages", "list", "--status", "Failed", "--direction", "in", "--data", h.nodes["gw-b"]!.data])
        XCTAssertEqual(listed.status, 0, listed.stderr)
        XCTAssertTrue(listed.stdout.contains(message.metadata.messageId) && listed.stdout.contains("unknownAddress: "), listed.stdout)
        let shown = try GatewayProcess.run(["messages", "show", message.metadata.messageId, "--data", h.nodes["gw-b"]!.data])
        XCTAssertTrue(shown.stdout.contains("Intake error") && shown.stdout.contains("not taken in by the backend"), shown.stdout)
        let metrics = String(decoding: try HTTPClient(configuration: HTTPClientConfiguration())
            .get(url: h.nodes["gw-b"]!.adminURL + "/metrics").body, as: UTF8.self)
        XCTAssertTrue(metrics.contains("as4gw_messages{direction=\"inbound\",status=\"Failed\"} 1"), metrics)
        XCTAssertTrue(metrics.contains("as4gw_intake_failures_total{reported=\"false\"} 1"), metrics)

        // The missing leg, said at start and by pmode check (a warning; --strict fails on it).
        XCTAssertTrue(logB.contains("event=pmode-status-leg-missing") && logB.contains("gw-a-to-gw-b-1"), logB)
        let check = try GatewayProcess.run(["pmode", "check", bDir])
        XCTAssertEqual(check.status, 0, check.stderr)
        XCTAssertTrue(check.stderr.contains("warning: P-Mode \"gw-a-to-gw-b-1\" sends EAddressDocument from gw-a to gw-b, but no P-Mode lets gw-b send EAddressStatus back to gw-a"),
                      check.stderr)
        XCTAssertTrue(check.stdout.contains("OK with 2 warnings"), check.stdout)
        XCTAssertEqual(try GatewayProcess.run(["pmode", "check", "--strict", bDir]).status, 1)
        let complete = try GatewayProcess.run(["pmode", "check", h.pmodeDirectory])
        XCTAssertEqual(complete.status, 0, complete.stderr)
        XCTAssertFalse(complete.stderr.contains("warning"), complete.stderr)
    }

    /// A document id another access point already delivered here is someone else's document: B
    /// refuses the second arrival and reports it Failed to its origin through the status leg, so
    /// the sending DMS sees why. Here both arrivals are one document of A's, to two companies
    /// served by B, one sent to B directly and one through hub C: whichever arrives second clashes.
    func testADocumentIdHeldFromAnotherAccessPointIsReportedFailedToItsOrigin() throws {
        let sender = "DVS@90000048472", direct = "_DEFAULT@40003032949", viaHub = "_DEFAULT@40003000001"
        let h = try GatewayHarness()
        try h.configure(["gw-a", "gw-b", "gw-c"], legs: GatewayHarness.eAddressLegs)
        try h.importDirectory("gw-a", [h.remoteEntry(direct, ownerId: "40003032949", kind: "company", party: "gw-b"),
                                       h.remoteEntry(viaHub, ownerId: "40003000001", kind: "company", party: "gw-c")])
        try h.importDirectory("gw-c", [h.remoteEntry(viaHub, ownerId: "40003000001", kind: "company", party: "gw-b")])
        try h.importDirectory("gw-b", [GatewayHarness.localEntry(direct, ownerId: "40003032949", kind: "company"),
                                       GatewayHarness.localEntry(viaHub, ownerId: "40003000001", kind: "company")])
        let dmsA = try BackendClient(port: h.nodes["gw-a"]!.submitPort, token: try h.addConnection("gw-a", name: "a", addresses: [sender]))
        let dmsB = try BackendClient(port: h.nodes["gw-b"]!.submitPort, token: try h.addConnection("gw-b", name: "b", addresses: [direct, viaHub]))
        for node in ["gw-a", "gw-b", "gw-c"] { try h.start(node) }

        let sent = try dmsA.submit(metadata: BackendClient.metadata(from: sender, to: [direct, viaHub]), files: [("x.txt", Array("x".utf8))])
        XCTAssertEqual(sent.status, 202, sent.text)
        let id = try XCTUnwrap(sent.json["messageId"] as? String)
        func statuses() throws -> [String: String] {
            Dictionary(uniqueKeysWithValues: try [direct, viaHub].map { ($0, try dmsA.recipient(of: id, $0)["status"] as? String ?? "") })
        }
        try h.waitUntil(timeout: 60, "one recipient Failed at A, the other Accepted") {
            Set(try statuses().values) == ["Failed", "Accepted"]
        }
        let refused = try XCTUnwrap(try statuses().first { $0.value == "Failed" }?.key)
        let events = ((try dmsA.recipient(of: id, refused)["events"] as? [[String: Any]]) ?? []).compactMap { $0["detail"] as? String }.joined(separator: " | ")
        XCTAssertTrue(events.contains("DocumentIdTaken") && events.contains("document id \(id) is already held here"), events)

        // At B the document is in one mailbox, and the clashing message is Failed with why.
        let kept = refused == direct ? viaHub : direct
        XCTAssertEqual(((try dmsB.get("/api/v1/inbox?address=\(kept)").json["items"] as? [[String: Any]]) ?? []).count, 1)
        XCTAssertEqual(((try dmsB.get("/api/v1/inbox?address=\(refused)").json["items"] as? [[String: Any]]) ?? []).count, 0)
        let store = try h.store("gw-b")
        defer { store.close() }
        let failed = try store.listMessages(status: .failed, since: nil, direction: .inbound, limit: 10)
        XCTAssertEqual(failed.count, 1)
        XCTAssertEqual(failed.first?.intakeError?.code, "DocumentIdTaken")
        XCTAssertTrue(failed.first?.intakeError?.reason.contains("reported Failed to gw-") ?? false, "\(String(describing: failed.first?.intakeError))")
    }
}

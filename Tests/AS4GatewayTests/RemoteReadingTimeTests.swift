@testable import AS4Gateway
import Foundation
import XCTest

/// A remote recipient's `retrievedAt` at the sending gateway is when it read the document at the
/// receiving gateway, not when the status report reached the sender (which was down meanwhile).
final class RemoteReadingTimeTests: XCTestCase {
    static let sender = "DVS@90000048472"
    static let company = "_DEFAULT@40003032949"

    func testTheReadingTimeIsTheReceiversEvenWhenTheReportArrivesLater() throws {
        let h = try GatewayHarness()
        try h.configure(["gw-a", "gw-b"], legs: [GatewayHarness.Leg(), GatewayHarness.Leg(action: "EAddressDocument"),
                                                 GatewayHarness.Leg(action: "EAddressStatus", retries: 30, interval: 1)])
        try h.importDirectory("gw-a", [h.remoteEntry(Self.company, ownerId: "40003032949", kind: "company", party: "gw-b")])
        try h.importDirectory("gw-b", [GatewayHarness.localEntry(Self.company, ownerId: "40003032949", kind: "company")])
        let dmsA = try BackendClient(port: h.nodes["gw-a"]!.submitPort, token: try h.addConnection("gw-a", name: "dms-a", addresses: [Self.sender]))
        let dmsB = try BackendClient(port: h.nodes["gw-b"]!.submitPort, token: try h.addConnection("gw-b", name: "company", addresses: [Self.company]))
        try h.start("gw-a")
        try h.start("gw-b")
        let sent = try dmsA.submit(metadata: BackendClient.metadata(from: Self.sender, to: [Self.company]), files: [("a.txt", Array("read me".utf8))])
        XCTAssertEqual(sent.status, 202, sent.text)
        let id = try XCTUnwrap(sent.json["messageId"] as? String)
        try h.waitUntil(timeout: 30, "Accepted at A") { try dmsA.recipient(of: id)["status"] as? String == "Accepted" }

        // The sender's gateway is down while the recipient reads.
        h.stop("gw-a")
        XCTAssertEqual(try dmsB.get("/api/v1/messages/\(id)/files/1").status, 200)
        let readAtB = try XCTUnwrap(try dmsB.recipient(of: id)["retrievedAt"] as? String)
        Thread.sleep(forTimeInterval: 3)
        try h.start("gw-a")
        try h.waitUntil(timeout: 60, "Delivered at A") { try dmsA.recipient(of: id)["status"] as? String == "Delivered" }
        XCTAssertEqual(try dmsA.recipient(of: id)["retrievedAt"] as? String, readAtB)
    }

    func testAReportedTimeOutsideTheDocumentsLifeIsClampedAndSaidSo() {
        let created = Date(timeIntervalSince1970: 1_800_000_000), now = created + 3600
        let inside = ReportedReadingTime(reported: created + 60, documentCreatedAt: created, now: now)
        XCTAssertEqual(inside.recorded, created + 60)
        XCTAssertNil(inside.clampNote)
        let early = ReportedReadingTime(reported: created - 30, documentCreatedAt: created, now: now)
        XCTAssertEqual(early.recorded, created)
        XCTAssertFalse(early.beyondSkew)
        XCTAssertEqual(early.clampNote, "the reported reading time 2027-01-15T07:59:30.000Z is before the document was submitted here; recorded as 2027-01-15T08:00:00.000Z")
        let future = ReportedReadingTime(reported: now + 86400, documentCreatedAt: created, now: now)
        XCTAssertEqual(future.recorded, now)
        XCTAssertTrue(future.beyondSkew)
        XCTAssertTrue(future.clampNote?.contains("ahead of this gateway's clock") ?? false)
    }
}

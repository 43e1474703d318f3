@testable import AS4Gateway
import Foundation
import MessageStore
import XCTest

/// `as4gw ping`: gw-a's daemon sends gw-b's a test message now and judges its receipt as a
/// delivery's; neither side stores anything.
final class PingCommandTests: XCTestCase {
    var harness: GatewayHarness!

    override func setUpWithError() throws {
        harness = try GatewayHarness()
        try harness.configure(["gw-a", "gw-b"])
        try harness.start("gw-b")
        try harness.start("gw-a")
    }

    override func tearDown() { harness = nil }

    func ping(_ party: String, _ extra: [String] = []) throws -> GatewayProcess.Result {
        let a = harness.nodes["gw-a"]!
        return try GatewayProcess.run(["ping", party, "--submit", a.submitURL, "--token-file", a.submitTokenFile] + extra, timeout: 120)
    }

    func count(_ node: String, _ direction: Direction) throws -> Int {
        let store = try harness.store(node)
        defer { store.close() }
        return try store.listMessages(status: nil, since: nil, direction: direction, limit: 10).count
    }

    func testAPingGetsAValidReceiptAndNothingIsStored() throws {
        let r = try ping("gw-b")
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        XCTAssertTrue(r.stdout.hasPrefix("gw-b: valid receipt in "), r.stdout)
        XCTAssertTrue(r.stdout.contains("P-Mode gw-a-to-gw-b-0, HTTP 200)"), r.stdout)
        let id = try XCTUnwrap(r.stdout.firstMatch(of: /test message (\S+),/)?.1)
        XCTAssertTrue(harness.nodes["gw-b"]!.log.contains("event=ping message_id=\(id) "), harness.nodes["gw-b"]!.log)
        XCTAssertTrue(harness.nodes["gw-a"]!.log.contains("event=ping-sent message_id=\(id) to=gw-b pmode=gw-a-to-gw-b-0 status=receipt"),
                      harness.nodes["gw-a"]!.log)
        XCTAssertEqual(try count("gw-a", .outbound), 0)
        XCTAssertEqual(try count("gw-b", .inbound), 0)

        let json = try ping("gw-b", ["--json"])
        XCTAssertEqual(json.status, 0, json.stderr)
        XCTAssertTrue(json.stdout.contains("\"receipt\":true") && json.stdout.contains("\"party\":\"gw-b\""), json.stdout)
    }

    func testAPartyWithoutAnAgreementIsNotPinged() throws {
        let r = try ping("gw-x")
        XCTAssertEqual(r.status, 1, r.stdout + r.stderr)
        XCTAssertEqual(r.stdout, "gw-x: not sent: EBMS:0001: unknown party gw-x\n")
    }

    /// gw-a's P-Modes name another certificate for gw-b's signatures: gw-b's receipt, signed
    /// with its own key, is no receipt from gw-b, as it would not be for a delivery.
    func testAReceiptNotSignedAsTheAgreementSaysIsNoReceipt() throws {
        harness.stop("gw-a")
        let other = harness.root.appendingPathComponent("pmode-a").path
        try FileManager.default.copyItem(atPath: harness.pmodeDirectory, toPath: other)
        let parties = try String(contentsOfFile: other + "/parties.json", encoding: .utf8)
        try parties.replacingOccurrences(of: "certs/gw-b.signing.pem", with: "certs/gw-a.signing.pem")
            .write(toFile: other + "/parties.json", atomically: true, encoding: .utf8)
        try harness.start("gw-a", pmode: other)
        let r = try ping("gw-b")
        XCTAssertEqual(r.status, 1, r.stdout + r.stderr)
        XCTAssertTrue(r.stdout.hasPrefix("gw-b: no valid receipt in "), r.stdout)
        XCTAssertTrue(r.stdout.contains("EBMS:0302: the receipt's signature is not acceptable"), r.stdout)
        XCTAssertTrue(harness.nodes["gw-a"]!.log.contains("status=no-receipt"), harness.nodes["gw-a"]!.log)
        XCTAssertTrue(harness.nodes["gw-b"]!.log.contains("event=ping "), "gw-b took it and answered")
    }
}

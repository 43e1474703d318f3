@testable import AS4Gateway
import EnvelopeXML
import Foundation
import HTTPServer
import MessageStore
import XCTest

/// The ebMS3 test service ("ping", ebMS3 Core §5.2.2.9) as gw-b receives it from gw-a: verified
/// as gw-a's messages are, under a test-service P-Mode or else gw-a's agreement with gw-b,
/// answered with a signed receipt, never stored and so never offered to a DMS, and logged as
/// one `event=ping` line.
final class TestServiceTests: InProcessReceiverTestCase {
    func ping(_ id: String = "\(UUID().uuidString)@gw-a", parts: [CraftedMessage.Part] = [], from: String = "gw-a") -> CraftedMessage {
        CraftedMessage(id: id, from: from, service: EbmsConstants.testService, action: EbmsConstants.testAction, parts: parts)
    }

    /// gw-b again, after `pmodes` (a P-Mode file's `pmodes` entries) were written beside the harness's.
    func restartWithPModes(_ pmodes: String) throws {
        b = nil
        try "{\"pmodes\": [\(pmodes)]}".write(toFile: harness.pmodeDirectory + "/ping.pmode.json", atomically: true, encoding: .utf8)
        b = try InProcessNode(harness, party: "gw-b")
    }

    func testPingPModeJSON(sign: Bool) -> String {
        """
        {"id": "ping-gw-a-to-gw-b", "agreement": {"value": "urn:as4gw:agreements:test"},
         "initiator": {"party": "gw-a", "role": "urn:as4gw:roles:sender"}, "responder": {"party": "gw-b", "role": "urn:as4gw:roles:receiver"},
         "legs": [{"service": {"value": "\(EbmsConstants.testService)"}, "action": "\(EbmsConstants.testAction)",
                   "security": {"sign": \(sign), "encrypt": false}}]}
        """
    }

    func assertReceipt(_ response: HTTPResponse, for id: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(response.status, 200, response.bodyText, file: file, line: line)
        XCTAssertTrue(response.bodyText.contains("<eb:RefToMessageId>\(id)</eb:RefToMessageId>"), response.bodyText, file: file, line: line)
        XCTAssertTrue(response.bodyText.contains("NonRepudiationInformation"), "a receipt with the ping's references: \(response.bodyText)",
                      file: file, line: line)
        XCTAssertTrue(response.bodyText.contains("<ds:SignatureValue>"), "signed: \(response.bodyText)", file: file, line: line)
    }

    func assertNothingKept() throws {
        XCTAssertEqual(try b.store.listMessages(status: nil, since: nil, direction: .inbound, limit: 10).count, 0)
    }

    /// No test-service P-Mode: gw-a's agreement with gw-b governs (signed, as gw-a's messages are).
    func testAPingUnderTheSendersAgreementIsAnsweredWithAReceiptAndNotKept() throws {
        let message = ping()
        let answered = try b.receive(message, signedBy: try b.signer("gw-a"))
        assertReceipt(answered, for: message.id)
        try assertNothingKept()
        let line = try XCTUnwrap(b.log.split(separator: "\n").first { $0.contains("event=ping ") }, b.log)
        for field in ["message_id=\(message.id)", "from=gw-a", "pmode=gw-a-to-gw-b-0", "signed=true", "parts=0", "elapsed_ms="] {
            XCTAssertTrue(line.contains(field), "\(field) in \(line)")
        }
        XCTAssertFalse(b.log.contains("event=received"), b.log)
    }

    /// Payloads are allowed and checked as any message's (digests, decompression), then dropped.
    func testAPingsPayloadsAreCheckedAndDropped() throws {
        let message = ping(parts: [CraftedMessage.Part(body: Array("<doc>ping</doc>".utf8))])
        assertReceipt(try b.receive(message, signedBy: try b.signer("gw-a")), for: message.id)
        XCTAssertTrue(b.log.contains("event=ping message_id=\(message.id)") && b.log.contains("parts=1"), b.log)

        var notGzip = CraftedMessage.Part(body: Array("not gzip at all".utf8), signedType: "application/octet-stream")
        notGzip.properties.append(Property(EbmsConstants.compressionType, "application/gzip"))
        let broken = ping(parts: [notGzip])
        let refused = try b.receive(broken, signedBy: try b.signer("gw-a"))
        XCTAssertEqual(refused.status, 500, refused.bodyText)
        XCTAssertEqual(refused.ebmsErrorCode, "EBMS:0303", refused.bodyText)

        let altered = ping(parts: [CraftedMessage.Part(body: Array("<doc>signed</doc>".utf8))])
        var (contentType, body) = try altered.sealed(by: try b.signer("gw-a"))
        let signed = Array("<doc>signed</doc>".utf8)
        let at = try XCTUnwrap((0...(body.count - signed.count)).last { Array(body[$0..<$0 + signed.count]) == signed })
        body[at + 5] = UInt8(ascii: "S")
        let forged = b.post(InboundProcessor(context: b.context), path: "/as4", contentType: contentType, body: body)
        XCTAssertEqual(forged.ebmsErrorCode, "EBMS:0101", forged.bodyText)
        try assertNothingKept()
    }

    /// The agreement signs: a ping without a signature, or signed by another party's key, is refused.
    func testAnUnsignedOrForeignSignedPingOnASignedAgreementIsRefused() throws {
        let unsigned = try b.receive(ping(), signedBy: nil)
        XCTAssertEqual(unsigned.status, 500, unsigned.bodyText)
        XCTAssertEqual(unsigned.ebmsErrorCode, "EBMS:0103", unsigned.bodyText)
        let foreign = try b.receive(ping(), signedBy: try b.signer("gw-b"))
        XCTAssertEqual(foreign.status, 500, foreign.bodyText)
        XCTAssertEqual(foreign.ebmsErrorCode, "EBMS:0101", foreign.bodyText)
        XCTAssertFalse(b.log.contains("event=ping "), b.log)
        try assertNothingKept()
    }

    /// A party that has no agreement with gw-b is refused as before (no P-Mode for the service).
    func testAPingFromAnUnknownPartyIsRefused() throws {
        let answered = try b.receive(ping(from: "gw-x"), signedBy: try b.signer("gw-a"))
        XCTAssertEqual(answered.status, 500, answered.bodyText)
        XCTAssertEqual(answered.ebmsErrorCode, "EBMS:0001", answered.bodyText)
        try assertNothingKept()
    }

    /// Nothing is kept, so a copy sent again gets its receipt again; an id gw-a already used for a
    /// message gw-b holds names that message and is refused.
    func testARepeatedPingIsAnsweredAgainAndAnIdOfAHeldMessageIsRefused() throws {
        let message = ping()
        assertReceipt(try b.receive(message, signedBy: try b.signer("gw-a")), for: message.id)
        assertReceipt(try b.receive(message, signedBy: try b.signer("gw-a")), for: message.id)
        try assertNothingKept()

        let held = CraftedMessage()
        XCTAssertEqual(try b.receive(held, signedBy: try b.signer("gw-a")).status, 200)
        let reused = try b.receive(ping(held.id), signedBy: try b.signer("gw-a"))
        XCTAssertEqual(reused.status, 500, reused.bodyText)
        XCTAssertEqual(reused.ebmsErrorCode, "EBMS:0003", reused.bodyText)
        XCTAssertEqual(try b.store.findInbound(id: held.id).count, 1)
    }

    /// A test-service P-Mode for the pair governs its pings, here one that does not sign.
    func testATestServicePModeGovernsThePairsPings() throws {
        try restartWithPModes(testPingPModeJSON(sign: false))
        let message = ping()
        let answered = try b.receive(message, signedBy: nil)
        XCTAssertEqual(answered.status, 200, answered.bodyText)
        XCTAssertTrue(b.log.contains("pmode=ping-gw-a-to-gw-b") && b.log.contains("signed=false"), b.log)
        try assertNothingKept()
    }

    /// Agreements of one pair that ask for different security cannot say what a ping must meet:
    /// refused until a test-service P-Mode says it.
    func testAgreementsThatDisagreeOnSecurityNeedATestServicePMode() throws {
        b = nil
        try harness.configure(["gw-a", "gw-b"], legs: [.init(encrypt: false), .init(action: "Plain", encrypt: false, sign: false)])
        b = try InProcessNode(harness, party: "gw-b")
        let refused = try b.receive(ping(), signedBy: try b.signer("gw-a"))
        XCTAssertEqual(refused.status, 500, refused.bodyText)
        XCTAssertEqual(refused.ebmsErrorCode, "EBMS:0010", refused.bodyText)
        XCTAssertTrue(refused.bodyText.contains("test-service P-Mode"), refused.bodyText)

        try restartWithPModes(testPingPModeJSON(sign: true))
        let message = ping()
        assertReceipt(try b.receive(message, signedBy: try b.signer("gw-a")), for: message.id)
        XCTAssertEqual(try b.receive(ping(), signedBy: nil).status, 500, "the test P-Mode signs")
    }

    /// ebMS3 §5.2.2.10: the test action belongs to the test service.
    func testTheTestActionOutsideTheTestServiceIsRefused() throws {
        let message = CraftedMessage(action: EbmsConstants.testAction)
        let answered = try b.receive(message, signedBy: try b.signer("gw-a"))
        XCTAssertEqual(answered.status, 500, answered.bodyText)
        XCTAssertEqual(answered.ebmsErrorCode, "EBMS:0003", answered.bodyText)
        XCTAssertNil(try stored(message.id))
    }
}

@testable import AS4Gateway
import EnvelopeXML
import Foundation
import Routing
import WSSecurity
import XCTest

/// A test message ("ping", ebMS3 Core §5.2.2.9) that gw-b pulls from gw-a: the AS4 profile asks
/// for no P-Mode of its own, so with none for the test service it goes under the agreement it
/// was pulled by, the pull leg of the MPC gw-b pulled, whatever push agreements the two parties
/// also have (here gw-a's push P-Mode to gw-b, listed first).
final class PulledTestMessageTests: XCTestCase {
    let mpc = "urn:as4gw:mpc:test-for-gw-b"
    var harness: GatewayHarness!
    var a: InProcessNode!
    var b: InProcessNode!

    override func setUpWithError() throws {
        harness = try GatewayHarness()
        try harness.configure(["gw-a", "gw-b"], pull: [.init(mpc: mpc)])
        a = try InProcessNode(harness, party: "gw-a")
        b = try InProcessNode(harness, party: "gw-b")
    }

    override func tearDown() {
        a = nil
        b = nil
        harness = nil
    }

    /// gw-a's ping for gw-b on `on`, sealed under gw-a's pull P-Mode as its holder would.
    func pulledPing(on: String) throws -> AS4Message {
        let set = a.context.pmodes
        let pmode = try XCTUnwrap(set.pmode(id: "pull-gw-b-from-gw-a"))
        let us = try XCTUnwrap(set.party(named: "gw-a")), them = try XCTUnwrap(set.party(named: "gw-b"))
        let user = UserMessage(
            mpc: on, messageInfo: MessageInfo(messageId: "\(UUID().uuidString)@gw-a"),
            from: EnvelopeXML.Party(ids: us.partyIds, role: pmode.participant(pmode.sendingSide(ofLeg: 0)).role),
            to: EnvelopeXML.Party(ids: them.partyIds, role: pmode.participant(pmode.receivingSide(ofLeg: 0)).role),
            collaboration: CollaborationInfo(agreementRef: pmode.agreement.map { AgreementRef($0.value, type: $0.type) },
                                             service: Service(EbmsConstants.testService), action: EbmsConstants.testAction,
                                             conversationId: Identifier.uuid()))
        let sealed = try Outbound(context: a.context).seal(user, payloads: [], leg: pmode.legs[0], to: them)
        defer { sealed.removeSpoolFiles() }
        var sink = MemorySink()
        let contentType = try sealed.write(to: &sink)
        return try AS4Message.read(try MessageInput.load(bytes: sink.bytes, contentType: contentType, spoolDirectory: b.context.spoolDirectory))
    }

    func testAPulledPingGoesUnderThePullLegItWasPulledBy() throws {
        let ping = try pulledPing(on: mpc)
        switch InboundProcessor(context: b.context).processUserMessage(ping, started: Date(), pulled: true, pulledMPC: mpc) {
        case .success: break
        case .failure(let f): XCTFail("refused: \(f.error)")
        }
        let line = try XCTUnwrap(b.log.split(separator: "\n").first { $0.contains("event=ping ") }, b.log)
        XCTAssertTrue(line.contains("pmode=pull-gw-b-from-gw-a"), String(line))
        XCTAssertEqual(try b.store.listMessages(status: nil, since: nil, direction: .inbound, limit: 10).count, 0, "a ping is not kept")
    }

    /// Pulled from another MPC than its own, it fits no pull leg: refused as any pulled message would be.
    func testAPulledPingOnAnotherMPCIsStillRefused() throws {
        let ping = try pulledPing(on: "urn:as4gw:mpc:elsewhere")
        guard case .failure(let f) = InboundProcessor(context: b.context).processUserMessage(ping, started: Date(), pulled: true, pulledMPC: mpc) else {
            return XCTFail("a ping pulled from the wrong MPC was taken")
        }
        XCTAssertEqual((f.error as? EbmsError)?.code, .processingModeMismatch, "\(f.error)")
    }
}

import EnvelopeXML
import XCTest
@testable import Routing

/// Which leg governs a test message (ebMS3 test service): the pair's test-service P-Mode, else
/// the agreements its sender has with its receiver, as long as they agree on security.
final class TestServiceMatchingTests: XCTestCase {
    let delivery = "urn:eadrese:services:delivery"

    func party(_ name: String) -> Routing.Party { Routing.Party(name: name, partyIds: [PartyId(name, type: unregistered)]) }

    func pmode(_ id: String, from: String = "gw-a", to: String = "gw-b", service: String? = nil, action: String = "Deliver",
               security: LegSecurity = LegSecurity()) -> PMode {
        PMode(id: id, initiator: PModeParticipant(party: from, role: Roles.initiator), responder: PModeParticipant(party: to, role: Roles.responder),
              legs: [Leg(service: Service(service ?? delivery), action: action, security: security)])
    }

    func set(_ pmodes: [PMode]) -> PModeSet { PModeSet(uncheckedParties: ["gw-a", "gw-b", "gw-c"].map(party), pmodes: pmodes) }

    func ping(from: String = "gw-a", to: String = "gw-b") -> UserMessage {
        userMessage(from: from, to: to, service: EbmsConstants.testService, action: EbmsConstants.testAction)
    }

    func testTheSendersAgreementGovernsWithoutATestServicePMode() throws {
        let set = set([pmode("b-to-a", from: "gw-b", to: "gw-a"), pmode("a-to-b"), pmode("a-to-b-2", action: "Other")])
        let match = try set.matchTestMessage(ping()).get()
        XCTAssertEqual(match.pmode.id, "a-to-b")
        XCTAssertEqual(match.sender.name, "gw-a")
        XCTAssertEqual(match.receiver.name, "gw-b")
        XCTAssertEqual(try set.outboundTestLeg(from: "gw-b", to: "gw-a").get().pmode.id, "b-to-a")
        // A party with no agreement with the receiver is refused as any message without a P-Mode.
        XCTAssertEqual(failure(set.matchTestMessage(ping(from: "gw-c")))?.code, .valueNotRecognized)
        XCTAssertEqual(failure(set.outboundTestLeg(from: "gw-a", to: "gw-c"))?.code, .processingModeMismatch)
        XCTAssertEqual(failure(set.outboundTestLeg(from: "gw-a", to: "gw-x"))?.code, .valueNotRecognized)
    }

    func testATestServicePModeGovernsItsPair() throws {
        let unsigned = LegSecurity(sign: false, encrypt: false)
        let set = set([pmode("a-to-b"), pmode("ping-a-to-b", service: EbmsConstants.testService, action: EbmsConstants.testAction, security: unsigned),
                       pmode("c-to-b", from: "gw-c")])
        XCTAssertEqual(try set.matchTestMessage(ping()).get().pmode.id, "ping-a-to-b")
        XCTAssertEqual(try set.outboundTestLeg(from: "gw-a", to: "gw-b").get().pmode.id, "ping-a-to-b")
        // Another pair without one still pings under its agreement.
        XCTAssertEqual(try set.matchTestMessage(ping(from: "gw-c")).get().pmode.id, "c-to-b")
    }

    /// What the sender references its certificate by is not judged; what a receiver verifies is.
    func testAgreementsMustAgreeOnWhatIsVerified() throws {
        let ski = LegSecurity(keyReference: .ski)
        XCTAssertEqual(try set([pmode("a-to-b"), pmode("a-to-b-ski", action: "Other", security: ski)]).matchTestMessage(ping()).get().pmode.id, "a-to-b")
        let differing = set([pmode("a-to-b"), pmode("a-to-b-2.0", action: "Other", security: LegSecurity(profile: .v2_0))])
        let refused = failure(differing.matchTestMessage(ping()))
        XCTAssertEqual(refused?.code, .processingModeMismatch)
        XCTAssertTrue(refused?.reason.contains("a test-service P-Mode must say which applies") ?? false, refused?.reason ?? "")
        XCTAssertEqual(failure(differing.outboundTestLeg(from: "gw-a", to: "gw-b"))?.code, .processingModeMismatch)
    }

    /// A pulled test message came by the pull leg of the MPC pulled: without a test-service
    /// P-Mode that leg governs it, not a push agreement of the same pair listed first (which it
    /// would not fit); a pushed one still goes under the first agreement, and one pulled from an
    /// MPC no pull leg of the pair has fits none.
    func testAPulledTestMessageGoesUnderThePullLegOfItsMPC() throws {
        let mpc = "urn:as4gw:mpc:for-gw-b"
        let pull = PMode(id: "b-pulls-from-a", binding: .pull, initiator: PModeParticipant(party: "gw-b", role: Roles.responder),
                         responder: PModeParticipant(party: "gw-a", role: Roles.initiator),
                         legs: [Leg(service: Service(delivery), action: "Notify", mpc: mpc)])
        let set = set([pmode("a-to-b"), pull])
        XCTAssertEqual(try set.matchTestMessage(ping(), pulledFrom: mpc).get().pmode.id, "b-pulls-from-a")
        XCTAssertEqual(try set.matchTestMessage(ping()).get().pmode.id, "a-to-b", "pushed: as before")
        XCTAssertEqual(failure(set.matchTestMessage(ping(), pulledFrom: "urn:as4gw:mpc:other"))?.code, .valueNotRecognized)
        // A push-only test-service P-Mode does not govern a pulled ping either: the pull leg does.
        let pushPing = pmode("ping-a-to-b", service: EbmsConstants.testService, action: EbmsConstants.testAction)
        XCTAssertEqual(try self.set([pushPing, pull]).matchTestMessage(ping(), pulledFrom: mpc).get().pmode.id, "b-pulls-from-a")
    }

    func testTheTestActionBelongsToTheTestService() {
        XCTAssertTrue(ping().collaboration.isTestService)
        XCTAssertFalse(ping().collaboration.misusesTestAction)
        let misused = userMessage(from: "gw-a", to: "gw-b", service: delivery, action: EbmsConstants.testAction)
        XCTAssertTrue(misused.collaboration.misusesTestAction)
        XCTAssertFalse(misused.collaboration.isTestService)
    }

    private func failure(_ result: Result<Match, EbmsError>, file: StaticString = #filePath, line: UInt = #line) -> EbmsError? {
        guard case .failure(let e) = result else {
            XCTFail("expected a refusal", file: file, line: line)
            return nil
        }
        return e
    }
}

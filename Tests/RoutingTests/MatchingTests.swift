import EnvelopeXML
import XCTest
@testable import Routing

/// P-Mode selection for received user messages and the outbound lookups, on the shipped samples.
final class MatchingTests: XCTestCase {
    private var set: PModeSet!
    private let delivery = "urn:eadrese:services:delivery"
    private let agreement = "urn:as4gw:agreements:sample"

    override func setUpWithError() throws {
        set = try loadOrFail(TestPaths.samples, options: PModeLoader.Options(requireCertificates: false))
    }

    func testMatchesByPModeId() throws {
        let message = userMessage(from: "gw-a", to: "gw-b", service: delivery, action: "DeliverDocument", agreement: agreement,
                                  pmode: "delivery-a-to-b")
        let match = try set.match(message).get()
        XCTAssertEqual(match.pmode.id, "delivery-a-to-b")
        XCTAssertEqual(match.legIndex, 0)
        XCTAssertEqual(match.leg.action, "DeliverDocument")
        XCTAssertEqual(match.sender.name, "gw-a")
        XCTAssertEqual(match.receiver.name, "gw-b")
        XCTAssertEqual(match.receiver.certificateFiles[.encryption], ["certs/gw-b.encryption.pem"])
        XCTAssertEqual(match.delivery, .push)
        XCTAssertEqual(match.senderRole, Roles.initiator)
    }

    func testAnUnknownPModeIdIsTreatedAsAbsent() throws {
        // Peers put their own P-Mode's id in @pmode: the message is matched by what it says.
        let message = userMessage(from: "gw-a", to: "gw-b", service: delivery, action: "DeliverDocument", agreement: agreement,
                                  pmode: "their-own-pmode")
        XCTAssertEqual(try set.match(message).get().pmode.id, "delivery-a-to-b")
        // And must then fit like any message without @pmode.
        let stranger = userMessage(from: "gw-x", to: "gw-b", service: delivery, action: "DeliverDocument", agreement: agreement,
                                   pmode: "their-own-pmode")
        let error = failure(set.match(stranger))
        XCTAssertEqual(error?.code, .processingModeMismatch)
        XCTAssertEqual(error?.refToMessageId, stranger.messageInfo.messageId)
        let unknownAction = userMessage(from: "gw-a", to: "gw-b", service: delivery, action: "NoSuchAction", agreement: agreement,
                                        pmode: "their-own-pmode")
        XCTAssertEqual(failure(set.match(unknownAction))?.code, .valueNotRecognized)
    }

    func testNamedPModeMustStillFitTheMessage() {
        // The id of the two-way P-Mode, on a delivery message: not for this service and action.
        let wrongService = userMessage(from: "gw-a", to: "gw-b", service: delivery, action: "DeliverDocument", agreement: agreement,
                                       pmode: "inquiry-a-b")
        XCTAssertEqual(failure(set.match(wrongService))?.code, .processingModeMismatch)
        XCTAssertEqual(failure(set.match(wrongService))?.reason,
                       "P-Mode \"inquiry-a-b\" named by AgreementRef/@pmode is not for service \"\(delivery)\" and action \"DeliverDocument\"")
        // The right id, but sent by gw-b: naming a P-Mode does not let another party use it.
        let wrongSender = userMessage(from: "gw-b", to: "gw-a", service: delivery, action: "DeliverDocument", agreement: agreement,
                                      pmode: "delivery-a-to-b")
        let error = failure(set.match(wrongSender))
        XCTAssertEqual(error?.code, .processingModeMismatch)
        XCTAssertEqual(error?.reason, "no P-Mode for service \"\(delivery)\" and action \"DeliverDocument\" fits this message: "
                       + "From/PartyId \"\(unregistered)::gw-b\" and To/PartyId \"\(unregistered)::gw-a\" do not fit")
    }

    func testMatchesByPartiesServiceAndAction() throws {
        let aToB = try set.match(userMessage(from: "gw-a", to: "gw-b", service: delivery, action: "DeliverDocument", agreement: agreement)).get()
        XCTAssertEqual(aToB.pmode.id, "delivery-a-to-b")
        let bToA = try set.match(userMessage(from: "gw-b", to: "gw-a", service: delivery, action: "DeliverDocument", agreement: agreement)).get()
        XCTAssertEqual(bToA.pmode.id, "delivery-b-to-a")
        XCTAssertEqual(bToA.sender.name, "gw-b")
    }

    func testMatchesTheReplyLegOfTwoWayAndThePulledMessage() throws {
        let answer = try set.match(userMessage(from: "gw-b", fromRole: Roles.responder, to: "gw-a", toRole: Roles.initiator,
                                               service: "urn:eadrese:services:inquiry", action: "Answer", agreement: agreement)).get()
        XCTAssertEqual(answer.pmode.id, "inquiry-a-b")
        XCTAssertEqual(answer.legIndex, 1)
        XCTAssertEqual(answer.sender.name, "gw-b")
        XCTAssertEqual(answer.receiver.name, "gw-a")

        let pulled = try set.match(userMessage(from: "gw-a", fromRole: Roles.responder, to: "gw-b", toRole: Roles.initiator,
                                               service: "urn:eadrese:services:notification", action: "Notify", agreement: agreement)).get()
        XCTAssertEqual(pulled.pmode.id, "notification-pull-b-from-a")
        XCTAssertEqual(pulled.delivery, .pull)
        XCTAssertEqual(pulled.sender.name, "gw-a")
    }

    func testUnknownServiceOrActionIsValueNotRecognized() {
        let unknownService = userMessage(from: "gw-a", to: "gw-b", service: "urn:eadrese:services:other", action: "DeliverDocument")
        let error = failure(set.match(unknownService))
        XCTAssertEqual(error?.code, .valueNotRecognized)
        XCTAssertEqual(error?.reason, "no P-Mode for service \"urn:eadrese:services:other\" and action \"DeliverDocument\"")

        let unknownAction = userMessage(from: "gw-a", to: "gw-b", service: delivery, serviceType: "urn:types", action: "Deliver")
        XCTAssertEqual(failure(set.match(unknownAction))?.code, .valueNotRecognized)
        XCTAssertEqual(failure(set.match(unknownAction))?.reason,
                       "no P-Mode for service \"\(delivery)\" (type \"urn:types\") and action \"Deliver\"")
    }

    func testWrongRoleIsProcessingModeMismatchNamingTheRole() {
        let message = userMessage(from: "gw-a", fromRole: "urn:roles:clerk", to: "gw-b", service: delivery, action: "DeliverDocument",
                                  agreement: agreement)
        let error = failure(set.match(message))
        XCTAssertEqual(error?.code, .processingModeMismatch)
        XCTAssertEqual(error?.reason, "no P-Mode for service \"\(delivery)\" and action \"DeliverDocument\" fits this message: "
                       + "From/Role \"urn:roles:clerk\" does not fit")
        XCTAssertFalse(error!.reason.contains(Roles.initiator), "the expected role is not disclosed to the peer")
    }

    func testAgreementTakesPartInSelection() {
        let missing = userMessage(from: "gw-a", to: "gw-b", service: delivery, action: "DeliverDocument")
        XCTAssertEqual(failure(set.match(missing))?.reason,
                       "no P-Mode for service \"\(delivery)\" and action \"DeliverDocument\" fits this message: the missing AgreementRef does not fit")
        let other = userMessage(from: "gw-a", to: "gw-b", service: delivery, action: "DeliverDocument", agreement: agreement, agreementType: "urn:t")
        XCTAssertEqual(failure(set.match(other))?.code, .processingModeMismatch)
        XCTAssertTrue(failure(set.match(other))!.reason.contains("AgreementRef \"urn:t::\(agreement)\" does not fit"))
    }

    func testUnknownSenderIsMismatchWithoutDisclosingPartners() {
        let message = userMessage(from: "mallory", to: "gw-b", service: delivery, action: "DeliverDocument", agreement: agreement)
        let error = failure(set.match(message))
        XCTAssertEqual(error?.code, .processingModeMismatch)
        XCTAssertTrue(error!.reason.contains("From/PartyId \"\(unregistered)::mallory\" does not fit"), error!.reason)
        XCTAssertFalse(error!.reason.contains("gw-a"))
    }

    func testMoreThanOneFittingLegIsAmbiguous() throws {
        let dir = try ScratchDirectory()
        try dir.write("parties.json", """
        {
          "parties": [
            { "name": "a", "partyIds": [{ "value": "x", "type": "t" }], "endpoint": "https://a.example/as4" },
            { "name": "a2", "partyIds": [{ "value": "y", "type": "t" }], "endpoint": "https://a2.example/as4" },
            { "name": "b", "partyIds": [{ "value": "z", "type": "t" }], "endpoint": "https://b.example/as4" }
          ]
        }
        """)
        try dir.write("p.pmode.json", onePMode(id: "from-a", from: "a", to: "b"))
        try dir.write("q.pmode.json", onePMode(id: "from-a2", from: "a2", to: "b"))
        let set = try loadOrFail(dir.path)
        // ebMS allows several PartyIds in eb:From; these name two parties, each with its own
        // P-Mode: the message fits neither (it would have fitted both, ambiguous).
        let message = userMessage(from: "x", to: "z", service: "urn:svc:one", action: "Act",
                                  fromIds: [PartyId("x", type: "t"), PartyId("y", type: "t")])
        var patched = message
        patched.to = EnvelopeXML.Party(ids: [PartyId("z", type: "t")], role: Roles.responder)
        let error = failure(set.match(patched))
        XCTAssertEqual(error?.code, .processingModeMismatch)
        XCTAssertEqual(error?.reason, "no P-Mode for service \"urn:svc:one\" and action \"Act\" fits this message: "
                       + "From/PartyIds \"t::x\", \"t::y\" does not fit (several PartyIds must all name one party)")

        // Sets built in code skip the loader's duplicate check; the matcher still refuses to guess.
        let duplicate = try XCTUnwrap(set.pmode(id: "from-a"))
        var copy = duplicate
        copy.id = "copy"
        let unchecked = PModeSet(uncheckedParties: set.parties, pmodes: [duplicate, copy])
        var single = patched
        single.from.ids = [PartyId("x", type: "t")]
        XCTAssertTrue(failure(unchecked.match(single))?.reason.hasPrefix("ambiguous: 2 P-Mode legs") ?? false)
        XCTAssertEqual(try set.match(single).get().pmode.id, "from-a")
    }

    /// Several PartyIds in eb:From or eb:To fit a leg only when every one is its party's: ids
    /// of one party, in any order, fit; an id of another party (even one with no P-Mode of its
    /// own here) or one nobody has makes the sender ambiguous, and nothing fits.
    func testSeveralPartyIdsFitOnlyWhenAllNameTheLegsParty() throws {
        let dir = try ScratchDirectory()
        try dir.write("parties.json", """
        {
          "parties": [
            { "name": "a", "partyIds": [{ "value": "x", "type": "t" }, { "value": "x2", "type": "t2" }], "endpoint": "https://a.example/as4" },
            { "name": "a2", "partyIds": [{ "value": "y", "type": "t" }], "endpoint": "https://a2.example/as4" },
            { "name": "b", "partyIds": [{ "value": "z", "type": "t" }, { "value": "z2", "type": "t" }], "endpoint": "https://b.example/as4" }
          ]
        }
        """)
        try dir.write("p.pmode.json", onePMode(id: "from-a", from: "a", to: "b"))
        let set = try loadOrFail(dir.path)
        func message(from: [PartyId], to: [PartyId] = [PartyId("z", type: "t")]) -> UserMessage {
            var m = userMessage(from: "x", to: "z", service: "urn:svc:one", action: "Act", fromIds: from)
            m.to = EnvelopeXML.Party(ids: to, role: Roles.responder)
            return m
        }
        let x = PartyId("x", type: "t"), x2 = PartyId("x2", type: "t2")
        for ids in [[x, x2], [x2, x], [x2]] {
            XCTAssertEqual(try set.match(message(from: ids)).get().sender.name, "a", "\(ids)")
        }
        XCTAssertEqual(try set.match(message(from: [x], to: [PartyId("z2", type: "t"), PartyId("z", type: "t")])).get().receiver.name, "b")
        let refusals: [(from: [PartyId], to: [PartyId], says: String)] = [
            ([x, PartyId("y", type: "t")], [PartyId("z", type: "t")], "From/PartyIds \"t::x\", \"t::y\" does not fit"),
            ([x, PartyId("nobody", type: "t")], [PartyId("z", type: "t")], "From/PartyIds \"t::x\", \"t::nobody\" does not fit"),
            ([x, PartyId("x", type: "t2")], [PartyId("z", type: "t")], "From/PartyIds \"t::x\", \"t2::x\" does not fit"),
            ([x], [PartyId("z", type: "t"), PartyId("x", type: "t")], "To/PartyIds \"t::z\", \"t::x\" does not fit"),
        ]
        for r in refusals {
            let error = failure(set.match(message(from: r.from, to: r.to)))
            XCTAssertEqual(error?.code, .processingModeMismatch, "\(r.from) \(r.to)")
            XCTAssertEqual(error?.reason, "no P-Mode for service \"urn:svc:one\" and action \"Act\" fits this message: \(r.says) "
                           + "(several PartyIds must all name one party)")
            XCTAssertFalse(error?.reason.contains("\"a2\"") ?? true, "no party name is disclosed")
        }
    }

    func testServiceTypeAbsentEqualsEmpty() throws {
        let p = try XCTUnwrap(set.pmode(id: "delivery-a-to-b"))
        XCTAssertTrue(p.legs[0].handles(Service(delivery, type: ""), "DeliverDocument"))
        XCTAssertFalse(p.legs[0].handles(Service(delivery, type: "urn:t"), "DeliverDocument"))
    }

    func testOutboundLookups() throws {
        let match = try set.outboundLeg(from: "gw-a", to: "gw-b", service: Service(delivery), action: "DeliverDocument").get()
        XCTAssertEqual(match.pmode.id, "delivery-a-to-b")
        XCTAssertEqual(match.receiver.endpoint?.absoluteString, "https://127.0.0.1:9443/as4")
        XCTAssertEqual(try set.outboundLeg(from: "gw-b", to: "gw-a", service: Service("urn:eadrese:services:inquiry"), action: "Answer").get().legIndex, 1)
        XCTAssertEqual(try set.outboundLeg(from: "gw-a", to: "gw-b", service: Service("urn:eadrese:services:notification"),
                                           action: "Notify").get().delivery, .pull)
        XCTAssertEqual(failure(set.outboundLeg(from: "gw-a", to: "gw-b", service: Service("urn:x"), action: "Y"))?.code, .valueNotRecognized)
        XCTAssertEqual(failure(set.outboundLeg(from: "gw-a", to: "nobody", service: Service(delivery), action: "DeliverDocument"))?.reason,
                       "party \"nobody\" is not in parties.json")
        let wrongWay = failure(set.outboundLeg(from: "gw-b", to: "gw-a", service: Service("urn:eadrese:services:inquiry"), action: "Query"))
        XCTAssertEqual(wrongWay?.code, .processingModeMismatch)
        XCTAssertEqual(failure(set.outboundLeg(from: "gw-a", to: "gw-b", service: Service(delivery), action: "DeliverDocument",
                                               agreement: Agreement("urn:other")))?.code, .processingModeMismatch)
        XCTAssertEqual(set.pmode(id: "inquiry-a-b")?.legs.count, 2)
        XCTAssertNil(set.pmode(id: "nope"))
        XCTAssertNil(set.party(named: "nope"))
    }

    func testEmptySetRefusesEverything() {
        let error = failure(PModeSet.empty.match(userMessage(from: "a", to: "b", service: "urn:s", action: "A")))
        XCTAssertEqual(error?.code, .valueNotRecognized)
    }

    private func failure(_ result: Result<Match, EbmsError>, file: StaticString = #filePath, line: UInt = #line) -> EbmsError? {
        switch result {
        case .success(let match):
            XCTFail("unexpected match \(match.pmode.id) legs[\(match.legIndex)]", file: file, line: line)
            return nil
        case .failure(let error):
            return error
        }
    }
}

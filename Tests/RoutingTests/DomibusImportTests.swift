import EnvelopeXML
import Foundation
import XCTest
@testable import Routing

/// Import of Domibus P-Mode configurations from the shared vectors.
final class DomibusImportTests: XCTestCase {
    private let blue = TestPaths.vector("harmony/pmode/domibus-pmode-blue.xml")
    private let xxe = TestPaths.vector("harmony/pmode/domibus-pmode-red-xxe-vulnerability.xml")
    private let initiatorRole = "http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/initiator"
    private let responderRole = "http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/responder"

    /// The blue gateway's configuration, converted, written and loaded back.
    private func importBlue() throws -> (set: PModeSet, files: [String], parties: String) {
        let result = try DomibusImporter.convert(xmlFile: blue)
        let dir = try ScratchDirectory()
        try dir.write("parties.json", result.parties)
        for file in result.pmodes { try dir.write(file.fileName, file.json) }
        // Domibus' test endpoints are http://localhost; certificates are not in Domibus P-Modes.
        let set = try loadOrFail(dir.path, options: PModeLoader.Options(requireCertificates: true, allowInsecureEndpoints: true))
        return (set, result.pmodes.map(\.fileName), result.parties)
    }

    func testBlueImportHasItsParties() throws {
        let (set, _, partiesText) = try importBlue()
        XCTAssertEqual(set.parties.map(\.name), ["red_gw", "blue_gw", "white_gw", "black_gw", "green_gw", "yellow_gw"])
        let red = try XCTUnwrap(set.party(named: "red_gw"))
        XCTAssertEqual(red.partyIds, [PartyId("domibus-red", type: "urn:oasis:names:tc:ebcore:partyid-type:unregistered")])
        XCTAssertEqual(red.endpoint?.absoluteString, "http://localhost:8180/domibus/services/msh")
        XCTAssertEqual(set.party(for: PartyId("domibus-blue", type: "urn:oasis:names:tc:ebcore:partyid-type:unregistered"))?.name, "blue_gw")
        XCTAssertEqual(red.certificateFiles, [.signing: [], .encryption: [], .tls: []])
        XCTAssertTrue(partiesText.contains("Certificates are not part of a Domibus P-Mode"))
        XCTAssertTrue(partiesText.contains("own party blue_gw"))
    }

    func testBlueImportHasItsProcesses() throws {
        let (set, files, _) = try importBlue()
        XCTAssertEqual(files, ["tc1Process.pmode.json", "tc4Process.pmode.json", "tc10Process.pmode.json",
                               "tc13Process.pmode.json", "tc15Process.pmode.json", "tc16Process.pmode.json", "tc17Process.pmode.json",
                               "tc18Process.pmode.json", "tc20Process.pmode.json", "tc21Process.pmode.json", "tc22Process.pmode.json",
                               "tc27Process.pmode.json", "tc28Process.pmode.json"])
        // tc1Process: 3 initiators × 4 responders × 5 legs.
        XCTAssertEqual(set.pmodes.filter { $0.id.hasPrefix("tc1Process.") }.count, 60)
        XCTAssertEqual(set.pmodes.filter { $0.id.hasPrefix("tc10Process.") }.count, 2 * 2 * 14)

        let tc1 = try XCTUnwrap(set.pmode(id: "tc1Process.pushTestcase1tc1Action.blue_gw.red_gw"))
        XCTAssertEqual(tc1.mep, .oneWay)
        XCTAssertEqual(tc1.binding, .push)
        XCTAssertNil(tc1.agreement, "agreementEmpty has an empty value")
        XCTAssertEqual(tc1.initiator, PModeParticipant(party: "blue_gw", role: initiatorRole))
        XCTAssertEqual(tc1.responder, PModeParticipant(party: "red_gw", role: responderRole))
        let leg = tc1.legs[0]
        XCTAssertEqual(leg.service, Service("bdx:noprocess", type: "tc1"))
        XCTAssertEqual(leg.action, "TC1Leg1")
        XCTAssertEqual(leg.mpc, "http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/defaultMPC")
        XCTAssertEqual(leg.security, LegSecurity(profile: .v1_15, sign: true, encrypt: true, keyReference: .bst, encryptionKeyReference: .ski))
        XCTAssertTrue(leg.payload.compress)
        XCTAssertEqual(leg.payload.maxMessageBytes, 2147483647)
        // retry="12;4;CONSTANT": 4 retries 12 min / 4 = 180 s apart.
        XCTAssertEqual(leg.receptionAwareness.retries, 4)
        XCTAssertEqual(leg.receptionAwareness.initialInterval, 180)
        XCTAssertEqual(leg.receptionAwareness.backoffFactor, 1)
        XCTAssertEqual(leg.receptionAwareness.maxInterval, 180)
        XCTAssertEqual(leg.receptionAwareness.delay(beforeRetry: 4, random: 0.5), 180)
        XCTAssertEqual(leg.errorHandling, ErrorHandling(reportAsResponse: true, notifyProducer: false, notifyConsumer: false))
        XCTAssertTrue(tc1.description?.contains("Domibus process tc1Process") ?? false)
    }

    func testBlueImportSecurityAgreementAndRetryVariants() throws {
        let (set, _, _) = try importBlue()
        let noSecurity = try XCTUnwrap(set.pmode(id: "tc1Process.pushTestcase2tc1Action.red_gw.blue_gw")).legs[0]
        XCTAssertFalse(noSecurity.security.sign)
        XCTAssertFalse(noSecurity.security.encrypt)
        XCTAssertFalse(noSecurity.payload.compress)
        let signOnly = try XCTUnwrap(set.pmode(id: "tc1Process.pushTestcase3tc1Action.red_gw.blue_gw")).legs[0]
        XCTAssertTrue(signOnly.security.sign)
        XCTAssertFalse(signOnly.security.encrypt)
        let issuerSerial = try XCTUnwrap(set.pmode(id: "tc10Process.pushTestcase23tc23Action.red_gw.blue_gw")).legs[0]
        XCTAssertEqual(issuerSerial.security.keyReference, .issuerSerial)
        XCTAssertEqual(issuerSerial.security.encryptionKeyReference, .issuerSerial, "the _IS policies name both certificates so")

        let dummy = try XCTUnwrap(set.pmode(id: "tc4Process.pushTestcase4tc1Action.black_gw.white_gw"))
        XCTAssertEqual(dummy.agreement, Agreement("DummyAgr", type: "DUM"))

        // Leg configurations no process uses (pushTestcase38tc38Action) are not converted.
        XCTAssertFalse(set.pmodes.contains { $0.legs[0].action == "TC38Leg1" })

        let untyped = try XCTUnwrap(set.pmode(id: "tc10Process.pushTestcase34tc34Action.blue_gw.red_gw")).legs[0]
        XCTAssertEqual(untyped.service, Service("bdx:noprocessuntyped"))
        let peppol = try XCTUnwrap(set.pmode(id: "tc27Process.pushTestcase27tc27Action.red_gw.blue_gw"))
        XCTAssertEqual(peppol.initiator.role, "urn:fdc:peppol.eu:2017:roles:ap:sender")
    }

    func testBlueImportPullProcesses() throws {
        let (set, _, _) = try importBlue()
        // tc13Process: red_gw (initiator) pulls from blue_gw (responder) on mpcPull.
        let pull = try XCTUnwrap(set.pmode(id: "tc13Process.pullTestcase13tc13Action.red_gw.blue_gw"))
        XCTAssertEqual(pull.binding, .pull)
        XCTAssertEqual(pull.legs[0].mpc, "http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/mpcPull")
        XCTAssertEqual(pull.legs[0].pullAuthorization, PullAuthorization(parties: ["red_gw"]))
        XCTAssertTrue(set.mayPull(party: "red_gw", mpc: "http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/mpcPull"))
        XCTAssertFalse(set.mayPull(party: "white_gw", mpc: "http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/mpcPull"))

        // A message pulled from blue by red matches that P-Mode: From blue (responder role), To red.
        let message = UserMessage(messageInfo: MessageInfo(messageId: "m1@test"),
                                  from: EnvelopeXML.Party(PartyId("domibus-blue", type: unregistered), role: responderRole),
                                  to: EnvelopeXML.Party(PartyId("domibus-red", type: unregistered), role: initiatorRole),
                                  collaboration: CollaborationInfo(service: Service("bdx:noprocess", type: "tc13"), action: "TC13Leg1",
                                                                   conversationId: "c"))
        let match = try set.match(message).get()
        XCTAssertEqual(match.pmode.id, "tc13Process.pullTestcase13tc13Action.red_gw.blue_gw")
        XCTAssertEqual(match.sender.name, "blue_gw")
        XCTAssertEqual(match.delivery, .pull)
    }

    func testWhatAs4gwCannotTakeIsLeftOutAndSaid() throws {
        // tc8Process uses agreement "agreementForDomJMS020Value" without a type: not a URI, so ebMS
        // forbids it on the wire (and as4gw's own receiver refuses it). The process is left out.
        let result = try DomibusImporter.importFile(blue)
        XCTAssertEqual(result.warnings, [
            "line 269: process tc8Process: agreement \"agreementForDomJMS020Value\" has no type and is not a URI (ebMS 3.0 §5.2.2.7)",
        ])
        XCTAssertTrue(result.parties.contains("Left out: line 269: process tc8Process"), result.parties)
        XCTAssertFalse(result.pmodes.contains { $0.fileName == "tc8Process.pmode.json" })
    }

    func testXXEFileIsRefused() {
        XCTAssertThrowsError(try DomibusImporter.convert(xmlFile: xxe)) { error in
            guard case .refusedXML(let file, let xmlError) = error as? DomibusImportError else {
                return XCTFail("expected refusedXML, got \(error)")
            }
            XCTAssertEqual(file, "domibus-pmode-red-xxe-vulnerability.xml")
            XCTAssertEqual(xmlError.kind, .forbiddenConstruct)
            let text = "\(error)"
            XCTAssertTrue(text.contains("document type declarations are not allowed"), text)
            XCTAssertTrue(text.contains("external entities are never resolved"), text)
        }
    }

    func testBrokenReferencesAreReportedWithLines() {
        let xml = domibusConfiguration(
            parties: """
            <partyIdTypes><partyIdType name="t" value="urn:t"/></partyIdTypes>
            <party name="a" endpoint="https://a.example/msh"><identifier partyId="a" partyIdType="t"/></party>
            """,
            security: #"signatureMethod="RSA_SHA256""#, errorAsResponse: true, retry: "12;4;SOMETIMES", action: "nope", responder: "ghost")
        XCTAssertThrowsError(try DomibusImporter.convert(xml: Array(xml.utf8), sourceName: "bad.xml")) { error in
            guard case .invalid(_, let problems) = error as? DomibusImportError else { return XCTFail("\(error)") }
            XCTAssertEqual(problems, [
                "line 15: receptionAwareness \"ra\": retry strategy \"SOMETIMES\" is not CONSTANT, PROGRESSIVE or SEND_ONCE",
                "line 17: legConfiguration \"l\" refers to action \"nope\", which is not defined",
                "line 19: process \"p\" names party \"ghost\", which is not defined",
            ])
        }
    }

    /// A policy that encrypts without signing (by its name; the policy file is not read) is
    /// reported, not imported as "sign and encrypt", which would refuse every message of a
    /// partner that does not sign; the loader refuses such a leg anyway.
    func testAnEncryptOnlyPolicyIsReported() {
        for policy in ["encryptOnly.xml", "eDeliveryAS4EncryptionOnly_BST.xml"] {
            let xml = domibusConfiguration(
                parties: """
                <party name="a" endpoint="https://a.example/msh"><identifier partyId="urn:a"/></party>
                <party name="b" endpoint="https://b.example/msh"><identifier partyId="urn:b"/></party>
                """,
                security: #"signatureMethod="RSA_SHA256""#, errorAsResponse: true, retry: "12;4;CONSTANT", action: "act", responder: "b", policy: policy)
            XCTAssertThrowsError(try DomibusImporter.convert(xml: Array(xml.utf8), sourceName: "enc.xml")) { error in
                guard case .invalid(_, let problems) = error as? DomibusImportError else { return XCTFail("\(error)") }
                XCTAssertEqual(problems, ["line 11: security \"s\": policy \(policy) encrypts without signing, which as4gw refuses: a receiver "
                    + "would decrypt messages nobody is authenticated for, and the eDelivery AS4 profiles always sign"], policy)
            }
        }
    }

    func testRetryStrategies() throws {
        func legRetry(_ retry: String) throws -> ReceptionAwareness {
            let xml = domibusConfiguration(
                parties: """
                <party name="a" endpoint="https://a.example/msh"><identifier partyId="urn:a"/></party>
                <party name="b" endpoint="https://b.example/msh"><identifier partyId="urn:b"/></party>
                """,
                security: #"profile="ECC""#, errorAsResponse: false, retry: retry, action: "act", responder: "b")
            let result = try DomibusImporter.convert(xml: Array(xml.utf8), sourceName: "t.xml")
            let dir = try ScratchDirectory()
            try dir.write("parties.json", result.parties)
            for f in result.pmodes { try dir.write(f.fileName, f.json) }
            let set = try loadOrFail(dir.path)
            let pmode = try XCTUnwrap(set.pmode(id: "p.l.a.b"))
            XCTAssertEqual(pmode.legs[0].security.profile, .v2_0, "profile=\"ECC\" is eDelivery 2.0")
            XCTAssertTrue(pmode.legs[0].errorHandling.reportAsResponse)
            XCTAssertTrue(pmode.description?.contains("errorAsResponse=false") ?? false)
            return pmode.legs[0].receptionAwareness
        }
        let constant = try legRetry("60;3;CONSTANT")
        XCTAssertEqual([1, 2, 3].map { constant.delay(beforeRetry: $0, random: 0.5) }, [1200, 1200, 1200])
        let progressive = try legRetry("15;4;PROGRESSIVE")
        XCTAssertEqual([1, 2, 3, 4].map { progressive.delay(beforeRetry: $0, random: 0.5) }, [60, 120, 240, 480],
                       "doubling from 15 min / (2^4 - 1)")
        XCTAssertEqual(try legRetry("60;5;SEND_ONCE").retries, 0)
        let once = try legRetry("0;0;CONSTANT")
        XCTAssertEqual(once.retries, 0)
        XCTAssertNil(once.delay(beforeRetry: 1))
    }
}

/// A Domibus configuration of one push process, party "a" to `responder` over leg "l", in which
/// the tests vary only the parts named. `parties` is two lines, so that the line numbers the
/// importer reports (line 15: the retry, 17: the leg, 19: the process) stay where tests expect.
private func domibusConfiguration(parties: String, security: String, errorAsResponse: Bool,
                                  retry: String, action: String, responder: String, policy: String = "eDeliveryAS4Policy.xml") -> String {
    """
    <db:configuration xmlns:db="http://domibus.eu/configuration" party="a">
      <mpcs><mpc name="m" qualifiedName="urn:mpc"/></mpcs>
      <businessProcesses>
        <roles><role name="i" value="urn:i"/><role name="r" value="urn:r"/></roles>
        <parties>
          \(parties.replacingOccurrences(of: "\n", with: "\n      "))
        </parties>
        <meps><mep name="oneway" value="http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/oneWay"/>
              <binding name="push" value="http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/push"/></meps>
        <securities><security name="s" policy="\(policy)" \(security)/></securities>
        <errorHandlings><errorHandling name="e" errorAsResponse="\(errorAsResponse)"/></errorHandlings>
        <services><service name="svc" value="urn:svc"/></services>
        <actions><action name="act" value="Act"/></actions>
        <as4><receptionAwareness name="ra" retry="\(retry)"/></as4>
        <legConfigurations>
          <legConfiguration name="l" service="svc" action="\(action)" defaultMpc="m" security="s" receptionAwareness="ra" errorHandling="e"/>
        </legConfigurations>
        <process name="p" mep="oneway" binding="push" initiatorRole="i" responderRole="r">
          <initiatorParties><initiatorParty name="a"/></initiatorParties>
          <responderParties><responderParty name="\(responder)"/></responderParties>
          <legs><leg name="l"/></legs>
        </process>
      </businessProcesses>
    </db:configuration>
    """
}

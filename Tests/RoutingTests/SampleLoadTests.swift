import EnvelopeXML
import XCTest
@testable import Routing

/// The P-Modes shipped in pmode/ load, with the defaults the documentation promises.
final class SampleLoadTests: XCTestCase {
    func testShippedSamplesLoadWithoutCertificates() throws {
        let set = try loadOrFail(TestPaths.samples, options: PModeLoader.Options(requireCertificates: false))
        XCTAssertEqual(set.parties.map(\.name), ["gw-a", "gw-b"])
        XCTAssertEqual(Set(set.pmodes.map(\.id)), ["delivery-a-to-b", "delivery-b-to-a", "inquiry-a-b", "notification-pull-b-from-a",
                                                   "eaddress-documents-a-to-b", "eaddress-status-a-to-b", "eaddress-documents-b-to-a",
                                                   "eaddress-status-b-to-a"])

        let a = try XCTUnwrap(set.party(named: "gw-a"))
        XCTAssertEqual(a.partyIds, [PartyId("gw-a", type: unregistered)])
        XCTAssertEqual(a.endpoint?.absoluteString, "https://127.0.0.1:8443/as4")
        XCTAssertEqual(a.certificateFiles[.signing], ["certs/gw-a.signing.pem"])
        XCTAssertEqual(a.certificateFiles[.encryption], ["certs/gw-a.encryption.pem"])
        XCTAssertEqual(a.certificateFiles[.tls], ["certs/gw-a.tls.pem"])
        XCTAssertTrue(a.signingCertificates.isEmpty, "the development PKI has not run")
        XCTAssertEqual(set.party(named: "gw-b")?.endpoint?.absoluteString, "https://127.0.0.1:9443/as4")
        XCTAssertEqual(set.party(for: PartyId("gw-b", type: unregistered))?.name, "gw-b")
        XCTAssertNil(set.party(for: PartyId("gw-b")), "the type is part of the id")

        let delivery = try XCTUnwrap(set.pmode(id: "delivery-a-to-b"))
        XCTAssertEqual(delivery.mep, .oneWay)
        XCTAssertEqual(delivery.binding, .push)
        XCTAssertEqual(delivery.agreement, Agreement("urn:as4gw:agreements:sample"))
        let leg = delivery.legs[0]
        XCTAssertEqual(leg.service, Service("urn:eadrese:services:delivery"))
        XCTAssertEqual(leg.action, "DeliverDocument")
        XCTAssertEqual(leg.security.profile, .v1_15)
        XCTAssertEqual(delivery.source, SourceLocation(file: "delivery.pmode.json", line: 4, column: 5))
    }

    func testDefaultsAreTheDocumentedEDeliveryValues() throws {
        let set = try loadOrFail(TestPaths.samples, options: PModeLoader.Options(requireCertificates: false))
        let leg = try XCTUnwrap(set.pmode(id: "delivery-b-to-a")?.legs.first)
        XCTAssertEqual(leg.mpc, EbmsConstants.defaultMPC)
        XCTAssertEqual(leg.security, LegSecurity(profile: .v1_15, sign: true, encrypt: true, keyReference: .bst, encryptionKeyReference: .ski))
        XCTAssertTrue(leg.security.algorithms.isEmpty)
        XCTAssertEqual(leg.payload, PayloadSettings(compress: true, maxMessageBytes: 100 * 1024 * 1024))
        XCTAssertEqual(leg.receptionAwareness, ReceptionAwareness(retries: 5, initialInterval: 60, backoffFactor: 2, maxInterval: 3600,
                                                                  jitterFraction: 0.1, duplicateDetectionWindow: 7 * 86400))
        XCTAssertEqual(leg.errorHandling, ErrorHandling(reportAsResponse: true, notifyProducer: true, notifyConsumer: true))
        XCTAssertNil(leg.pullAuthorization)
        XCTAssertEqual(set.pmode(id: "delivery-b-to-a")?.mep, .oneWay)
        XCTAssertEqual(set.pmode(id: "delivery-b-to-a")?.binding, .push)
    }

    func testTwoWayAndPullSamples() throws {
        let set = try loadOrFail(TestPaths.samples, options: PModeLoader.Options(requireCertificates: false))
        let inquiry = try XCTUnwrap(set.pmode(id: "inquiry-a-b"))
        XCTAssertEqual(inquiry.mep, .twoWay)
        XCTAssertEqual(inquiry.binding, .pushAndPush)
        XCTAssertEqual(inquiry.legs.map(\.action), ["Query", "Answer"])
        XCTAssertEqual(inquiry.sendingSide(ofLeg: 0), .initiator)
        XCTAssertEqual(inquiry.sendingSide(ofLeg: 1), .responder)
        XCTAssertEqual(inquiry.delivery(ofLeg: 1), .push)
        XCTAssertEqual(inquiry.legs[1].receptionAwareness.retries, 3)
        XCTAssertEqual(inquiry.legs[1].receptionAwareness.initialInterval, 30)

        let pull = try XCTUnwrap(set.pmode(id: "notification-pull-b-from-a"))
        XCTAssertEqual(pull.binding, .pull)
        XCTAssertEqual(pull.sendingSide(ofLeg: 0), .responder, "the pulled message travels from responder to initiator")
        XCTAssertEqual(pull.delivery(ofLeg: 0), .pull)
        XCTAssertEqual(pull.legs[0].pullAuthorization, PullAuthorization(parties: ["gw-b"]))
        XCTAssertTrue(set.mayPull(party: "gw-b", mpc: "urn:as4gw:mpc:notifications-for-gw-b"))
        XCTAssertFalse(set.mayPull(party: "gw-a", mpc: "urn:as4gw:mpc:notifications-for-gw-b"))
        XCTAssertEqual(set.pullLegs(for: "gw-b", mpc: "urn:as4gw:mpc:notifications-for-gw-b").map(\.pmode.id), ["notification-pull-b-from-a"])
    }

    func testShippedSamplesReportEachMissingCertificateWhenRequired() {
        let errors = diagnostics(TestPaths.samples)
        XCTAssertEqual(errors, [
            "parties.json:11:21: parties[0].certificates.signing[0]: certificate file certs/gw-a.signing.pem does not exist",
            "parties.json:12:24: parties[0].certificates.encryption[0]: certificate file certs/gw-a.encryption.pem does not exist",
            "parties.json:13:17: parties[0].certificates.tls[0]: certificate file certs/gw-a.tls.pem does not exist",
            "parties.json:23:21: parties[1].certificates.signing[0]: certificate file certs/gw-b.signing.pem does not exist",
            "parties.json:24:24: parties[1].certificates.encryption[0]: certificate file certs/gw-b.encryption.pem does not exist",
            "parties.json:25:17: parties[1].certificates.tls[0]: certificate file certs/gw-b.tls.pem does not exist",
        ])
    }
}

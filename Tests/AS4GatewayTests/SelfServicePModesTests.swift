@testable import AS4Gateway
import AS4Crypto
import EnvelopeXML
import Foundation
import MessageStore
import Routing
import XCTest

/// The P-Mode set with registered access points, in process: which registrations get a party,
/// what it copies from the template, which certificate encrypts, and that a change to the
/// registrations or the passing of an overlap's end is seen by the next caller.
final class SelfServicePModesTests: XCTestCase {
    static let type = "urn:oasis:names:tc:ebcore:partyid-type:unregistered"
    var directory = ""
    var store: SQLiteRegistrationStore!
    var addresses: SQLiteAddressDirectory!
    var ca: CertificateAuthority!
    let now = Date()
    let log = EventLog(format: .logfmt, minimum: .error)

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("as4gw-ssp-\(UUID().uuidString)").path
        store = try SQLiteRegistrationStore(dataDirectory: directory)
        addresses = try SQLiteAddressDirectory(dataDirectory: directory)
        ca = try .createSelfSigned(subject: .init(commonName: "test CA"), key: try .generateEC(curve: .p256), validFrom: now - 7200,
                                   validUntil: now + 86_400 * 400)
    }

    override func tearDownWithError() throws {
        store.close()
        addresses.close()
        try? FileManager.default.removeItem(atPath: directory)
    }

    func certificate(_ name: String, _ usage: KeyUsage, from: TimeInterval = -3600) throws -> Certificate {
        try ca.issueCertificate(for: try PrivateKey.generateEC(curve: .p256).publicKey, subject: .init(commonName: name),
                                validFrom: now + from, validUntil: now + 86_400 * 300, keyUsage: usage)
    }

    func held(_ c: Certificate, _ id: String, added: TimeInterval = 0) throws -> RegisteredCertificate {
        RegisteredCertificate(registrationId: id, sha256: Digest.hexSHA256(c.derBytes), pem: try c.pemEncoded(), subject: c.subject,
                              notBefore: c.notBefore, notAfter: c.notAfter, addedAt: now + added)
    }

    /// Us (gw-a), the template party and one P-Mode each way between them.
    var base: PModeSet {
        let leg = Leg(service: Service("urn:svc"), action: "Doc")
        func party(_ name: String) -> Routing.Party {
            Routing.Party(name: name, partyIds: [PartyId(name, type: Self.type)], endpoint: URL(string: "https://\(name).example/as4"))
        }
        return PModeSet(uncheckedParties: [party("gw-a"), party("tpl")], pmodes: [
            PMode(id: "tpl-in", initiator: .init(party: "tpl", role: "s"), responder: .init(party: "gw-a", role: "r"), legs: [leg]),
            PMode(id: "tpl-out", initiator: .init(party: "gw-a", role: "s"), responder: .init(party: "tpl", role: "r"), legs: [leg]),
        ])
    }

    func register(_ id: String, partyId: String, certificates: [Certificate], approve: Bool) throws {
        try store.addRegistration(Registration(id: id, kind: .accessPoint, registrationNumber: "40003032949", registrantSubject: "CN=x",
                                               registrantSHA256: "aa", addresses: ["\(id.uppercased())@40003032949"],
                                               endpoint: "https://ap.company.lv/as4", partyId: partyId, createdAt: now),
                                  certificates: try certificates.map { try held($0, id) }, actor: "t", at: now)
        if approve { _ = try store.decide(id: id, status: .approved, actor: "o", reason: nil, at: now) }
    }

    func testApprovedAccessPointsGetTheTemplatesPModesAndTheirOwnCertificates() throws {
        let signing = try certificate("ap signing", [.digitalSignature, .nonRepudiation])
        let encryption = try certificate("ap encryption", [.keyEncipherment], from: -7000)
        try register("r1", partyId: "company-ap", certificates: [signing, encryption], approve: true)
        try register("r2", partyId: "pending-ap", certificates: [signing], approve: false)
        let pmodes = SelfServicePModes()
        func current(at date: Date? = nil) -> PModeSet {
            pmodes.set(base: base, generation: 1, template: "tpl", us: "gw-a", store: store, directory: addresses, log: log, now: date ?? now)
        }

        let set = current()
        let party = try XCTUnwrap(set.party(named: "registration-r1"))
        XCTAssertEqual(party.partyIds, [PartyId("company-ap", type: Self.type)], "the registration's id, the template's type")
        XCTAssertEqual(party.endpoint?.absoluteString, "https://ap.company.lv/as4")
        XCTAssertEqual(party.certificates(role: .signing, at: now), [signing], "roles by key usage")
        XCTAssertEqual(party.certificates(role: .encryption, at: now), [encryption])
        XCTAssertNil(set.party(named: "registration-r2"), "a pending registration gets no party")
        XCTAssertEqual(set.pmode(id: "tpl-in@r1")?.initiator.party, "registration-r1")
        XCTAssertEqual(set.pmode(id: "tpl-in@r1")?.agreementRefId, "tpl-in", "messages name the template's P-Mode")
        guard case .success(let match) = set.outboundLeg(from: "gw-a", to: "registration-r1", service: Service("urn:svc"), action: "Doc") else {
            return XCTFail("no leg to the registered access point")
        }
        XCTAssertEqual(match.pmode.id, "tpl-out@r1")
        XCTAssertEqual(pmodes.set(base: base, generation: 1, template: nil, us: "gw-a", store: store, directory: addresses, log: log).parties.count, 2,
                       "no template: the configured set alone")

        // A newer encryption certificate is the one used from now on (roll-over), seen at once.
        let successor = try certificate("ap encryption 2", [.keyEncipherment], from: -60)
        try store.addCertificate(try held(successor, "r1", added: 1), overlapUntil: now + 600, actor: "t", at: now)
        XCTAssertEqual(current().party(named: "registration-r1")?.certificates(role: .encryption, at: now).first, successor)
        XCTAssertEqual(current().party(named: "registration-r1")?.certificates(role: .encryption, at: now).count, 2, "overlap: both")
        // After the overlap only the successor (and the signing certificate, whose overlap ended too).
        let later = current(at: now + 601).party(named: "registration-r1")
        XCTAssertEqual(later?.certificates(role: .encryption, at: now + 601), [successor])
        XCTAssertEqual(later?.certificates(role: .signing, at: now + 601), [], "the signing certificate's overlap ended as well")

        // Revoking every certificate removes the party and its P-Modes at the next call.
        for c in [signing, encryption, successor] {
            _ = try store.revokeCertificate(registrationId: "r1", sha256: Digest.hexSHA256(c.derBytes), actor: "o", reason: nil, at: now)
        }
        XCTAssertNil(current().party(named: "registration-r1"))
        XCTAssertNil(current().pmode(id: "tpl-in@r1"))
    }

    func testAConfiguredPartysIdIsNeverTakenOver() throws {
        try register("r3", partyId: "tpl", certificates: [try certificate("s", [.digitalSignature])], approve: true)
        let set = SelfServicePModes().set(base: base, generation: 1, template: "tpl", us: "gw-a", store: store, directory: addresses, log: log, now: now)
        XCTAssertNil(set.party(named: "registration-r3"))
        XCTAssertEqual(set.pmodes.count, 2)
    }

    /// The reviewer's case: the directory lists another company's address as served by party id
    /// gw-c, no configured partner; a registration approved with gw-c is not activated, so that
    /// address's documents cannot reach it. Rows of its own addresses naming gw-c do not count.
    func testAPartyIdTheDirectoryNamesForAnotherCompanyIsNotActivated() throws {
        func remote(_ address: String, _ partyId: String) -> AddressRecord {
            AddressRecord(address: address, ownerId: String(address.split(separator: "@")[1]), ownerKind: "company", remote: true,
                          partyId: partyId, endpoint: "https://\(partyId).example/as4", certificates: ["sha256:" + String(repeating: "ab", count: 32)])
        }
        _ = try addresses.importRecords([remote("R5@40003032949", "own-ap"), remote("_DEFAULT@40003000002", "gw-c")], replace: false, at: now)
        try register("r4", partyId: "gw-c", certificates: [try certificate("s", [.digitalSignature])], approve: true)
        try register("r5", partyId: "own-ap", certificates: [try certificate("s5", [.digitalSignature])], approve: true)
        let set = SelfServicePModes().set(base: base, generation: 1, template: "tpl", us: "gw-a", store: store, directory: addresses, log: log, now: now)
        XCTAssertNil(set.party(named: "registration-r4"), "gw-c serves company 40003000002 in the directory")
        XCTAssertNil(set.pmode(id: "tpl-out@r4"))
        XCTAssertNotNil(set.party(named: "registration-r5"), "its own address's row names its party id: no conflict")

        XCTAssertEqual(try SelfServicePartyIds.foreignAddresses(partyId: "gw-c", own: ["_DEFAULT@40003000001"], directory: addresses),
                       ["_DEFAULT@40003000002"])
        XCTAssertEqual(try SelfServicePartyIds.foreignAddresses(partyId: "gw-c", own: ["_DEFAULT@40003000002"], directory: addresses), [])
        XCTAssertEqual(try SelfServicePartyIds.foreignAddresses(partyId: "nobody", own: [], directory: addresses), [])
        XCTAssertEqual(SelfServicePartyIds.registrationId(ofParty: "registration-r5", configured: base), "r5")
        XCTAssertNil(SelfServicePartyIds.registrationId(ofParty: "tpl", configured: base), "a configured party is no registration")
    }
}

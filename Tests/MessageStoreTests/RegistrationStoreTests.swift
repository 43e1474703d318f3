import Foundation
@testable import MessageStore
import XCTest

/// Self-service registrations: one decision per registration, roll-over overlaps, revocation,
/// the expiry query and the append-only history, on SQLite (this class) and PostgreSQL (below).
class RegistrationStoreTests: StoreTestCase {
    func openRegistrations() throws -> any RegistrationStore {
        switch Self.backend {
        case .sqlite: try SQLiteRegistrationStore(dataDirectory: dataDirectory, now: t0)
        case .postgres: try PostgresRegistrationStore(url: postgresURL, schema: .migrate, now: t0)
        }
    }

    func registration(_ id: String, kind: RegistrationKind = .dms, addresses: [String] = ["_DEFAULT@40003032949"]) -> Registration {
        Registration(id: id, kind: kind, registrationNumber: "40003032949", registrantSubject: "CN=Company", registrantSHA256: "aa",
                     addresses: addresses, endpoint: kind == .accessPoint ? "https://ap.example/as4" : nil,
                     partyId: kind == .accessPoint ? "ap-company" : nil, contact: "it@example.lv", createdAt: t0)
    }

    func certificate(_ sha: String, of id: String, from: Double = -86_400, days: Double = 365, added: Double = 0) -> RegisteredCertificate {
        RegisteredCertificate(registrationId: id, sha256: sha, pem: "PEM-\(sha)", subject: "CN=\(sha)", notBefore: t0 + from,
                              notAfter: t0 + days * 86_400, addedAt: t0 + added)
    }

    func testRegisterDecideOnce() throws {
        let store = try openRegistrations()
        defer { store.close() }
        try store.addRegistration(registration("r1", kind: .accessPoint), certificates: [certificate("c1", of: "r1")], actor: "registrant:x", at: t0)
        XCTAssertEqual(try store.registration(id: "r1"), registration("r1", kind: .accessPoint), "every field comes back")
        XCTAssertThrowsError(try store.addRegistration(registration("r1"), certificates: [], actor: "x", at: t0)) {
            XCTAssertEqual($0 as? MailboxStoreError, .conflict("registration r1 exists"))
        }
        XCTAssertThrowsError(try store.addRegistration(registration("r9", addresses: ["X@40003032949", "_DEFAULT@40003032949"]),
                                                       certificates: [], actor: "x", at: t0)) {
            XCTAssertEqual($0 as? MailboxStoreError, .conflict("_DEFAULT@40003032949 is in registration r1 (pending) already"))
        }
        XCTAssertThrowsError(try store.addRegistration(registration("r8", kind: .accessPoint, addresses: ["Y@40003032949"]),
                                                       certificates: [], actor: "x", at: t0)) {
            XCTAssertEqual($0 as? MailboxStoreError, .conflict("party id ap-company is in registration r1 (pending) already"))
        }
        XCTAssertEqual(try store.registrations(status: .pending).map(\.id), ["r1"])
        let approved = try store.decide(id: "r1", status: .approved, actor: "operator:ops", reason: nil, at: t0 + 5)
        XCTAssertEqual(approved.status, .approved)
        XCTAssertEqual(try store.registration(id: "r1")?.decidedBy, "operator:ops")
        XCTAssertEqual(try store.registration(id: "r1")?.decidedAt, t0 + 5)
        XCTAssertEqual(try store.registrations(status: .pending), [])
        XCTAssertThrowsError(try store.decide(id: "r1", status: .rejected, actor: "operator:ops", reason: "late", at: t0 + 6),
                             "a decided registration is not decided again") {
            guard case .conflict = $0 as? MailboxStoreError else { return XCTFail("\($0)") }
        }
        XCTAssertThrowsError(try store.decide(id: "nope", status: .approved, actor: "o", reason: nil, at: t0)) {
            guard case .notFound = $0 as? MailboxStoreError else { return XCTFail("\($0)") }
        }
        XCTAssertEqual(try store.history(registrationId: "r1").map(\.action), ["registered", "approved"])
        XCTAssertEqual(try store.history(registrationId: "r1").map(\.actor), ["registrant:x", "operator:ops"])
    }

    /// A roll-over names what it replaces: an access point's new signing certificate ends the
    /// old signing one, not its encryption certificate.
    func testRollOverEndsOnlyTheCertificatesItReplaces() throws {
        let store = try openRegistrations()
        defer { store.close() }
        try store.addRegistration(registration("r3"), certificates: [certificate("signing", of: "r3", days: 300),
                                                                     certificate("encryption", of: "r3", days: 300)], actor: "a", at: t0)
        let overlapEnd = t0 + 10 * 86_400
        try store.addCertificate(certificate("signing-2", of: "r3", added: 1), overlapUntil: overlapEnd, replacing: ["signing"], actor: "a", at: t0 + 1)
        let held = Dictionary(uniqueKeysWithValues: try store.certificates(registrationId: "r3").map { ($0.sha256, $0) })
        XCTAssertEqual(held["signing"]?.overlapUntil, overlapEnd)
        XCTAssertNil(held["encryption"]?.overlapUntil, "the encryption certificate stays usable")
        XCTAssertTrue(held["encryption"]?.isUsable(at: overlapEnd + 1) ?? false)
        XCTAssertFalse(held["signing"]?.isUsable(at: overlapEnd + 1) ?? true)
    }

    func testRollOverOverlapAndRevocation() throws {
        let store = try openRegistrations()
        defer { store.close() }
        try store.addRegistration(registration("r2"), certificates: [certificate("old", of: "r2", days: 300)], actor: "a", at: t0)
        let overlapEnd = t0 + 10 * 86_400
        try store.addCertificate(certificate("new", of: "r2", added: 1), overlapUntil: overlapEnd, actor: "a", at: t0 + 1)
        let certificates = try store.certificates(registrationId: "r2")
        XCTAssertEqual(certificates.map(\.sha256), ["old", "new"])
        XCTAssertEqual(certificates[0].overlapUntil, overlapEnd, "the old certificate ends with the overlap")
        XCTAssertNil(certificates[1].overlapUntil, "the new one does not")
        XCTAssertTrue(certificates[0].isUsable(at: overlapEnd - 1))
        XCTAssertFalse(certificates[0].isUsable(at: overlapEnd + 1))
        XCTAssertTrue(certificates[1].isUsable(at: overlapEnd + 1))
        XCTAssertThrowsError(try store.addCertificate(certificate("new", of: "r2"), overlapUntil: nil, actor: "a", at: t0)) {
            guard case .conflict = $0 as? MailboxStoreError else { return XCTFail("\($0)") }
        }
        XCTAssertThrowsError(try store.addCertificate(certificate("x", of: "none"), overlapUntil: nil, actor: "a", at: t0)) {
            guard case .notFound = $0 as? MailboxStoreError else { return XCTFail("\($0)") }
        }

        XCTAssertTrue(try store.revokeCertificate(registrationId: "r2", sha256: "new", actor: "operator:ops", reason: "key lost", at: t0 + 2))
        XCTAssertFalse(try store.revokeCertificate(registrationId: "r2", sha256: "new", actor: "operator:ops", reason: nil, at: t0 + 3),
                       "revoked once")
        XCTAssertEqual(try store.certificates(sha256: "new").first?.revokedAt, t0 + 2)
        XCTAssertFalse(try store.certificates(sha256: "new").first!.isUsable(at: t0 + 2))
        XCTAssertThrowsError(try store.revokeCertificate(registrationId: "r2", sha256: "unknown", actor: "o", reason: nil, at: t0)) {
            guard case .notFound = $0 as? MailboxStoreError else { return XCTFail("\($0)") }
        }
        XCTAssertEqual(try store.history(registrationId: "r2").map(\.action), ["registered", "certificate-added", "certificate-revoked"])
        XCTAssertTrue(try store.history(registrationId: "r2")[2].detail.contains("key lost"))
    }

    func testCertificatesEndingSkipsRevokedAndRejected() throws {
        let store = try openRegistrations()
        defer { store.close() }
        try store.addRegistration(registration("soon"), certificates: [certificate("s1", of: "soon", days: 5), certificate("s2", of: "soon", days: 400)],
                                  actor: "a", at: t0)
        try store.addRegistration(registration("gone", addresses: ["X@40003032949"]), certificates: [certificate("g1", of: "gone", days: 3)],
                                  actor: "a", at: t0)
        try store.addRegistration(registration("rev", addresses: ["Y@40003032949"]), certificates: [certificate("v1", of: "rev", days: 2)],
                                  actor: "a", at: t0)
        _ = try store.decide(id: "gone", status: .rejected, actor: "o", reason: "no", at: t0)
        _ = try store.revokeCertificate(registrationId: "rev", sha256: "v1", actor: "o", reason: nil, at: t0)
        // An overlap that ends sooner than notAfter counts as the end.
        try store.addCertificate(certificate("s3", of: "soon", days: 500), overlapUntil: t0 + 20 * 86_400, actor: "a", at: t0)
        let ending = try store.certificatesEnding(before: t0 + 30 * 86_400)
        XCTAssertEqual(ending.map(\.sha256), ["s1", "s2"], "soonest first; rejected and revoked ones are not reported")
        XCTAssertEqual(ending[1].usableUntil, t0 + 20 * 86_400)
    }

    func testHistoryIsAppendOnly() throws {
        let store = try openRegistrations()
        defer { store.close() }
        try store.addRegistration(registration("h"), certificates: [], actor: "a", at: t0)
        try store.appendHistory(RegistrationEvent(registrationId: "h", at: t0, actor: "o", action: "connection-created", detail: "c"))
        XCTAssertEqual(try store.history(registrationId: "h").count, 2)
        switch Self.backend {
        case .sqlite:
            let raw = try SQLiteConnection(path: dataDirectory + "/messages.sqlite")
            defer { raw.close() }
            XCTAssertThrowsError(try raw.run("UPDATE registration_history SET actor = 'x'"))
            XCTAssertThrowsError(try raw.run("DELETE FROM registration_history"))
        case .postgres:
            let raw = try PostgresConnection(url: postgresURL)
            defer { raw.close() }
            XCTAssertThrowsError(try raw.execute("UPDATE registration_history SET actor = 'x'"))
            XCTAssertThrowsError(try raw.execute("DELETE FROM registration_history"))
        }
        XCTAssertEqual(try store.history(registrationId: "h").map(\.actor), ["a", "o"])
    }
}

// Linux test discovery lists only the methods a class declares itself: one override per test.
final class PostgresRegistrationStoreTests: RegistrationStoreTests {
    override class var backend: StoreBackend { .postgres }
    override func testRegisterDecideOnce() throws { try super.testRegisterDecideOnce() }
    override func testRollOverOverlapAndRevocation() throws { try super.testRollOverOverlapAndRevocation() }
    override func testRollOverEndsOnlyTheCertificatesItReplaces() throws { try super.testRollOverEndsOnlyTheCertificatesItReplaces() }
    override func testCertificatesEndingSkipsRevokedAndRejected() throws { try super.testCertificatesEndingSkipsRevokedAndRejected() }
    override func testHistoryIsAppendOnly() throws { try super.testHistoryIsAppendOnly() }
}

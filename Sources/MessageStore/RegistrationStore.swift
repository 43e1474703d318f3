import Foundation

/// Self-service connections (docs/SELF-SERVICE.md): companies that register their own DMS or
/// access point, the certificates each registration may use, and the append-only history of
/// everything done to them. `SQLiteRegistrationStore` and `PostgresRegistrationStore` implement it
/// (`StoreLocation.openRegistrations`). The contract is that of the other stores: a method that
/// returns has committed, one that throws has changed nothing.
public protocol RegistrationStore: AnyObject, Sendable {
    /// Stores a new pending registration with its certificates and a `registered` history entry.
    /// Throws `MailboxStoreError.conflict` when the id is taken, or when a pending or approved
    /// registration holds one of its addresses or (access points) its party id: checked in the
    /// same transaction, so two registrations racing for one address cannot both be stored.
    func addRegistration(_ registration: Registration, certificates: [RegisteredCertificate], actor: String, at: Date) throws
    func registration(id: String) throws -> Registration?
    /// Registrations, newest first; nil `status`: all of them.
    func registrations(status: RegistrationStatus?) throws -> [Registration]
    /// A registration's certificates, oldest first (revoked and expired ones included).
    func certificates(registrationId: String) throws -> [RegisteredCertificate]
    /// Every registered certificate with this SHA-256 fingerprint, in any registration.
    func certificates(sha256: String) throws -> [RegisteredCertificate]
    /// Certificates of pending and approved registrations, not revoked, whose last usable instant
    /// (`RegisteredCertificate.usableUntil`) is at or before `before`, soonest first.
    func certificatesEnding(before: Date) throws -> [RegisteredCertificate]

    /// Moves a pending registration to approved or rejected with a history entry. Throws
    /// `notFound` for no such registration and `conflict` when it was decided already.
    func decide(id: String, status: RegistrationStatus, actor: String, reason: String?, at: Date) throws -> Registration
    /// Adds a certificate to a registration. With `overlapUntil`, the certificates it replaces
    /// (`replacing`, by SHA-256; nil: every other one of the registration) that are still usable
    /// then stop being usable at that instant (the roll-over's overlap); without, they stay
    /// usable until their own notAfter. Throws `conflict` when the registration holds that
    /// certificate already, `notFound` without the registration.
    func addCertificate(_ certificate: RegisteredCertificate, overlapUntil: Date?, replacing: [String]?, actor: String, at: Date) throws
    /// Revokes one certificate at once. Returns false (nothing changes) when it was revoked
    /// already; throws `notFound` when the registration does not hold it.
    func revokeCertificate(registrationId: String, sha256: String, actor: String, reason: String?, at: Date) throws -> Bool
    /// A history entry that is none of the above (e.g. what approval created).
    func appendHistory(_ entry: RegistrationEvent) throws
    /// The registration's history, oldest first.
    func history(registrationId: String) throws -> [RegistrationEvent]
    /// Grows with every change to any registration (the number of history entries: every change
    /// appends one, none is ever removed, and unlike the newest id a count cannot be overtaken by
    /// a concurrent transaction that committed later with a lower id): a reader that built
    /// something from the registrations knows by it whether to build again.
    func changeStamp() throws -> Int64

    func close()
}

public enum RegistrationKind: String, Sendable, CaseIterable {
    /// A company's document management system using this gateway's backend API.
    case dms
    /// A company's own AS4 access point, reached by AS4.
    case accessPoint
}

public enum RegistrationStatus: String, Sendable, CaseIterable {
    case pending, approved, rejected
}

/// What a company registered: its kind, the addresses it serves, and (access points) where and as
/// whom it is reached. The registrant is the company named by the TLS client certificate it
/// registered with.
public struct Registration: Sendable, Equatable {
    public var id: String
    public var kind: RegistrationKind
    /// The company's registration number (from its certificate's organizationIdentifier).
    public var registrationNumber: String
    public var registrantSubject: String
    public var registrantSHA256: String
    public var addresses: [String]
    public var endpoint: String?
    public var partyId: String?
    public var contact: String?
    public var status: RegistrationStatus
    public var createdAt: Date
    public var decidedAt: Date?
    public var decidedBy: String?
    public var reason: String?

    public init(id: String, kind: RegistrationKind, registrationNumber: String, registrantSubject: String, registrantSHA256: String,
                addresses: [String], endpoint: String? = nil, partyId: String? = nil, contact: String? = nil,
                status: RegistrationStatus = .pending, createdAt: Date, decidedAt: Date? = nil, decidedBy: String? = nil,
                reason: String? = nil) {
        self.id = id
        self.kind = kind
        self.registrationNumber = registrationNumber
        self.registrantSubject = registrantSubject
        self.registrantSHA256 = registrantSHA256
        self.addresses = addresses
        self.endpoint = endpoint
        self.partyId = partyId
        self.contact = contact
        self.status = status
        self.createdAt = createdAt
        self.decidedAt = decidedAt
        self.decidedBy = decidedBy
        self.reason = reason
    }
}

/// One certificate of a registration: for a DMS the TLS client certificate it authenticates
/// with, for an access point its AS4 signing/encryption certificate.
public struct RegisteredCertificate: Sendable, Equatable {
    public var registrationId: String
    /// Lowercase hex SHA-256 of the DER.
    public var sha256: String
    public var pem: String
    public var subject: String
    public var notBefore: Date
    public var notAfter: Date
    public var addedAt: Date
    /// The end of a roll-over's overlap: not usable after it even if notAfter is later.
    public var overlapUntil: Date?
    public var revokedAt: Date?

    public init(registrationId: String, sha256: String, pem: String, subject: String, notBefore: Date, notAfter: Date, addedAt: Date,
                overlapUntil: Date? = nil, revokedAt: Date? = nil) {
        self.registrationId = registrationId
        self.sha256 = sha256
        self.pem = pem
        self.subject = subject
        self.notBefore = notBefore
        self.notAfter = notAfter
        self.addedAt = addedAt
        self.overlapUntil = overlapUntil
        self.revokedAt = revokedAt
    }

    /// The last instant it may be used: its notAfter, or the overlap's end if earlier.
    public var usableUntil: Date { overlapUntil.map { min($0, notAfter) } ?? notAfter }

    /// Not revoked, and `at` lies within its validity and before any overlap end.
    public func isUsable(at date: Date) -> Bool {
        revokedAt == nil && notBefore <= date && date <= usableUntil
    }
}

/// One entry of a registration's append-only history: who did what, when.
public struct RegistrationEvent: Sendable, Equatable {
    public var registrationId: String
    public var at: Date
    /// `operator:<connection>`, `registrant:<sha256 prefix>`, `cli`.
    public var actor: String
    /// `registered`, `approved`, `rejected`, `certificate-added`, `certificate-revoked`, `connection-created`, …
    public var action: String
    public var detail: String

    public init(registrationId: String, at: Date, actor: String, action: String, detail: String = "") {
        self.registrationId = registrationId
        self.at = at
        self.actor = actor
        self.action = action
        self.detail = detail
    }
}

extension StoreRow {
    func registration() -> Registration {
        Registration(id: string("id"), kind: RegistrationKind(rawValue: string("kind")) ?? .dms,
                     registrationNumber: string("registration_number"), registrantSubject: string("registrant_subject"),
                     registrantSHA256: string("registrant_sha256"),
                     addresses: string("addresses").split(separator: "\n").map(String.init), endpoint: optionalString("endpoint"),
                     partyId: optionalString("party_id"), contact: optionalString("contact"),
                     status: RegistrationStatus(rawValue: string("status")) ?? .pending, createdAt: date("created_at"),
                     decidedAt: optionalDate("decided_at"), decidedBy: optionalString("decided_by"), reason: optionalString("reason"))
    }

    func registeredCertificate() -> RegisteredCertificate {
        RegisteredCertificate(registrationId: string("registration_id"), sha256: string("sha256"), pem: string("pem"),
                              subject: string("subject"), notBefore: date("not_before"), notAfter: date("not_after"),
                              addedAt: date("added_at"), overlapUntil: optionalDate("overlap_until"), revokedAt: optionalDate("revoked_at"))
    }

    func registrationEvent() -> RegistrationEvent {
        RegistrationEvent(registrationId: string("registration_id"), at: date("at"), actor: string("actor"), action: string("action"),
                          detail: string("detail"))
    }
}

/// The SQL both backends share (their placeholders differ: `?` and `$n`, rewritten by `numbered`).
extension RegistrationStore {
    /// A roll-over that replaces every other certificate of the registration.
    public func addCertificate(_ certificate: RegisteredCertificate, overlapUntil: Date?, actor: String, at: Date) throws {
        try addCertificate(certificate, overlapUntil: overlapUntil, replacing: nil, actor: actor, at: at)
    }
}

enum RegistrationSQL {
    static let insertRegistration = """
        INSERT INTO registrations (id, kind, registration_number, registrant_subject, registrant_sha256, addresses, endpoint,
            party_id, contact, status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?)
        """
    static let insertCertificate = """
        INSERT INTO registration_certificates (registration_id, sha256, pem, subject, not_before, not_after, added_at, overlap_until, revoked_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
        """
    static let insertHistory = "INSERT INTO registration_history (registration_id, at, actor, action, detail) VALUES (?, ?, ?, ?, ?)"
    static let selectRegistration = "SELECT * FROM registrations WHERE id = ?"
    static let selectCertificates = "SELECT * FROM registration_certificates WHERE registration_id = ? ORDER BY added_at, sha256"
    static let selectBySHA256 = "SELECT * FROM registration_certificates WHERE sha256 = ? ORDER BY added_at"
    static let selectEnding = """
        SELECT c.* FROM registration_certificates c JOIN registrations r ON r.id = c.registration_id
        WHERE c.revoked_at IS NULL AND r.status IN ('pending', 'approved')
          AND (CASE WHEN c.overlap_until IS NOT NULL AND c.overlap_until < c.not_after THEN c.overlap_until ELSE c.not_after END) <= ?
        ORDER BY (CASE WHEN c.overlap_until IS NOT NULL AND c.overlap_until < c.not_after THEN c.overlap_until ELSE c.not_after END), c.sha256
        """
    static let decide = "UPDATE registrations SET status = ?, decided_at = ?, decided_by = ?, reason = ? WHERE id = ?"
    static let limitOverlap = """
        UPDATE registration_certificates SET overlap_until = ?
        WHERE registration_id = ? AND sha256 <> ? AND revoked_at IS NULL AND (overlap_until IS NULL OR overlap_until > ?) AND not_after > ?
        """
    static let limitOverlapOf = """
        UPDATE registration_certificates SET overlap_until = ?
        WHERE registration_id = ? AND sha256 = ? AND revoked_at IS NULL AND (overlap_until IS NULL OR overlap_until > ?) AND not_after > ?
        """
    static let revoke = "UPDATE registration_certificates SET revoked_at = ? WHERE registration_id = ? AND sha256 = ?"
    static let changeStamp = "SELECT COUNT(*) AS n FROM registration_history"
    static let selectHistory = "SELECT * FROM registration_history WHERE registration_id = ? ORDER BY id"

    /// `?` placeholders as PostgreSQL's `$1`, `$2`, … (none of these statements holds a literal `?`).
    static func numbered(_ sql: String) -> String {
        var out = ""
        var n = 0
        for ch in sql {
            if ch == "?" { n += 1; out += "$\(n)" } else { out.append(ch) }
        }
        return out
    }

    static func registrationArguments(_ r: Registration) -> [String?] {
        [r.id, r.kind.rawValue, r.registrationNumber, r.registrantSubject, r.registrantSHA256, r.addresses.joined(separator: "\n"),
         r.endpoint, r.partyId, r.contact]
    }

    static let selectOpen = "SELECT * FROM registrations WHERE status IN ('pending', 'approved')"

    /// Why `r` may not be stored beside the open registrations, if it may not.
    static func clash(_ r: Registration, with open: [Registration]) -> String? {
        for other in open {
            if let taken = r.addresses.first(where: other.addresses.contains) {
                return "\(taken) is in registration \(other.id) (\(other.status.rawValue)) already"
            }
            if let party = r.partyId, other.partyId == party {
                return "party id \(party) is in registration \(other.id) (\(other.status.rawValue)) already"
            }
        }
        return nil
    }

    static func decisionText(_ r: Registration) -> String {
        "registration \(r.id) was \(r.status.rawValue) at \(ISO8601DateFormatter().string(from: r.decidedAt ?? r.createdAt))"
    }
}

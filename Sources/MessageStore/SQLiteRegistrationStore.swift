import Foundation

/// Self-service registrations in the node's SQLite database (`messages.sqlite`, migration 9),
/// beside the connections and directory that approving one changes.
public final class SQLiteRegistrationStore: RegistrationStore {
    private let database: SQLiteDatabaseConnection

    public init(dataDirectory: String, now: Date = Date()) throws {
        database = try SQLiteDatabaseConnection(dataDirectory: dataDirectory, now: now)
    }

    public func close() { database.close() }

    private func withConnection<T: Sendable>(_ body: (SQLiteConnection) throws -> T) throws -> T {
        try database.withConnection(body)
    }

    private static func bindable(_ values: [String?]) -> [(any SQLBindable)?] { values.map { $0 } }

    public func addRegistration(_ registration: Registration, certificates: [RegisteredCertificate], actor: String, at: Date) throws {
        try withConnection { c in
            try c.immediateTransaction {
                guard try c.queryFirst(RegistrationSQL.selectRegistration, [registration.id], row: { $0.string("id") }) == nil else {
                    throw MailboxStoreError.conflict("registration \(registration.id) exists")
                }
                let open = try c.query(RegistrationSQL.selectOpen) { $0.registration() }
                if let clash = RegistrationSQL.clash(registration, with: open) { throw MailboxStoreError.conflict(clash) }
                try c.run(RegistrationSQL.insertRegistration, Self.bindable(RegistrationSQL.registrationArguments(registration)) + [registration.createdAt])
                for certificate in certificates { try Self.insert(certificate, c) }
                try Self.append(RegistrationEvent(registrationId: registration.id, at: at, actor: actor, action: "registered",
                                                  detail: "\(registration.kind.rawValue) for \(registration.addresses.joined(separator: ", "))"), c)
            }
        }
    }

    public func registration(id: String) throws -> Registration? {
        try withConnection { c in try c.queryFirst(RegistrationSQL.selectRegistration, [id]) { $0.registration() } }
    }

    public func registrations(status: RegistrationStatus?) throws -> [Registration] {
        try withConnection { c in
            if let status {
                return try c.query("SELECT * FROM registrations WHERE status = ? ORDER BY created_at DESC, id", [status.rawValue]) { $0.registration() }
            }
            return try c.query("SELECT * FROM registrations ORDER BY created_at DESC, id") { $0.registration() }
        }
    }

    public func certificates(registrationId: String) throws -> [RegisteredCertificate] {
        try withConnection { c in try c.query(RegistrationSQL.selectCertificates, [registrationId]) { $0.registeredCertificate() } }
    }

    public func certificates(sha256: String) throws -> [RegisteredCertificate] {
        try withConnection { c in try c.query(RegistrationSQL.selectBySHA256, [sha256]) { $0.registeredCertificate() } }
    }

    public func certificatesEnding(before: Date) throws -> [RegisteredCertificate] {
        try withConnection { c in try c.query(RegistrationSQL.selectEnding, [before]) { $0.registeredCertificate() } }
    }

    public func decide(id: String, status: RegistrationStatus, actor: String, reason: String?, at: Date) throws -> Registration {
        try withConnection { c in
            try c.immediateTransaction {
                guard var r = try c.queryFirst(RegistrationSQL.selectRegistration, [id], row: { $0.registration() }) else {
                    throw MailboxStoreError.notFound("no registration \(id)")
                }
                guard r.status == .pending else { throw MailboxStoreError.conflict(RegistrationSQL.decisionText(r)) }
                try c.run(RegistrationSQL.decide, [status.rawValue, at, actor, reason, id])
                try Self.append(RegistrationEvent(registrationId: id, at: at, actor: actor, action: status.rawValue, detail: reason ?? ""), c)
                r.status = status
                r.decidedAt = at
                r.decidedBy = actor
                r.reason = reason
                return r
            }
        }
    }

    public func addCertificate(_ certificate: RegisteredCertificate, overlapUntil: Date?, replacing: [String]?, actor: String, at: Date) throws {
        try withConnection { c in
            try c.immediateTransaction {
                guard try c.queryFirst(RegistrationSQL.selectRegistration, [certificate.registrationId], row: { $0.string("id") }) != nil else {
                    throw MailboxStoreError.notFound("no registration \(certificate.registrationId)")
                }
                let held = try c.query(RegistrationSQL.selectCertificates, [certificate.registrationId]) { $0.string("sha256") }
                guard !held.contains(certificate.sha256) else {
                    throw MailboxStoreError.conflict("registration \(certificate.registrationId) holds certificate \(certificate.sha256) already")
                }
                if let overlapUntil {
                    if let replacing {
                        for sha in replacing {
                            try c.run(RegistrationSQL.limitOverlapOf, [overlapUntil, certificate.registrationId, sha, overlapUntil, overlapUntil])
                        }
                    } else {
                        try c.run(RegistrationSQL.limitOverlap, [overlapUntil, certificate.registrationId, certificate.sha256, overlapUntil, overlapUntil])
                    }
                }
                try Self.insert(certificate, c)
                let detail = certificate.sha256 + (overlapUntil.map { ", others usable until \(ISO8601DateFormatter().string(from: $0))" } ?? "")
                try Self.append(RegistrationEvent(registrationId: certificate.registrationId, at: at, actor: actor, action: "certificate-added",
                                                  detail: detail), c)
            }
        }
    }

    public func revokeCertificate(registrationId: String, sha256: String, actor: String, reason: String?, at: Date) throws -> Bool {
        try withConnection { c in
            try c.immediateTransaction {
                let found = try c.queryFirst("SELECT * FROM registration_certificates WHERE registration_id = ? AND sha256 = ?",
                                             [registrationId, sha256]) { $0.registeredCertificate() }
                guard let found else { throw MailboxStoreError.notFound("registration \(registrationId) holds no certificate \(sha256)") }
                guard found.revokedAt == nil else { return false }
                try c.run(RegistrationSQL.revoke, [at, registrationId, sha256])
                try Self.append(RegistrationEvent(registrationId: registrationId, at: at, actor: actor, action: "certificate-revoked",
                                                  detail: sha256 + (reason.map { ": " + $0 } ?? "")), c)
                return true
            }
        }
    }

    public func appendHistory(_ entry: RegistrationEvent) throws {
        try withConnection { c in try c.immediateTransaction { try Self.append(entry, c) } }
    }

    public func history(registrationId: String) throws -> [RegistrationEvent] {
        try withConnection { c in try c.query(RegistrationSQL.selectHistory, [registrationId]) { $0.registrationEvent() } }
    }

    public func changeStamp() throws -> Int64 {
        try withConnection { c in try c.queryFirst(RegistrationSQL.changeStamp) { $0.int64("n") } ?? 0 }
    }

    private static func insert(_ x: RegisteredCertificate, _ c: SQLiteConnection) throws {
        try c.run(RegistrationSQL.insertCertificate, [x.registrationId, x.sha256, x.pem, x.subject, x.notBefore, x.notAfter, x.addedAt,
                                                      x.overlapUntil, x.revokedAt])
    }

    private static func append(_ e: RegistrationEvent, _ c: SQLiteConnection) throws {
        try c.run(RegistrationSQL.insertHistory, [e.registrationId, e.at, e.actor, e.action, e.detail])
    }
}

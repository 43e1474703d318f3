import Foundation

/// Self-service registrations on PostgreSQL (migration 8 of `PostgresSchema`), shared by every
/// node: a registration approved through one node routes on all of them. Decisions and
/// certificate changes lock the registration's row, so two operators deciding at once on two
/// nodes get one decision and one `conflict`.
public final class PostgresRegistrationStore: RegistrationStore {
    private let pool: PostgresConnectionPool

    public init(url: String, poolSize: Int = 2, schema: SchemaAccess, now: Date = Date()) throws {
        pool = PostgresConnectionPool(url: url, size: poolSize)
        try pool.withConnection { try PostgresSchema.prepare($0, schema, at: now) }
    }

    public func close() { pool.close() }

    private static let sql = (
        insertRegistration: RegistrationSQL.numbered(RegistrationSQL.insertRegistration),
        insertCertificate: RegistrationSQL.numbered(RegistrationSQL.insertCertificate),
        insertHistory: RegistrationSQL.numbered(RegistrationSQL.insertHistory),
        selectRegistration: RegistrationSQL.numbered(RegistrationSQL.selectRegistration),
        selectCertificates: RegistrationSQL.numbered(RegistrationSQL.selectCertificates),
        selectBySHA256: RegistrationSQL.numbered(RegistrationSQL.selectBySHA256),
        selectEnding: RegistrationSQL.numbered(RegistrationSQL.selectEnding),
        decide: RegistrationSQL.numbered(RegistrationSQL.decide),
        limitOverlap: RegistrationSQL.numbered(RegistrationSQL.limitOverlap),
        limitOverlapOf: RegistrationSQL.numbered(RegistrationSQL.limitOverlapOf),
        revoke: RegistrationSQL.numbered(RegistrationSQL.revoke),
        selectHistory: RegistrationSQL.numbered(RegistrationSQL.selectHistory))

    private static func bindable(_ values: [String?]) -> [(any PostgresBindable)?] { values.map { $0 } }

    public func addRegistration(_ registration: Registration, certificates: [RegisteredCertificate], actor: String, at: Date) throws {
        try pool.withConnection { c in
            try c.transaction {
                // New registrations take turns (on every node), so the address check below sees
                // every registration committed before this one.
                _ = try c.execute("LOCK TABLE registrations IN SHARE ROW EXCLUSIVE MODE")
                guard try c.execute(Self.sql.selectRegistration, [registration.id]).first == nil else {
                    throw MailboxStoreError.conflict("registration \(registration.id) exists")
                }
                let open = try c.execute(RegistrationSQL.selectOpen).rows.map { $0.registration() }
                if let clash = RegistrationSQL.clash(registration, with: open) { throw MailboxStoreError.conflict(clash) }
                _ = try c.execute(Self.sql.insertRegistration, Self.bindable(RegistrationSQL.registrationArguments(registration)) + [registration.createdAt])
                for certificate in certificates { try Self.insert(certificate, c) }
                try Self.append(RegistrationEvent(registrationId: registration.id, at: at, actor: actor, action: "registered",
                                                  detail: "\(registration.kind.rawValue) for \(registration.addresses.joined(separator: ", "))"), c)
            }
        }
    }

    public func registration(id: String) throws -> Registration? {
        try pool.withConnection { c in try c.execute(Self.sql.selectRegistration, [id]).first?.registration() }
    }

    public func registrations(status: RegistrationStatus?) throws -> [Registration] {
        try pool.withConnection { c in
            if let status {
                return try c.execute("SELECT * FROM registrations WHERE status = $1 ORDER BY created_at DESC, id", [status.rawValue]).rows
                    .map { $0.registration() }
            }
            return try c.execute("SELECT * FROM registrations ORDER BY created_at DESC, id").rows.map { $0.registration() }
        }
    }

    public func certificates(registrationId: String) throws -> [RegisteredCertificate] {
        try pool.withConnection { c in try c.execute(Self.sql.selectCertificates, [registrationId]).rows.map { $0.registeredCertificate() } }
    }

    public func certificates(sha256: String) throws -> [RegisteredCertificate] {
        try pool.withConnection { c in try c.execute(Self.sql.selectBySHA256, [sha256]).rows.map { $0.registeredCertificate() } }
    }

    public func certificatesEnding(before: Date) throws -> [RegisteredCertificate] {
        try pool.withConnection { c in try c.execute(Self.sql.selectEnding, [before]).rows.map { $0.registeredCertificate() } }
    }

    public func decide(id: String, status: RegistrationStatus, actor: String, reason: String?, at: Date) throws -> Registration {
        try pool.withConnection { c in
            try c.transaction {
                guard var r = try c.execute(Self.sql.selectRegistration + " FOR UPDATE", [id]).first?.registration() else {
                    throw MailboxStoreError.notFound("no registration \(id)")
                }
                guard r.status == .pending else { throw MailboxStoreError.conflict(RegistrationSQL.decisionText(r)) }
                _ = try c.execute(Self.sql.decide, [status.rawValue, at, actor, reason, id])
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
        try pool.withConnection { c in
            try c.transaction {
                guard try c.execute(Self.sql.selectRegistration + " FOR UPDATE", [certificate.registrationId]).first != nil else {
                    throw MailboxStoreError.notFound("no registration \(certificate.registrationId)")
                }
                let held = try c.execute(Self.sql.selectCertificates, [certificate.registrationId]).rows.map { $0.string("sha256") }
                guard !held.contains(certificate.sha256) else {
                    throw MailboxStoreError.conflict("registration \(certificate.registrationId) holds certificate \(certificate.sha256) already")
                }
                if let overlapUntil {
                    if let replacing {
                        for sha in replacing {
                            _ = try c.execute(Self.sql.limitOverlapOf, [overlapUntil, certificate.registrationId, sha, overlapUntil, overlapUntil])
                        }
                    } else {
                        _ = try c.execute(Self.sql.limitOverlap, [overlapUntil, certificate.registrationId, certificate.sha256, overlapUntil, overlapUntil])
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
        try pool.withConnection { c in
            try c.transaction {
                guard try c.execute(Self.sql.selectRegistration + " FOR UPDATE", [registrationId]).first != nil,
                      let found = try c.execute("SELECT * FROM registration_certificates WHERE registration_id = $1 AND sha256 = $2",
                                                [registrationId, sha256]).first?.registeredCertificate() else {
                    throw MailboxStoreError.notFound("registration \(registrationId) holds no certificate \(sha256)")
                }
                guard found.revokedAt == nil else { return false }
                _ = try c.execute(Self.sql.revoke, [at, registrationId, sha256])
                try Self.append(RegistrationEvent(registrationId: registrationId, at: at, actor: actor, action: "certificate-revoked",
                                                  detail: sha256 + (reason.map { ": " + $0 } ?? "")), c)
                return true
            }
        }
    }

    public func appendHistory(_ entry: RegistrationEvent) throws {
        try pool.withConnection { c in try Self.append(entry, c) }
    }

    public func history(registrationId: String) throws -> [RegistrationEvent] {
        try pool.withConnection { c in try c.execute(Self.sql.selectHistory, [registrationId]).rows.map { $0.registrationEvent() } }
    }

    public func changeStamp() throws -> Int64 {
        try pool.withConnection { c in try c.execute(RegistrationSQL.changeStamp).first?.int64("n") ?? 0 }
    }

    private static func insert(_ x: RegisteredCertificate, _ c: PostgresConnection) throws {
        _ = try c.execute(sql.insertCertificate, [x.registrationId, x.sha256, x.pem, x.subject, x.notBefore, x.notAfter, x.addedAt,
                                                  x.overlapUntil, x.revokedAt])
    }

    private static func append(_ e: RegistrationEvent, _ c: PostgresConnection) throws {
        _ = try c.execute(sql.insertHistory, [e.registrationId, e.at, e.actor, e.action, e.detail])
    }
}

import AS4Crypto
import Foundation
import HTTPServer
import MessageStore
import Routing

/// Self-service connections (docs/SELF-SERVICE.md): who a registering company is, what an
/// approved registration's certificates let in, and what approval changes. Every answer is read
/// from the store per request, so a revocation or an approval counts from the next request on
/// and no node keeps a stale copy.
enum SelfService {
    /// The backend connection an approved DMS registration gets. It holds no usable token and no
    /// certificate fingerprint of its own: it is reached only through a certificate of its
    /// registration that is usable now (`connection(for:)`), so roll-over and revocation live in
    /// one place, the registration's certificate list.
    static func connectionName(_ registrationId: String) -> String { "registration-" + registrationId }

    /// The company a client certificate names: its subject organizationIdentifier (2.5.4.97) or,
    /// without one, its subject serialNumber, either as the bare number or in the ETSI EN 319
    /// 412-1 form of a national trade register number, `NTRLV-40003032949`. Nil when it holds no
    /// Latvian registration number (another register, VAT number or country names no company here).
    static func registrationNumber(of certificate: Certificate) -> String? {
        let name = certificate.subjectName
        guard let value = (name.values(for: "organizationIdentifier") + name.values(for: "serialNumber")).first else { return nil }
        let number = value.hasPrefix("NTRLV-") ? String(value.dropFirst(6)) : value
        // The e-address rules say what a registration number is (11 digits, check digit).
        return (try? EAddress("_DEFAULT@" + number))?.latvianIdentifier
    }

    /// The connection of an approved DMS registration holding the request's client certificate,
    /// if that certificate is usable now and the connection was not revoked.
    static func connection(for head: HTTPRequestHead, among connections: [BackendConnection],
                           registrations: any RegistrationStore, now: Date = Date()) throws -> BackendConnection? {
        guard let certificate = head.clientCertificate else { return nil }
        let fingerprint = try APICredentials.fingerprint(certificate)
        for held in try registrations.certificates(sha256: fingerprint) where held.isUsable(at: now) {
            guard let r = try registrations.registration(id: held.registrationId), r.kind == .dms, r.status == .approved else { continue }
            if let c = connections.first(where: { $0.name == connectionName(r.id) && $0.revokedAt == nil }) { return c }
        }
        return nil
    }

    // MARK: Approval

    /// What approving `r` changes, after the decision is stored: a DMS gets its backend
    /// connection and its addresses become mailboxes here; an access point's addresses point to
    /// it. Each step is idempotent, so a second run (a retried approval) changes nothing more.
    /// `ownRowsOnly` (a certificate change, which no operator judged for moves): only the rows
    /// that still point to this access point are written; an address moved elsewhere since stays there.
    static func applyApproval(_ r: Registration, actor: String, context: GatewayContext, now: Date = Date(),
                              ownRowsOnly: Bool = false) throws {
        let store = context.registrations
        let written: [String]
        switch r.kind {
        case .dms:
            let name = connectionName(r.id)
            if try !context.mailbox.connections().contains(where: { $0.name == name }) {
                // The store wants a credential on every connection; this one gets the digest of a
                // token that was never shown to anyone (its preimage is dropped here), so nothing
                // but the registration's certificates ever reaches it.
                let unusable = try APICredentials.newToken().sha256
                try context.mailbox.addConnection(BackendConnection(name: name, tokenSHA256: unusable, certificateSHA256: nil,
                                                                    addresses: r.addresses, createdAt: now))
                try store.appendHistory(RegistrationEvent(registrationId: r.id, at: now, actor: actor, action: "connection-created", detail: name))
            }
            written = try setDirectory(r, certificates: [], context: context, now: now)
        case .accessPoint:
            let pems = try store.certificates(registrationId: r.id).filter { $0.isUsable(at: now) }.map(\.pem)
            // With no usable certificate left the rows keep their last pins (a remote row needs
            // some); the access point gets no P-Modes then, so nothing routes to it anyway.
            guard !pems.isEmpty else { return }
            written = try setDirectory(r, certificates: pems, context: context, now: now, ownRowsOnly: ownRowsOnly)
        }
        // The history names the rows written: after a certificate change, an address moved
        // elsewhere since was left alone and is not listed.
        guard !written.isEmpty else { return }
        try store.appendHistory(RegistrationEvent(registrationId: r.id, at: now, actor: actor, action: "directory-updated",
                                                  detail: written.joined(separator: ", ")))
    }

    /// The directory rows of the registration's addresses: local mailboxes for a DMS, the access
    /// point for an access point. Limits and dates an operator set on an existing row stay.
    /// Returns the addresses whose rows were written.
    private static func setDirectory(_ r: Registration, certificates: [String], context: GatewayContext, now: Date,
                                     ownRowsOnly: Bool = false) throws -> [String] {
        var written: [String] = []
        // Each row read, changed and written in one transaction: limits set at the same moment stay.
        for address in r.addresses {
            // A new row gets the owner kind the messaging policy gave the address while it had
            // none (MessagingPolicy.kind, by its form): registering changes where documents go,
            // not who may write to whom. A registration number starting with 9 is an
            // institution's, and self-service is open to institutions as to companies: both are
            // legal persons with a registration number, and the registration CA vouches for it.
            let kind = (try? EAddress(address)).map { MessagingPolicy.kind(of: $0, entry: nil) } ?? .company
            let missing = AddressRecord(address: address, ownerId: r.registrationNumber, ownerKind: kind.rawValue)
            var wrote = false
            _ = try context.addresses.modifyRecord(address, missing: ownRowsOnly ? nil : missing,
                                                   at: now) { record in
                // Checked in the row's transaction: a move since the approval is not undone.
                guard !ownRowsOnly || (record.remote && record.partyId == r.partyId) else { return }
                wrote = true
                record.remote = r.kind == .accessPoint
                record.partyId = r.kind == .accessPoint ? r.partyId : nil
                record.partyIdType = nil
                record.endpoint = r.kind == .accessPoint ? r.endpoint : nil
                record.certificates = r.kind == .accessPoint ? certificates.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) } : []
            }
            if wrote { written.append(address) }
        }
        return written
    }

    // MARK: Report

    /// A certificate that ends within the report's horizon, with its registration.
    struct Expiring {
        var registration: Registration
        var certificate: RegisteredCertificate
        /// Whole days from `now` to the certificate's last usable instant (negative once past).
        var daysLeft: Int
        var expired: Bool
    }

    /// Certificates of pending and approved registrations, not revoked, whose last usable
    /// instant lies within `days` (or has passed). One whose roll-over overlap ended is retired by
    /// its successor, not expiring, and is left out.
    static func expiring(within days: Int, store: any RegistrationStore, now: Date = Date()) throws -> [Expiring] {
        let horizon = now.addingTimeInterval(Double(days) * 86_400)
        var byId: [String: Registration] = [:]
        var out: [Expiring] = []
        for c in try store.certificatesEnding(before: horizon) {
            if let end = c.overlapUntil, end < now, end < c.notAfter { continue }
            guard let r = try byId[c.registrationId] ?? store.registration(id: c.registrationId) else { continue }
            byId[r.id] = r
            let left = Int((c.usableUntil.timeIntervalSince(now) / 86_400).rounded(.towardZero))
            out.append(Expiring(registration: r, certificate: c, daysLeft: left, expired: c.usableUntil < now))
        }
        return out
    }

    static func json(_ e: Expiring) -> JSON {
        .object([("registrationId", .string(e.registration.id)), ("registrationNumber", .string(e.registration.registrationNumber)),
                 ("kind", .string(e.registration.kind.rawValue)), ("status", .string(e.registration.status.rawValue)),
                 ("sha256", .string(e.certificate.sha256)), ("subject", .string(e.certificate.subject)),
                 ("notAfter", .string(timestamp(e.certificate.notAfter))), ("usableUntil", .string(timestamp(e.certificate.usableUntil))),
                 ("daysLeft", .int(e.daysLeft)), ("state", .string(e.expired ? "expired" : "expiring"))])
    }

    static func timestamp(_ d: Date) -> String { MessagesCommand.timestamp(d) }
}

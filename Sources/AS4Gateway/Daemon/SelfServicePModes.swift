import AS4Crypto
import EnvelopeXML
import Foundation
import MessageStore
import Routing
import Synchronization

/// The P-Mode set the daemon works with: the configured one, plus a party and P-Modes for every
/// approved self-service access point that has a certificate usable now (docs/SELF-SERVICE.md).
/// Such a party is the configured template party (`selfService.template`) with the
/// registration's party id, endpoint and certificates: its P-Modes are the template's P-Modes
/// with us, so legs, security and retries are the operator's choice, not the registrant's; in
/// `AgreementRef/@pmode` they go by the template P-Mode's id (which the operator publishes to
/// the companies), inside the set by `<template id>@<registration id>`.
///
/// Built again whenever the P-Modes were reloaded, a registration changed (approval, new or
/// revoked certificate: the store's change stamp moves), or a certificate started or stopped
/// being usable; otherwise the last build is reused. A store that cannot be read leaves the
/// configured set alone: registered access points are then neither sent to nor accepted.
final class SelfServicePModes: Sendable {
    private struct Built: Sendable {
        var generation: Int
        var stamp: Int64
        /// The next instant a certificate starts or stops being usable.
        var validUntil: Date
        var set: PModeSet
    }

    private let built = Mutex<Built?>(nil)

    func set(base: PModeSet, generation: Int, template: String?, us: String, store: any RegistrationStore,
             directory: any AddressDirectoryStore, log: EventLog, now: Date = Date()) -> PModeSet {
        guard let template else { return base }
        let stamp: Int64
        do {
            stamp = try store.changeStamp()
        } catch {
            log.log(.error, "self-service-pmodes", ["reason": "the registrations cannot be read: \(error)"])
            return base
        }
        if let b = built.withLock({ $0 }), b.generation == generation, b.stamp == stamp, now < b.validUntil { return b.set }
        do {
            let next = try build(base: base, template: template, us: us, store: store, directory: directory, log: log, now: now)
            built.withLock { $0 = Built(generation: generation, stamp: stamp, validUntil: next.validUntil, set: next.set) }
            return next.set
        } catch {
            log.log(.error, "self-service-pmodes", ["reason": "the registrations cannot be read: \(error)"])
            return base
        }
    }

    /// A registration lists its certificates without roles: the key usage tells them apart (no
    /// key usage extension: either role), by the rule message signatures are judged by
    /// (`CertificatePurpose`). Among encryption certificates the newest valid one is used
    /// (`Party.certificates(role:)` orders them so).
    static func signs(_ c: Certificate) -> Bool { CertificatePurpose.signingRefusal(c) == nil }

    static func encrypts(_ c: Certificate) -> Bool { CertificatePurpose.encryptionRefusal(c) == nil }

    private func build(base: PModeSet, template: String, us: String, store: any RegistrationStore,
                       directory: any AddressDirectoryStore, log: EventLog, now: Date) throws -> (set: PModeSet, validUntil: Date) {
        guard let templateParty = base.party(named: template) else { return (base, .distantFuture) }
        let templatePModes = base.pmodes.filter { Set([$0.initiator.party, $0.responder.party]) == [us, template] && us != template }
        var parties = base.parties
        var pmodes = base.pmodes
        var validUntil = Date.distantFuture
        let approved = try store.registrations(status: .approved).filter { $0.kind == .accessPoint }
        // Nor another company's addresses: a party id the directory names for an address outside
        // the registration would route that address here (SelfServicePartyIds). Checked at
        // approval too, but the directory changes on its own; such a registration is not activated.
        let colliding = try SelfServicePartyIds.foreignAddresses(of: approved.compactMap { r in r.partyId.map { ($0, r.addresses) } },
                                                                 directory: directory)
        for r in approved {
            guard let partyId = r.partyId, let endpoint = r.endpoint.flatMap(URL.init(string:)) else { continue }
            // A configured party keeps its id: a registration never takes over a partner.
            guard !base.parties.contains(where: { $0.partyIds.contains { $0.value == partyId } }) else { continue }
            if let foreign = colliding[partyId] {
                let conflict = SelfServicePartyIds.Conflict(registrationId: r.id, partyId: partyId, addresses: foreign)
                log.log(.error, "self-service-party-conflict", ["registration": r.id, "reason": "not activated: \(conflict)"])
                continue
            }
            let held = try store.certificates(registrationId: r.id).filter { $0.revokedAt == nil }
            for c in held {
                if c.notBefore > now { validUntil = min(validUntil, c.notBefore) } else if c.usableUntil >= now { validUntil = min(validUntil, c.usableUntil) }
            }
            let usable = held.filter { $0.isUsable(at: now) }.compactMap { try? Certificate(pemEncoded: $0.pem) }
            guard !usable.isEmpty else { continue }
            let name = SelfService.connectionName(r.id)
            func inRole(_ role: (Certificate) -> Bool) -> [PartyCertificate] {
                usable.filter(role).map { PartyCertificate(certificate: $0, file: "registration \(r.id)") }
            }
            parties.append(Routing.Party(name: name, description: "self-service registration \(r.id)",
                                         partyIds: [PartyId(partyId, type: templateParty.partyIds.first?.type)], endpoint: endpoint,
                                         certificates: [.signing: inRole(Self.signs), .encryption: inRole(Self.encrypts)]))
            for var pmode in templatePModes {
                pmode.agreementRefId = pmode.id
                pmode.id += "@" + r.id
                if pmode.initiator.party == template { pmode.initiator.party = name }
                if pmode.responder.party == template { pmode.responder.party = name }
                pmodes.append(pmode)
            }
        }
        return (PModeSet(uncheckedParties: parties, pmodes: pmodes, directory: base.directory), validUntil)
    }
}

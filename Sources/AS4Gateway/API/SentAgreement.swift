import AS4Crypto
import Foundation
import MessageStore
import Routing

/// The agreement an outbound message went under, and its receiving party's signing
/// certificates as of a given time (when the receipt arrived): what a held receipt is judged
/// against again (`ReceiptCheck`, evidence bundles). A configured partner's certificates count
/// by their validity. A self-service access point's come from its registration's dated record
/// (roll-overs, revocations), since its party in the P-Mode set holds only what is usable now
/// and is gone once nothing is; its P-Modes are copies named `<template P-Mode>@<registration>`.
struct SentAgreement {
    var pmode: PMode
    var receiver: String
    var signingCertificates: [Certificate]

    static func of(_ sent: StoredMessage, at time: Date, context: GatewayContext) throws -> SentAgreement? {
        let set = context.pmodes
        let id = sent.metadata.pmodeId ?? ""
        let configured = context.registry.current
        if let pmode = set.pmode(id: id) {
            let receiver = pmode.responder.party == context.party ? pmode.initiator.party : pmode.responder.party
            if let party = configured.party(named: receiver) {
                return SentAgreement(pmode: pmode, receiver: receiver, signingCertificates: party.certificates(role: .signing, at: time))
            }
            guard let registration = registrationId(of: receiver) else { return nil }
            return SentAgreement(pmode: pmode, receiver: receiver,
                                 signingCertificates: try registered(registration, at: time, context: context))
        }
        guard let split = id.range(of: "@", options: .backwards), let template = configured.pmode(id: String(id[..<split.lowerBound])) else {
            return nil
        }
        let registration = String(id[split.upperBound...])
        return SentAgreement(pmode: template, receiver: SelfService.connectionName(registration),
                             signingCertificates: try registered(registration, at: time, context: context))
    }

    private static func registrationId(of party: String) -> String? {
        let prefix = SelfService.connectionName("")
        return party.hasPrefix(prefix) ? String(party.dropFirst(prefix.count)) : nil
    }

    /// The registration's signing certificates usable at `time`: within their validity and
    /// overlap, and not yet revoked then.
    private static func registered(_ registration: String, at time: Date, context: GatewayContext) throws -> [Certificate] {
        try context.registrations.certificates(registrationId: registration)
            .filter { $0.notBefore <= time && time <= $0.usableUntil && ($0.revokedAt.map { $0 > time } ?? true) }
            .compactMap { try? Certificate(pemEncoded: $0.pem) }
            .filter(SelfServicePModes.signs)
    }
}

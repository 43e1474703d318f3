import AS4Crypto

/// A leg that names our signing certificate by Subject Key Identifier (`keyReference: "ski"`)
/// while the certificate we sign with under it has no subjectKeyIdentifier extension.
///
/// The SKI reference carries that extension's value (WS-Security X.509 Token Profile; BSP lets it
/// name only X.509 v3 certificates that have it), and a value computed from the key instead would
/// name nothing a peer has, so `SignatureBuilder` refuses to sign. Left to run time, that refusal
/// would meet the first message sent under the leg, and every receipt and error signal answered
/// under it; the P-Mode load reports it instead, so a start refuses the set and a reload keeps
/// the old one.
///
/// The recipient's certificate needs no such check: an EncryptedKey that should name a
/// certificate without the extension by SKI names it by ThumbprintSHA1, the alternative the same
/// rules give (`EncryptionHeaderWriter`), which WSS4J-based peers and our receiver resolve.
public struct KeyReferenceProblem: Sendable, Equatable {
    /// The index of the P-Mode in the list checked, and of its leg.
    public var pmode: Int
    public var leg: Int
    /// The party that signs with `certificate` under the leg.
    public var party: String
    public var certificate: PartyCertificate
    public var profile: SecurityProfile

    /// What is wrong and what to do, after the leg's `security.keyReference` path; `who` names
    /// the party (`party "gw-a" (this gateway)`).
    public func explanation(who: String) -> String {
        "is \"ski\", but \(who) signs under this leg (profile \(profile.rawValue)) with the certificate \(certificate.file), "
            + "which has no Subject Key Identifier extension; an SKI reference names that extension's value (WS-Security X.509 token "
            + "profile), so every signature under this leg would fail. Use \"bst\" or \"issuer-serial\", or a signing certificate "
            + "with the extension"
    }
}

public enum KeyReferenceCheck {
    /// Where `party` would sign with an SKI reference to a certificate without the extension.
    /// `signers`: the certificates `party` signs with, its primary first; under each leg the one
    /// `SecurityProfile.signer(among:keyType:)` picks signs.
    public static func problems(in pmodes: [PMode], party: String, signers: [PartyCertificate]) -> [KeyReferenceProblem] {
        var problems: [KeyReferenceProblem] = []
        for (p, pmode) in pmodes.enumerated() {
            for (index, leg) in pmode.legs.enumerated() where leg.security.keyReference == .ski && signs(party, in: pmode, leg: index) {
                guard let signer = leg.security.profile.signer(among: signers, keyType: { $0.certificate.keyType }),
                      signer.certificate.subjectKeyIdentifier == nil else { continue }
                problems.append(KeyReferenceProblem(pmode: p, leg: index, party: party, certificate: signer, profile: leg.security.profile))
            }
        }
        return problems
    }

    /// Whether `party` signs anything under the leg: the receipts and error signals it answers the
    /// leg's messages with (signed even on a leg that does not sign its user messages), the
    /// PullRequests and answers of a pull leg, and, when the leg signs, its user messages.
    static func signs(_ party: String, in pmode: PMode, leg index: Int) -> Bool {
        let sender = pmode.participant(pmode.sendingSide(ofLeg: index)).party
        let receiver = pmode.participant(pmode.receivingSide(ofLeg: index)).party
        if receiver == party || (sender == party && pmode.binding == .pull) { return true }
        return sender == party && pmode.legs[index].security.sign
    }

    /// The load's form: an error at the leg's `keyReference` for each problem of `signer.party`.
    static func report(_ pmodes: [DecodedPMode], parties: [DecodedParty], signer: PModeLoader.Signer, log: DiagnosticLog) {
        let signers = signer.certificates ?? parties.first { $0.party.name == signer.party }?.party.certificates[.signing] ?? []
        for problem in problems(in: pmodes.map(\.pmode), party: signer.party, signers: signers) {
            let decoded = pmodes[problem.pmode]
            let leg = decoded.legs[problem.leg]
            log.error(decoded.file, leg.keyReferenceLocation ?? leg.location,
                      "\(ObjectReader.join(leg.path, "security.keyReference")) \(problem.explanation(who: "party \"\(signer.party)\" (this gateway)"))")
        }
    }
}

import AS4Crypto
import EnvelopeXML
import Foundation
import Routing

/// Certificates of the P-Mode set that will not serve their role: unfit to sign or to encrypt to
/// (`CertificatePurpose`, the rule a message's signer is judged by), expired, not valid yet or
/// expiring soon, and, with CRLs configured, signing certificates whose issuer has none.
///
/// Warnings, not load errors, for the reason `EAddressAgreementCheck` gives: one partner's
/// certificate must not stop a start or reload that serves every other partner. And a renewal
/// keeps the old certificate beside the new one on purpose until it expires.
enum PModeCertificateCheck {
    /// How early an approaching expiry is reported.
    static let expiryNotice: TimeInterval = 30 * 86_400

    struct Finding: Sendable, Equatable, CustomStringConvertible {
        var party: String
        var role: CertificateRole
        var file: String
        var problem: String

        var description: String { "\(role.rawValue) certificate \(file) of \(party): \(problem)" }
    }

    /// `crls`: the gateway's CRLs; when there are any, every signer's issuer needs one
    /// (`CertificateValidator` fails closed without it).
    static func findings(in set: PModeSet, crls: [CertificateRevocationList] = [], at now: Date = Date()) -> [Finding] {
        var findings: [Finding] = []
        for party in set.parties {
            for role in CertificateRole.allCases {
                for entry in party.certificates[role] ?? [] {
                    let c = entry.certificate
                    func note(_ problem: String) { findings.append(Finding(party: party.name, role: role, file: entry.file, problem: problem)) }
                    if let problem = validity(c, at: now) { note(problem) }
                    switch role {
                    case .signing:
                        if let refusal = CertificatePurpose.signingRefusal(c) { note("messages it signs are refused: \(refusal)") }
                        if !crls.isEmpty, !crls.contains(where: { $0.issuerName == c.issuerName }) {
                            note("no configured CRL is from its issuer \(c.issuer)\(c.isSelfSigned ? " (it is self-signed)" : ""), "
                                 + "so messages it signs are refused as of unknown revocation status")
                        }
                    case .encryption:
                        if let refusal = CertificatePurpose.encryptionRefusal(c) { note("cannot be encrypted to: \(refusal)") }
                    case .tls:
                        break
                    }
                }
            }
        }
        return findings
    }

    static func validity(_ c: Certificate, at now: Date) -> String? {
        if c.notAfter < now { return "expired on \(Timestamp(c.notAfter).lexical)" }
        if c.notBefore > now { return "is not valid before \(Timestamp(c.notBefore).lexical)" }
        if c.notAfter.timeIntervalSince(now) <= expiryNotice {
            return "expires on \(Timestamp(c.notAfter).lexical), in \(Int(c.notAfter.timeIntervalSince(now) / 86_400)) day(s)"
        }
        return nil
    }
}

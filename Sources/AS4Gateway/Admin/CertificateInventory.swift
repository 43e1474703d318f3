import AS4Crypto
import Foundation
import Routing

/// The certificates whose expiry operators watch: ours (from `keys`, or the development PKI's
/// files, and the listeners' TLS certificates) and every party's from the P-Modes in force.
struct CertificateInventory: Sendable {
    struct Entry: Sendable {
        var party: String
        /// signing, encryption or tls
        var role: String
        /// Where it comes from: `keys` (what we sign, decrypt and authenticate with),
        /// `listener` (the AS4 endpoint's TLS server certificate), `api-listener` (the backend
        /// API's) or `pmode` (parties.json).
        var source: String
        var certificate: Certificate
    }

    /// Our own certificates, read once at start (the keys are loaded at start too, so a file
    /// changed later is not what the daemon uses).
    let own: [Entry]

    /// Reads our certificate files; an unreadable optional one (TLS) is a start error like any
    /// other key file problem.
    init(party: String, keys: GatewayConfiguration.Keys, listenerCertificate: String?, apiListenerCertificate: String? = nil) throws {
        var own = [Entry(party: party, role: "signing", source: "keys", certificate: try KeyMaterial.certificate(keys.signingCertificate)),
                   Entry(party: party, role: "encryption", source: "keys", certificate: try KeyMaterial.certificate(keys.encryptionCertificate))]
        for identity in keys.additional {
            own.append(Entry(party: party, role: "signing", source: "keys", certificate: try KeyMaterial.certificate(identity.signingCertificate)))
            own.append(Entry(party: party, role: "encryption", source: "keys", certificate: try KeyMaterial.certificate(identity.encryptionCertificate)))
        }
        if let tls = keys.tlsClientCertificate {
            own.append(Entry(party: party, role: "tls", source: "keys", certificate: try KeyMaterial.certificate(tls)))
        }
        if let listener = listenerCertificate {
            own.append(Entry(party: party, role: "tls", source: "listener", certificate: try KeyMaterial.certificate(listener)))
        }
        if let api = apiListenerCertificate {
            own.append(Entry(party: party, role: "tls", source: "api-listener", certificate: try KeyMaterial.certificate(api)))
        }
        self.own = own
    }

    init(own: [Entry]) {
        self.own = own
    }

    /// Ours, then every certificate the P-Mode set loaded, by party and role.
    func all(pmodes: PModeSet) -> [Entry] {
        var entries = own
        for party in pmodes.parties {
            for role in CertificateRole.allCases {
                for loaded in party.certificates[role] ?? [] {
                    entries.append(Entry(party: party.name, role: role.rawValue, source: "pmode", certificate: loaded.certificate))
                }
            }
        }
        return entries
    }

    /// `all(pmodes:)` with each certificate once per party and role (ours come first, so a
    /// development PKI certificate both in `keys` and in parties.json is named as ours).
    func distinct(pmodes: PModeSet) -> [Entry] {
        var seen = Set<[String]>()
        return all(pmodes: pmodes).filter { seen.insert([$0.party, $0.role, $0.certificate.serialNumber, $0.certificate.subject]).inserted }
    }

    /// Our certificates that are not valid at `date` (expired or not yet valid).
    func invalidOwn(at date: Date) -> [Entry] {
        own.filter { !$0.certificate.isValid(at: date) }
    }
}

import AS4Crypto
import EnvelopeXML
import Foundation

/// A trading partner (or ourselves) from `parties.json`: its ebMS party ids, where it receives
/// pushed messages, and its certificates by role.
///
/// Note the name: EnvelopeXML also has a `Party` (the `eb:From`/`eb:To` of one message). In a file
/// that imports both modules, write `Routing.Party` or `EnvelopeXML.Party`.
public struct Party: Sendable, Equatable {
    public var name: String
    public var description: String?
    /// At least one; unique across all parties so `PModeSet.party(for:)` is unambiguous.
    public var partyIds: [PartyId]
    /// Where pushed messages and pull requests for this party go. nil for a party that only pulls.
    public var endpoint: URL?
    /// MPCs this party may pull from, beyond those its pull legs authorise.
    public var mpcs: [String]
    /// The certificate files as written in `parties.json` (relative to the P-Mode directory).
    public var certificateFiles: [CertificateRole: [String]]
    /// The certificates loaded from those files (missing files are skipped when the loader runs
    /// with `requireCertificates: false`).
    public var certificates: [CertificateRole: [PartyCertificate]]

    public init(name: String, description: String? = nil, partyIds: [PartyId], endpoint: URL? = nil, mpcs: [String] = [],
                certificateFiles: [CertificateRole: [String]] = [:], certificates: [CertificateRole: [PartyCertificate]] = [:]) {
        self.name = name
        self.description = description
        self.partyIds = partyIds
        self.endpoint = endpoint
        self.mpcs = mpcs
        self.certificateFiles = certificateFiles
        self.certificates = certificates
    }

    /// The certificates of `role` valid at `date`, newest first (latest notBefore). During a
    /// renewal the old and the new certificate overlap and both are returned.
    public func certificates(role: CertificateRole, at date: Date = Date()) -> [Certificate] {
        (certificates[role] ?? [])
            .map(\.certificate)
            .filter { $0.notBefore <= date && date <= $0.notAfter }
            .sorted { $0.notBefore > $1.notBefore }
    }

    /// Every loaded certificate of `role`, valid or not, in file order. What a signature is
    /// verified against: the verifier refuses one that expired or is not valid yet, and says so.
    public func allCertificates(role: CertificateRole) -> [Certificate] {
        (certificates[role] ?? []).map(\.certificate)
    }

    public var signingCertificates: [Certificate] { certificates(role: .signing) }
    public var encryptionCertificates: [Certificate] { certificates(role: .encryption) }
    public var tlsCertificates: [Certificate] { certificates(role: .tls) }

    /// The one id that names this party in the eb:From or eb:To of a message we build: its first.
    /// eDelivery allows exactly one eb:PartyId there (AS4-WIRE §1.3); phase4 refuses a message
    /// with more (EBMS:0003). Our receiver takes several when every one names the same party
    /// (`isIdentified(by:)`).
    public var sentPartyIds: [PartyId] { Array(partyIds.prefix(1)) }

    /// Whether `ids` (an eb:From or eb:To) name this party: at least one, and every one of
    /// them one of this party's ids (type compared too; absent = empty). ebMS3 allows several
    /// PartyIds; one that names another party, or none we know, makes the message ambiguous as
    /// to who sent it or to whom, and it fits no leg of this party (AS4-WIRE §1.3).
    public func isIdentified(by ids: [PartyId]) -> Bool {
        !ids.isEmpty && ids.allSatisfy { id in partyIds.contains { $0.matches(id) } }
    }
}

/// What a certificate is used for.
public enum CertificateRole: String, Sendable, CaseIterable, Hashable {
    /// Verifies the party's signatures (messages and receipts).
    case signing
    /// Encrypts to the party (RSA-OAEP under 1.15, X25519/ECDH-ES key agreement under 2.0).
    case encryption
    /// The party's TLS certificate (client authentication or pinning).
    case tls
}

/// One certificate of a party: the first certificate of its file, with any further certificates
/// of that file kept as its chain.
public struct PartyCertificate: Sendable, Equatable {
    public var certificate: Certificate
    public var chain: [Certificate]
    /// The path as written in `parties.json`.
    public var file: String

    public init(certificate: Certificate, chain: [Certificate] = [], file: String) {
        self.certificate = certificate
        self.chain = chain
        self.file = file
    }
}

extension PartyId {
    /// Same value and same type, where an absent type and an empty one are the same.
    func matches(_ other: PartyId) -> Bool {
        value == other.value && (type ?? "") == (other.type ?? "")
    }
}

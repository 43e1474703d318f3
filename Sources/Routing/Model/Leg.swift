import AS4Crypto
import EnvelopeXML

/// One leg of a P-Mode (PMode[1] or PMode[2]): the business information of its user message and
/// the settings it travels with. Every optional setting has the eDelivery default (AS4-WIRE §6.1).
public struct Leg: Sendable, Equatable {
    /// `eb:Service` (type optional; without it the value must be a URI).
    public var service: Service
    /// `eb:Action`.
    public var action: String
    /// PMode[].BusinessInfo.MPC; default: the ebMS default MPC.
    public var mpc: String
    public var security: LegSecurity
    public var payload: PayloadSettings
    public var receptionAwareness: ReceptionAwareness
    public var errorHandling: ErrorHandling
    /// Pull legs only: which parties may pull this leg's MPC. Default: the MEP initiator.
    public var pullAuthorization: PullAuthorization?

    public init(service: Service, action: String, mpc: String = EbmsConstants.defaultMPC,
                security: LegSecurity = LegSecurity(), payload: PayloadSettings = PayloadSettings(),
                receptionAwareness: ReceptionAwareness = ReceptionAwareness(), errorHandling: ErrorHandling = ErrorHandling(),
                pullAuthorization: PullAuthorization? = nil) {
        self.service = service
        self.action = action
        self.mpc = mpc
        self.security = security
        self.payload = payload
        self.receptionAwareness = receptionAwareness
        self.errorHandling = errorHandling
        self.pullAuthorization = pullAuthorization
    }
}

/// PMode[].Security. eDelivery: sign and encrypt, profile 1.15 (RSA) or 2.0 (EdDSA/X25519).
public struct LegSecurity: Sendable, Hashable {
    public var profile: SecurityProfile
    public var sign: Bool
    public var encrypt: Bool
    /// How our signing certificate is referenced from our signatures: of the leg's user messages
    /// and of the receipts, error signals and pull signals we send under it.
    public var keyReference: KeyReference
    /// How the EncryptedKey names the recipient's encryption (or, in 2.0, key-agreement)
    /// certificate. The eDelivery 1.15 example uses a Subject Key Identifier; Peppol requires a
    /// BinarySecurityToken.
    public var encryptionKeyReference: KeyReference
    /// Replacements for the profile's algorithm lists; nil entries keep the profile's own.
    public var algorithms: AlgorithmOverrides

    public init(profile: SecurityProfile = .v1_15, sign: Bool = true, encrypt: Bool = true,
                keyReference: KeyReference = .bst, encryptionKeyReference: KeyReference = .ski,
                algorithms: AlgorithmOverrides = AlgorithmOverrides()) {
        self.profile = profile
        self.sign = sign
        self.encrypt = encrypt
        self.keyReference = keyReference
        self.encryptionKeyReference = encryptionKeyReference
        self.algorithms = algorithms
    }
}

public enum SecurityProfile: String, Sendable, CaseIterable {
    /// eDelivery AS4 1.15: RSA-SHA256, RSA-OAEP + AES-128-GCM.
    case v1_15 = "1.15"
    /// eDelivery AS4 2.0: Ed25519 (or ECDSA), X25519 (or ECDH-ES) + HKDF + AES key wrap + AES-128-GCM.
    case v2_0 = "2.0"

    /// Whether a key of this type serves the profile: RSA for 1.15; Ed25519, X25519 or an EC
    /// curve for 2.0. A gateway with partners on both profiles holds keys of each kind.
    public func suits(_ key: KeyType) -> Bool {
        switch (self, key) {
        case (.v1_15, .rsa), (.v2_0, .ed25519), (.v2_0, .x25519), (.v2_0, .ec): return true
        default: return false
        }
    }

    /// Which of a gateway's signing identities (primary first) signs under this profile: the
    /// first whose key suits it, else the primary. The daemon signs so, and the P-Mode load checks
    /// the certificate it will sign with by the same rule (`KeyReferenceCheck`).
    public func signer<T>(among identities: [T], keyType: (T) -> KeyType) -> T? {
        identities.first { suits(keyType($0)) } ?? identities.first
    }
}

/// `wsse:SecurityTokenReference` style naming a certificate: ours in a signature, the
/// recipient's in an EncryptedKey.
public enum KeyReference: String, Sendable, CaseIterable {
    case bst
    case ski
    case issuerSerial = "issuer-serial"
}

/// Per-leg replacements for the algorithm allow-lists of the security profile (URIs, AS4-WIRE §0).
public struct AlgorithmOverrides: Sendable, Hashable {
    public var signature: [String]?
    public var digest: [String]?
    /// Key transport (RSA-OAEP variants) and key agreement (X25519, ECDH-ES).
    public var keyEncryption: [String]?
    public var dataEncryption: [String]?

    public init(signature: [String]? = nil, digest: [String]? = nil, keyEncryption: [String]? = nil, dataEncryption: [String]? = nil) {
        self.signature = signature
        self.digest = digest
        self.keyEncryption = keyEncryption
        self.dataEncryption = dataEncryption
    }

    public var isEmpty: Bool { signature == nil && digest == nil && keyEncryption == nil && dataEncryption == nil }
}

/// PMode[].PayloadService and a size bound.
public struct PayloadSettings: Sendable, Equatable {
    /// gzip every payload (eDelivery: CompressionType application/gzip).
    public var compress: Bool
    /// Largest whole message (MIME body) accepted or sent on this leg.
    public var maxMessageBytes: Int

    public static let defaultMaxMessageBytes = 100 * 1024 * 1024

    public init(compress: Bool = true, maxMessageBytes: Int = PayloadSettings.defaultMaxMessageBytes) {
        self.compress = compress
        self.maxMessageBytes = maxMessageBytes
    }
}

/// PMode[].ErrorHandling. eDelivery: errors only as synchronous responses; notify both ends.
public struct ErrorHandling: Sendable, Equatable {
    /// Always true: eDelivery forbids asynchronous error reporting (the loader refuses false).
    public var reportAsResponse: Bool
    /// Tell the producer about errors, delivery failures and missing receipts.
    public var notifyProducer: Bool
    /// Tell the consumer about errors of messages addressed to it.
    public var notifyConsumer: Bool

    public init(reportAsResponse: Bool = true, notifyProducer: Bool = true, notifyConsumer: Bool = true) {
        self.reportAsResponse = reportAsResponse
        self.notifyProducer = notifyProducer
        self.notifyConsumer = notifyConsumer
    }
}

/// Which parties (by name) may pull the MPC of a pull leg.
public struct PullAuthorization: Sendable, Equatable {
    public var parties: [String]

    public init(parties: [String]) {
        self.parties = parties
    }
}

import AS4Crypto

/// Which algorithms a receiver accepts and a sender uses. A P-Mode (or the command line) narrows
/// it to exactly the profile's own; anything outside it is EBMS:0103 PolicyNoncompliance, so a
/// peer cannot downgrade to SHA-1 or RSA 1.5 however it words its header.
public struct SecurityPolicy: Sendable, Equatable {
    public var signatureAlgorithms: Set<String>
    public var digestAlgorithms: Set<String>
    /// Key transport (RSA-OAEP variants) and key agreement (X25519, ECDH-ES) algorithms.
    public var keyEncryptionAlgorithms: Set<String>
    /// MGF1 variants accepted with xmlenc11#rsa-oaep.
    public var mgfAlgorithms: Set<String>
    /// Digests accepted inside RSA-OAEP (kept apart from `digestAlgorithms`: SHA-1 in OAEP, the
    /// default of rsa-oaep-mgf1p, is no signature downgrade).
    public var oaepDigestAlgorithms: Set<String>
    public var dataEncryptionAlgorithms: Set<String>
    public var requireSignature: Bool
    /// Every payload part must be encrypted.
    public var requireEncryption: Bool
    /// Largest clock difference tolerated for wsu:Timestamp (seconds).
    public var clockSkew: Double

    public init(signatureAlgorithms: Set<String>, digestAlgorithms: Set<String>, keyEncryptionAlgorithms: Set<String>,
                mgfAlgorithms: Set<String>, oaepDigestAlgorithms: Set<String>, dataEncryptionAlgorithms: Set<String>, requireSignature: Bool = true,
                requireEncryption: Bool = false, clockSkew: Double = 300) {
        self.signatureAlgorithms = signatureAlgorithms
        self.digestAlgorithms = digestAlgorithms
        self.keyEncryptionAlgorithms = keyEncryptionAlgorithms
        self.mgfAlgorithms = mgfAlgorithms
        self.oaepDigestAlgorithms = oaepDigestAlgorithms
        self.dataEncryptionAlgorithms = dataEncryptionAlgorithms
        self.requireSignature = requireSignature
        self.requireEncryption = requireEncryption
        self.clockSkew = clockSkew
    }

    /// eDelivery AS4 1.15 exactly: RSA-SHA256, SHA-256, RSA-OAEP (SHA-256, MGF1-SHA256), AES-128-GCM.
    public static let eDelivery115 = SecurityPolicy(
        signatureAlgorithms: [Alg.rsaSHA256], digestAlgorithms: [Alg.sha256],
        keyEncryptionAlgorithms: [Alg.rsaOAEP11], mgfAlgorithms: [Alg.mgf1SHA256], oaepDigestAlgorithms: [Alg.sha256],
        dataEncryptionAlgorithms: [Alg.aes128GCM])

    /// eDelivery AS4 2.0: Ed25519 (or ECDSA-SHA256) and X25519 (or ECDH-ES) + HKDF + AES key wrap.
    public static let eDelivery20 = SecurityPolicy(
        signatureAlgorithms: [Alg.ed25519, Alg.ecdsaSHA256], digestAlgorithms: [Alg.sha256],
        keyEncryptionAlgorithms: [Alg.x25519, Alg.ecdhES], mgfAlgorithms: [], oaepDigestAlgorithms: [],
        dataEncryptionAlgorithms: [Alg.aes128GCM])

    /// What a receiver accepts when no P-Mode narrows it: both profiles, the stronger SHA-2
    /// variants real peers sign with (AS4.NET uses RSA-SHA384), and the key transport variants
    /// peers still send (rsa-oaep-mgf1p, xmlenc11 rsa-oaep with MGF1-SHA1). Never SHA-1
    /// signatures or digests, never RSA 1.5, never AES-CBC.
    public static let receiving = SecurityPolicy(
        signatureAlgorithms: [Alg.rsaSHA256, Alg.rsaSHA384, Alg.rsaSHA512, Alg.ecdsaSHA256, Alg.ecdsaSHA384,
                              Alg.ecdsaSHA512, Alg.ed25519],
        digestAlgorithms: [Alg.sha256, Alg.sha384, Alg.sha512],
        keyEncryptionAlgorithms: [Alg.rsaOAEP11, Alg.rsaOAEPMGF1P, Alg.x25519, Alg.ecdhES],
        mgfAlgorithms: [Alg.mgf1SHA1, Alg.mgf1SHA256, Alg.mgf1SHA384, Alg.mgf1SHA512],
        oaepDigestAlgorithms: [Alg.sha1, Alg.sha256, Alg.sha384, Alg.sha512],
        dataEncryptionAlgorithms: [Alg.aes128GCM, Alg.aes256GCM],
        requireSignature: false)
}

/// How we name a certificate in a SecurityTokenReference we write.
public enum KeyReferenceStyle: String, Sendable, CaseIterable {
    /// A BinarySecurityToken in the header plus a direct reference (the eDelivery default for signing).
    case binarySecurityToken = "bst"
    case subjectKeyIdentifier = "ski"
    case issuerSerial = "issuer-serial"
}

/// One of our private keys that can decrypt, with its certificate when known (so the
/// SecurityTokenReference of an EncryptedKey can be matched to it).
public struct DecryptionKey: Sendable {
    public var privateKey: PrivateKey
    public var certificate: Certificate?

    public init(privateKey: PrivateKey, certificate: Certificate? = nil) {
        self.privateKey = privateKey
        self.certificate = certificate
    }
}

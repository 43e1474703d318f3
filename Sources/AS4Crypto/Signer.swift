import COpenSSL
import Foundation

/// Creates XML Signature `SignatureValue` bytes (before base64).
public enum Signer {
    /// Signs `data` (the canonical `ds:SignedInfo`) with `key`.
    /// RSA: PKCS#1 v1.5 over the digest. ECDSA: raw `r || s`. Ed25519: pure EdDSA over `data` (no pre-hash).
    public static func sign(data: some ContiguousBytes, key: PrivateKey, algorithm: SignatureAlgorithm) throws -> [UInt8] {
        try SigningContext(key: key, algorithm: algorithm).sign(data)
    }
}

/// A reusable signing context for one key and algorithm.
///
/// `EVP_DigestSignInit` runs once in `init`; each ``sign(_:)`` copies that prepared state
/// (`EVP_MD_CTX_copy_ex`) instead of initialising again, which keeps per-message overhead close to
/// the raw `EVP_DigestSign` cost.
///
/// Not `Sendable`: it holds a mutable working context. Create one per thread or task (creation is cheap);
/// the ``PrivateKey`` itself can be shared.
public final class SigningContext {
    public let key: PrivateKey
    public let algorithm: SignatureAlgorithm
    private let prepared: OpaquePointer
    private let working: OpaquePointer
    private let maximumSignatureLength: Int
    private let ecdsaCoordinateLength: Int

    public init(key: PrivateKey, algorithm: SignatureAlgorithm) throws {
        guard !algorithm.isLegacy else {
            throw CryptoError.unsupportedAlgorithm("\(algorithm.uri) must not be used to create signatures")
        }
        try algorithm.checkKey(key.keyType)
        guard let prepared = EVP_MD_CTX_new() else { throw CryptoError.openSSL("EVP_MD_CTX_new") }
        guard let working = EVP_MD_CTX_new() else {
            EVP_MD_CTX_free(prepared)
            throw CryptoError.openSSL("EVP_MD_CTX_new")
        }
        self.prepared = prepared
        self.working = working
        self.key = key
        self.algorithm = algorithm
        maximumSignatureLength = Int(EVP_PKEY_get_size(key.pointer))
        ecdsaCoordinateLength = algorithm.isECDSA ? ecdsaCoordinateByteCount(key.pointer) : 0
        try Self.initialise(prepared, key: key, algorithm: algorithm)
    }

    deinit {
        EVP_MD_CTX_free(working)
        EVP_MD_CTX_free(prepared)
    }

    private static func initialise(_ context: OpaquePointer, key: PrivateKey, algorithm: SignatureAlgorithm) throws {
        var pkeyContext: OpaquePointer?
        guard EVP_DigestSignInit(context, &pkeyContext, algorithm.evpMD, nil, key.pointer) == 1 else {
            throw CryptoError.openSSL("EVP_DigestSignInit")
        }
        try algorithm.configure(pkeyContext, keyType: key.keyType)
    }

    /// Signs `data`. For ECDSA the result is the XML Signature raw `r || s` form.
    public func sign(_ data: some ContiguousBytes) throws -> [UInt8] {
        if EVP_MD_CTX_copy_ex(working, prepared) != 1 {
            // Fall back to a fresh initialisation if a provider cannot duplicate its context.
            OpenSSLErrorQueue.clear()
            EVP_MD_CTX_reset(working)
            try Self.initialise(working, key: key, algorithm: algorithm)
        }
        var signature = [UInt8](repeating: 0, count: maximumSignatureLength)
        var length = signature.count
        let ok = data.withUnsafeBytes { raw in
            EVP_DigestSign(working, &signature, &length, raw.baseAddress?.assumingMemoryBound(to: UInt8.self), raw.count)
        }
        guard ok == 1 else { throw CryptoError.openSSL("EVP_DigestSign") }
        signature.removeSubrange(length...)
        if algorithm.isECDSA {
            return try ECDSASignatureEncoding.rawFromDER(signature, coordinateByteCount: ecdsaCoordinateLength)
        }
        return signature
    }
}

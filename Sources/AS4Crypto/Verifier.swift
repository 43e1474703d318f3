import COpenSSL
import Foundation

/// Checks XML Signature `SignatureValue` bytes.
public enum Verifier {
    /// Verifies `signature` over `data` with `key`.
    ///
    /// Returns false for a signature that does not verify, including a malformed one (wrong length,
    /// bad ECDSA encoding). Throws when the request itself is wrong: the key type does not fit the
    /// algorithm, or `rsa-sha1` without `allowLegacySHA1` (a downgrade the caller must report).
    public static func verify(signature: some ContiguousBytes, data: some ContiguousBytes, key: PublicKey,
                              algorithm: SignatureAlgorithm, allowLegacySHA1: Bool = false) throws -> Bool {
        if algorithm.isLegacy && !allowLegacySHA1 {
            throw CryptoError.unsupportedAlgorithm("\(algorithm.uri) is not accepted (SHA-1)")
        }
        try algorithm.checkKey(key.keyType)
        var signatureBytes = signature.byteArray
        if algorithm.isECDSA {
            guard let der = try? ECDSASignatureEncoding.derFromRaw(signatureBytes, coordinateByteCount: ecdsaCoordinateByteCount(key.pointer)) else {
                OpenSSLErrorQueue.clear()
                return false
            }
            signatureBytes = der
        }
        guard let context = EVP_MD_CTX_new() else { throw CryptoError.openSSL("EVP_MD_CTX_new") }
        defer { EVP_MD_CTX_free(context) }
        var pkeyContext: OpaquePointer?
        guard EVP_DigestVerifyInit(context, &pkeyContext, algorithm.evpMD, nil, key.pointer) == 1 else {
            throw CryptoError.openSSL("EVP_DigestVerifyInit")
        }
        try algorithm.configure(pkeyContext, keyType: key.keyType)
        let result = data.withUnsafeBytes { raw in
            EVP_DigestVerify(context, signatureBytes, signatureBytes.count,
                             raw.baseAddress?.assumingMemoryBound(to: UInt8.self), raw.count)
        }
        OpenSSLErrorQueue.clear()
        return result == 1
    }
}

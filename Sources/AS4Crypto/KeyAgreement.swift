import COpenSSL
import Foundation

/// Diffie-Hellman style key agreement: X25519 (`xmldsig-more#x25519`) and ECDH on NIST/Brainpool
/// curves (`xmlenc11#ECDH-ES`). The output is the raw shared secret Z; feed it to ``HKDF``.
public enum KeyAgreement {
    /// Computes the shared secret between `privateKey` and `peerPublicKey` (same type and curve).
    ///
    /// The peer key is validated by OpenSSL (`EVP_PKEY_derive_set_peer` checks it; for EC that
    /// includes the point being on the curve). A secret of all zero bytes, which a low-order X25519
    /// point yields, is refused with ``CryptoError/invalidSharedSecret``.
    public static func derive(privateKey: PrivateKey, peerPublicKey: PublicKey) throws -> [UInt8] {
        let ownType = privateKey.keyType
        switch ownType {
        case .x25519, .ec: break
        default: throw CryptoError.keyMismatch("key agreement needs an X25519 or EC key, not \(ownType)")
        }
        guard peerPublicKey.keyType == ownType else {
            throw CryptoError.keyMismatch("peer key is \(peerPublicKey.keyType), own key is \(ownType)")
        }
        guard let context = EVP_PKEY_CTX_new_from_pkey(nil, privateKey.pointer, nil) else {
            throw CryptoError.openSSL("EVP_PKEY_CTX_new_from_pkey")
        }
        defer { EVP_PKEY_CTX_free(context) }
        guard EVP_PKEY_derive_init(context) == 1 else { throw CryptoError.openSSL("EVP_PKEY_derive_init") }
        guard EVP_PKEY_derive_set_peer(context, peerPublicKey.pointer) == 1 else {
            throw CryptoError.openSSL("EVP_PKEY_derive_set_peer (invalid peer key)")
        }
        var length = 0
        guard EVP_PKEY_derive(context, nil, &length) == 1 else { throw CryptoError.openSSL("EVP_PKEY_derive") }
        var secret = [UInt8](repeating: 0, count: length)
        guard EVP_PKEY_derive(context, &secret, &length) == 1 else {
            // OpenSSL's X25519 itself fails on an all-zero result; report it the same way.
            let detail = OpenSSLErrorQueue.drain()
            if ownType == .x25519 { throw CryptoError.invalidSharedSecret }
            throw CryptoError.library(operation: "EVP_PKEY_derive", openSSLError: detail)
        }
        secret.removeSubrange(length...)
        // Constant-time all-zero test.
        guard secret.reduce(0, |) != 0 else { throw CryptoError.invalidSharedSecret }
        return secret
    }
}

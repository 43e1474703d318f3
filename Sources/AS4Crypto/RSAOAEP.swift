import COpenSSL
import Foundation

/// RSA-OAEP key transport (XML Encryption `xenc:EncryptedKey`), no label.
///
/// eDelivery AS4 1.x: `xmlenc11#rsa-oaep` with SHA-256 and MGF1-SHA-256. Decryption failures of any
/// kind are reported as the single ``CryptoError/decryptionFailed``, and the OpenSSL error queue is
/// discarded, so callers cannot tell a padding failure from any other (no padding oracle). Callers
/// should answer it exactly like an AES-GCM tag failure (EBMS:0102).
public enum RSAOAEP {
    /// OAEP digest and MGF1 digest.
    public struct Parameters: Hashable, Sendable {
        public var digest: DigestAlgorithm
        public var mgf1Digest: DigestAlgorithm

        public init(digest: DigestAlgorithm, mgf1Digest: DigestAlgorithm) {
            self.digest = digest
            self.mgf1Digest = mgf1Digest
        }

        /// eDelivery AS4 1.15: SHA-256 with MGF1-SHA-256.
        public static let eDelivery = Parameters(digest: .sha256, mgf1Digest: .sha256)
        /// `xmlenc#rsa-oaep-mgf1p` defaults: SHA-1 with MGF1-SHA-1 (legacy, accept-only).
        public static let legacyMGF1P = Parameters(digest: .sha1, mgf1Digest: .sha1)

        public static let rsaOAEPURI = "http://www.w3.org/2009/xmlenc11#rsa-oaep"
        public static let rsaOAEPMGF1PURI = "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"

        /// The `xenc11:MGF/@Algorithm` URI for an MGF1 digest.
        public static func mgfURI(for digest: DigestAlgorithm) -> String {
            "http://www.w3.org/2009/xmlenc11#mgf1" + digest.rawValue
        }

        /// Interprets an `xenc:EncryptionMethod`: its `Algorithm`, the optional `ds:DigestMethod`
        /// URI and the optional `xenc11:MGF` URI, applying XML Encryption 1.1's defaults (SHA-1 digest,
        /// MGF1-SHA-1). `rsa-oaep-mgf1p` fixes MGF1-SHA-1 and ignores any MGF element. Returns nil for
        /// anything unrecognised (including `rsa-1_5`, which must never be accepted).
        public init?(algorithmURI: String, digestURI: String?, mgfURI: String?) {
            let digest: DigestAlgorithm
            if let digestURI {
                guard let parsed = DigestAlgorithm(xmlURI: digestURI) else { return nil }
                digest = parsed
            } else {
                digest = .sha1
            }
            switch algorithmURI {
            case Self.rsaOAEPMGF1PURI:
                self.init(digest: digest, mgf1Digest: .sha1)
            case Self.rsaOAEPURI:
                var mgf1: DigestAlgorithm = .sha1
                if let mgfURI {
                    guard let match = DigestAlgorithm.allCases.first(where: { Self.mgfURI(for: $0) == mgfURI }) else { return nil }
                    mgf1 = match
                }
                self.init(digest: digest, mgf1Digest: mgf1)
            default:
                return nil
            }
        }
    }

    /// Encrypts `plaintext` (a content-encryption key) for the holder of `publicKey`.
    public static func encrypt(_ plaintext: some ContiguousBytes, publicKey: PublicKey,
                               parameters: Parameters = .eDelivery) throws -> [UInt8] {
        guard publicKey.keyType == .rsa else { throw CryptoError.keyMismatch("RSA-OAEP needs an RSA key, not \(publicKey.keyType)") }
        let context = try makeContext(publicKey.pointer, parameters: parameters, initialise: EVP_PKEY_encrypt_init)
        defer { EVP_PKEY_CTX_free(context) }
        return try plaintext.withUnsafeBytes { raw -> [UInt8] in
            let input = raw.baseAddress?.assumingMemoryBound(to: UInt8.self)
            var length = 0
            guard EVP_PKEY_encrypt(context, nil, &length, input, raw.count) == 1 else { throw CryptoError.openSSL("EVP_PKEY_encrypt") }
            var output = [UInt8](repeating: 0, count: length)
            guard EVP_PKEY_encrypt(context, &output, &length, input, raw.count) == 1 else {
                throw CryptoError.openSSL("EVP_PKEY_encrypt (plaintext too long for the key?)")
            }
            return Array(output.prefix(length))
        }
    }

    /// Decrypts an RSA-OAEP ciphertext. Every failure is ``CryptoError/decryptionFailed``.
    public static func decrypt(_ ciphertext: some ContiguousBytes, privateKey: PrivateKey,
                               parameters: Parameters = .eDelivery) throws -> [UInt8] {
        defer { OpenSSLErrorQueue.clear() }
        guard privateKey.keyType == .rsa,
              let context = try? makeContext(privateKey.pointer, parameters: parameters, initialise: EVP_PKEY_decrypt_init) else {
            throw CryptoError.decryptionFailed
        }
        defer { EVP_PKEY_CTX_free(context) }
        let result = ciphertext.withUnsafeBytes { raw -> [UInt8]? in
            let input = raw.baseAddress?.assumingMemoryBound(to: UInt8.self)
            var length = Int(EVP_PKEY_get_size(privateKey.pointer))
            var output = [UInt8](repeating: 0, count: length)
            guard raw.count > 0, EVP_PKEY_decrypt(context, &output, &length, input, raw.count) == 1 else { return nil }
            return Array(output.prefix(length))
        }
        guard let result else { throw CryptoError.decryptionFailed }
        return result
    }

    private static func makeContext(_ pkey: OpaquePointer, parameters: Parameters,
                                    initialise: (OpaquePointer?) -> Int32) throws -> OpaquePointer {
        guard let context = EVP_PKEY_CTX_new_from_pkey(nil, pkey, nil) else { throw CryptoError.openSSL("EVP_PKEY_CTX_new_from_pkey") }
        guard initialise(context) == 1,
              EVP_PKEY_CTX_set_rsa_padding(context, RSA_PKCS1_OAEP_PADDING) == 1,
              EVP_PKEY_CTX_set_rsa_oaep_md(context, parameters.digest.evpMD) == 1,
              EVP_PKEY_CTX_set_rsa_mgf1_md(context, parameters.mgf1Digest.evpMD) == 1 else {
            EVP_PKEY_CTX_free(context)
            throw CryptoError.openSSL("RSA-OAEP setup")
        }
        return context
    }
}

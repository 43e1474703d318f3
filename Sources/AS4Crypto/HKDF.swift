import COpenSSL
import Foundation

/// HKDF (RFC 5869) extract-and-expand, through OpenSSL 3's `EVP_KDF` "HKDF".
///
/// eDelivery AS4 2.0 uses it with HMAC-SHA256 (`xmldsig-more#hkdf` + `xmldsig-more#hmac-sha256`)
/// to turn the X25519/ECDH shared secret into a 16-byte key-wrapping key.
public enum HKDF {
    /// The `dsig-more:PRF/@Algorithm` URI for HMAC-SHA256.
    public static let hmacSHA256URI = "http://www.w3.org/2001/04/xmldsig-more#hmac-sha256"

    /// Derives `outputByteCount` bytes. An empty salt means HashLen zero bytes (RFC 5869 §2.2);
    /// empty info is allowed. `outputByteCount` is at most 255 × the digest length.
    public static func deriveKey(inputKeyMaterial: some ContiguousBytes, salt: some ContiguousBytes,
                                 info: some ContiguousBytes, outputByteCount: Int,
                                 digest: DigestAlgorithm = .sha256) throws -> [UInt8] {
        let ikm = inputKeyMaterial.byteArray
        let saltBytes = salt.byteArray
        let infoBytes = info.byteArray
        guard !ikm.isEmpty else { throw CryptoError.invalidArgument("HKDF input keying material is empty") }
        guard outputByteCount > 0, outputByteCount <= 255 * digest.outputByteCount else {
            throw CryptoError.invalidArgument("HKDF output length \(outputByteCount) out of range")
        }
        guard let kdf = EVP_KDF_fetch(nil, "HKDF", nil) else { throw CryptoError.openSSL("EVP_KDF_fetch(HKDF)") }
        defer { EVP_KDF_free(kdf) }
        guard let context = EVP_KDF_CTX_new(kdf) else { throw CryptoError.openSSL("EVP_KDF_CTX_new") }
        defer { EVP_KDF_CTX_free(context) }

        let parameters = OSSLParameters()
        parameters.addUTF8String("digest", digestName(digest))
        parameters.addOctetString("key", ikm)
        // Without a salt parameter OpenSSL uses an empty HMAC key, which HMAC pads to HashLen zeros:
        // the same result RFC 5869 specifies for an absent salt.
        if !saltBytes.isEmpty { parameters.addOctetString("salt", saltBytes) }
        if !infoBytes.isEmpty { parameters.addOctetString("info", infoBytes) }

        var output = [UInt8](repeating: 0, count: outputByteCount)
        let ok = parameters.withParameters { EVP_KDF_derive(context, &output, output.count, $0) }
        guard ok == 1 else { throw CryptoError.openSSL("EVP_KDF_derive(HKDF)") }
        return output
    }

    private static func digestName(_ digest: DigestAlgorithm) -> String {
        switch digest {
        case .sha1: return "SHA1"
        case .sha256: return "SHA256"
        case .sha384: return "SHA384"
        case .sha512: return "SHA512"
        }
    }
}

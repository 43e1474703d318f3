import COpenSSL
import Foundation

/// AES Key Wrap (RFC 3394, default IV `A6A6A6A6A6A6A6A6`): `xmlenc#kw-aes128/192/256`.
/// The key-encryption key length selects the variant (16, 24 or 32 bytes).
public enum AESKeyWrap {
    /// Wraps `key` (at least 16 bytes, a multiple of 8) under `kek`; the result is 8 bytes longer.
    public static func wrap(key: some ContiguousBytes, kek: some ContiguousBytes) throws -> [UInt8] {
        let input = key.byteArray
        guard input.count >= 16, input.count % 8 == 0 else {
            throw CryptoError.invalidArgument("key to wrap must be at least 16 bytes and a multiple of 8")
        }
        guard let output = try run(input, kek: kek.byteArray, encrypt: true) else { throw CryptoError.openSSL("AES key wrap") }
        return output
    }

    /// Unwraps; an integrity-check failure (wrong KEK, tampered data) is ``CryptoError/authenticationFailed``.
    public static func unwrap(_ wrapped: some ContiguousBytes, kek: some ContiguousBytes) throws -> [UInt8] {
        let input = wrapped.byteArray
        guard input.count >= 24, input.count % 8 == 0 else { throw CryptoError.authenticationFailed }
        guard let output = try run(input, kek: kek.byteArray, encrypt: false) else {
            OpenSSLErrorQueue.clear()
            throw CryptoError.authenticationFailed
        }
        return output
    }

    /// nil when the cipher operation fails (for unwrap: the integrity check).
    private static func run(_ input: [UInt8], kek: [UInt8], encrypt: Bool) throws -> [UInt8]? {
        let cipher: OpaquePointer?
        switch kek.count {
        case 16: cipher = EVP_aes_128_wrap()
        case 24: cipher = EVP_aes_192_wrap()
        case 32: cipher = EVP_aes_256_wrap()
        default: throw CryptoError.invalidArgument("key-encryption key must be 16, 24 or 32 bytes, not \(kek.count)")
        }
        guard let context = EVP_CIPHER_CTX_new() else { throw CryptoError.openSSL("EVP_CIPHER_CTX_new") }
        defer { EVP_CIPHER_CTX_free(context) }
        // The wrap ciphers are refused by EVP unless this flag is set (they are not general-purpose modes).
        EVP_CIPHER_CTX_set_flags(context, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW)
        let mode: Int32 = encrypt ? 1 : 0
        guard EVP_CipherInit_ex(context, cipher, nil, kek, nil, mode) == 1 else { throw CryptoError.openSSL("AES key wrap init") }
        var output = [UInt8](repeating: 0, count: input.count + 16)
        var written: Int32 = 0
        guard EVP_CipherUpdate(context, &output, &written, input, Int32(input.count)) == 1, written > 0 else { return nil }
        var total = Int(written)
        let finalOK = output.withUnsafeMutableBufferPointer { buffer in
            EVP_CipherFinal_ex(context, buffer.baseAddress! + total, &written) == 1
        }
        guard finalOK else { return nil }
        total += Int(written)
        return Array(output.prefix(total))
    }
}

import COpenSSL
import Foundation

/// AES-GCM in the XML Encryption 1.1 / WSS SwA layout: `IV (12 bytes) || ciphertext || tag (16 bytes)`.
/// The key length picks the variant: 16 bytes AES-128-GCM (`xmlenc11#aes128-gcm`), 24 AES-192, 32 AES-256.
///
/// Any decryption failure (tag mismatch, truncated input) is ``CryptoError/authenticationFailed``,
/// with no detail. For large attachments use ``AESGCMEncryptor`` / ``AESGCMDecryptor``.
public enum AESGCM {
    public static let ivByteCount = 12
    public static let tagByteCount = 16

    /// Encrypts `plaintext` and returns `IV || ciphertext || tag`. Pass `iv` only for test vectors:
    /// by default a fresh random IV is drawn, and an IV must never repeat under one key.
    public static func seal(_ plaintext: some ContiguousBytes, key: some ContiguousBytes,
                            iv: [UInt8]? = nil, additionalData: [UInt8] = []) throws -> [UInt8] {
        let encryptor = try AESGCMEncryptor(key: key, iv: iv, additionalData: additionalData)
        var output = try encryptor.update(plaintext)
        output += try encryptor.finish()
        return output
    }

    /// Decrypts `IV || ciphertext || tag` and returns the plaintext only if the tag verifies.
    public static func open(_ sealed: some ContiguousBytes, key: some ContiguousBytes,
                            additionalData: [UInt8] = []) throws -> [UInt8] {
        let decryptor = try AESGCMDecryptor(key: key, additionalData: additionalData)
        let plaintext = try decryptor.update(sealed)
        try decryptor.finish()
        return plaintext
    }
}

/// An owned `EVP_CIPHER_CTX` set up for AES-GCM with a 12-byte IV.
final class GCMCipher {
    private let context: OpaquePointer
    let encrypting: Bool

    init(key: [UInt8], iv: [UInt8], encrypting: Bool, additionalData: [UInt8]) throws {
        let cipher: OpaquePointer?
        switch key.count {
        case 16: cipher = EVP_aes_128_gcm()
        case 24: cipher = EVP_aes_192_gcm()
        case 32: cipher = EVP_aes_256_gcm()
        default: throw CryptoError.invalidArgument("AES-GCM key must be 16, 24 or 32 bytes, not \(key.count)")
        }
        guard iv.count == AESGCM.ivByteCount else { throw CryptoError.invalidArgument("AES-GCM IV must be 12 bytes") }
        guard let context = EVP_CIPHER_CTX_new() else { throw CryptoError.openSSL("EVP_CIPHER_CTX_new") }
        self.context = context
        self.encrypting = encrypting
        let mode: Int32 = encrypting ? 1 : 0
        guard EVP_CipherInit_ex(context, cipher, nil, nil, nil, mode) == 1,
              EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_SET_IVLEN, Int32(iv.count), nil) == 1,
              EVP_CipherInit_ex(context, nil, nil, key, iv, mode) == 1 else {
            throw CryptoError.openSSL("AES-GCM initialisation")
        }
        if !additionalData.isEmpty {
            var ignored: Int32 = 0
            guard EVP_CipherUpdate(context, nil, &ignored, additionalData, try int32Length(additionalData.count, "AAD")) == 1 else {
                throw CryptoError.openSSL("AES-GCM additional data")
            }
        }
    }

    deinit { EVP_CIPHER_CTX_free(context) }  // also wipes the key schedule

    /// Processes `inputs` in order into one output array, after `prefix` (GCM output has the same
    /// length as its input). Several inputs let callers avoid concatenating buffers first.
    func update(prefix: [UInt8] = [], _ inputs: UnsafeRawBufferPointer...) throws -> [UInt8] {
        let total = prefix.count + inputs.reduce(0) { $0 + $1.count }
        guard total > 0 else { return [] }
        return try [UInt8](unsafeUninitializedCapacity: total) { buffer, initialized in
            let output = buffer.baseAddress!
            prefix.withUnsafeBufferPointer { output.update(from: $0.baseAddress!, count: $0.count) }
            var offset = prefix.count
            for input in inputs where input.count > 0 {
                let source = input.baseAddress!.assumingMemoryBound(to: UInt8.self)
                var consumed = 0
                while consumed < input.count {
                    let step = min(input.count - consumed, 1 << 30)
                    var written: Int32 = 0
                    guard EVP_CipherUpdate(context, output + offset, &written, source + consumed, Int32(step)) == 1,
                          Int(written) == step else {
                        throw encrypting ? CryptoError.openSSL("AES-GCM encryption") : CryptoError.authenticationFailed
                    }
                    consumed += step
                    offset += step
                }
            }
            initialized = total
        }
    }

    /// Encryption: finishes and returns the 16-byte tag.
    func finishEncryption() throws -> [UInt8] {
        var scratch = [UInt8](repeating: 0, count: 16)
        var written: Int32 = 0
        guard EVP_CipherFinal_ex(context, &scratch, &written) == 1 else { throw CryptoError.openSSL("AES-GCM final") }
        var tag = [UInt8](repeating: 0, count: AESGCM.tagByteCount)
        guard EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_GET_TAG, Int32(tag.count), &tag) == 1 else {
            throw CryptoError.openSSL("AES-GCM get tag")
        }
        return tag
    }

    /// Decryption: checks `tag`; throws ``CryptoError/authenticationFailed`` on mismatch.
    func finishDecryption(tag: [UInt8]) throws {
        var tagCopy = tag
        var scratch = [UInt8](repeating: 0, count: 16)
        var written: Int32 = 0
        let ok = tag.count == AESGCM.tagByteCount
            && EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_SET_TAG, Int32(tagCopy.count), &tagCopy) == 1
            && EVP_CipherFinal_ex(context, &scratch, &written) == 1
        OpenSSLErrorQueue.clear()
        guard ok else { throw CryptoError.authenticationFailed }
    }
}

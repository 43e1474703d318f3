import COpenSSL
import Foundation

/// Streaming AES-GCM encryption producing `IV || ciphertext || tag`.
///
/// The concatenation of everything returned by ``update(_:)`` calls and by ``finish()`` is exactly
/// the sealed layout: the IV comes out in front of the first output, the tag at the end.
/// Not `Sendable` (mutable cipher state): one encryptor per stream.
public final class AESGCMEncryptor {
    /// The IV in use (random unless given).
    public let iv: [UInt8]
    private let cipher: GCMCipher
    private var headerWritten = false
    private var finished = false

    public init(key: some ContiguousBytes, iv: [UInt8]? = nil, additionalData: [UInt8] = []) throws {
        let iv = try iv ?? SecureRandom.bytes(AESGCM.ivByteCount)
        self.iv = iv
        cipher = try GCMCipher(key: key.byteArray, iv: iv, encrypting: true, additionalData: additionalData)
    }

    /// Encrypts a chunk; the first call's output starts with the IV.
    public func update(_ chunk: some ContiguousBytes) throws -> [UInt8] {
        guard !finished else { throw CryptoError.invalidArgument("encryptor already finished") }
        return try chunk.withUnsafeBytes { try cipher.update(prefix: takeHeader(), $0) }
    }

    /// Finishes and returns the 16-byte tag (preceded by the IV if ``update(_:)`` was never called).
    public func finish() throws -> [UInt8] {
        guard !finished else { throw CryptoError.invalidArgument("encryptor already finished") }
        finished = true
        return takeHeader() + (try cipher.finishEncryption())
    }

    private func takeHeader() -> [UInt8] {
        guard !headerWritten else { return [] }
        headerWritten = true
        return iv
    }
}

/// Streaming AES-GCM decryption of `IV || ciphertext || tag`, fed in chunks of any size.
///
/// **The plaintext returned by ``update(_:)`` is not authenticated until ``finish()`` returns
/// without throwing.** Callers must not release it (deliver, decompress into a delivery area,
/// parse and act on it) before that. The usual pattern: write the chunks to a temporary file,
/// call ``finish()``, and only then rename the file into place; on failure delete it.
///
/// Internally the last 16 bytes seen are held back, since they may be the tag. Not `Sendable`.
public final class AESGCMDecryptor {
    private let key: [UInt8]
    private let additionalData: [UInt8]
    private var ivBuffer: [UInt8] = []
    private var cipher: GCMCipher?
    private var tail: [UInt8] = []
    private var finished = false

    public init(key: some ContiguousBytes, additionalData: [UInt8] = []) throws {
        let key = key.byteArray
        guard [16, 24, 32].contains(key.count) else {
            throw CryptoError.invalidArgument("AES-GCM key must be 16, 24 or 32 bytes, not \(key.count)")
        }
        self.key = key
        self.additionalData = additionalData
    }

    /// Feeds sealed bytes; returns the plaintext that can be decrypted so far (UNAUTHENTICATED).
    public func update(_ chunk: some ContiguousBytes) throws -> [UInt8] {
        guard !finished else { throw CryptoError.invalidArgument("decryptor already finished") }
        return try chunk.withUnsafeBytes { raw -> [UInt8] in
            var input = raw[...]
            if cipher == nil {
                let needed = AESGCM.ivByteCount - ivBuffer.count
                ivBuffer += input.prefix(needed)
                input = input.dropFirst(needed)
                guard ivBuffer.count == AESGCM.ivByteCount else { return [] }
                cipher = try GCMCipher(key: key, iv: ivBuffer, encrypting: false, additionalData: additionalData)
            }
            guard let cipher else { return [] }
            // Release everything except the last 16 bytes of (tail + input).
            let releasable = tail.count + input.count - AESGCM.tagByteCount
            guard releasable > 0 else {
                tail += input
                return []
            }
            let fromTail = min(releasable, tail.count)
            let fromInput = releasable - fromTail
            let output = try tail.withUnsafeBytes { held in
                try cipher.update(UnsafeRawBufferPointer(rebasing: held.prefix(fromTail)),
                                  UnsafeRawBufferPointer(rebasing: input.prefix(fromInput)))
            }
            tail = Array(tail.dropFirst(fromTail)) + input.dropFirst(fromInput)
            return output
        }
    }

    /// Verifies the tag. Throws ``CryptoError/authenticationFailed`` if it does not match or the
    /// input was too short to hold an IV and a tag; all plaintext returned so far must then be discarded.
    public func finish() throws {
        guard !finished else { throw CryptoError.invalidArgument("decryptor already finished") }
        finished = true
        guard let cipher, tail.count == AESGCM.tagByteCount else { throw CryptoError.authenticationFailed }
        try cipher.finishDecryption(tag: tail)
    }
}

import COpenSSL
import Foundation

/// Streaming SHA-256 over OpenSSL's EVP interface (already linked by the gateway for its
/// cryptography), so payload files can be hashed while they are copied. OpenSSL uses the CPU's
/// SHA extensions or vector code, several times faster than plain Swift.
struct SHA256 {
    /// Owns the EVP context so it is freed with the last copy of the hasher.
    private final class Context {
        let pointer: OpaquePointer

        init() {
            guard let context = EVP_MD_CTX_new(), EVP_DigestInit_ex(context, EVP_sha256(), nil) == 1 else {
                fatalError("OpenSSL could not start a SHA-256 digest")
            }
            pointer = context
        }

        deinit { EVP_MD_CTX_free(pointer) }
    }

    private let context = Context()

    mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        guard EVP_DigestUpdate(context.pointer, base, bytes.count) == 1 else {
            fatalError("OpenSSL SHA-256 update failed")
        }
    }

    mutating func update(_ data: Data) { data.withUnsafeBytes { update($0) } }

    /// The digest; the hasher must not be used afterwards.
    mutating func finalize() -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        guard EVP_DigestFinal_ex(context.pointer, &digest, &length) == 1, length == 32 else {
            fatalError("OpenSSL SHA-256 final failed")
        }
        return digest
    }

    static func hex(_ digest: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var text = [UInt8]()
        text.reserveCapacity(digest.count * 2)
        for byte in digest {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// Hex digest of `data` in one call.
    static func hexDigest(_ data: Data) -> String {
        var hasher = SHA256()
        hasher.update(data)
        return hex(hasher.finalize())
    }
}

import COpenSSL
import Foundation

/// Cryptographically secure random bytes from OpenSSL's DRBG (`RAND_bytes`; thread-safe in OpenSSL 3).
public enum SecureRandom {
    /// `count` random bytes (keys, IVs, salts, serial numbers).
    public static func bytes(_ count: Int) throws -> [UInt8] {
        guard count >= 0 else { throw CryptoError.invalidArgument("negative random byte count") }
        guard count > 0 else { return [] }
        let length = try int32Length(count, "random byte count")
        var output = [UInt8](repeating: 0, count: count)
        guard RAND_bytes(&output, length) == 1 else { throw CryptoError.openSSL("RAND_bytes") }
        return output
    }
}

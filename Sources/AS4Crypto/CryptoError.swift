import COpenSSL
import Foundation

/// The one error type thrown by `AS4Crypto`.
///
/// Cases that come from a failed OpenSSL call carry the text of OpenSSL's error queue
/// (drained at the point of failure, so it never leaks into a later, unrelated call).
/// Two cases deliberately carry no detail at all: ``authenticationFailed`` and
/// ``decryptionFailed``. Callers turn both into the same generic ebMS error (EBMS:0102), and
/// the absence of detail keeps padding-oracle style distinctions out of reach.
public enum CryptoError: Error, Sendable, Equatable, CustomStringConvertible {
    /// An OpenSSL call failed. `operation` names what was being done; `openSSLError` is the drained error queue.
    case library(operation: String, openSSLError: String)
    /// Input could not be parsed (PEM, DER, base64, distinguished name, PKCS#12, ...).
    case decodingFailed(what: String, openSSLError: String)
    /// A caller-supplied argument is out of range (key length, IV length, output length, ...).
    case invalidArgument(String)
    /// The algorithm is recognised but not allowed or not supported here (e.g. signing with rsa-sha1).
    case unsupportedAlgorithm(String)
    /// The key does not fit the requested operation (e.g. an EC key for rsa-sha256).
    case keyMismatch(String)
    /// Authenticated decryption failed: AES-GCM tag mismatch or AES key-wrap integrity check. No detail on purpose.
    case authenticationFailed
    /// RSA-OAEP decryption failed. No detail on purpose (no padding oracle).
    case decryptionFailed
    /// Key agreement produced a degenerate (all-zero) shared secret, i.e. a low-order or invalid peer key.
    case invalidSharedSecret

    public var description: String {
        switch self {
        case let .library(operation, err): return "OpenSSL failure in \(operation): \(err)"
        case let .decodingFailed(what, err): return err.isEmpty ? "cannot decode \(what)" : "cannot decode \(what): \(err)"
        case let .invalidArgument(msg): return "invalid argument: \(msg)"
        case let .unsupportedAlgorithm(msg): return "unsupported algorithm: \(msg)"
        case let .keyMismatch(msg): return "key mismatch: \(msg)"
        case .authenticationFailed: return "authentication failed"
        case .decryptionFailed: return "decryption failed"
        case .invalidSharedSecret: return "invalid (all-zero) shared secret"
        }
    }

    /// A ``library(operation:openSSLError:)`` error with the current thread's OpenSSL error queue drained into it.
    static func openSSL(_ operation: String) -> CryptoError {
        .library(operation: operation, openSSLError: OpenSSLErrorQueue.drain())
    }

    /// A ``decodingFailed(what:openSSLError:)`` error with the OpenSSL error queue drained into it.
    static func decoding(_ what: String) -> CryptoError {
        .decodingFailed(what: what, openSSLError: OpenSSLErrorQueue.drain())
    }
}

/// Access to OpenSSL's per-thread error queue.
enum OpenSSLErrorQueue {
    /// Removes every queued error and returns them as one line, oldest first, separated by "; ".
    static func drain() -> String {
        var messages: [String] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            var buffer = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buffer, buffer.count)
            messages.append(string(fromNulTerminated: buffer))
        }
        return messages.joined(separator: "; ")
    }

    /// After reading PEM objects in a loop until one fails: nil when the only queued errors are
    /// "no start line" (normal end of input), otherwise the drained error text (a corrupt block).
    static func drainAfterPEMLoop() -> String? {
        var unexpected: [String] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            if ERR_GET_LIB(code) == ERR_LIB_PEM && ERR_GET_REASON(code) == PEM_R_NO_START_LINE { continue }
            var buffer = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buffer, buffer.count)
            unexpected.append(string(fromNulTerminated: buffer))
        }
        return unexpected.isEmpty ? nil : unexpected.joined(separator: "; ")
    }

    /// Discards queued errors (used where the error must stay generic, and after expected soft failures).
    static func clear() {
        ERR_clear_error()
    }
}

/// Decodes a NUL-terminated C buffer as UTF-8 without the deprecated `String(cString:)` on arrays (PLATFORM-NOTES G12).
func string(fromNulTerminated buffer: [CChar]) -> String {
    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

import AS4Crypto
import EnvelopeXML
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// One line per event on stderr, for the people tailing logs at 3 a.m.: logfmt by default,
/// JSON with `--log-format json`. Fields come in a fixed order (time, level, event, then the
/// message's own), so a grep or an eye finds them in the same place on every line. Payload
/// bytes, keys and secrets are never passed here.
///
/// A natural person's address carries their personal code (`_PRIVATE@<code>`), which is personal
/// data the log has no need of: wherever one appears in a field, the code is replaced by a
/// pseudonym (`_PRIVATE@~` and 10 hex digits of an HMAC under this installation's key), the same
/// for the same person on every line, so lines can still be followed and matched.
final class EventLog: Sendable {
    enum Format: String, Sendable, CaseIterable { case logfmt, json }
    enum Level: Int, Comparable, Sendable {
        case debug, info, warning, error
        var name: String { ["debug", "info", "warn", "error"][rawValue] }
        static func < (a: Level, b: Level) -> Bool { a.rawValue < b.rawValue }
        /// The words `init(name:)` takes, for error messages.
        static let names = "debug, info, warn (or warning), error"
        init?(name: String) {
            switch name.lowercased() {
            case "debug": self = .debug
            case "info": self = .info
            case "warn", "warning": self = .warning
            case "error": self = .error
            default: return nil
            }
        }
    }

    let format: Format
    let minimum: Level
    private let lock = Mutex(())
    private let fd: Int32
    private let pseudonymKey: [UInt8]

    /// `pseudonymKey`: the key of the personal-code pseudonyms (`LogPseudonymKey`); a random one
    /// for this process when nil.
    init(format: Format, minimum: Level = .info, fileDescriptor: Int32 = 2, pseudonymKey: [UInt8]? = nil) {
        self.format = format
        self.minimum = minimum
        self.fd = fileDescriptor
        self.pseudonymKey = pseudonymKey ?? ((try? SecureRandom.bytes(32)) ?? Array(UUID().uuidString.utf8))
    }

    static let personPrefix = "_PRIVATE@"

    /// `value` with every personal code after `_PRIVATE@` (any case) replaced by its pseudonym.
    func maskingPersonalCodes(_ value: String) -> String {
        guard value.utf8.contains(UInt8(ascii: "@")), value.range(of: Self.personPrefix, options: .caseInsensitive) != nil else { return value }
        var out = ""
        var rest = Substring(value)
        while let r = rest.range(of: Self.personPrefix, options: .caseInsensitive) {
            out += rest[..<r.upperBound]
            let code = rest[r.upperBound...].prefix { $0.isASCII && ($0.isNumber || $0 == "-") }
            if !code.isEmpty {
                let mac = (try? HMAC.sha256(key: pseudonymKey, data: Array(code.filter { $0 != "-" }.utf8))) ?? []
                out += "~" + mac.prefix(5).map { String(format: "%02x", $0) }.joined()
            }
            rest = rest[r.upperBound...].dropFirst(code.count)
        }
        return out + rest
    }

    /// Known fields in the order they are printed; anything else follows in the order given.
    static let order = ["message_id", "document_id", "conversation_id", "ref_to", "from", "to", "service", "action", "pmode", "status",
                        "attempt", "elapsed_ms", "error_code", "reason"]

    func log(_ level: Level, _ event: String, _ fields: [String: String?] = [:]) {
        guard level >= minimum else { return }
        var pairs: [(String, String)] = [("time", Timestamp().lexical), ("level", level.name), ("event", event)]
        for key in Self.order { if let v = fields[key], let value = v { pairs.append((key, maskingPersonalCodes(value))) } }
        for (key, v) in fields.sorted(by: { $0.key < $1.key }) where !Self.order.contains(key) {
            if let value = v { pairs.append((key, maskingPersonalCodes(value))) }
        }
        var line = format == .json ? Self.json(pairs) : Self.logfmt(pairs)
        line += "\n"
        lock.withLock { _ in
            var bytes = Array(line.utf8)
            var offset = 0
            while offset < bytes.count {
                let n = bytes.withUnsafeMutableBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
                if n <= 0 { if n < 0 && errno == EINTR { continue }; break }
                offset += n
            }
        }
    }

    static func logfmt(_ pairs: [(String, String)]) -> String {
        pairs.map { key, value in
            let needsQuotes = value.isEmpty || value.contains { $0 == " " || $0 == "\"" || $0 == "=" || $0 == "\\" || $0.isNewline }
            guard needsQuotes else { return "\(key)=\(value)" }
            let escaped = value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
                .replacingOccurrences(of: "\n", with: "\\n").replacingOccurrences(of: "\r", with: "\\r")
            return "\(key)=\"\(escaped)\""
        }.joined(separator: " ")
    }

    static func json(_ pairs: [(String, String)]) -> String {
        var out = "{"
        for (i, (key, value)) in pairs.enumerated() {
            if i > 0 { out += "," }
            out += quote(key) + ":"
            // Numbers stay numbers so log processors can aggregate them.
            if (key == "elapsed_ms" || key == "attempt"), Double(value) != nil { out += value } else { out += quote(value) }
        }
        return out + "}"
    }

    static func quote(_ s: String) -> String {
        var out = ""
        JSON.quote(s, into: &out)
        return out
    }
}

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

    /// A value is printed bare only when it holds nothing a reader splits on or a terminal acts
    /// on; otherwise quoted, with `"` and `\\` escaped and every character `isEscaped` names written
    /// as an escape, so that a client's path or a library's reason cannot start a new line,
    /// move the cursor, erase what `tail -f` showed before, or reorder the text around it.
    static func logfmt(_ pairs: [(String, String)]) -> String {
        pairs.map { key, value in
            guard value.isEmpty || !value.utf8.allSatisfy(isBare) && value.unicodeScalars.contains(where: needsQuotes) else {
                return "\(key)=\(value)"
            }
            var out = "\(key)=\""
            for u in value.unicodeScalars {
                switch u {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case _ where isEscaped(u): out += escape(u, astral: { String(format: "\\U%08x", $0.value) })
                default: out.unicodeScalars.append(u)
                }
            }
            return out + "\""
        }.joined(separator: " ")
    }

    /// Printable ASCII that needs no quotes (not space, `"`, `=` or `\\`); any other byte sends
    /// the value through the careful path.
    private static func isBare(_ byte: UInt8) -> Bool {
        byte > 0x20 && byte < 0x7F && byte != UInt8(ascii: "\"") && byte != UInt8(ascii: "=") && byte != UInt8(ascii: "\\")
    }

    /// Letters of any script stay bare; spaces of any kind and what `isEscaped` names do not.
    private static func needsQuotes(_ u: Unicode.Scalar) -> Bool {
        u.isASCII ? !isBare(UInt8(u.value)) : isEscaped(u) || u.properties.isWhitespace
    }

    /// Controls (C0, DEL, C1: tab, ESC and the 8-bit CSI among them), line and paragraph
    /// separators, and format characters (bidirectional overrides and isolates, zero-width
    /// characters): what a terminal or an editor acts on instead of showing.
    static func isEscaped(_ u: Unicode.Scalar) -> Bool {
        switch u.properties.generalCategory {
        case .control, .format, .lineSeparator, .paragraphSeparator: return true
        default: return false
        }
    }

    private static func escape(_ u: Unicode.Scalar, astral: (Unicode.Scalar) -> String) -> String {
        switch u {
        case "\n": return "\\n"
        case "\r": return "\\r"
        case "\t": return "\\t"
        case _ where u.value <= 0xFFFF: return String(format: "\\u%04x", u.value)
        default: return astral(u)
        }
    }

    static func json(_ pairs: [(String, String)]) -> String {
        var out = "{"
        for (i, (key, value)) in pairs.enumerated() {
            if i > 0 { out += "," }
            out += quote(key) + ":"
            // Numbers stay numbers so log processors can aggregate them.
            if (key == "elapsed_ms" || key == "attempt"), Double(value) != nil { out += value } else { out += jsonLogString(value) }
        }
        return out + "}"
    }

    /// A JSON string as `JSON.quote` writes it, with the characters `isEscaped` names escaped
    /// too: valid JSON either way, but a raw C1 control or bidirectional override would still
    /// act on a terminal showing the log.
    static func jsonLogString(_ s: String) -> String {
        guard s.unicodeScalars.contains(where: { $0.value >= 0x7F && isEscaped($0) }) else { return quote(s) }
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where isEscaped(u):
                // Beyond the Basic Multilingual Plane JSON escapes a surrogate pair.
                out += escape(u, astral: { u in
                    let v = u.value - 0x10000
                    return String(format: "\\u%04x\\u%04x", 0xD800 + (v >> 10), 0xDC00 + (v & 0x3FF))
                })
            default: out.unicodeScalars.append(u)
            }
        }
        return out + "\""
    }

    static func quote(_ s: String) -> String {
        var out = ""
        JSON.quote(s, into: &out)
        return out
    }
}

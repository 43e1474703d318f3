/// A parsed `Content-Type` value (RFC 2045 §5.1): `type/subtype; name=value; ...`.
///
/// Type, subtype and parameter names are lower-cased (they are case-insensitive); parameter values
/// keep their case (a boundary is case-sensitive).
public struct MediaType: Sendable, Equatable, CustomStringConvertible {
    public var type: String
    public var subtype: String
    /// Keyed by lower-cased name.
    public var parameters: [String: String]

    public init(type: String, subtype: String, parameters: [String: String] = [:]) {
        self.type = type.lowercased()
        self.subtype = subtype.lowercased()
        self.parameters = Dictionary(parameters.map { ($0.key.lowercased(), $0.value) },
                                     uniquingKeysWith: { first, _ in first })
    }

    /// `type/subtype`, lower-case.
    public var essence: String { type + "/" + subtype }

    /// Parameter lookup by case-insensitive name.
    public subscript(parameter name: String) -> String? { parameters[name.lowercased()] }

    /// True if this media type is `essence` (e.g. `"application/soap+xml"`), ignoring parameters.
    public func hasEssence(_ essence: String) -> Bool { self.essence == essence.lowercased() }

    /// Serialised with every parameter value quoted (always legal), names in sorted order so the
    /// output is deterministic.
    public var description: String {
        var s = essence
        for name in parameters.keys.sorted() {
            s += "; " + name + "=\"" + Self.escape(parameters[name]!) + "\""
        }
        return s
    }

    /// Parses a header value. Lenient where real senders are sloppy (folded lines, whitespace
    /// around `=` and `;`, a trailing `;`, unquoted values containing `/`, `<`, `@`), strict where
    /// ambiguity could be abused: a repeated parameter (two `boundary` values, say) is refused,
    /// because two parsers could pick different ones.
    /// RFC 2231 parameter continuations (`name*0=`) and comments are not supported.
    public static func parse(_ value: String) throws -> MediaType {
        var p = Parser(bytes: Array(value.utf8))
        p.skipSpace()
        let type = p.token()
        guard !type.isEmpty, p.take(UInt8(ascii: "/")) else {
            throw EbmsError(.mimeInconsistency, "malformed Content-Type: expected type/subtype")
        }
        let subtype = p.token()
        guard !subtype.isEmpty else {
            throw EbmsError(.mimeInconsistency, "malformed Content-Type: empty subtype")
        }
        var params: [String: String] = [:]
        while true {
            p.skipSpace()
            if p.atEnd { break }
            guard p.take(UInt8(ascii: ";")) else {
                throw EbmsError(.mimeInconsistency, "malformed Content-Type: unexpected character after \(type)/\(subtype)")
            }
            p.skipSpace()
            if p.atEnd || p.peek == UInt8(ascii: ";") { continue }
            let name = p.token().lowercased()
            guard !name.isEmpty else {
                throw EbmsError(.mimeInconsistency, "malformed Content-Type: bad parameter name")
            }
            p.skipSpace()
            guard p.take(UInt8(ascii: "=")) else {
                throw EbmsError(.mimeInconsistency, "malformed Content-Type: parameter \(name) has no value")
            }
            p.skipSpace()
            let v: String
            if p.peek == UInt8(ascii: "\"") {
                guard let q = p.quotedString() else {
                    throw EbmsError(.mimeInconsistency, "malformed Content-Type: unterminated quoted value of \(name)")
                }
                v = q
            } else {
                v = p.bareValue()
                guard !v.isEmpty else {
                    throw EbmsError(.mimeInconsistency, "malformed Content-Type: parameter \(name) has an empty value")
                }
            }
            guard params[name] == nil else {
                throw EbmsError(.mimeInconsistency, "malformed Content-Type: parameter \(name) appears twice")
            }
            params[name] = v
        }
        var mt = MediaType(type: type, subtype: subtype)
        mt.parameters = params
        return mt
    }

    private static func escape(_ v: String) -> String {
        var out = ""
        for c in v {
            if c == "\"" || c == "\\" { out.append("\\") }
            out.append(c)
        }
        return out
    }

    private struct Parser {
        let bytes: [UInt8]
        var i = 0

        var atEnd: Bool { i >= bytes.count }
        var peek: UInt8? { atEnd ? nil : bytes[i] }

        mutating func take(_ b: UInt8) -> Bool {
            guard peek == b else { return false }
            i += 1
            return true
        }

        /// Folding (CRLF + WSP) is plain whitespace here, so an unfolded or folded value parses alike.
        mutating func skipSpace() {
            while let b = peek, b == 0x20 || b == 0x09 || b == 0x0d || b == 0x0a { i += 1 }
        }

        mutating func token() -> String {
            let start = i
            while let b = peek, MediaType.isTokenByte(b) { i += 1 }
            return String(decoding: bytes[start..<i], as: UTF8.self)
        }

        /// Unquoted value: anything up to `;` or whitespace (wider than an RFC token on purpose).
        mutating func bareValue() -> String {
            let start = i
            while let b = peek, b != UInt8(ascii: ";"), b > 0x20, b != 0x7f { i += 1 }
            return String(decoding: bytes[start..<i], as: UTF8.self)
        }

        /// RFC 822 quoted-string; nil if unterminated.
        mutating func quotedString() -> String? {
            i += 1 // opening quote
            var out: [UInt8] = []
            while let b = peek {
                i += 1
                switch b {
                case UInt8(ascii: "\""): return String(decoding: out, as: UTF8.self)
                case UInt8(ascii: "\\"):
                    guard let next = peek else { return nil }
                    out.append(next)
                    i += 1
                case 0x0d, 0x0a: continue // folding inside a quoted value: drop the line break
                default: out.append(b)
                }
            }
            return nil
        }
    }

    /// RFC 2045 token character: printable ASCII except space and tspecials.
    static func isTokenByte(_ b: UInt8) -> Bool {
        guard b > 0x20, b < 0x7f else { return false }
        switch b {
        case UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "<"), UInt8(ascii: ">"), UInt8(ascii: "@"),
             UInt8(ascii: ","), UInt8(ascii: ";"), UInt8(ascii: ":"), UInt8(ascii: "\\"), UInt8(ascii: "\""),
             UInt8(ascii: "/"), UInt8(ascii: "["), UInt8(ascii: "]"), UInt8(ascii: "?"), UInt8(ascii: "="):
            return false
        default:
            return true
        }
    }
}

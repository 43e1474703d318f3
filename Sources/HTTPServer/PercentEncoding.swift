/// RFC 3986 percent-encoding of request targets. libmicrohttpd is told to leave escapes alone
/// (`keepEscapesCallback`), so that a route can split the path at its real `/`s first and decode
/// each segment after: decoded first, an identifier holding `%2F` would become two segments.
public enum PercentEncoding {
    /// Every `%HH` (hex digits in either case) as its byte, any other `%` kept as it is (what
    /// libmicrohttpd's own decoding did); bytes that are not UTF-8 become U+FFFD.
    public static func decode(_ text: String) -> String {
        guard text.utf8.contains(UInt8(ascii: "%")) else { return text }
        let bytes = Array(text.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: "%"), i + 2 < bytes.count, let high = hexValue(bytes[i + 1]), let low = hexValue(bytes[i + 2]) {
                out.append(high << 4 | low)
                i += 3
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// `text` as one path segment: everything but RFC 3986's unreserved characters, `:`, `@` and
    /// the sub-delimiters but `+` is percent-encoded as UTF-8, `%` and `/` included (`+` too,
    /// since form decoders that some clients use on paths read it as a space).
    public static func pathSegment(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            if isPathCharacter(byte) {
                out.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                out += "%" + String(byte >> 4, radix: 16, uppercase: true) + String(byte & 0xF, radix: 16, uppercase: true)
            }
        }
        return out
    }

    private static func isPathCharacter(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): return true
        default: return Array("-._~!$&'()*,;=:@".utf8).contains(b)
        }
    }

    private static func hexValue(_ b: UInt8) -> UInt8? {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return b - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return b - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return b - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}

/// Header fields in wire order. Lookup is case-insensitive (`Content-Id` and `Content-ID` are the
/// same field); order and original spelling are kept because signatures over MIME headers
/// (SwA Attachment-Complete) and diagnostics need them.
public struct MIMEHeaders: Sendable, Equatable, Sequence {
    public struct Field: Sendable, Equatable {
        public var name: String
        /// Unfolded value, leading and trailing whitespace removed.
        public var value: String
        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    public internal(set) var fields: [Field]

    public init(_ fields: [Field] = []) { self.fields = fields }

    public init(_ pairs: KeyValuePairs<String, String>) {
        fields = pairs.map { Field(name: $0.key, value: $0.value) }
    }

    /// The first value of `name`, or nil.
    public subscript(_ name: String) -> String? {
        fields.first { asciiCaseInsensitiveEqual($0.name, name) }?.value
    }

    /// All values of `name`, in order.
    public func values(for name: String) -> [String] {
        fields.filter { asciiCaseInsensitiveEqual($0.name, name) }.map(\.value)
    }

    public mutating func append(_ name: String, _ value: String) {
        fields.append(Field(name: name, value: value))
    }

    public var count: Int { fields.count }

    public func makeIterator() -> IndexingIterator<[Field]> { fields.makeIterator() }
}

/// One part of a multipart message. `body` always holds the decoded content: for a part that
/// arrived as `base64`, the decoded bytes (the header still says `base64`, as on the wire).
public struct MIMEPart: Sendable, Equatable {
    public var headers: MIMEHeaders
    public var body: PartBody

    public init(headers: MIMEHeaders, body: PartBody) {
        self.headers = headers
        self.body = body
    }

    /// Normalised Content-ID (no `<>`, no `cid:`, percent-decoded), as `cid:` references compare.
    public var contentID: String? { headers["Content-ID"].map(ContentID.normalize) }

    /// Parsed Content-Type; nil if absent or unparsable (RFC 2045 would default to text/plain).
    public var contentType: MediaType? { headers["Content-Type"].flatMap { try? MediaType.parse($0) } }

    /// Lower-cased Content-Transfer-Encoding as received; nil when absent (meaning 7bit).
    public var contentTransferEncoding: String? {
        headers["Content-Transfer-Encoding"].map { $0.trimmingASCIISpace().lowercased() }
    }
}

/// Content-ID helpers (RFC 2392). The header form is `<id>`; references use `cid:id` with the id
/// percent-encoded. Both normalise to the bare, percent-decoded id.
public enum ContentID {
    /// `"<a@b>"`, `"cid:a%40b"`, `"a@b"` all give `"a@b"`. A malformed percent escape is kept
    /// literally. `+` is NOT turned into a space (that is form encoding, not RFC 3986); ids we
    /// generate never contain `%` or `+`, so the difference only matters for foreign ids.
    public static func normalize(_ raw: String) -> String {
        var s = Substring(raw.trimmingASCIISpace())
        if s.hasPrefix("<"), s.hasSuffix(">"), s.count >= 2 { s = s.dropFirst().dropLast() }
        if s.count >= 4, s.prefix(4).lowercased() == "cid:" { s = s.dropFirst(4) }
        if s.hasPrefix("<"), s.hasSuffix(">"), s.count >= 2 { s = s.dropFirst().dropLast() }
        return percentDecode(String(s))
    }

    /// Characters used in generated ids: safe in a header, in a `cid:` URL and through Java's
    /// URL decoder (which WSS4J applies).
    public static func isSafe(_ id: String) -> Bool {
        !id.isEmpty && id.utf8.allSatisfy { b in
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a)
                || b == UInt8(ascii: ".") || b == UInt8(ascii: "-") || b == UInt8(ascii: "_")
                || b == UInt8(ascii: "@")
        }
    }

    /// A fresh id: 32 random hex digits `@` `domain`. `domain` must itself be safe.
    public static func generate(domain: String = "as4gw") -> String {
        precondition(isSafe(domain) && !domain.contains("@"), "Content-ID domain must be [A-Za-z0-9._-]")
        return randomHex(byteCount: 16) + "@" + domain
    }

    static func percentDecode(_ s: String) -> String {
        guard s.utf8.contains(UInt8(ascii: "%")) else { return s }
        let b = Array(s.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(b.count)
        var i = 0
        while i < b.count {
            if b[i] == UInt8(ascii: "%"), i + 2 < b.count,
               let hi = hexValue(b[i + 1]), let lo = hexValue(b[i + 2]) {
                out.append(hi << 4 | lo)
                i += 3
            } else {
                out.append(b[i])
                i += 1
            }
        }
        // Keep the raw form if the escapes do not decode to UTF-8: never invent characters.
        let decoded = String(decoding: out, as: UTF8.self)
        return decoded.utf8.elementsEqual(out) ? decoded : s
    }

    static func hexValue(_ b: UInt8) -> UInt8? {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return b - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return b - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return b - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}

func asciiCaseInsensitiveEqual(_ a: String, _ b: String) -> Bool {
    let x = a.utf8, y = b.utf8
    guard x.count == y.count else { return false }
    for (c, d) in zip(x, y) where c != d {
        let lc = (c >= 0x41 && c <= 0x5a) ? c | 0x20 : c
        let ld = (d >= 0x41 && d <= 0x5a) ? d | 0x20 : d
        if lc != ld { return false }
    }
    return true
}

extension String {
    /// Trims SP, HT, CR, LF (not Unicode whitespace: header syntax is ASCII).
    func trimmingASCIISpace() -> String {
        let u = utf8
        func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0d || b == 0x0a }
        guard let first = u.firstIndex(where: { !isSpace($0) }) else { return "" }
        let last = u.lastIndex(where: { !isSpace($0) })!
        return String(self[first...last])
    }
}

/// Refuses a document whose byte order mark and XML declaration name different encodings.
///
/// libxml2 2.9 reads such a document by its declaration; lxml and other parsers by the mark. The
/// signature would then cover text that a backend reading the stored bytes decodes differently,
/// so the document is refused rather than read one way here and another way there. A document
/// without a mark, or with a mark and a declaration that agree (or no encoding declared), passes.
struct EncodingDeclarationCheck {
    /// Enough for a mark and any real XML declaration (its `encoding` comes early).
    static let window = 512
    private var head: [UInt8] = []
    /// Whether the check has passed (a refusal throws).
    private(set) var decided = false

    /// The next bytes of the document, in order; decides once `window` bytes are in.
    mutating func feed(_ buffer: UnsafeRawBufferPointer) throws(XMLError) {
        guard !decided else { return }
        head.append(contentsOf: buffer.prefix(Self.window - head.count))
        if head.count >= Self.window { try finish() }
    }

    /// Decides on what came, for a document shorter than the window.
    mutating func finish() throws(XMLError) {
        guard !decided else { return }
        try Self.check(head)
        decided = true
    }

    static func check(_ head: [UInt8]) throws(XMLError) {
        let mark: String, text: [UInt8], accepted: Set<String>
        if head.starts(with: [0xEF, 0xBB, 0xBF]) {
            (mark, text, accepted) = ("UTF-8", Array(head.dropFirst(3)), ["utf-8", "utf8"])
        } else if head.starts(with: [0xFF, 0xFE]) {
            (mark, text, accepted) = ("UTF-16LE", ascii(head.dropFirst(2), lowFirst: true), ["utf-16", "utf-16le", "utf16"])
        } else if head.starts(with: [0xFE, 0xFF]) {
            (mark, text, accepted) = ("UTF-16BE", ascii(head.dropFirst(2), lowFirst: false), ["utf-16", "utf-16be", "utf16"])
        } else {
            return
        }
        guard let declared = declaredEncoding(text), !accepted.contains(declared.lowercased()) else { return }
        throw XMLError(.notWellFormed, "the document starts with a \(mark) byte order mark but declares encoding \"\(declared)\"")
    }

    /// UTF-16 code units below 0x80 as ASCII bytes, up to the first one that is not: enough for
    /// an XML declaration.
    private static func ascii(_ bytes: ArraySlice<UInt8>, lowFirst: Bool) -> [UInt8] {
        var out: [UInt8] = []
        var i = bytes.startIndex
        while i + 1 < bytes.endIndex {
            let (low, high) = lowFirst ? (bytes[i], bytes[i + 1]) : (bytes[i + 1], bytes[i])
            guard high == 0, low < 0x80 else { break }
            out.append(low)
            i += 2
        }
        return out
    }

    /// The `encoding` pseudo-attribute of an XML declaration at the start of `text`, if any.
    private static func declaredEncoding(_ text: [UInt8]) -> String? {
        guard text.starts(with: Array("<?xml".utf8)), let end = text.firstIndex(of: UInt8(ascii: ">")) else { return nil }
        let declaration = String(decoding: text[..<end], as: UTF8.self)
        guard let key = declaration.range(of: "encoding") else { return nil }
        var rest = declaration[key.upperBound...].drop { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\n" }
        guard rest.first == "=" else { return nil }
        rest = rest.dropFirst().drop { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\n" }
        guard let quote = rest.first, quote == "\"" || quote == "'" else { return nil }
        return String(rest.dropFirst().prefix { $0 != quote })
    }
}

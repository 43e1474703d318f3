/// Appends well-formed XML text to a byte buffer. We build envelopes as text rather than through
/// a DOM: it is several times faster, and the output is deterministic.
///
/// Escaping follows Canonical XML (text: `&` `<` `>` CR; attributes: `&` `<` `"` TAB LF CR), so
/// an element written with sorted namespace declarations and attributes and without the
/// empty-element shorthand is already in its exclusive-canonical form.
public struct XMLWriter {
    public private(set) var bytes: [UInt8] = []

    public init(capacity: Int = 4096) {
        bytes.reserveCapacity(capacity)
    }

    public mutating func raw(_ s: String) { bytes.append(contentsOf: s.utf8) }
    public mutating func raw(_ b: [UInt8]) { bytes.append(contentsOf: b) }

    /// `<name a="v" ...>`; attributes with nil values are skipped.
    // The punctuation goes in byte by byte: appending a one-character String costs a generic
    // copy each time, and a sealed message has a few hundred of them.
    public mutating func open(_ name: String, _ attributes: [(String, String?)] = [], selfClosing: Bool = false) {
        bytes.append(UInt8(ascii: "<"))
        raw(name)
        for (key, value) in attributes {
            guard let value else { continue }
            bytes.append(UInt8(ascii: " "))
            raw(key)
            bytes.append(UInt8(ascii: "="))
            bytes.append(UInt8(ascii: "\""))
            escape(value, attribute: true)
            bytes.append(UInt8(ascii: "\""))
        }
        if selfClosing { bytes.append(UInt8(ascii: "/")) }
        bytes.append(UInt8(ascii: ">"))
    }

    public mutating func close(_ name: String) {
        bytes.append(UInt8(ascii: "<"))
        bytes.append(UInt8(ascii: "/"))
        raw(name)
        bytes.append(UInt8(ascii: ">"))
    }

    /// `<name attrs>text</name>`
    public mutating func element(_ name: String, _ attributes: [(String, String?)] = [], text: String) {
        open(name, attributes)
        escape(text, attribute: false)
        close(name)
    }

    public mutating func text(_ s: String) { escape(s, attribute: false) }

    mutating func escape(_ s: String, attribute: Bool) {
        var s = s
        s.withUTF8 { utf8 in
            // Most values need no escaping: copy them in one go.
            if !utf8.contains(where: { Self.needsEscape($0, attribute: attribute) }) {
                bytes.append(contentsOf: utf8)
                return
            }
            for b in utf8 {
                switch b {
                case 0x26: raw("&amp;")
                case 0x3C: raw("&lt;")
                case 0x3E where !attribute: raw("&gt;")
                case 0x22 where attribute: raw("&quot;")
                case 0x09 where attribute: raw("&#x9;")
                case 0x0A where attribute: raw("&#xA;")
                case 0x0D: raw("&#xD;")
                // XML 1.0 cannot carry the other C0 controls at all, not even as references: a
                // value holding one (never from our own inputs, which refuse them) is written
                // with U+FFFD in its place, so the document stays well-formed.
                case 0x00...0x1F where b != 0x09 && b != 0x0A: raw("\u{FFFD}")
                default: bytes.append(b)
                }
            }
        }
    }

    @inline(__always)
    static func needsEscape(_ b: UInt8, attribute: Bool) -> Bool {
        switch b {
        case 0x26, 0x3C, 0x0D: return true
        case 0x00...0x08, 0x0B, 0x0C, 0x0E...0x1F: return true
        case 0x3E: return !attribute
        case 0x22, 0x09, 0x0A: return attribute
        default: return false
        }
    }
}

import Foundation
import WSSecurity

/// The references we signed, kept with an outbound message as JSON so its receipt can be
/// checked after a restart.
enum SentReferenceCoding {
    /// Written by hand in the shape `JSONEncoder` gave (and `decode` reads): Codable's encoder
    /// showed in the daemon's profile, once per submitted message.
    static func encode(_ references: [SentReference]) -> String {
        var out = "["
        for (i, reference) in references.enumerated() {
            if i > 0 { out += "," }
            out += "{\"uri\":"
            JSON.quote(reference.uri, into: &out)
            out += ",\"transforms\":["
            for (j, transform) in reference.transforms.enumerated() {
                if j > 0 { out += "," }
                JSON.quote(transform, into: &out)
            }
            out += "],\"digestMethod\":"
            JSON.quote(reference.digestMethod, into: &out)
            out += ",\"digestValue\":[" + reference.digestValue.map { String($0) }.joined(separator: ",") + "]}"
        }
        return out + "]"
    }

    /// nil when the column is missing or unreadable: the caller must not then accept any receipt.
    /// Read by hand too (any key order, JSON whitespace and escapes, as `JSONEncoder` may have
    /// written older rows): `JSONDecoder` was ~3 % of the sending gateway's CPU, once per receipt.
    static func decode(_ text: String?) -> [SentReference]? {
        guard let text else { return nil }
        var reader = SentReferenceReader(Array(text.utf8))
        return reader.references()
    }
}

/// A reader for exactly the JSON shape of stored sent references; anything else is nil.
private struct SentReferenceReader {
    private let bytes: [UInt8]
    private var at = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    mutating func references() -> [SentReference]? {
        guard let list = array({ $0.reference() }), skipSpace(), at == bytes.count else { return nil }
        return list
    }

    private mutating func reference() -> SentReference? {
        guard expect(UInt8(ascii: "{")) else { return nil }
        var uri: String?, transforms: [String]?, method: String?, digest: [UInt8]?
        if expect(UInt8(ascii: "}")) { return nil }
        repeat {
            guard let key = string(), expect(UInt8(ascii: ":")) else { return nil }
            switch key {
            case "uri" where uri == nil: uri = string()
            case "transforms" where transforms == nil: transforms = array({ $0.string() })
            case "digestMethod" where method == nil: method = string()
            case "digestValue" where digest == nil: digest = array({ $0.byte() })
            default: return nil
            }
        } while expect(UInt8(ascii: ","))
        guard expect(UInt8(ascii: "}")), let uri, let transforms, let method, let digest else { return nil }
        return SentReference(uri: uri, transforms: transforms, digestMethod: method, digestValue: digest)
    }

    private mutating func array<T>(_ element: (inout SentReferenceReader) -> T?) -> [T]? {
        guard expect(UInt8(ascii: "[")) else { return nil }
        var items: [T] = []
        if expect(UInt8(ascii: "]")) { return items }
        repeat {
            guard let item = element(&self) else { return nil }
            items.append(item)
        } while expect(UInt8(ascii: ","))
        return expect(UInt8(ascii: "]")) ? items : nil
    }

    private mutating func byte() -> UInt8? {
        _ = skipSpace()
        var value = 0, digits = 0
        while at < bytes.count, bytes[at] >= UInt8(ascii: "0"), bytes[at] <= UInt8(ascii: "9"), digits < 4 {
            value = value * 10 + Int(bytes[at] - UInt8(ascii: "0"))
            at += 1
            digits += 1
        }
        return digits > 0 && value <= 255 ? UInt8(value) : nil
    }

    private mutating func string() -> String? {
        guard expect(UInt8(ascii: "\"")) else { return nil }
        var out: [UInt8] = []
        while at < bytes.count {
            let b = bytes[at]
            at += 1
            switch b {
            case UInt8(ascii: "\""): return String(validating: out, as: UTF8.self)
            case UInt8(ascii: "\\"):
                guard at < bytes.count else { return nil }
                let e = bytes[at]
                at += 1
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
                case UInt8(ascii: "b"): out.append(8)
                case UInt8(ascii: "f"): out.append(12)
                case UInt8(ascii: "n"): out.append(10)
                case UInt8(ascii: "r"): out.append(13)
                case UInt8(ascii: "t"): out.append(9)
                case UInt8(ascii: "u"):
                    guard var scalar = hex4() else { return nil }
                    if (0xD800..<0xDC00).contains(scalar) {
                        guard at + 1 < bytes.count, bytes[at] == UInt8(ascii: "\\"), bytes[at + 1] == UInt8(ascii: "u") else { return nil }
                        at += 2
                        guard let low = hex4(), (0xDC00..<0xE000).contains(low) else { return nil }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    }
                    guard let unicode = Unicode.Scalar(scalar) else { return nil }
                    out.append(contentsOf: Array(String(Character(unicode)).utf8))
                default: return nil
                }
            case 0..<0x20: return nil
            default: out.append(b)
            }
        }
        return nil
    }

    private mutating func hex4() -> UInt32? {
        guard at + 4 <= bytes.count else { return nil }
        var value: UInt32 = 0
        for b in bytes[at..<at + 4] {
            guard let digit = hexDigit(b) else { return nil }
            value = value << 4 | digit
        }
        at += 4
        return value
    }

    private func hexDigit(_ b: UInt8) -> UInt32? {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return UInt32(b - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return UInt32(b - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return UInt32(b - UInt8(ascii: "A") + 10)
        default: return nil
        }
    }

    /// Skips JSON whitespace; true (for use in conditions).
    private mutating func skipSpace() -> Bool {
        while at < bytes.count, bytes[at] == 0x20 || bytes[at] == 0x09 || bytes[at] == 0x0A || bytes[at] == 0x0D { at += 1 }
        return true
    }

    private mutating func expect(_ b: UInt8) -> Bool {
        _ = skipSpace()
        guard at < bytes.count, bytes[at] == b else { return false }
        at += 1
        return true
    }
}

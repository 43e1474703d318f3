import COpenSSL
import Foundation

/// Parser for the string form of distinguished names (RFC 4514, plus the RFC 1779 / Java / .NET
/// variations seen in `ds:X509IssuerName`). Produces RDNs in string order (most specific first).
enum DistinguishedNameParser {
    struct Attribute {
        var type: String
        /// UTF-8 text, or the contents of a BER string when `berStringType` is set (`#hex` form).
        var value: [UInt8]
        /// The ASN.1 universal string type of a `#hex` value (e.g. `V_ASN1_PRINTABLESTRING`), nil for text.
        var berStringType: Int32?
    }

    typealias RDN = [Attribute]

    private static func failure(_ reason: String) -> CryptoError {
        .decodingFailed(what: "distinguished name", openSSLError: reason)
    }

    static func parse(_ text: String) throws -> [RDN] {
        var scanner = Scanner(bytes: Array(text.utf8))
        var rdns: [RDN] = []
        var current: RDN = []
        scanner.skipSpaces()
        if scanner.atEnd { throw failure("empty name") }
        while true {
            let type = try scanner.attributeType()
            scanner.skipSpaces()
            guard scanner.take(UInt8(ascii: "=")) else { throw failure("expected '=' after \(type)") }
            scanner.skipSpaces()
            current.append(try scanner.attributeValue(type: type))
            scanner.skipSpaces()
            if scanner.atEnd { break }
            if scanner.take(UInt8(ascii: "+")) {
                scanner.skipSpaces()
                continue
            }
            if scanner.take(UInt8(ascii: ",")) || scanner.take(UInt8(ascii: ";")) {
                rdns.append(current)
                current = []
                scanner.skipSpaces()
                continue
            }
            throw failure("unexpected character at offset \(scanner.position)")
        }
        rdns.append(current)
        return rdns
    }

    /// The ASN.1 object for an attribute type name or dotted OID; the caller frees it.
    static func object(forAttributeType type: String) -> OpaquePointer? {
        var name = type
        if name.uppercased().hasPrefix("OID.") { name = String(name.dropFirst(4)) }
        let aliases: [String: String] = [
            "CN": "CN", "C": "C", "L": "L", "ST": "ST", "S": "ST", "O": "O", "OU": "OU",
            "STREET": "street", "DC": "DC", "UID": "UID", "E": "emailAddress", "EMAIL": "emailAddress",
            "EMAILADDRESS": "emailAddress", "SERIALNUMBER": "serialNumber", "SN": "SN", "SURNAME": "SN",
            "G": "GN", "GN": "GN", "GIVENNAME": "GN", "T": "title", "TITLE": "title", "INITIALS": "initials",
            "DNQ": "dnQualifier", "DNQUALIFIER": "dnQualifier", "POSTALCODE": "postalCode",
            "ORGANIZATIONIDENTIFIER": "organizationIdentifier", "PSEUDONYM": "pseudonym",
        ]
        let resolved = aliases[name.uppercased()] ?? name
        let object = OBJ_txt2obj(resolved, 0)
        if object == nil { OpenSSLErrorQueue.clear() }
        return object
    }

    private struct Scanner {
        let bytes: [UInt8]
        var position = 0

        var atEnd: Bool { position >= bytes.count }
        var peek: UInt8? { atEnd ? nil : bytes[position] }

        mutating func take(_ byte: UInt8) -> Bool {
            guard peek == byte else { return false }
            position += 1
            return true
        }

        mutating func skipSpaces() {
            while let b = peek, b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D { position += 1 }
        }

        mutating func attributeType() throws -> String {
            let start = position
            while let b = peek, isAlnum(b) || b == UInt8(ascii: "-") || b == UInt8(ascii: ".") { position += 1 }
            guard position > start else { throw failure("expected an attribute type at offset \(start)") }
            return String(decoding: bytes[start..<position], as: UTF8.self)
        }

        mutating func attributeValue(type: String) throws -> Attribute {
            if take(UInt8(ascii: "#")) { return try hexValue(type: type) }
            if take(UInt8(ascii: "\"")) { return Attribute(type: type, value: try quotedValue(), berStringType: nil) }
            return Attribute(type: type, value: try plainValue(), berStringType: nil)
        }

        /// `#` followed by the hex of a BER-encoded string (tag, short or long length, contents).
        mutating func hexValue(type: String) throws -> Attribute {
            var der: [UInt8] = []
            while let high = peek.flatMap(hexDigit) {
                position += 1
                guard let low = peek.flatMap(hexDigit) else { throw failure("odd number of hex digits") }
                position += 1
                der.append(high << 4 | low)
            }
            guard der.count >= 2, der[0] & 0xE0 == 0 else { throw failure("#hex value is not a universal BER string") }
            var length = Int(der[1]), offset = 2
            if der[1] & 0x80 != 0 {
                let count = Int(der[1] & 0x7F)
                guard count >= 1, count <= 3, der.count >= 2 + count else { throw failure("bad BER length in #hex value") }
                length = der[2..<(2 + count)].reduce(0) { $0 << 8 | Int($1) }
                offset = 2 + count
            }
            guard der.count == offset + length else { throw failure("BER length mismatch in #hex value") }
            return Attribute(type: type, value: Array(der[offset...]), berStringType: Int32(der[0]))
        }

        /// RFC 1779 quoted value; backslash escapes allowed inside.
        mutating func quotedValue() throws -> [UInt8] {
            var value: [UInt8] = []
            while let b = peek {
                position += 1
                if b == UInt8(ascii: "\"") { return value }
                if b == UInt8(ascii: "\\") { value.append(try escaped()) } else { value.append(b) }
            }
            throw failure("unterminated quoted value")
        }

        /// Unquoted value up to an unescaped `,` `;` or `+`; unescaped trailing spaces are dropped.
        mutating func plainValue() throws -> [UInt8] {
            var value: [UInt8] = []
            var keep = 0  // length of value up to and including the last escaped or non-space byte
            while let b = peek, b != UInt8(ascii: ","), b != UInt8(ascii: ";"), b != UInt8(ascii: "+") {
                position += 1
                if b == UInt8(ascii: "\\") {
                    value.append(try escaped())
                    keep = value.count
                } else {
                    value.append(b)
                    if b != 0x20 { keep = value.count }
                }
            }
            return Array(value.prefix(keep))
        }

        /// After a backslash: either two hex digits (one raw byte) or one escaped character.
        mutating func escaped() throws -> UInt8 {
            guard let first = peek else { throw failure("dangling backslash") }
            if let high = hexDigit(first), position + 1 < bytes.count, let low = hexDigit(bytes[position + 1]) {
                position += 2
                return high << 4 | low
            }
            position += 1
            return first
        }

        private func isAlnum(_ b: UInt8) -> Bool {
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
        }

        private func hexDigit(_ b: UInt8) -> UInt8? {
            switch b {
            case 0x30...0x39: return b - 0x30
            case 0x41...0x46: return b - 0x41 + 10
            case 0x61...0x66: return b - 0x61 + 10
            default: return nil
            }
        }

        private func failure(_ reason: String) -> CryptoError { DistinguishedNameParser.failure(reason) }
    }
}

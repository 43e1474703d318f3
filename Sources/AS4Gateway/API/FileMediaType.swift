import EnvelopeXML

/// The media type of a document file as the gateway keeps, carries and serves it.
///
/// A file's bytes mean nothing without their charset (a Latvian text in windows-1257 read as
/// UTF-8 is garbage), so `charset` survives; it is the only parameter that does. Others
/// (`name`, `boundary`, vendor ones) describe a transport or nothing the recipient needs, and
/// every parameter kept is one more thing a receiving DMS must understand.
///
/// The value comes from a client, or from another access point's document header (with the
/// charset its payload's eb:PartProperties `CharacterSet` gives when the header names none:
/// `DocumentHeaderCheck.mediaType`), and is sent back verbatim in a `Content-Type` response
/// header: it is read strictly (RFC 9110 §8.3.1: tokens and quoted-strings only, no control
/// characters at all), so nothing can end or bend that header. Stored and served normalised:
/// lower-case type, subtype and charset, the charset unquoted (`text/plain; charset=windows-1257`).
struct FileMediaType: Equatable {
    struct Invalid: Error, Equatable, CustomStringConvertible {
        var reason: String
        var description: String { reason }
    }

    /// `type/subtype`, lower-case.
    var essence: String
    /// Lower-case; nil when none was given.
    var charset: String?

    /// The normalised form: what is stored, carried in the document header and served.
    var text: String { charset.map { essence + "; charset=" + $0 } ?? essence }

    /// RFC 2978 mime-charset names are at most 40 characters.
    static let maxCharsetLength = 40

    static func parse(_ value: String) throws(Invalid) -> FileMediaType {
        let b = Array(value.utf8)
        if b.contains(where: { $0 < 0x20 && $0 != 0x09 || $0 == 0x7F }) {
            throw Invalid(reason: "contains a control character (a line break would end the header)")
        }
        var i = 0
        func space() { while i < b.count, b[i] == 0x20 || b[i] == 0x09 { i += 1 } }
        func token() -> String {
            let start = i
            while i < b.count, Self.isTokenByte(b[i]) { i += 1 }
            return String(decoding: b[start..<i], as: UTF8.self)
        }
        space()
        let type = token()
        guard !type.isEmpty, i < b.count, b[i] == 0x2F else { throw Invalid(reason: "not type/subtype") }
        i += 1
        let subtype = token()
        guard !subtype.isEmpty else { throw Invalid(reason: "not type/subtype") }
        var parameters: [String: String] = [:]
        while true {
            space()
            if i == b.count { break }
            guard b[i] == 0x3B else { throw Invalid(reason: "unexpected character after the media type or a parameter") }
            i += 1
            space()
            if i == b.count { break } // a trailing ";" is common and harmless
            let name = token().lowercased()
            guard !name.isEmpty, i < b.count, b[i] == 0x3D else { throw Invalid(reason: "a parameter is not name=value") }
            i += 1
            let v: String
            if i < b.count, b[i] == 0x22 {
                i += 1
                var out: [UInt8] = []
                var closed = false
                while i < b.count {
                    let c = b[i]
                    i += 1
                    if c == 0x22 { closed = true; break }
                    if c == 0x5C {
                        guard i < b.count else { break }
                        out.append(b[i])
                        i += 1
                    } else {
                        out.append(c)
                    }
                }
                guard closed else { throw Invalid(reason: "parameter \(name) has an unterminated quoted value") }
                v = String(decoding: out, as: UTF8.self)
            } else {
                v = token()
                guard !v.isEmpty else { throw Invalid(reason: "parameter \(name) needs a token or a quoted value") }
            }
            guard parameters[name] == nil else { throw Invalid(reason: "parameter \(name) appears twice") }
            parameters[name] = v
        }
        let charset = try parameters["charset"].map(Self.charset)
        return FileMediaType(essence: type.lowercased() + "/" + subtype.lowercased(), charset: charset)
    }

    /// A charset name as kept (lower-case), whether from a media type's parameter or from a
    /// payload's eb:PartProperties `CharacterSet`; refused unless it is one.
    static func charset(_ name: String) throws(Invalid) -> String {
        guard !name.isEmpty, name.utf8.count <= Self.maxCharsetLength, name.utf8.allSatisfy(Self.isCharsetByte) else {
            throw Invalid(reason: "charset must be a charset name (letters, digits and ! # $ % & ' + - ^ _ ` ~, at most \(Self.maxCharsetLength))")
        }
        return name.lowercased()
    }

    /// A stored value, to serve or carry on: normalised, or, for one that cannot be read
    /// strictly (stored before this check, or from another access point), no more than its
    /// essence, and `application/octet-stream` when not even that can be read.
    static func stored(_ value: String) -> FileMediaType {
        if let t = try? parse(value) { return t }
        if let loose = try? MediaType.parse(value), let t = try? parse(loose.essence) { return t }
        return FileMediaType(essence: "application/octet-stream", charset: nil)
    }

    /// The `Content-Type` a download is served with.
    static func served(_ value: String) -> String { stored(value).text }

    /// RFC 9110 tchar.
    static func isTokenByte(_ c: UInt8) -> Bool {
        switch c {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"), UInt8(ascii: "'"),
             UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "^"), UInt8(ascii: "_"),
             UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"): true
        default: false
        }
    }

    /// RFC 2978 mime-charset-chars that are also HTTP token characters (so without `{` `}`):
    /// a charset is carried unquoted, in eb:PartProperties and headers alike.
    static func isCharsetByte(_ c: UInt8) -> Bool {
        c != UInt8(ascii: "*") && c != UInt8(ascii: ".") && c != UInt8(ascii: "|") && isTokenByte(c)
    }
}

import Foundation

/// A document file's name: what a submission's `Content-Disposition` gives, what the gateway
/// keeps, and how a download names it again.
///
/// A DMS saves files under these names, and a recipient's DMS may be anybody's software: a name
/// that is a path (`..`, `a/b`, `..\..\x`) or holds control characters is refused where it
/// enters rather than trusted to every reader to sanitise.
enum DocumentFileName {
    struct Invalid: Error, Equatable, CustomStringConvertible {
        var reason: String
        var description: String { reason }
    }

    /// Bytes of UTF-8: what common file systems allow in one path component.
    static let maxBytes = 255

    /// `name` itself, or why it is refused.
    static func check(_ name: String) throws(Invalid) -> String {
        if name.isEmpty { throw Invalid(reason: "the file name is empty") }
        if name == "." || name == ".." { throw Invalid(reason: "the file name may not be . or ..") }
        if name.contains("/") || name.contains("\\") { throw Invalid(reason: "the file name may not contain / or \\") }
        // C0, DEL and C1 controls: none belongs in a name, and a line break would end a header.
        if name.unicodeScalars.contains(where: { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) }) || !TextInput.isCarriable(name) {
            throw Invalid(reason: "the file name contains a control character")
        }
        if name.utf8.count > maxBytes { throw Invalid(reason: "the file name is longer than \(maxBytes) bytes of UTF-8") }
        return name
    }

    /// The name a form-data part gives: `filename*` (RFC 8187 ext-value, UTF-8 only) when
    /// present, since RFC 6266 §4.3 prefers it, else `filename`; checked by `check`.
    static func fromForm(filename: String?, extended: String?) throws(Invalid) -> String {
        if let extended { return try check(try decodeExtValue(extended)) }
        guard let filename else { throw Invalid(reason: "the part has no filename") }
        // The MIME header reader turns bytes that are not UTF-8 into U+FFFD: a name in a legacy
        // charset (windows-1257 from an older DMS) would otherwise reach the recipient garbled,
        // and nobody would be told.
        if filename.unicodeScalars.contains("\u{FFFD}") {
            throw Invalid(reason: "the file name is not UTF-8 (or holds U+FFFD); send it in UTF-8, best as filename*=UTF-8''<percent-encoded name>")
        }
        return try check(filename)
    }

    /// `UTF-8'[language]'percent-encoded` (RFC 8187 §3.2). Other charsets are refused rather than
    /// guessed at: RFC 8187 requires only UTF-8, and a wrong guess would store a wrong name.
    static func decodeExtValue(_ value: String) throws(Invalid) -> String {
        let pieces = value.split(separator: "'", maxSplits: 2, omittingEmptySubsequences: false)
        guard pieces.count == 3 else { throw Invalid(reason: "filename* must be UTF-8''<percent-encoded name>") }
        guard pieces[0].lowercased() == "utf-8" else { throw Invalid(reason: "filename* must use the UTF-8 charset") }
        var bytes: [UInt8] = []
        var u = Array(pieces[2].utf8)[...]
        while let c = u.popFirst() {
            if c == UInt8(ascii: "%") {
                guard u.count >= 2, let v = UInt8(String(decoding: u.prefix(2), as: UTF8.self), radix: 16) else {
                    throw Invalid(reason: "filename* has a bad percent-encoding")
                }
                bytes.append(v)
                u = u.dropFirst(2)
            } else if isAttrChar(c) {
                bytes.append(c)
            } else {
                throw Invalid(reason: "filename* has a character that must be percent-encoded")
            }
        }
        guard let name = String(validating: bytes, as: UTF8.self) else { throw Invalid(reason: "filename* is not UTF-8") }
        return name
    }

    /// `attachment; filename="…"; filename*=UTF-8''…` (RFC 6266): the quoted name is an ASCII
    /// fallback (others `_`, quotes and backslashes escaped, controls `_`) for old clients; the
    /// ext-value carries the real name, which clients decode correctly, unlike raw UTF-8.
    static func attachmentHeader(_ name: String) -> String {
        var fallback = ""
        for s in name.unicodeScalars {
            switch s.value {
            case 0x22, 0x5C: fallback += "\\" + String(s)
            case 0x20...0x7E: fallback.unicodeScalars.append(s)
            default: fallback += "_"
            }
        }
        var encoded = ""
        for c in name.utf8 {
            if isAttrChar(c) { encoded.unicodeScalars.append(Unicode.Scalar(c)) } else { encoded += String(format: "%%%02X", c) }
        }
        return "attachment; filename=\"\(fallback)\"; filename*=UTF-8''\(encoded)"
    }

    /// RFC 8187 attr-char.
    static func isAttrChar(_ c: UInt8) -> Bool {
        switch c {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "&"), UInt8(ascii: "+"), UInt8(ascii: "-"),
             UInt8(ascii: "."), UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"): true
        default: false
        }
    }
}

/// Why a JSON text could not be read, and where.
struct JSONSyntaxError: Error, Equatable {
    var location: JSONLocation
    var message: String
    /// For a key given twice in one object: that member's JSON Pointer (RFC 6901).
    var duplicatePointer: String? = nil
}

/// A strict RFC 8259 reader that keeps the line and column of every value and key.
///
/// Strict means: UTF-8 only (a leading byte-order mark is skipped), no comments, no trailing
/// commas, no duplicate keys, no control characters inside strings, no lone surrogates, one
/// top-level value. Nesting is bounded so a hostile file cannot exhaust the stack.
struct JSONReader {
    static let maxDepth = 64

    private let bytes: [UInt8]
    /// The keys and indexes leading to the value being read, for a duplicate's pointer.
    private var path: [String] = []
    private var index = 0
    private var line = 1
    private var column = 1

    private init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    static func parse(_ bytes: [UInt8]) throws(JSONSyntaxError) -> JSONValue {
        var reader = JSONReader(bytes)
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { reader.index = 3 }
        guard String(validating: bytes[reader.index...], as: UTF8.self) != nil else {
            throw JSONSyntaxError(location: JSONLocation(line: 1, column: 1), message: "the file is not valid UTF-8")
        }
        reader.skipWhitespace()
        let value = try reader.parseValue(depth: 0)
        reader.skipWhitespace()
        if reader.index < bytes.count {
            throw reader.error("unexpected \(reader.describeCurrent()) after the top-level value")
        }
        return value
    }

    static func parse(_ text: String) throws(JSONSyntaxError) -> JSONValue {
        try parse(Array(text.utf8))
    }

    // MARK: Values

    private mutating func parseValue(depth: Int) throws(JSONSyntaxError) -> JSONValue {
        guard depth < Self.maxDepth else { throw error("values are nested deeper than \(Self.maxDepth) levels") }
        let start = location
        guard let c = current else { throw error("unexpected end of file, expected a value") }
        switch c {
        case UInt8(ascii: "{"): return JSONValue(kind: .object(try parseObject(depth: depth)), location: start)
        case UInt8(ascii: "["): return JSONValue(kind: .array(try parseArray(depth: depth)), location: start)
        case UInt8(ascii: "\""): return JSONValue(kind: .string(try parseString()), location: start)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return JSONValue(kind: .number(try parseNumber()), location: start)
        case UInt8(ascii: "t"): try expectWord("true"); return JSONValue(kind: .bool(true), location: start)
        case UInt8(ascii: "f"): try expectWord("false"); return JSONValue(kind: .bool(false), location: start)
        case UInt8(ascii: "n"): try expectWord("null"); return JSONValue(kind: .null, location: start)
        default: throw error("unexpected \(describeWord()), expected a value")
        }
    }

    private mutating func parseObject(depth: Int) throws(JSONSyntaxError) -> [JSONValue.Member] {
        advance()  // {
        var members: [JSONValue.Member] = []
        var seen: [String: JSONLocation] = [:]
        skipWhitespace()
        if current == UInt8(ascii: "}") { advance(); return members }
        while true {
            skipWhitespace()
            guard current == UInt8(ascii: "\"") else {
                throw error(current == UInt8(ascii: "}") ? "trailing comma before '}'" : "unexpected \(describeCurrent()), expected a key in double quotes")
            }
            let keyLocation = location
            let key = try parseString()
            if let first = seen[key] {
                let pointer = (path + [key]).map { "/" + $0.replacingOccurrences(of: "~", with: "~0").replacingOccurrences(of: "/", with: "~1") }.joined()
                throw JSONSyntaxError(location: keyLocation, message: "duplicate key \"\(key)\" (first at \(first))", duplicatePointer: pointer)
            }
            seen[key] = keyLocation
            skipWhitespace()
            guard current == UInt8(ascii: ":") else { throw error("unexpected \(describeCurrent()), expected ':' after the key") }
            advance()
            skipWhitespace()
            path.append(key)
            let value = try parseValue(depth: depth + 1)
            path.removeLast()
            members.append(JSONValue.Member(key: key, keyLocation: keyLocation, value: value))
            skipWhitespace()
            switch current {
            case UInt8(ascii: ","): advance()
            case UInt8(ascii: "}"): advance(); return members
            default: throw error("unexpected \(describeCurrent()), expected ',' or '}'")
            }
        }
    }

    private mutating func parseArray(depth: Int) throws(JSONSyntaxError) -> [JSONValue] {
        advance()  // [
        var elements: [JSONValue] = []
        skipWhitespace()
        if current == UInt8(ascii: "]") { advance(); return elements }
        while true {
            skipWhitespace()
            if current == UInt8(ascii: "]") { throw error("trailing comma before ']'") }
            path.append(String(elements.count))
            elements.append(try parseValue(depth: depth + 1))
            path.removeLast()
            skipWhitespace()
            switch current {
            case UInt8(ascii: ","): advance()
            case UInt8(ascii: "]"): advance(); return elements
            default: throw error("unexpected \(describeCurrent()), expected ',' or ']'")
            }
        }
    }

    private mutating func parseString() throws(JSONSyntaxError) -> String {
        advance()  // opening quote
        var scalars = String.UnicodeScalarView()
        var run: [UInt8] = []  // unescaped bytes, decoded in one go (already validated as UTF-8)
        func flush(_ run: inout [UInt8], into scalars: inout String.UnicodeScalarView) {
            if !run.isEmpty { scalars.append(contentsOf: String(decoding: run, as: UTF8.self).unicodeScalars); run.removeAll(keepingCapacity: true) }
        }
        while true {
            guard let c = current else { throw error("unterminated string") }
            switch c {
            case UInt8(ascii: "\""):
                advance()
                flush(&run, into: &scalars)
                return String(scalars)
            case UInt8(ascii: "\\"):
                flush(&run, into: &scalars)
                advance()
                scalars.append(try parseEscape())
            case 0x00..<0x20:
                throw error("control character U+\(hex4(UInt16(c))) inside a string (escape it)")
            default:
                run.append(c)
                advance()
            }
        }
    }

    private mutating func parseEscape() throws(JSONSyntaxError) -> Unicode.Scalar {
        guard let c = current else { throw error("unterminated string") }
        advance()
        switch c {
        case UInt8(ascii: "\""): return "\""
        case UInt8(ascii: "\\"): return "\\"
        case UInt8(ascii: "/"): return "/"
        case UInt8(ascii: "b"): return "\u{08}"
        case UInt8(ascii: "f"): return "\u{0C}"
        case UInt8(ascii: "n"): return "\n"
        case UInt8(ascii: "r"): return "\r"
        case UInt8(ascii: "t"): return "\t"
        case UInt8(ascii: "u"):
            let high = try parseHex4()
            if (0xDC00...0xDFFF).contains(high) { throw error("lone low surrogate \\u\(hex4(high))") }
            if (0xD800...0xDBFF).contains(high) {
                guard current == UInt8(ascii: "\\"), peek(1) == UInt8(ascii: "u") else {
                    throw error("high surrogate \\u\(hex4(high)) is not followed by a low surrogate")
                }
                advance(); advance()
                let low = try parseHex4()
                guard (0xDC00...0xDFFF).contains(low) else { throw error("\\u\(hex4(high)) must be followed by a low surrogate") }
                let value = 0x10000 + ((UInt32(high) - 0xD800) << 10) + (UInt32(low) - 0xDC00)
                return Unicode.Scalar(value)!
            }
            return Unicode.Scalar(UInt32(high))!
        default:
            throw error("invalid escape '\\\(String(decoding: [c], as: UTF8.self))'")
        }
    }

    private mutating func parseHex4() throws(JSONSyntaxError) -> UInt16 {
        var value: UInt16 = 0
        for _ in 0..<4 {
            guard let c = current else { throw error("unterminated \\u escape") }
            let digit: UInt16
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt16(c - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt16(c - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt16(c - UInt8(ascii: "A") + 10)
            default: throw error("\\u must be followed by four hexadecimal digits")
            }
            value = value << 4 | digit
            advance()
        }
        return value
    }

    private mutating func parseNumber() throws(JSONSyntaxError) -> String {
        let begin = index
        if current == UInt8(ascii: "-") { advance() }
        guard let first = current, isDigit(first) else { throw error("a number needs digits after '-'") }
        advance()
        if first == UInt8(ascii: "0"), let c = current, isDigit(c) { throw error("numbers must not have leading zeros") }
        while let c = current, isDigit(c) { advance() }
        if current == UInt8(ascii: ".") {
            advance()
            guard let c = current, isDigit(c) else { throw error("a number needs digits after '.'") }
            while let c = current, isDigit(c) { advance() }
        }
        if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
            advance()
            if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { advance() }
            guard let c = current, isDigit(c) else { throw error("a number needs digits in its exponent") }
            while let c = current, isDigit(c) { advance() }
        }
        return String(decoding: bytes[begin..<index], as: UTF8.self)
    }

    private mutating func expectWord(_ word: String) throws(JSONSyntaxError) {
        let start = location
        let found = describeWord()
        for expected in word.utf8 {
            guard current == expected else {
                throw JSONSyntaxError(location: start, message: "unexpected \(found), expected a value")
            }
            advance()
        }
        if let c = current, isLetter(c) {
            throw JSONSyntaxError(location: start, message: "unexpected \(found), expected a value")
        }
    }

    // MARK: Cursor

    private var current: UInt8? { index < bytes.count ? bytes[index] : nil }
    private func peek(_ offset: Int) -> UInt8? { index + offset < bytes.count ? bytes[index + offset] : nil }
    private var location: JSONLocation { JSONLocation(line: line, column: column) }

    /// Moves one byte on; a new column starts at every byte that is not a UTF-8 continuation byte.
    private mutating func advance() {
        guard index < bytes.count else { return }
        let c = bytes[index]
        index += 1
        if c == 0x0A {
            line += 1
            column = 1
        } else if let next = current, next & 0xC0 == 0x80 {
            // still inside a multi-byte character
        } else {
            column += 1
        }
    }

    private mutating func skipWhitespace() {
        while let c = current, c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D { advance() }
    }

    private func error(_ message: String) -> JSONSyntaxError {
        JSONSyntaxError(location: location, message: message)
    }

    private func describeCurrent() -> String {
        guard let c = current else { return "end of file" }
        if c >= 0x20 && c < 0x7F { return "'\(String(decoding: [c], as: UTF8.self))'" }
        return "byte 0x\(String(c, radix: 16, uppercase: true))"
    }

    /// The bare word at the cursor (e.g. `True`, `undefined`) for a readable message.
    private func describeWord() -> String {
        var end = index
        while end < bytes.count, isLetter(bytes[end]) { end += 1 }
        if end == index { return describeCurrent() }
        return "'\(String(decoding: bytes[index..<end], as: UTF8.self))'"
    }

    private func isDigit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }
    private func isLetter(_ c: UInt8) -> Bool {
        (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z"))
    }
    private func hex4(_ v: UInt16) -> String {
        let s = String(v, radix: 16, uppercase: true)
        return String(repeating: "0", count: 4 - s.count) + s
    }
}

import Foundation

/// One field of a CSV record with the position of its first character (the opening quote of a
/// quoted field).
struct CSVField {
    var text: String
    var line: Int
    var column: Int
}

struct CSVRecord {
    var fields: [CSVField]
    /// The line the record starts on (a quoted field may carry it over several lines).
    var line: Int
}

struct CSVSyntaxError: Error, Equatable {
    var line: Int
    var column: Int
    var message: String
}

/// A strict RFC 4180 reader: fields separated by commas, records by CRLF or LF, a field in double
/// quotes may hold commas, line breaks and `""` for a quote. Refused, with line and column: a
/// quote inside an unquoted field, text after a closing quote, an unterminated quoted field (at
/// its opening quote), a carriage return not followed by a line feed, invalid UTF-8. Empty lines
/// are skipped; a leading byte-order mark is ignored.
struct CSVReader {
    private let bytes: [UInt8]
    private var index = 0
    private var line = 1
    private var column = 1
    /// The field separator: a comma, or a semicolon for files written that way (the Latvian
    /// company register's open data).
    private let separator: UInt8

    private init(_ bytes: [UInt8], separator: UInt8) {
        self.bytes = bytes
        self.separator = separator
    }

    /// Hands over one record at a time, so a large file is never held as fields all at once.
    static func forEachRecord(_ bytes: [UInt8], separator: UInt8 = 0x2C, _ body: (CSVRecord) -> Void) throws(CSVSyntaxError) {
        var reader = CSVReader(bytes, separator: separator)
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { reader.index = 3 }
        guard String(validating: bytes[reader.index...], as: UTF8.self) != nil else {
            throw CSVSyntaxError(line: 1, column: 1, message: "the file is not valid UTF-8")
        }
        while reader.index < bytes.count {
            if reader.atLineEnd {
                try reader.consumeLineEnd()
                continue
            }
            body(try reader.parseRecord())
        }
    }

    private var atLineEnd: Bool { current == 0x0A || current == 0x0D }

    private mutating func parseRecord() throws(CSVSyntaxError) -> CSVRecord {
        let startLine = line
        var fields: [CSVField] = []
        while true {
            fields.append(current == 0x22 ? try parseQuoted() : try parseUnquoted())
            switch current {
            case separator: advance()
            case nil: return CSVRecord(fields: fields, line: startLine)
            default:
                try consumeLineEnd()
                return CSVRecord(fields: fields, line: startLine)
            }
        }
    }

    private mutating func parseUnquoted() throws(CSVSyntaxError) -> CSVField {
        let start = index, startLine = line, startColumn = column
        while let c = current, c != separator, c != 0x0A, c != 0x0D {
            if c == 0x22 { throw error("a double quote inside an unquoted field (quote the whole field and write \"\" for a quote)") }
            advance()
        }
        return CSVField(text: String(decoding: bytes[start..<index], as: UTF8.self), line: startLine, column: startColumn)
    }

    private mutating func parseQuoted() throws(CSVSyntaxError) -> CSVField {
        let startLine = line, startColumn = column
        advance()  // opening quote
        var text: [UInt8] = []
        while true {
            guard let c = current else {
                throw CSVSyntaxError(line: startLine, column: startColumn, message: "the quoted field starting here is never closed")
            }
            if c == 0x22 {
                advance()
                if current == 0x22 {
                    text.append(0x22)
                    advance()
                    continue
                }
                if let next = current, next != separator, next != 0x0A, next != 0x0D {
                    throw error("text after the closing quote of a field (write \"\" for a quote inside a quoted field)")
                }
                return CSVField(text: String(decoding: text, as: UTF8.self), line: startLine, column: startColumn)
            }
            text.append(c)
            advance()
        }
    }

    private mutating func consumeLineEnd() throws(CSVSyntaxError) {
        if current == 0x0D {
            guard peek(1) == 0x0A else { throw error("a carriage return not followed by a line feed") }
            advance()
        }
        advance()
    }

    // MARK: Cursor

    private var current: UInt8? { index < bytes.count ? bytes[index] : nil }
    private func peek(_ offset: Int) -> UInt8? { index + offset < bytes.count ? bytes[index + offset] : nil }

    /// Moves one byte on; columns count characters (UTF-8 continuation bytes do not advance them).
    private mutating func advance() {
        guard index < bytes.count else { return }
        let c = bytes[index]
        index += 1
        if c == 0x0A {
            line += 1
            column = 1
        } else if c & 0xC0 != 0x80 {
            column += 1
        }
    }

    private func error(_ message: String) -> CSVSyntaxError {
        CSVSyntaxError(line: line, column: column, message: message)
    }
}

/// Writes RFC 4180 records: CRLF after each, a field quoted only when it holds a comma, a quote,
/// a line break or surrounding spaces.
enum CSVWriter {
    static func record(_ fields: [String]) -> String {
        fields.map(field).joined(separator: ",") + "\r\n"
    }

    static func field(_ text: String) -> String {
        let needsQuotes = text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" || $0 == "\r\n" })
            || text.first?.isWhitespace == true || text.last?.isWhitespace == true
        guard needsQuotes else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}

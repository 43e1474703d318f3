/// Where a value starts in a JSON text: 1-based line and column. Columns count Unicode scalars
/// (a tab is one column), which is what editors show for ASCII and what `file:line:col` jumps to.
public struct JSONLocation: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var line: Int
    public var column: Int

    public init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }

    public static func < (a: JSONLocation, b: JSONLocation) -> Bool {
        (a.line, a.column) < (b.line, b.column)
    }

    public var description: String { "\(line):\(column)" }
}

/// A parsed JSON value that remembers where it was written. Foundation's JSONSerialization throws
/// positions away; P-Mode diagnostics need them for every value, and for every object key.
struct JSONValue {
    struct Member {
        var key: String
        var keyLocation: JSONLocation
        var value: JSONValue
    }

    enum Kind {
        /// Members in document order; duplicate keys are refused by the reader.
        case object([Member])
        case array([JSONValue])
        case string(String)
        /// The literal as written, so integers can be told from `5.0` and never lose precision.
        case number(String)
        case bool(Bool)
        case null
    }

    var kind: Kind
    var location: JSONLocation

    /// "an object", "a string"... for messages like `retries must be an integer, not a string`.
    var typeDescription: String {
        switch kind {
        case .object: return "an object"
        case .array: return "an array"
        case .string: return "a string"
        case .number: return "a number"
        case .bool: return "a boolean"
        case .null: return "null"
        }
    }

    var members: [Member]? {
        if case .object(let m) = kind { return m }
        return nil
    }

    var elements: [JSONValue]? {
        if case .array(let e) = kind { return e }
        return nil
    }

    var string: String? {
        if case .string(let s) = kind { return s }
        return nil
    }

    var bool: Bool? {
        if case .bool(let b) = kind { return b }
        return nil
    }

    /// The value of a number literal, if this is one.
    var double: Double? {
        if case .number(let text) = kind { return Double(text) }
        return nil
    }

    /// The value of an integer literal (no fraction, no exponent) that fits an `Int`.
    var integer: Int? {
        guard case .number(let text) = kind, !text.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }) else { return nil }
        return Int(text)
    }
}

/// HTTP header fields in the order they were received or added, with case-insensitive lookup.
///
/// Field names keep the spelling they were given; comparisons fold ASCII case only, as HTTP
/// field names are ASCII tokens. Repeated fields stay separate entries.
public struct HTTPHeaders: Sendable, Sequence, ExpressibleByDictionaryLiteral, Equatable, CustomStringConvertible {
    public typealias Element = (name: String, value: String)

    private var fields: [Element]

    /// Empty headers.
    public init() {
        self.fields = []
    }

    /// Headers from `(name, value)` pairs, in order.
    public init(_ fields: [(String, String)]) {
        self.fields = fields.map { (name: $0.0, value: $0.1) }
    }

    public init(dictionaryLiteral elements: (String, String)...) {
        self.init(elements)
    }

    /// The number of fields (repeated names counted separately).
    public var count: Int { self.fields.count }

    public var isEmpty: Bool { self.fields.isEmpty }

    public func makeIterator() -> IndexingIterator<[Element]> {
        self.fields.makeIterator()
    }

    /// The first value of the field `name`, or nil. Setting replaces every field of that name
    /// (appending one at the end), setting nil removes them.
    public subscript(name: String) -> String? {
        get {
            self.fields.first { Self.sameName($0.name, name) }?.value
        }
        set {
            self.remove(name: name)
            if let newValue {
                self.fields.append((name: name, value: newValue))
            }
        }
    }

    /// Every value of the field `name`, in order.
    public func values(for name: String) -> [String] {
        self.fields.filter { Self.sameName($0.name, name) }.map(\.value)
    }

    /// Whether a field called `name` is present.
    public func contains(_ name: String) -> Bool {
        self.fields.contains { Self.sameName($0.name, name) }
    }

    /// Appends a field, keeping any existing field of the same name.
    public mutating func add(name: String, value: String) {
        self.fields.append((name: name, value: value))
    }

    /// Removes every field called `name`.
    public mutating func remove(name: String) {
        self.fields.removeAll { Self.sameName($0.name, name) }
    }

    public static func == (lhs: HTTPHeaders, rhs: HTTPHeaders) -> Bool {
        lhs.fields.count == rhs.fields.count
            && zip(lhs.fields, rhs.fields).allSatisfy { Self.sameName($0.name, $1.name) && $0.value == $1.value }
    }

    public var description: String {
        "[" + self.fields.map { "\($0.name): \($0.value)" }.joined(separator: ", ") + "]"
    }

    /// ASCII case-insensitive equality of two field names.
    static func sameName(_ lhs: String, _ rhs: String) -> Bool {
        let left = lhs.utf8
        let right = rhs.utf8
        guard left.count == right.count else { return false }
        return zip(left, right).allSatisfy { Self.lowercase($0) == Self.lowercase($1) }
    }

    private static func lowercase(_ byte: UInt8) -> UInt8 {
        (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z")) ? byte | 0x20 : byte
    }
}

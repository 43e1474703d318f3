/// One problem of a directory file, as `file:line:col: message` (line 0: the file as a whole).
public struct DirectoryDiagnostic: Sendable, Hashable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int
    /// Starts with the column or member concerned, e.g. `ownerKind must be …`.
    public var message: String

    public init(file: String, line: Int, column: Int, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.message = message
    }

    public var description: String {
        line == 0 ? "\(file): \(message)" : "\(file):\(line):\(column): \(message)"
    }
}

/// Every problem found in a directory file (at most `limit`, then one line saying how many more);
/// a file with any problem imports nothing.
public struct DirectoryFileError: Error, Sendable, CustomStringConvertible {
    public var diagnostics: [DirectoryDiagnostic]

    public init(_ diagnostics: [DirectoryDiagnostic]) {
        self.diagnostics = diagnostics
    }

    public var description: String { diagnostics.map(\.description).joined(separator: "\n") }
}

/// Collects the diagnostics of one file, sorted by position at the end.
struct DirectoryDiagnosticLog {
    static let limit = 1000

    let file: String
    private(set) var diagnostics: [DirectoryDiagnostic] = []
    private var dropped = 0

    init(file: String) {
        self.file = file
    }

    mutating func error(line: Int, column: Int, _ message: String) {
        guard diagnostics.count < Self.limit else { dropped += 1; return }
        diagnostics.append(DirectoryDiagnostic(file: file, line: line, column: column, message: message))
    }

    var isEmpty: Bool { diagnostics.isEmpty }

    var failure: DirectoryFileError {
        var sorted = diagnostics.enumerated().sorted { a, b in
            (a.element.line, a.element.column, a.offset) < (b.element.line, b.element.column, b.offset)
        }.map(\.element)
        if dropped > 0 {
            sorted.append(DirectoryDiagnostic(file: file, line: 0, column: 0, message: "\(dropped) more problems not shown"))
        }
        return DirectoryFileError(sorted)
    }
}

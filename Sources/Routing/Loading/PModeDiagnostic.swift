/// One problem found while loading a P-Mode directory, in the `file:line:col: message` form
/// compilers use, so editors and CI logs can jump to it.
public struct PModeDiagnostic: Sendable, Hashable, CustomStringConvertible {
    /// File name relative to the P-Mode directory (empty for problems of the directory itself).
    public var file: String
    /// 1-based; 0 when the problem has no position (a missing file).
    public var line: Int
    public var column: Int
    /// Starts with the path of the offending value, e.g. `legs[0].security.profile must be ...`.
    public var message: String

    public init(file: String, line: Int, column: Int, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.message = message
    }

    init(file: String, at location: JSONLocation, _ message: String) {
        self.init(file: file, line: location.line, column: location.column, message: message)
    }

    public var description: String {
        if file.isEmpty { return message }
        if line == 0 { return "\(file): \(message)" }
        return "\(file):\(line):\(column): \(message)"
    }
}

/// Every problem of a P-Mode directory: all files are checked, not just up to the first error.
public struct PModeLoadErrors: Error, Sendable, CustomStringConvertible {
    public var diagnostics: [PModeDiagnostic]

    public init(_ diagnostics: [PModeDiagnostic]) {
        self.diagnostics = diagnostics
    }

    public var description: String { diagnostics.map(\.description).joined(separator: "\n") }
}

/// Collects diagnostics while the decoders walk the files. One per load; not shared across threads.
final class DiagnosticLog {
    private(set) var diagnostics: [PModeDiagnostic] = []

    func error(_ file: String, _ location: JSONLocation, _ message: String) {
        diagnostics.append(PModeDiagnostic(file: file, at: location, message))
    }

    func error(file: String, _ message: String) {
        diagnostics.append(PModeDiagnostic(file: file, line: 0, column: 0, message: message))
    }

    var isEmpty: Bool { diagnostics.isEmpty }

    /// Sorted by file, then position, so the output reads top to bottom.
    var sorted: [PModeDiagnostic] {
        diagnostics.enumerated().sorted { a, b in
            let x = a.element, y = b.element
            if x.file != y.file { return x.file < y.file }
            if (x.line, x.column) != (y.line, y.column) { return (x.line, x.column) < (y.line, y.column) }
            return a.offset < b.offset
        }.map(\.element)
    }
}

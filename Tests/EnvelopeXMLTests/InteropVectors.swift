import Foundation

/// The shared interop vectors (read-only, never copied into the project) and their verdict table.
enum InteropVectors {
    static let root: URL = {
        var url = URL(fileURLWithPath: #filePath)
        while url.path != "/" {
            url.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { break }
        }
        return url.deletingLastPathComponent().appendingPathComponent("shared/interop/vectors")
    }()

    static func path(_ relative: String) -> String { root.appendingPathComponent(relative).path }

    struct Row {
        var fields: [String: String]
        subscript(_ key: String) -> String? {
            guard let v = fields[key], v != "-", !v.isEmpty else { return nil }
            return v
        }
        var path: String { fields["path"]! }
    }

    static let expected: [Row] = {
        guard let text = try? String(contentsOfFile: path("EXPECTED.tsv"), encoding: .utf8) else { return [] }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: true).map { $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init) }
        guard let header = lines.first else { return [] }
        return lines.dropFirst().map { cols in
            Row(fields: Dictionary(uniqueKeysWithValues: zip(header, cols + Array(repeating: "", count: max(0, header.count - cols.count)))))
        }
    }()
}

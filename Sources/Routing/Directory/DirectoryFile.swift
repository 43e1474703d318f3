import Foundation

/// Reading and writing directory files (CSV or JSON, docs/DIRECTORY.md). Reading checks every
/// entry and reports every problem with its line and column; a file with any problem yields
/// nothing, so a bad import never half-applies.
public enum DirectoryFile {
    public enum Format: String, Sendable, CaseIterable {
        case csv, json

        /// From the file name's extension (`.csv`, `.json`), case-insensitively.
        public init?(fileName: String) {
            let ext = (fileName as NSString).pathExtension.lowercased()
            self.init(rawValue: ext)
        }
    }

    public struct Options: Sendable, Equatable {
        /// Accept `http://` endpoints for remote access points (tests only).
        public var allowInsecureEndpoints: Bool

        public init(allowInsecureEndpoints: Bool = false) {
            self.allowInsecureEndpoints = allowInsecureEndpoints
        }
    }

    public static let maxFileBytes = 512 << 20

    /// - Parameter file: the name diagnostics carry.
    public static func decode(_ bytes: [UInt8], format: Format, file: String, options: Options = Options()) throws(DirectoryFileError) -> [DirectoryEntry] {
        switch format {
        case .csv: return try DirectoryCSV.decode(bytes, file: file, options: options)
        case .json: return try DirectoryJSON.decode(bytes, file: file, options: options)
        }
    }

    /// Reads the file at `path`; an unreadable or oversized file is one diagnostic at line 0.
    public static func read(path: String, format: Format, options: Options = Options()) throws(DirectoryFileError) -> [DirectoryEntry] {
        func fail(_ message: String) -> DirectoryFileError {
            DirectoryFileError([DirectoryDiagnostic(file: path, line: 0, column: 0, message: message)])
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else {
            throw fail("is not a readable file")
        }
        if let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int, size > maxFileBytes {
            throw fail("is larger than \(maxFileBytes >> 20) MiB")
        }
        guard let data = FileManager.default.contents(atPath: path) else { throw fail("cannot be read") }
        return try decode([UInt8](data), format: format, file: path, options: options)
    }

    /// The entries in the given order (callers pass `AddressDirectory.entries`, sorted by address).
    public static func encode(_ entries: [DirectoryEntry], format: Format) -> String {
        switch format {
        case .csv: return DirectoryCSV.encode(entries)
        case .json: return DirectoryJSON.encode(entries)
        }
    }
}

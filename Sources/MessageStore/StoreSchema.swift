import Foundation

/// The schema version a store holds beside the one this build has (`as4gw store status`).
public struct SchemaState: Sendable, Equatable {
    /// What the database records; 0 when no build has migrated it yet.
    public var installed: Int
    /// The newest migration this build knows.
    public var supported: Int

    public var isCurrent: Bool { installed == supported }
}

/// The operator's explicit schema steps (`as4gw store status|migrate`), apart from opening a
/// store: an upgrade of several nodes reads the version with the old build and migrates with the
/// new one before any new node starts (docs/CONFIG.md).
extension StoreLocation {
    /// The versions, read without writing (a SQLite store that does not exist yet reads as 0).
    public func schemaState() throws -> SchemaState {
        switch self {
        case let .sqlite(directory):
            let path = URL(fileURLWithPath: directory).standardizedFileURL.path + "/messages.sqlite"
            guard FileManager.default.fileExists(atPath: path) else { return SchemaState(installed: 0, supported: Schema.latestVersion) }
            let connection = try SQLiteConnection(path: path)
            defer { connection.close() }
            return SchemaState(installed: try Schema.currentVersion(connection), supported: Schema.latestVersion)
        case let .postgres(url):
            let connection = try PostgresConnection(url: url)
            defer { connection.close() }
            return SchemaState(installed: try PostgresSchema.installedVersion(connection), supported: PostgresSchema.latestVersion)
        }
    }

    /// Applies the migrations this build has and the store lacks (creating the store if there
    /// is none); returns the versions applied, none when it was current. A schema newer than this
    /// build's is refused (`StoreError.schemaTooNew`) and left as it is.
    @discardableResult
    public func migrate(now: Date = Date()) throws -> [Int] {
        switch self {
        case let .sqlite(directory):
            let root = URL(fileURLWithPath: directory).standardizedFileURL.path
            try PayloadDirectory.makeDirectoryTree(root)
            let connection = try SQLiteConnection(path: root + "/messages.sqlite")
            defer { connection.close() }
            return try Schema.migrate(connection, at: now)
        case let .postgres(url):
            let connection = try PostgresConnection(url: url)
            defer { connection.close() }
            return try PostgresSchema.migrate(connection, at: now)
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Proof, when a node starts, that its payload directory is the one the other nodes of its
/// PostgreSQL store use. The database is shared, the payload files are not unless every node
/// mounts the same volume: a node writing to a directory of its own (a volume not mounted, a
/// `payloadDirectory` left at its per-node default) would accept messages whose files the other
/// nodes cannot open when they claim them.
///
/// The store records one random id (table `payload_directory`, migration 19) and the directory
/// holds it in `.as4gw-store`. The first node to start writes the marker (if the directory has
/// none) and records its id; an insert on the table's one-row key decides between two nodes
/// starting at once, and the loser compares: on a shared directory both read the same marker (it
/// is created with `link(2)`, which never replaces one), on separate ones they differ. Every later
/// start compares: a missing or different marker means this node sees another directory, and it
/// refuses to start, naming both directories. An operator who moves the payload files moves the
/// marker with them. SQLite stores have nothing to compare: one node, its own directory.
public enum PayloadDirectoryIdentity {
    public static let markerName = ".as4gw-store"

    /// What the store recorded at the first start.
    public struct Recorded: Sendable, Equatable {
        public var id: String
        /// The directory as the first node named it (other nodes may mount it elsewhere).
        public var firstPath: String
        public var firstNode: String
        public var createdAt: Date
    }

    public enum Outcome: Sendable, Equatable {
        /// This directory holds the store's marker.
        case matches(Recorded)
        /// This start recorded the directory's marker (written now, or found there) as the store's.
        case recorded(Recorded, markerWritten: Bool)
        /// Nothing recorded yet (a first start will), or the schema predates the record; only
        /// when asked not to record (`serve --check-config`).
        case notRecorded
        /// A SQLite store: one node, nothing shared to compare.
        case notShared
    }

    /// The directory is not the store's: the caller refuses to start.
    public struct Mismatch: Error, Sendable, Equatable, CustomStringConvertible {
        public var directory: String
        /// The marker found in `directory`; nil when it has none.
        public var marker: String?
        public var recorded: Recorded

        public var description: String {
            let found = marker.map { "holds the marker of another store (\($0))" } ?? "holds no \(markerName) marker"
            return "payload directory \(directory) is not the one the other nodes of this store use: it \(found), while the "
                + "store's payload directory is \(recorded.id), first recorded at \(recorded.firstPath) by node \(recorded.firstNode) "
                + "on \(recorded.createdAt.formatted(Date.ISO8601FormatStyle())). Every node of a PostgreSQL store must see the same "
                + "payload files: mount the shared payload volume at \(directory), or set payloadDirectory to where it is mounted. "
                + "If this directory holds the store's payload files, moved here on purpose, copy \(markerName) from the old directory "
                + "with them (it holds the line \(recorded.id))."
        }
    }

    /// A marker that is not one: refused rather than overwritten, since it may be an operator's.
    public struct UnreadableMarker: Error, Sendable, Equatable, CustomStringConvertible {
        public var path: String
        public var reason: String
        public var description: String { "payload directory marker \(path): \(reason)" }
    }

    /// Compares `directory` with the store at `url`; with `record`, a store with nothing recorded
    /// yet takes this directory's marker (writing one, fsync'd, if it has none). Without it
    /// (`serve --check-config`) nothing is written, in the directory or the database.
    public static func verify(url: String, directory: String, node: String, record: Bool, now: Date = Date()) throws -> Outcome {
        let root = URL(fileURLWithPath: directory).standardizedFileURL.path
        let connection = try PostgresConnection(url: url)
        defer { connection.close() }
        let present = try connection.execute("SELECT to_regclass('payload_directory') IS NOT NULL AS present").first?.string("present")
        guard present == "t" else {
            if record { throw StoreError.invalidArgument("the store has no payload_directory table: migrate it first") }
            return .notRecorded
        }
        // The record first, the marker after: a node records the marker only once it is linked in
        // the directory, so a record seen here has its marker in place. Read the other way round,
        // a node starting beside the one that writes both could find no marker yet and then the
        // record, and refuse a directory that is the store's.
        if let recorded = try recorded(connection) {
            let marker = try readMarker(in: root)
            guard marker == recorded.id else { throw Mismatch(directory: root, marker: marker, recorded: recorded) }
            return .matches(recorded)
        }
        let marker = try readMarker(in: root)
        guard record else { return .notRecorded }
        var ours = marker
        var written = false
        if ours == nil { (ours, written) = try createMarker(in: root) }
        try connection.execute("""
            INSERT INTO payload_directory (id, first_path, first_node, created_at) VALUES ($1, $2, $3, $4)
            ON CONFLICT (only_row) DO NOTHING
            """, [ours, root, node, now])
        guard let recorded = try recorded(connection) else {
            throw StoreError.invalidArgument("the payload directory's record vanished right after its insert")
        }
        guard recorded.id == ours else {
            // Another node started at the same moment on another directory and won: the marker
            // written here a moment ago belongs to nothing, so it goes again.
            if written { _ = unlink(root + "/" + markerName) }
            throw Mismatch(directory: root, marker: written ? nil : ours, recorded: recorded)
        }
        return recorded.firstNode == node && recorded.firstPath == root ? .recorded(recorded, markerWritten: written) : .matches(recorded)
    }

    /// Makes `directory` (new, without a marker) the store's payload directory by writing the
    /// store's recorded id into it, as copying the marker does when the files move; a store with
    /// nothing recorded is left to record it at the next start. For a directory that takes the
    /// recorded one's place on purpose only (`as4gw bench e2e` on a database an earlier run used).
    public static func adopt(url: String, directory: String) throws {
        let connection = try PostgresConnection(url: url)
        defer { connection.close() }
        guard try connection.execute("SELECT to_regclass('payload_directory') IS NOT NULL AS present").first?.string("present") == "t",
              let recorded = try recorded(connection) else { return }
        _ = try createMarker(in: URL(fileURLWithPath: directory).standardizedFileURL.path, id: recorded.id)
    }

    /// The record, if any; nil without one.
    public static func recorded(url: String) throws -> Recorded? {
        let connection = try PostgresConnection(url: url)
        defer { connection.close() }
        return try recorded(connection)
    }

    static func recorded(_ connection: PostgresConnection) throws -> Recorded? {
        try connection.execute("SELECT * FROM payload_directory").first.map { row in
            Recorded(id: row.string("id"), firstPath: row.string("first_path"), firstNode: row.string("first_node"),
                     createdAt: row.date("created_at"))
        }
    }

    // MARK: The marker file

    /// The id in `directory/.as4gw-store`; nil when there is none (or no directory).
    static func readMarker(in directory: String) throws -> String? {
        let path = directory + "/" + markerName
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let code = errno
            if code == ENOENT || code == ENOTDIR { return nil }
            throw UnreadableMarker(path: path, reason: String(cString: strerror(code)))
        }
        defer { _ = close(fd) }
        var buffer = [UInt8](repeating: 0, count: 256)
        let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard count >= 0 else { throw UnreadableMarker(path: path, reason: String(cString: strerror(errno))) }
        let id = String(decoding: buffer[..<count], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard !id.isEmpty, id.count <= 128, id.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }) else {
            throw UnreadableMarker(path: path, reason: "not an as4gw store marker (one line of letters, digits and dashes)")
        }
        return id
    }

    /// Writes a new id to `directory/.as4gw-store` unless a marker got there first (another node
    /// starting on the same directory): the file is complete and fsync'd under a temporary name
    /// and then linked to its name, which fails rather than replace a marker, so a reader never
    /// sees half of one. Returns the marker now there and whether this call wrote it.
    static func createMarker(in directory: String, id: String = PayloadDirectory.randomName()) throws -> (String, Bool) {
        try PayloadDirectory.makeDirectoryTree(directory)
        let path = directory + "/" + markerName
        let temporary = path + "." + PayloadDirectory.randomName() + ".partial"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw StoreError.io(operation: "open", path: temporary, errno: errno) }
        defer { _ = unlink(temporary) }
        let bytes = Array((id + "\n").utf8)
        let wrote = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard wrote == bytes.count, fsync(fd) == 0 else {
            let code = errno
            _ = close(fd)
            throw StoreError.io(operation: "write", path: temporary, errno: code)
        }
        guard close(fd) == 0 else { throw StoreError.io(operation: "close", path: temporary, errno: errno) }
        if link(temporary, path) != 0 {
            let code = errno
            guard code == EEXIST, let existing = try readMarker(in: directory) else {
                throw StoreError.io(operation: "link", path: path, errno: code)
            }
            return (existing, false)
        }
        try PayloadDirectory.syncDirectory(directory)
        return (id, true)
    }
}

extension StoreLocation {
    /// `PayloadDirectoryIdentity.verify` for this store's kind: SQLite has nothing to compare.
    public func verifyPayloadDirectory(_ directory: String, node: String, record: Bool, now: Date = Date()) throws
        -> PayloadDirectoryIdentity.Outcome {
        switch self {
        case .sqlite: return .notShared
        case let .postgres(url): return try PayloadDirectoryIdentity.verify(url: url, directory: directory, node: node, record: record, now: now)
        }
    }
}

import Foundation
@testable import MessageStore
import XCTest

/// Which `MessageStore` implementation a test class runs against.
enum StoreBackend {
    case sqlite
    /// `PostgresMessageStore` on the test process's throw-away cluster, in a schema of its own.
    case postgres
}

/// Base class: a fresh data directory per test (removed afterwards), a fixed clock, and builders
/// for the messages the tests store. A test class written against `openStore()` runs on SQLite;
/// a subclass that overrides `backend` runs the same test bodies on PostgreSQL.
class StoreTestCase: XCTestCase {
    class var backend: StoreBackend { .sqlite }
    var dataDirectory = ""
    /// The PostgreSQL URL of this test's own schema (PostgreSQL backend only).
    var postgresURL = ""
    private var postgresSchema: String?
    /// A whole-millisecond instant, so dates compare equal after the store's millisecond rounding.
    let t0 = Date(timeIntervalSince1970: 1_750_000_000)

    override func setUpWithError() throws {
        dataDirectory = FileManager.default.temporaryDirectory
            .appendingPathComponent("as4gw-store-\(UUID().uuidString)").path
        if Self.backend == .postgres {
            let schema = "t_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
            postgresURL = try PostgresTestCluster.running().url(schema: schema)
            postgresSchema = schema
        }
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: dataDirectory)
        if let postgresSchema { try PostgresTestCluster.running().dropSchema(postgresSchema) }
    }

    /// Payload files live here with either backend.
    var payloadRoot: String { dataDirectory + "/payloads" }

    /// A store of this class's backend on the test's database; each call is a new store object
    /// (its own connections), as another process or node would have.
    func openStore() throws -> any MessageStore {
        switch Self.backend {
        case .sqlite: try openSQLiteStore()
        case .postgres: try openPostgresStore()
        }
    }

    func openSQLiteStore() throws -> SQLiteMessageStore {
        try SQLiteMessageStore(dataDirectory: dataDirectory, now: t0)
    }

    func openPostgresStore(poolSize: Int = 4, now: Date? = nil) throws -> PostgresMessageStore {
        try PostgresMessageStore(url: postgresURL, payloadDirectory: payloadRoot,
                                 options: .init(poolSize: poolSize), schema: .migrate, now: now ?? t0)
    }

    /// The backend API's store of this class's backend; each call is a new store object.
    func openMailboxStore() throws -> any MailboxStore {
        switch Self.backend {
        case .sqlite: try SQLiteMailboxStore(dataDirectory: dataDirectory, now: t0)
        case .postgres: try PostgresMailboxStore(url: postgresURL, schema: .migrate, now: t0)
        }
    }

    /// A statement on a connection of its own, outside the stores, as an operator's SQL shell
    /// would send it (tampering, deletes the triggers must refuse).
    func rawSQL(_ sql: String) throws {
        switch Self.backend {
        case .sqlite:
            let c = try SQLiteConnection(path: dataDirectory + "/messages.sqlite")
            defer { c.close() }
            try c.run(sql)
        case .postgres:
            let c = try PostgresConnection(url: postgresURL)
            defer { c.close() }
            _ = try c.execute(sql)
        }
    }

    /// The e-mail notices of this class's backend.
    func openNoticeStore() throws -> any NoticeStore {
        switch Self.backend {
        case .sqlite: try SQLiteNoticeStore(dataDirectory: dataDirectory, now: t0)
        case .postgres: try PostgresNoticeStore(url: postgresURL, schema: .migrate, now: t0)
        }
    }

    /// The e-address directory of this class's backend; each call is a new store object.
    func openAddressDirectory() throws -> any AddressDirectoryStore {
        switch Self.backend {
        case .sqlite: try SQLiteAddressDirectory(dataDirectory: dataDirectory, now: t0)
        case .postgres: try PostgresAddressDirectory(url: postgresURL, schema: .migrate, now: t0)
        }
    }

    func metadata(_ id: String, mpc: String? = nil) -> MessageMetadata {
        MessageMetadata(messageId: id, conversationId: "conv-\(id)", refToMessageId: nil, fromParty: "urn:ap:blue",
                        toParty: "urn:ap:red", service: "urn:svc:invoice", action: "Submit", pmodeId: "pm-1", mpc: mpc)
    }

    func inbound(_ id: String, at date: Date, parts: [MessagePart] = [], receipt: Data? = nil) -> InboundMessage {
        InboundMessage(metadata: metadata(id), parts: parts, storedPath: "/msgs/\(id).mime", receivedAt: date,
                       receipt: receipt)
    }

    func outbound(_ id: String, at date: Date, maxAttempts: Int = 3, pullMPC: String? = nil) -> OutboundMessage {
        OutboundMessage(metadata: metadata(id, mpc: pullMPC), endpoint: pullMPC == nil ? "https://red.example/as4" : nil,
                        contentType: "multipart/related; boundary=b", messagePath: "/msgs/\(id).mime",
                        sentReferences: ##"[{"uri":"#_body","digest":"AAAA"}]"##, maxAttempts: maxAttempts,
                        submittedAt: date, pullMPC: pullMPC)
    }

    func part(_ n: Int) -> MessagePart {
        MessagePart(contentId: "cid:part-\(n)@blue", mimeType: "application/xml",
                    file: StoredFile(path: "/payloads/\(n)", size: Int64(100 * n), sha256: String(repeating: "ab", count: 32)))
    }

    /// Asserts `body` throws exactly `expected`.
    func assertThrows<T>(_ expected: StoreError, file: StaticString = #filePath, line: UInt = #line,
                         _ body: () throws -> T) {
        XCTAssertThrowsError(try body(), file: file, line: line) { error in
            XCTAssertEqual(error as? StoreError, expected, "\(error)", file: file, line: line)
        }
    }

    /// A database as the build before `version` left it: every earlier migration, recorded.
    func createDatabase(before version: Int) throws {
        let record = "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)"
        switch Self.backend {
        case .sqlite:
            try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
            let c = try SQLiteConnection(path: dataDirectory + "/messages.sqlite")
            defer { c.close() }
            try c.execute(script: record + ";")
            for m in Schema.migrations where m.version < version {
                try c.execute(script: m.sql)
                try c.run("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, 0)", [m.version, m.name])
            }
        case .postgres:
            let c = try PostgresConnection(url: postgresURL)
            defer { c.close() }
            try c.executeScript(record)
            for m in PostgresSchema.migrations where m.version < version {
                try c.executeScript(m.sql)
                try c.execute("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, 0)", [m.version, m.name])
            }
        }
    }

    /// A raw connection to the test's database, for checks below the store's API.
    func rawConnection() throws -> SQLiteConnection {
        try SQLiteConnection(path: dataDirectory + "/messages.sqlite")
    }
}

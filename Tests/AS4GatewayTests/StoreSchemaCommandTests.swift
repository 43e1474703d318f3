import Foundation
@testable import MessageStore
import XCTest

/// On PostgreSQL the schema is shared by every node: only `serve` and `as4gw store migrate`
/// change it. An operator's command of this build against a database it does not match (none
/// yet, an older build's, a newer build's) says so and leaves the schema as it found it.
final class StoreSchemaCommandTests: XCTestCase {
    var server: ThrowAwayPostgres!
    var config = ""

    override func setUpWithError() throws {
        server = try ThrowAwayPostgres.start()
        config = FileManager.default.temporaryDirectory.appendingPathComponent("as4gw-schema-\(UUID().uuidString).json").path
        try "{\"store\": \"\(server.url)\"}".write(toFile: config, atomically: true, encoding: .utf8)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: config)
        server?.stop()
        server = nil
    }

    /// What each command is asked, none of which may migrate. Each refuses with its exit status
    /// for a store it cannot use: 2, or 1 for `retention purge`. (`tail` follows a store it can
    /// use until stopped: `run` ends it after 20 s, so one that opens the store fails, not hangs.)
    var commands: [[String]] {
        [["messages", "list", "--store", server.url], ["messages", "show", "x", "--store", server.url],
         ["messages", "retry", "x", "--store", server.url], ["audit", "verify", "--store", server.url],
         ["tail", "--store", server.url], ["directory", "export", "--config", config],
         ["directory", "lookup", "_DEFAULT@90000048472", "--config", config], ["connections", "list", "--config", config],
         ["retention", "purge", "--dry-run", "--config", config]]
    }

    func version() throws -> Int {
        let c = try PostgresConnection(url: server.url)
        defer { c.close() }
        return try PostgresSchema.installedVersion(c)
    }

    func testCommandsOnADatabaseWithoutSchemaCreateNone() throws {
        for command in commands {
            let r = try GatewayProcess.run(command, timeout: 20)
            XCTAssertNotEqual(r.status, 0, "\(command): \(r.stdout)")
            XCTAssertTrue(r.stderr.contains("holds no as4gw schema yet"), "\(command): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains("as4gw store migrate"), r.stderr)
        }
        XCTAssertEqual(try version(), 0, "no command created the schema")
        let status = try GatewayProcess.run(["store", "status", "--store", server.url])
        XCTAssertEqual(status.status, 1, status.stderr)
        XCTAssertTrue(status.stdout.contains("schema version 0, this build's is \(PostgresSchema.latestVersion): migrations pending"), status.stdout)
        XCTAssertEqual(try version(), 0)

        let migrated = try GatewayProcess.run(["store", "migrate", "--config", config, "--json"])
        XCTAssertEqual(migrated.status, 0, migrated.stderr)
        XCTAssertEqual(migrated.json?["schemaVersion"] as? Int, PostgresSchema.latestVersion)
        XCTAssertEqual((migrated.json?["applied"] as? [Int])?.count, PostgresSchema.migrations.count)
        for command in commands where command[0] != "tail" {
            let r = try GatewayProcess.run(command, timeout: 20)
            XCTAssertFalse(r.stderr.contains("schema"), "\(command): \(r.stderr)")
        }
        XCTAssertEqual(try GatewayProcess.run(["messages", "list", "--store", server.url]).status, 0)
        let again = try GatewayProcess.run(["store", "migrate", "--store", server.url])
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertTrue(again.stdout.contains("current; nothing to migrate"), again.stdout)
    }

    /// A rolling upgrade's hazard: the database of the build before this one (all but this
    /// build's last migration). This build's read-only commands refuse it and leave it at its
    /// version, so the older nodes still start; `store migrate` then upgrades it.
    func testCommandsOnAnOlderBuildsSchemaLeaveItAtItsVersion() throws {
        let older = try XCTUnwrap(PostgresSchema.migrations.dropLast().last?.version)
        let c = try PostgresConnection(url: server.url)
        try c.executeScript("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)")
        for migration in PostgresSchema.migrations.dropLast() {
            try c.executeScript(migration.sql)
            try c.execute("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, 0)", [migration.version, migration.name])
        }
        c.close()
        for command in commands {
            let r = try GatewayProcess.run(command, timeout: 20)
            XCTAssertNotEqual(r.status, 0, "\(command): \(r.stdout)")
            XCTAssertTrue(r.stderr.contains("database schema version \(older) is older than this build needs (\(PostgresSchema.latestVersion))"),
                          "\(command): \(r.stderr)")
        }
        XCTAssertEqual(try version(), older)

        let migrated = try GatewayProcess.run(["store", "migrate", "--store", server.url, "--json"])
        XCTAssertEqual(migrated.status, 0, migrated.stderr)
        XCTAssertEqual(migrated.json?["applied"] as? [Int], [PostgresSchema.latestVersion])
        XCTAssertEqual(try version(), PostgresSchema.latestVersion)
        XCTAssertEqual(try GatewayProcess.run(["messages", "list", "--store", server.url]).status, 0)
    }

    /// A newer build's schema: refused by commands and by `store migrate`, and left alone.
    func testANewerBuildsSchemaIsRefusedAndLeftAlone() throws {
        XCTAssertEqual(try GatewayProcess.run(["store", "migrate", "--store", server.url]).status, 0)
        let c = try PostgresConnection(url: server.url)
        try c.execute("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, 'future', 0)", [PostgresSchema.latestVersion + 1])
        c.close()
        for command in commands + [["store", "migrate", "--store", server.url]] {
            let r = try GatewayProcess.run(command, timeout: 20)
            XCTAssertNotEqual(r.status, 0, "\(command): \(r.stdout)")
            XCTAssertTrue(r.stderr.contains("is newer than this build supports"), "\(command): \(r.stderr)")
        }
        let status = try GatewayProcess.run(["store", "status", "--store", server.url])
        XCTAssertEqual(status.status, 1)
        XCTAssertTrue(status.stdout.contains("newer than this build's"), status.stdout)
        XCTAssertEqual(try version(), PostgresSchema.latestVersion + 1)
    }
}

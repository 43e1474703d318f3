import Foundation
@testable import MessageStore
import XCTest

/// The throw-away PostgreSQL server of this test process, started on first use by
/// `scripts/pg-cluster` (initdb into a temporary directory, a free port on 127.0.0.1) and stopped
/// by that script's watchdog when this process exits, crashed or not. Each test gets its own
/// schema, so tests never see each other's rows.
///
/// Without server binaries the PostgreSQL tests are skipped with a loud message, unless
/// `AS4GW_REQUIRE_POSTGRES=1` (set by `.ci/run`), where a missing server is a failure.
final class PostgresTestCluster: Sendable {
    let directory: String
    let port: Int
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("scripts/pg-cluster").path

    private static let shared: Result<PostgresTestCluster, ClusterError> = start()

    struct ClusterError: Error, CustomStringConvertible {
        let description: String
        let missingServer: Bool
    }

    private init(directory: String, port: Int) {
        self.directory = directory
        self.port = port
    }

    /// The running cluster, or an XCTSkip (no server binaries, and not required) / a failure.
    static func running() throws -> PostgresTestCluster {
        switch shared {
        case let .success(cluster):
            return cluster
        case let .failure(error) where error.missingServer
            && ProcessInfo.processInfo.environment["AS4GW_REQUIRE_POSTGRES"] != "1":
            let warning = "*** PostgreSQL store tests SKIPPED: \(error.description) ***"
            FileHandle.standardError.write(Data((warning + "\n").utf8))
            throw XCTSkip(warning)
        case let .failure(error):
            throw error
        }
    }

    var databaseURL: String { "postgres://as4gw@127.0.0.1:\(port)/as4gw" }

    /// A URL whose connections work in `schema` (created here) instead of `public`.
    func url(schema: String) throws -> String {
        let admin = try PostgresConnection(url: databaseURL)
        defer { admin.close() }
        try admin.executeScript("CREATE SCHEMA \(schema)")
        return databaseURL + "?options=-csearch_path%3D\(schema)"
    }

    func dropSchema(_ schema: String) {
        guard let admin = try? PostgresConnection(url: databaseURL) else { return }
        defer { admin.close() }
        try? admin.executeScript("DROP SCHEMA IF EXISTS \(schema) CASCADE")
    }

    /// `pg_ctl restart -m fast`: every open connection is dropped.
    func restart() throws {
        try Self.run(["restart", directory])
    }

    private static func start() -> Result<PostgresTestCluster, ClusterError> {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("as4gw-pg-\(UUID().uuidString)").path
        do {
            let output = try run(["start", directory, "--watch", String(getpid())])
            guard let port = Int(output.trimmingCharacters(in: .whitespacesAndNewlines)) else {
                return .failure(ClusterError(description: "pg-cluster printed no port: \(output)", missingServer: false))
            }
            return .success(PostgresTestCluster(directory: directory, port: port))
        } catch let error as ClusterError {
            return .failure(error)
        } catch {
            return .failure(ClusterError(description: "\(error)", missingServer: false))
        }
    }

    @discardableResult
    private static func run(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [script] + arguments
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        // The watchdog keeps no pipe open (its output goes to /dev/null), so these reads end.
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let errorText = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw ClusterError(description: "pg-cluster \(arguments[0]) failed (\(process.terminationStatus)): \(errorText)",
                               missingServer: process.terminationStatus == 3)
        }
        return text
    }
}

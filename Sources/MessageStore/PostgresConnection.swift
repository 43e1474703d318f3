import CLibPQ
import Foundation

/// Owner of one `PGconn` (closed in deinit): statements are prepared once per connection and run
/// with bound parameters (never values spliced into SQL), and failures become `StoreError`s that
/// carry the server's SQLSTATE and message.
///
/// Not thread-safe: `PostgresConnectionPool` lends each connection to one caller at a time.
final class PostgresConnection {
    private var handle: OpaquePointer?
    private var prepared: [String: String] = [:]
    /// Set once a failure showed the connection is unusable, so the pool replaces it.
    private(set) var isBroken = false
    /// Statements that succeeded since the pool last lent this connection out: a loss on the
    /// first statement of a loan (a connection the server dropped while it sat idle) changed
    /// nothing, so the pool may retry on a fresh connection.
    var statementsSinceLoan = 0

    /// Connects to `url` (a libpq URI or key=value string). Settings the store depends on are
    /// forced after the URL's own; a connect timeout and TCP keepalives apply unless the URL
    /// sets its own. Without keepalives a connection to a database host that vanished (a
    /// network partition, a failover that left no RST) is only noticed after the kernel's
    /// retransmission timeout, some 15 minutes, while it holds a pool slot or a job's lock;
    /// with them an idle connection is given up after about a minute, and
    /// `tcp_user_timeout` bounds the wait for data sent and never acknowledged alike.
    init(url: String, connectTimeout: Int = 10) throws {
        let settings: [(String, String)] = [
            ("connect_timeout", String(connectTimeout)),
            ("keepalives", "1"),
            ("keepalives_idle", "30"),
            ("keepalives_interval", "10"),
            ("keepalives_count", "3"),
            ("tcp_user_timeout", "60000"),
            ("application_name", "as4gw"),
            ("dbname", url),
            ("client_encoding", "UTF8"),
        ]
        let keywords = settings.map { strdup($0.0) }
        let values = settings.map { strdup($0.1) }
        defer { (keywords + values).forEach { free($0) } }
        let connection = (keywords.map { UnsafePointer($0) } + [nil]).withUnsafeBufferPointer { k in
            (values.map { UnsafePointer($0) } + [nil]).withUnsafeBufferPointer { v in
                PQconnectdbParams(k.baseAddress, v.baseAddress, 1)
            }
        }
        guard let connection else { throw StoreError.connectionLost("libpq could not allocate a connection") }
        guard PQstatus(connection) == CONNECTION_OK else {
            let message = Self.text(PQerrorMessage(connection))
            PQfinish(connection)
            // libpq quotes a URI it cannot parse, or the token it stumbled on, in its message: the
            // password among them (`StoreURLSecrets`).
            throw StoreError.connectionLost("cannot connect to \(Self.redacted(url)): \(Self.scrubbed(message, of: url))")
        }
        handle = connection
        // Notices (e.g. "relation already exists, skipping") would go to stderr otherwise, and
        // `PostgresRow` reads bytea in the hex form, whatever the server's default.
        try executeScript("SET client_min_messages = warning; SET bytea_output = hex")
        try executeScript(Self.boundsScript)
    }

    /// Server-side bounds on every wait of a session, each applied unless the URL's options, the
    /// role or the database set it (a setting whose source is still `default`). Without them a
    /// statement waits for ever on a lock that another session holds and does not give back (a
    /// client frozen inside its transaction, whose host still answers keepalives): a background
    /// job's step would hang holding the job's lock, and the fences would keep the others out.
    /// - `lock_timeout`: this store's transactions are short, so a lock not granted within 30 s
    ///   is held by a session that is stuck; the step fails (55P03, transient) and is tried again.
    /// - `statement_timeout`: no statement of the daemon's runs for minutes (bulk work goes in
    ///   batches), so 5 minutes bounds any other wait without cutting real work.
    /// - `idle_in_transaction_session_timeout`: the cure on the holder's side: a session idle in
    ///   a transaction for 5 minutes is ended, its locks released.
    /// Migrations lift the first two for their own transaction (`PostgresSchema.migrate`).
    static let sessionBounds: [(setting: String, value: String)] = [
        ("lock_timeout", "30s"), ("statement_timeout", "5min"), ("idle_in_transaction_session_timeout", "5min"),
    ]

    private static let boundsScript = "SELECT set_config(name, CASE name "
        + sessionBounds.map { "WHEN '\($0.setting)' THEN '\($0.value)' " }.joined() + "END, false) FROM pg_settings "
        + "WHERE source = 'default' AND name IN (" + sessionBounds.map { "'\($0.setting)'" }.joined(separator: ", ") + ")"

    deinit { close() }

    /// Closes the connection. Idempotent.
    func close() {
        if let handle { PQfinish(handle) }
        handle = nil
        prepared.removeAll()
    }

    var isUsable: Bool {
        guard let handle, !isBroken else { return false }
        return PQstatus(handle) == CONNECTION_OK
    }

    /// The value libpq uses for connection option `keyword` (e.g. `keepalives_idle`), nil when
    /// it is not set or the connection is closed.
    func option(_ keyword: String) -> String? {
        guard let handle, let options = PQconninfo(handle) else { return nil }
        defer { PQconninfoFree(options) }
        var option = options
        while let name = option.pointee.keyword {
            if String(cString: name) == keyword { return option.pointee.val.map { String(cString: $0) } }
            option += 1
        }
        return nil
    }

    /// The server process serving this connection (for tests that break it on purpose).
    var backendPID: Int32 { handle.map { PQbackendPID($0) } ?? 0 }

    // MARK: Statements

    /// Runs one statement with its parameters bound, through a statement prepared on first use.
    @discardableResult
    func execute(_ sql: String, _ arguments: [(any PostgresBindable)?] = []) throws -> PostgresResult {
        let connection = try open()
        let name = try statementName(for: sql, connection)
        let parameters = arguments.map { $0?.postgresParameter }
        // libpq takes text parameters as C strings: a NUL would silently cut the value short
        // (and two different values could then compare equal in the database). Refused instead.
        for case let .text(text)? in parameters where text.utf8.contains(0) {
            throw StoreError.invalidArgument("a text value contains a NUL character, which PostgreSQL text cannot hold")
        }
        var buffers: [UnsafeMutablePointer<CChar>?] = []
        var lengths: [Int32] = []
        var formats: [Int32] = []
        defer { buffers.forEach { free($0) } }
        for parameter in parameters {
            switch parameter {
            case nil:
                buffers.append(nil); lengths.append(0); formats.append(0)
            case let .text(text):
                buffers.append(strdup(text)); lengths.append(0); formats.append(0)
            case let .binary(bytes):
                // malloc(0) may answer NULL, which would mean SQL NULL: keep at least one byte.
                let copy = malloc(max(bytes.count, 1))!.assumingMemoryBound(to: CChar.self)
                bytes.withUnsafeBytes { raw in
                    if let base = raw.baseAddress { memcpy(copy, base, raw.count) }
                }
                buffers.append(copy); lengths.append(Int32(bytes.count)); formats.append(1)
            }
        }
        let values = buffers.map { UnsafePointer($0) }
        let result = PQexecPrepared(connection, name, Int32(values.count), values, lengths, formats, 0)
        let checked = try check(result, sql: sql)
        statementsSinceLoan += 1
        return checked
    }

    /// Runs a script of several statements without parameters (migrations).
    func executeScript(_ sql: String) throws {
        let connection = try open()
        _ = try check(PQexec(connection, sql), sql: sql)
        statementsSinceLoan += 1
    }

    /// Runs `body` in a transaction, rolling back when it throws. `synchronousCommit: false`
    /// commits without waiting for the WAL flush: only for state that is redone after a crash
    /// anyway (leases); PostgreSQL's WAL order makes the next synchronous commit cover it.
    func transaction<T>(synchronousCommit: Bool = true, _ body: () throws -> T) throws -> T {
        try execute("BEGIN")
        do {
            if !synchronousCommit { try execute("SET LOCAL synchronous_commit = off") }
            let result = try body()
            do {
                try execute("COMMIT")
            } catch let StoreError.connectionLost(message) {
                throw StoreError.connectionLost(message + " (\(StoreError.commitOutcomeUnknown))")
            }
            return result
        } catch {
            if isUsable { _ = try? execute("ROLLBACK") }
            throw error
        }
    }

    // MARK: Internals

    private func open() throws -> OpaquePointer {
        guard let handle else { throw StoreError.closed }
        return handle
    }

    private func statementName(for sql: String, _ connection: OpaquePointer) throws -> String {
        if let name = prepared[sql] { return name }
        let name = "as4gw_\(prepared.count + 1)"
        _ = try check(PQprepare(connection, name, sql, 0, nil), sql: sql)
        prepared[sql] = name
        return name
    }

    /// Turns a result into a `PostgresResult`, or into the error it reports. A lost connection
    /// (no result, a bad connection status, SQLSTATE class 08 or an administrator's shutdown)
    /// marks this connection broken.
    private func check(_ result: OpaquePointer?, sql: String) throws -> PostgresResult {
        if let result {
            let status = PQresultStatus(result)
            if status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK { return PostgresResult(handle: result, sql: sql) }
        }
        let sqlState = result.map { Self.text(PQresultErrorField($0, as4gw_pq_diag_sqlstate())) } ?? ""
        let primary = result.map { Self.text(PQresultErrorField($0, as4gw_pq_diag_message_primary())) } ?? ""
        let message = primary.isEmpty ? Self.text(handle.map { PQerrorMessage($0) }) : primary
        if let result { PQclear(result) }
        let lost = handle.map { PQstatus($0) != CONNECTION_OK } ?? true
        if lost || sqlState.hasPrefix("08") || sqlState.hasPrefix("57P") {
            isBroken = true
            throw StoreError.connectionLost(message + " [in: \(sql)]")
        }
        throw StoreError.postgres(sqlState: sqlState, message: message, sql: sql)
    }

    private static func text(_ pointer: UnsafePointer<CChar>?) -> String {
        guard let pointer else { return "" }
        return String(cString: pointer).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private static func text(_ pointer: UnsafeMutablePointer<CChar>?) -> String { text(UnsafePointer(pointer)) }
}

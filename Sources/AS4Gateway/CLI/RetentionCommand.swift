import Foundation
import MessageStore
import Routing

/// `as4gw retention purge` and `as4gw directory limits` (docs/RETENTION.md). Exit status: 0 done,
/// 1 an I/O or store error (or a purge that failed for a document), 2 a usage error, 3 a purge
/// deferred because the clock is not consistent with the runs before (nothing purged).
enum RetentionCommand {
    static let help = """
    Usage: as4gw retention purge [--dry-run] [--trust-clock] [--data DIR | --config FILE]

    purge   Removes every document past its retention that no legal hold keeps, with its files,
            and records each purge in the store (the daemon does the same every
            retention.purgeIntervalSeconds). Prints a JSON summary: purged documents, those kept by
            a legal hold, and with --dry-run those that would go (nothing is removed then).
            When the clock is more than retention.clockJumpBoundHours (default 24) past the last
            recorded purge run, or a deferral after such a jump is still running, nothing is
            purged or listed: the summary says "deferred" and the exit status is 3.
            --trust-clock: you have checked this machine's clock; purge by it anyway (recorded
            as an override, and later runs are judged from this one).

    The store: SQLite in --data DIR, or that of the configuration --config FILE.
    """

    static let limitsHelp = """
    Usage: as4gw directory limits ADDRESS [--max-message-bytes N|none] [--mailbox-bytes N|none]
                                  [--data DIR | --config FILE]

    Prints the address's message size limit, mailbox size limit and the bytes its mailbox holds;
    with an option, sets that limit first (none removes it). A running gateway applies the new
    limit to the next message (as PUT /api/v1/addresses/{address}/limits does).
    """

    static func run(_ args: [String]) -> Int32 {
        var rest = args[...]
        switch rest.popFirst() {
        case "purge": return purge(Array(rest))
        case "--help", "-h", "help": print(help); return 0
        case nil: return CLI.usageError("retention needs a subcommand: purge", help: help)
        case let other?: return CLI.usageError("retention: unknown subcommand \(other)", help: help)
        }
    }

    static func failure(_ message: String) -> Int32 {
        CLI.printError("as4gw: \(message)")
        return 1
    }

    /// The store named by --data or --config; nil after printing a usage error.
    static func location(_ a: Arguments, help: String) -> Result<StoreLocation, ExitCode> {
        if a.value("data") != nil && a.value("config") != nil {
            return .failure(ExitCode(CLI.usageError("give --data or --config, not both", help: help)))
        }
        if let d = a.value("data") {
            guard FileManager.default.fileExists(atPath: d + "/messages.sqlite") else {
                return .failure(ExitCode(failure("no store in \(d) (messages.sqlite is missing)")))
            }
            return .success(.sqlite(directory: d))
        }
        do {
            return .success(try GatewayConfiguration.load(path: a.value("config")).storeLocation())
        } catch {
            return .failure(ExitCode(failure("\(error)")))
        }
    }

    struct ExitCode: Error { var code: Int32; init(_ code: Int32) { self.code = code } }

    static func purge(_ args: [String]) -> Int32 {
        let a: Arguments
        do { a = try Arguments(args, valued: ["data", "config"], flags: ["dry-run", "trust-clock"]) } catch { return CLI.usageError("\(error)", help: help) }
        if a.has("help") { print(help); return 0 }
        guard a.positionals.isEmpty else { return CLI.usageError("purge takes no arguments", help: help) }
        let store: any RetentionStore
        switch location(a, help: help) {
        case .failure(let e): return e.code
        case .success(let l):
            do { store = try l.openRetention(schema: .existing) } catch { return failure("cannot open the store \(l.description): \(error)") }
        }
        // The configured bound with --config; the default with --data.
        var bound = RetentionConfiguration().clockJumpBoundSeconds
        if let path = a.value("config") {
            do { bound = try GatewayConfiguration.load(path: path).retention.clockJumpBoundSeconds } catch { return failure("\(error)") }
        }
        defer { store.close() }
        let summary: RetentionPurge.Summary
        do {
            // The account that ran it, from the system (not $USER, which the caller sets), and the
            // same event lines as the daemon's purge on stderr.
            let log = EventLog(format: .logfmt)
            var purge = RetentionPurge(store: store, log: log, by: "cli:" + CLI.operatorAccount())
            purge.clockBound = bound
            summary = try purge.run(now: Date(), dryRun: a.has("dry-run"), trustClock: a.has("trust-clock"))
        } catch {
            return failure("purge stopped: \(error)")
        }
        let time = ISO8601DateFormatter()
        if let deferred = summary.deferred {
            print(JSON.object([("dryRun", .bool(a.has("dry-run"))), ("purged", .array([])), ("held", .array([])), ("due", .array([])), ("failed", .array([])),
                               ("deferred", .object([("until", .string(time.string(from: deferred.until))), ("reason", .string(deferred.reason))]))])
                .serialized(pretty: false))
            CLI.printError("as4gw: purge deferred until \(time.string(from: deferred.until)): \(deferred.reason). "
                           + "Check this machine's clock; if it is right, run again with --trust-clock.")
            return 3
        }
        let json = JSON.object([
            ("dryRun", .bool(a.has("dry-run"))),
            ("purged", .array(summary.purged.map {
                .object([("messageId", .string($0.messageId)), ("sender", .string($0.sender)), ("recipients", .array($0.recipients.map(JSON.string))),
                         ("bytes", .int($0.bytes)), ("retainUntil", .string(time.string(from: $0.retainUntil)))])
            })),
            ("held", .array(summary.held.map { .object([("messageId", .string($0.messageId)), ("holds", .array($0.holds.map(JSON.int)))]) })),
            ("due", .array(summary.due.map(JSON.string))),
            ("failed", .array(summary.failed.map(JSON.string))),
        ])
        print(json.serialized(pretty: false))
        for record in summary.purged {
            CLI.printError("purged \(record.messageId) (\(record.bytes) bytes, retained until \(time.string(from: record.retainUntil)))")
        }
        return summary.failed.isEmpty ? 0 : 1
    }

    /// `as4gw directory limits`.
    static func limits(_ args: [String]) -> Int32 {
        let a: Arguments
        do { a = try Arguments(args, valued: ["data", "config", "max-message-bytes", "mailbox-bytes"], flags: []) } catch {
            return CLI.usageError("\(error)", help: limitsHelp)
        }
        if a.has("help") { print(limitsHelp); return 0 }
        guard a.positionals.count == 1 else { return CLI.usageError("limits takes one ADDRESS", help: limitsHelp) }
        let address: String
        do { address = try EAddress(a.positionals[0]).canonical } catch { return CLI.usageError("\(a.positionals[0]): \(error)", help: limitsHelp) }
        func limit(_ name: String) -> Result<Int??, ExitCode> {
            guard let text = a.value(name) else { return .success(.none) }
            if text == "none" { return .success(.some(nil)) }
            guard let n = Int(text), n >= 1 else {
                return .failure(ExitCode(CLI.usageError("--\(name) \(text): a whole number of bytes of at least 1, or none", help: limitsHelp)))
            }
            return .success(.some(n))
        }
        let maxMessage: Int??, mailbox: Int??
        switch (limit("max-message-bytes"), limit("mailbox-bytes")) {
        case (.failure(let e), _), (_, .failure(let e)): return e.code
        case (.success(let m), .success(let b)): (maxMessage, mailbox) = (m, b)
        }
        let location: StoreLocation
        switch Self.location(a, help: limitsHelp) {
        case .failure(let e): return e.code
        case .success(let l): location = l
        }
        do {
            let directory = try location.openAddressDirectory(schema: .existing)
            defer { directory.close() }
            let retention = try location.openRetention(schema: .existing)
            defer { retention.close() }
            guard var record = try directory.record(for: address) else { return failure("\(address) is not in the e-address directory") }
            if maxMessage != nil || mailbox != nil {
                if let maxMessage { record.maxMessageBytes = maxMessage }
                if let mailbox { record.mailboxBytes = mailbox }
                _ = try directory.importRecords([record], replace: false, at: Date())
            }
            func number(_ v: Int?) -> JSON { v.map(JSON.int) ?? .null }
            print(JSON.object([("address", .string(record.address)), ("maxMessageBytes", number(record.maxMessageBytes)),
                               ("mailboxBytes", number(record.mailboxBytes)),
                               ("mailboxUsedBytes", .int(try retention.mailboxBytes(address: address))),
                               ("retentionDays", number(record.retentionDays))]).serialized(pretty: false))
            return 0
        } catch {
            return failure("\(error)")
        }
    }
}

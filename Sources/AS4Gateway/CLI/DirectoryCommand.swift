import Foundation
import MessageStore
import Routing

/// `as4gw directory import|export|lookup`: the e-address directory in the node's store
/// (docs/DIRECTORY.md).
enum DirectoryCommand {
    static let help = """
    Usage: as4gw directory import FILE [--format csv|json] [--replace] [--allow-insecure-endpoints]
                                       [--data DIR | --config FILE]
           as4gw directory export [--format csv|json] [--data DIR | --config FILE]
           as4gw directory lookup ADDRESS [--from SENDER] [--size BYTES] [--at TIME] [--json]
                                          [--data DIR | --config FILE]
           as4gw directory limits ADDRESS [--max-message-bytes N|none] [--mailbox-bytes N|none]
                                          [--data DIR | --config FILE]   (as4gw directory limits --help)

    The directory lives in the node's store (messages.sqlite in the data directory: --data DIR,
    or the store of the configuration --config FILE, default ./data; with a PostgreSQL store,
    in its database). Formats: docs/DIRECTORY.md.

    import  Checks every entry of FILE (format from --format, else from the extension .csv or
            .json) and prints every problem on stderr as FILE:line:col: message; a file with any
            problem changes nothing. Otherwise all entries are stored in one transaction: new
            addresses added, existing ones overwritten, and with --replace every address not in
            FILE removed. Prints the counts (added, changed, unchanged, removed) and the time
            taken. An entry whose access point party id is that of a self-service access point
            registered for other addresses is imported with a warning on stderr (FILE: warning:
            ...): submissions to it are refused until the directory or the registration is
            corrected. --allow-insecure-endpoints accepts http:// access points (tests only).
    export  Prints the whole directory, ordered by address, in CSV (default) or JSON; the output
            imports back unchanged.
    lookup  Prints the route decision for a message to ADDRESS (any spelling of it): outcome
            (localMailbox, remoteAccessPoint, unknownAddress, notYetActive, suspended, blocked,
            tooLarge) and reason, with the access point for a remote one. --size BYTES checks the
            address's message size limit; --at TIME (RFC 3339, default now) decides at another
            instant; --from SENDER fills in the four-corner originalSender; --json prints JSON.

    Exit status: 0 success (lookup: the message would be delivered); 1 the file has problems, an
    address is invalid, or lookup refuses the route; 2 usage or I/O error.
    """

    static func run(_ args: [String]) -> Int32 {
        var rest = args[...]
        switch rest.popFirst() {
        case "import": return importFile(Array(rest))
        case "export": return export(Array(rest))
        case "lookup": return lookup(Array(rest))
        case "limits": return RetentionCommand.limits(Array(rest))
        case "--help", "-h", "help": print(help); return 0
        case nil: return CLI.usageError("directory needs a subcommand: import, export, lookup or limits", help: help)
        case let other?: return CLI.usageError("directory: unknown subcommand \(other)", help: help)
        }
    }

    // MARK: import

    static func importFile(_ args: [String]) -> Int32 {
        let a: Arguments
        do {
            a = try Arguments(args, valued: ["format", "data", "config"], flags: ["replace", "allow-insecure-endpoints"])
        } catch {
            return CLI.usageError("\(error)", help: help)
        }
        if a.has("help") { print(help); return 0 }
        guard a.positionals.count == 1 else { return CLI.usageError("directory import takes exactly one FILE", help: help) }
        let path = a.positionals[0]
        let format: DirectoryFile.Format
        switch formatOption(a, fileName: path) {
        case .failure(let code): return code
        case .success(let f): format = f
        }
        guard FileManager.default.isReadableFile(atPath: path) else { return CLI.ioError("cannot read \(path)") }

        let started = ContinuousClock.now
        let entries: [DirectoryEntry]
        do {
            entries = try DirectoryFile.read(path: path, format: format,
                                             options: .init(allowInsecureEndpoints: a.has("allow-insecure-endpoints")))
        } catch {
            CLI.printError(error.description)
            return 1
        }
        let read = ContinuousClock.now
        let store: StoreLocation
        switch location(a) {
        case .failure(let code): return code
        case .success(let l): store = l
        }
        let directory: any AddressDirectoryStore
        do { directory = try store.openAddressDirectory(schema: .existing) } catch {
            return CLI.ioError("cannot open the store \(store.description): \(error)")
        }
        defer { directory.close() }
        let records = entries.map(DirectoryRecordConversion.record)
        let conflicts: [SelfServicePartyIds.RowConflict]
        do {
            conflicts = try registrationConflicts(records, in: store)
        } catch {
            return CLI.ioError("cannot read the self-service registrations in \(store.description): \(error)")
        }
        let result: AddressImportResult
        do {
            result = try directory.importRecords(records, replace: a.has("replace"), at: Date())
        } catch {
            return CLI.ioError("cannot store the directory: \(error)")
        }
        let stored = ContinuousClock.now
        for conflict in conflicts { CLI.printError("\(path): warning: \(conflict)") }
        let counts = ImportCounts(added: result.added, changed: result.changed, unchanged: result.unchanged, removed: result.removed)
        print("\(path): \(entries.count) \(entries.count == 1 ? "entry" : "entries"): \(counts) "
              + "(read \(seconds(read - started)) s, stored \(seconds(stored - read)) s)")
        return 0
    }

    /// The rows that name a self-service access point's party id for an address outside its
    /// registration (`SelfServicePartyIds.RowConflict`), read before anything is stored.
    private static func registrationConflicts(_ records: [AddressRecord], in location: StoreLocation) throws -> [SelfServicePartyIds.RowConflict] {
        let rows = records.map { (address: $0.address, partyId: $0.remote ? $0.partyId : nil) }
        guard rows.contains(where: { $0.partyId != nil }) else { return [] }
        let registrations = try location.openRegistrations(schema: .existing)
        defer { registrations.close() }
        return SelfServicePartyIds.rowConflicts(rows, registrations: try registrations.registrations(status: nil))
    }

    // MARK: export

    static func export(_ args: [String]) -> Int32 {
        let a: Arguments
        do {
            a = try Arguments(args, valued: ["format", "data", "config"], flags: [])
        } catch {
            return CLI.usageError("\(error)", help: help)
        }
        if a.has("help") { print(help); return 0 }
        guard a.positionals.isEmpty else { return CLI.usageError("directory export takes no arguments", help: help) }
        let format: DirectoryFile.Format
        switch formatOption(a, fileName: nil) {
        case .failure(let code): return code
        case .success(let f): format = f
        }
        let directory: any AddressDirectoryStore
        switch openExisting(a) {
        case .failure(let code): return code
        case .success(let d): directory = d
        }
        defer { directory.close() }
        do {
            let entries = try directory.allRecords().map(DirectoryRecordConversion.entry)
            print(DirectoryFile.encode(entries, format: format), terminator: "")
            return 0
        } catch {
            return CLI.ioError("cannot read the directory: \(error)")
        }
    }

    // MARK: lookup

    static func lookup(_ args: [String]) -> Int32 {
        let a: Arguments
        do {
            a = try Arguments(args, valued: ["from", "size", "at", "data", "config"], flags: ["json"])
        } catch {
            return CLI.usageError("\(error)", help: help)
        }
        if a.has("help") { print(help); return 0 }
        guard a.positionals.count == 1 else { return CLI.usageError("directory lookup takes exactly one ADDRESS", help: help) }
        var size: Int?
        if let s = a.value("size") {
            guard let n = Int(s), n >= 0 else { return CLI.usageError("--size takes a number of bytes", help: help) }
            size = n
        }
        var now = Date()
        if let s = a.value("at") {
            guard let d = MessagesCommand.parseDate(s) else { return CLI.usageError("--at takes an RFC 3339 time, e.g. 2026-03-01T00:00:00Z", help: help) }
            now = d
        }
        let recipient: EAddress, sender: EAddress?
        do {
            recipient = try EAddress(a.positionals[0])
            sender = try a.value("from").map { try EAddress($0) }
        } catch {
            CLI.printError("as4gw: \(error)")
            return 1
        }
        let directory: any AddressDirectoryStore
        switch openExisting(a) {
        case .failure(let code): return code
        case .success(let d): directory = d
        }
        defer { directory.close() }
        let decision: RouteDecision
        do {
            decision = try Router(directory: StoreAddressLookup(store: directory)).route(to: recipient, from: sender, size: size, at: now)
        } catch {
            return CLI.ioError("cannot read the directory: \(error)")
        }
        if a.has("json") {
            print(describe(decision).serialized())
        } else {
            for (key, value) in describe(decision).lines { print("\(key): \(value)") }
        }
        return decision.isDeliverable ? 0 : 1
    }

    private static func describe(_ decision: RouteDecision) -> JSON {
        var fields: [(String, JSON)] = [("outcome", .string(decision.outcome)), ("reason", .string(decision.reason))]
        switch decision {
        case .remoteAccessPoint(let route):
            fields += [
                ("partyId", .string(route.accessPoint.partyId)), ("partyIdType", .string(route.accessPoint.partyIdType)),
                ("endpoint", .string(route.accessPoint.endpoint.absoluteString)),
                ("certificates", .array(route.accessPoint.certificates.map { .string("sha256:" + $0.sha256Fingerprint) })),
                ("originalSender", .string(route.originalSender?.canonical)), ("finalRecipient", .string(route.finalRecipient.canonical)),
            ]
        case .localMailbox(let entry):
            fields += [("address", .string(entry.address.canonical)), ("owner", .string(entry.owner.id)),
                       ("ownerKind", .string(entry.owner.kind.rawValue))]
        default: break
        }
        return .object(fields)
    }

    // MARK: shared

    private static func formatOption(_ a: Arguments, fileName: String?) -> MessagesCommand.Outcome<DirectoryFile.Format> {
        if let text = a.value("format") {
            guard let f = DirectoryFile.Format(rawValue: text) else { return .failure(CLI.usageError("--format is csv or json", help: help)) }
            return .success(f)
        }
        guard let fileName else { return .success(.csv) }
        guard let f = DirectoryFile.Format(fileName: fileName) else {
            return .failure(CLI.usageError("cannot tell the format of \(fileName) from its name: give --format csv or --format json", help: help))
        }
        return .success(f)
    }

    private static func location(_ a: Arguments) -> MessagesCommand.Outcome<StoreLocation> {
        if a.value("data") != nil && a.value("config") != nil {
            return .failure(CLI.usageError("give --data or --config, not both", help: help))
        }
        if let d = a.value("data") { return .success(.sqlite(directory: d)) }
        do {
            return .success(try GatewayConfiguration.load(path: a.value("config")).storeLocation())
        } catch {
            return .failure(CLI.ioError("\(error)"))
        }
    }

    /// Export and lookup read an existing store; a missing SQLite file is an error, not a new
    /// empty store.
    private static func openExisting(_ a: Arguments) -> MessagesCommand.Outcome<any AddressDirectoryStore> {
        let store: StoreLocation
        switch location(a) {
        case .failure(let code): return .failure(code)
        case .success(let l): store = l
        }
        if case let .sqlite(directory) = store, !FileManager.default.fileExists(atPath: directory + "/messages.sqlite") {
            return .failure(CLI.ioError("no store in \(directory) (messages.sqlite is missing; import a directory first)"))
        }
        do {
            return .success(try store.openAddressDirectory(schema: .existing))
        } catch {
            return .failure(CLI.ioError("cannot open the store \(store.description): \(error)"))
        }
    }

    private static func seconds(_ d: Duration) -> String {
        let c = d.components
        return String(format: "%.2f", Double(c.seconds) + Double(c.attoseconds) / 1e18)
    }
}

private extension JSON {
    /// An object's members as `key: value` text lines (strings bare, arrays space-separated).
    var lines: [(String, String)] {
        guard case .object(let members) = self else { return [] }
        return members.map { key, value in
            switch value {
            case .string(let s): return (key, s)
            case .array(let items): return (key, items.map { if case .string(let s) = $0 { return s } else { return $0.serialized(pretty: false) } }.joined(separator: " "))
            default: return (key, value.serialized(pretty: false))
            }
        }
    }
}

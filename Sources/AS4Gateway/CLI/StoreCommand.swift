import Foundation
import MessageStore

/// `as4gw store status|migrate`: the store's schema version, and the one explicit way besides
/// `serve` to migrate it. Every other command opens a PostgreSQL store without migrating
/// (`SchemaAccess.existing`), so a newer build's read-only command cannot upgrade the schema that
/// older nodes still run on; the upgrade of several nodes is this command's (docs/CONFIG.md).
enum StoreCommand {
    static let help = """
    Usage: as4gw store status|migrate [--data DIR | --store URL | --config FILE] [--json]

    status   prints the schema version the store holds and the one this build has (exit 0 when
             they are the same, 1 when they differ: migrations pending, or a newer build's schema)
    migrate  applies this build's pending migrations and prints the versions applied. On
             PostgreSQL every node shares the schema: stop the nodes of the older build first
             (they refuse to start on a newer schema), migrate, then start the new build's
             nodes (docs/CONFIG.md, "Upgrading several nodes"). `serve` also migrates at start.

    The store: SQLite in --data DIR, a store URL (--store sqlite:DIR|postgres://…), or the store
    of --config FILE; default ./data.

    Exit status: 0 done (status: current); 1 status: not current; 2 usage or I/O error, or a
    schema newer than this build's (migrate refuses it and changes nothing).
    """

    static func run(_ args: [String]) -> Int32 {
        let a: Arguments
        do {
            a = try Arguments(args, valued: ["data", "store", "config"], flags: ["json"])
        } catch {
            return CLI.usageError("\(error)", help: help)
        }
        if a.has("help") { print(help); return 0 }
        guard a.positionals.count == 1, let verb = a.positionals.first, ["status", "migrate"].contains(verb) else {
            return CLI.usageError("store needs one subcommand: status or migrate", help: help)
        }
        let location: StoreLocation
        switch MessagesCommand.storeLocation(a, help: help) {
        case .failure(let code): return code
        case .success(let l): location = l
        }
        do {
            if verb == "migrate" {
                let before = try location.schemaState()
                let applied = try location.migrate()
                report(location, before: before.installed, after: applied.last ?? before.installed, supported: before.supported,
                       applied: applied, json: a.has("json"))
                return 0
            }
            let state = try location.schemaState()
            report(location, before: state.installed, after: nil, supported: state.supported, applied: nil, json: a.has("json"))
            return state.isCurrent ? 0 : 1
        } catch {
            return CLI.ioError("store \(verb) \(location.description): \(error)")
        }
    }

    private static func report(_ location: StoreLocation, before: Int, after: Int?, supported: Int, applied: [Int]?, json: Bool) {
        if json {
            var fields: [(String, JSON)] = [("store", .string(location.description)), ("schemaVersion", .int(after ?? before)),
                                            ("buildVersion", .int(supported))]
            if let applied { fields.append(("applied", .array(applied.map { .int($0) }))) }
            print(JSON.object(fields).serialized(pretty: false))
            return
        }
        if let applied {
            print(applied.isEmpty ? "\(location.description): schema version \(before), current; nothing to migrate"
                                  : "\(location.description): schema version \(before) → \(after ?? before) (applied \(applied.map(String.init).joined(separator: ", ")))")
        } else {
            let verdict = before == supported ? "current"
                : before < supported ? "this build's is \(supported): migrations pending (`as4gw store migrate`)"
                : "newer than this build's (\(supported)): use the newer build"
            print("\(location.description): schema version \(before), \(verdict)")
        }
    }
}

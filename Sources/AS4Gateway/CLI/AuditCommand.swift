import Foundation
import MessageStore

/// `as4gw audit verify`: walks both event hash chains (docs/EVIDENCE.md) and names the first link
/// that does not hold.
enum AuditCommand {
    static let help = """
    Usage: as4gw audit verify [--data DIR | --store URL | --config FILE] [--json]

    Checks the tamper-evident history of the store: the AS4 messages' events (table `events`)
    and the backend API documents' events (`document_events`) are each a hash chain, every
    event carrying the hash of the one before. Walks both in id order, recomputes every hash and
    prints, per chain, how many events are chained, how many were written before the chain
    existed (unchained, only at the start) and the last hash. At the first link that does not
    hold it names the table, the event id, its message id, which value is wrong and the
    expected and found values, and stops that chain there. Works beside a running gateway.

    --json   one JSON object instead of text lines

    Exit status: 0 both chains intact; 1 a chain is broken; 2 usage or I/O error.
    """

    static func run(_ args: [String]) -> Int32 {
        let a: Arguments
        do {
            a = try Arguments(args, valued: ["data", "store", "config"], flags: ["json"])
        } catch {
            return CLI.usageError("\(error)", help: help)
        }
        if a.has("help") { print(help); return 0 }
        guard a.positionals == ["verify"] else {
            return CLI.usageError(a.positionals.isEmpty ? "audit needs a subcommand: verify" : "unknown audit arguments: \(a.positionals.joined(separator: " "))", help: help)
        }
        let store: any MessageStore
        switch MessagesCommand.openStore(a) {
        case .failure(let code): return code
        case .success(let s): store = s
        }
        defer { store.close() }
        var reports: [ChainReport] = []
        do {
            for table in ChainedTable.allCases { reports.append(try store.verifyChain(table)) }
        } catch {
            return CLI.ioError("cannot read the event history: \(error)")
        }
        if a.has("json") {
            print(JSON.object([("intact", .bool(reports.allSatisfy { $0.firstBreak == nil })),
                               ("chains", .array(reports.map(json)))]).serialized(pretty: false))
        } else {
            for report in reports { print(line(report)) }
        }
        for report in reports {
            if let broken = report.firstBreak { CLI.printError("as4gw: audit: broken link: \(broken)") }
        }
        return reports.allSatisfy { $0.firstBreak == nil } ? 0 : 1
    }

    static func line(_ r: ChainReport) -> String {
        var text = "\(r.table.rawValue): \(r.chained) chained, \(r.purged) purged, \(r.unchained) unchained"
        if let broken = r.firstBreak {
            text += ", BROKEN at event \(broken.eventId) (message \(broken.messageId)): \(broken.field) expected \(broken.expected) found \(broken.found)"
        } else {
            text += ", intact, last hash \(r.lastHash)"
        }
        return text
    }

    static func json(_ r: ChainReport) -> JSON {
        var fields: [(String, JSON)] = [("table", .string(r.table.rawValue)), ("chained", .int(Int64(r.chained))),
                                        ("unchained", .int(Int64(r.unchained))), ("purged", .int(Int64(r.purged))), ("lastHash", .string(r.lastHash))]
        if let b = r.firstBreak {
            fields.append(("firstBreak", .object([("eventId", .int(Int64(b.eventId))), ("messageId", .string(b.messageId)),
                                                  ("field", .string(b.field)), ("expected", .string(b.expected)),
                                                  ("found", .string(b.found))])))
        } else {
            fields.append(("firstBreak", .null))
        }
        return .object(fields)
    }
}

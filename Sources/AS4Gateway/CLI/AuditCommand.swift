import Foundation
import MessageStore

/// `as4gw audit verify`: walks both event hash chains (docs/EVIDENCE.md) and names the first link
/// that does not hold, and checks the legal holds against the purges (`LegalHoldAudit`).
enum AuditCommand {
    static let help = """
    Usage: as4gw audit verify [--data DIR | --store URL | --config FILE] [--json]

    Checks the tamper-evident history of the store: the AS4 messages' events (table `events`)
    and the backend API documents' events (`document_events`) are each a hash chain, every
    event carrying the hash of the one before. Walks both in id order, recomputes every hash and
    prints, per chain, how many events are chained, how many were written before the chain
    existed (unchained, only at the start) and the last hash. At the first link that does not
    hold it names the table, the event id, its message id, which value is wrong and the
    expected and found values, and stops that chain there. Then checks the legal holds: a
    document purged while a hold covered it (by the recorded times), or a release no gateway
    could have made (no releaser named, or before the hold was placed), is named. Works beside
    a running gateway.

    --json   one JSON object instead of text lines

    Exit status: 0 both chains intact and no hold finding; 1 a chain is broken or a hold was
    not kept; 2 usage or I/O error.
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
        let holds: LegalHoldAudit.Report
        do {
            guard case .success(let location) = MessagesCommand.storeLocation(a) else { return CLI.ioError("no store location") }
            let retention = try location.openRetention(schema: .existing)
            defer { retention.close() }
            holds = try LegalHoldAudit.check(retention)
        } catch {
            return CLI.ioError("cannot read the legal holds and purges: \(error)")
        }
        let intact = reports.allSatisfy { $0.firstBreak == nil } && holds.findings.isEmpty
        if a.has("json") {
            print(JSON.object([("intact", .bool(intact)), ("chains", .array(reports.map(json))),
                               ("legalHolds", .object([("holds", .int(Int64(holds.holds))), ("purges", .int(Int64(holds.purges))),
                                                       ("findings", .array(holds.findings.map(json)))]))]).serialized(pretty: false))
        } else {
            for report in reports { print(line(report)) }
            print("legal_holds: \(holds.holds) holds, \(holds.purges) purges checked, "
                  + (holds.findings.isEmpty ? "kept" : "\(holds.findings.count) NOT KEPT"))
        }
        for report in reports {
            if let broken = report.firstBreak { CLI.printError("as4gw: audit: broken link: \(broken)") }
        }
        for finding in holds.findings { CLI.printError("as4gw: audit: legal hold not kept: \(finding)") }
        return intact ? 0 : 1
    }

    static func json(_ f: LegalHoldAudit.Finding) -> JSON {
        .object([("holdId", .int(f.holdId)), ("purgeId", f.purgeId.map { .int($0) } ?? .null),
                 ("messageId", f.messageId.map { .string($0) } ?? .null), ("problem", .string(f.problem))])
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

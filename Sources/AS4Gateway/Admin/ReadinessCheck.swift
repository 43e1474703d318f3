import Foundation
import MessageStore
import Routing

/// One condition `/readyz` requires: the daemon can do useful work only when all of them hold.
struct ReadinessCheck: Sendable {
    struct Outcome: Sendable, Equatable {
        var ok: Bool
        var detail: String
    }

    let name: String
    let run: @Sendable (Date) -> Outcome

    /// The node is not stopping (SIGTERM): a stopping node takes no new work.
    static func running(_ context: GatewayContext) -> ReadinessCheck {
        ReadinessCheck(name: "running") { _ in
            context.stopping.load(ordering: .relaxed) ? Outcome(ok: false, detail: "stopping: finishing in-flight work")
                                                      : Outcome(ok: true, detail: "accepting work")
        }
    }

    /// The store answers a query (the highest event id: one index lookup).
    static func store(_ store: any MessageStore) -> ReadinessCheck {
        ReadinessCheck(name: "store") { _ in
            do {
                _ = try store.latestEventId()
                return Outcome(ok: true, detail: "reachable")
            } catch {
                return Outcome(ok: false, detail: "\(error)")
            }
        }
    }

    /// The P-Mode set in force gives our party something to do. A reload refused since then does
    /// not make the node unready: the previous set stays in force (the reload counters say it).
    static func pmodes(_ registry: PModeRegistry, party: String) -> ReadinessCheck {
        ReadinessCheck(name: "pmodes") { _ in
            let set = registry.current
            let ours = set.pmodes.filter { $0.initiator.party == party || $0.responder.party == party }.count
            guard ours > 0 else {
                return Outcome(ok: false, detail: "none of the \(set.pmodes.count) P-Mode(s) in force names party \(party)")
            }
            return Outcome(ok: true, detail: "\(ours) of \(set.pmodes.count) P-Mode(s) in force name party \(party)")
        }
    }

    /// The mailbox worker, which takes in what this node received and receipted, has not been
    /// failing for longer than `bound` seconds. A moment's failure (a busy database, a disk that
    /// an operator is freeing) does not count: it logs once and retries every second. Past the
    /// bound, the node receipts documents it cannot place, so it should take no new work.
    static func mailboxWorker(_ health: LoopHealth, bound: TimeInterval) -> ReadinessCheck {
        ReadinessCheck(name: "mailboxWorker") { now in
            guard let failing = health.failing else { return Outcome(ok: true, detail: "working") }
            let seconds = Int(now.timeIntervalSince(failing.since))
            guard now.timeIntervalSince(failing.since) > bound else {
                return Outcome(ok: true, detail: "failing for \(seconds) s (not ready after \(Int(bound)) s): \(failing.reason)")
            }
            return Outcome(ok: false, detail: "failing for \(seconds) s since \(MessagesCommand.timestamp(failing.since)): \(failing.reason)")
        }
    }

    /// Every directory the daemon writes to has more than the reserve free (`DiskSpace`). The
    /// store's query still answers on a full disk, and requests are refused with 507/503 until
    /// space returns: the node should take no new work meanwhile.
    static func disk(_ space: DiskSpace) -> ReadinessCheck {
        ReadinessCheck(name: "disk") { _ in
            let short = space.shortages()
            guard short.isEmpty else { return Outcome(ok: false, detail: short.joined(separator: "; ")) }
            guard space.reserve > 0 else { return Outcome(ok: true, detail: "not checked (adminListener.minimumFreeBytes is 0)") }
            return Outcome(ok: true, detail: "at least \(DiskSpace.text(space.reserve)) free in " + space.places.map(\.name).joined(separator: ", "))
        }
    }

    /// Our own certificates are within their validity period (partners' are only reported in
    /// /metrics: one partner's expired certificate does not stop exchanges with the others).
    static func certificates(_ inventory: CertificateInventory) -> ReadinessCheck {
        ReadinessCheck(name: "certificates") { now in
            let invalid = inventory.invalidOwn(at: now)
            guard invalid.isEmpty else {
                return Outcome(ok: false, detail: invalid.map { e in
                    let c = e.certificate
                    let why = c.notAfter < now ? "expired \(MessagesCommand.timestamp(c.notAfter))"
                                               : "not valid before \(MessagesCommand.timestamp(c.notBefore))"
                    return "\(e.role) certificate (\(e.source)) \(c.subject): \(why)"
                }.joined(separator: "; "))
            }
            return Outcome(ok: true, detail: "\(inventory.own.count) certificate(s) valid")
        }
    }
}

/// The outcome of every readiness check, as `/readyz` answers it.
struct ReadinessReport: Sendable {
    var results: [(name: String, outcome: ReadinessCheck.Outcome)]

    init(checks: [ReadinessCheck], now: Date = Date()) {
        results = checks.map { ($0.name, $0.run(now)) }
    }

    var ready: Bool { results.allSatisfy(\.outcome.ok) }

    /// `{"status": "ready"|"not ready", "checks": [{"name", "ok", "detail"}, ...]}`
    var json: String {
        JSON.object([("status", .string(ready ? "ready" : "not ready")),
                     ("checks", .array(results.map { r in
                         .object([("name", .string(r.name)), ("ok", .bool(r.outcome.ok)), ("detail", .string(r.outcome.detail))])
                     }))]).serialized() + "\n"
    }
}

import AS4Crypto
import Foundation
import Routing
import Synchronization

/// Warns in the log ahead of a certificate's end, at start and then once a day: ours (keys,
/// listener TLS) and every partner's in the P-Modes in force. One that ends within `horizon` is a
/// warning (`certificate-expiring`), one that has ended an error (`certificate-expired`): an
/// expired signing or TLS certificate stops exchanges, and `/metrics` alone is read by nobody at
/// 3 a.m. unless an alert was written for it. One of ours whose validity has not begun is a
/// warning once (`certificate-not-yet-valid`). One thread, mostly asleep.
final class CertificateExpiryWatch: Sendable {
    /// The `as4gw certs` default: 30 days is time to order, install and distribute a renewal.
    static let horizon: TimeInterval = 30 * 86_400
    static let interval: TimeInterval = 86_400

    let context: GatewayContext
    let inventory: CertificateInventory
    private let early = Mutex(NotYetValid())
    private let running = Atomic<Bool>(true)
    private let finished = Atomic<Bool>(true)

    init(context: GatewayContext, inventory: CertificateInventory) {
        self.context = context
        self.inventory = inventory
    }

    struct Finding: Equatable {
        var level: EventLog.Level
        var event: String
        var fields: [String: String?]
    }

    /// What to log at `now` about `entries`: nothing for a certificate with more than `horizon` left.
    static func findings(_ entries: [CertificateInventory.Entry], now: Date, horizon: TimeInterval = horizon) -> [Finding] {
        entries.compactMap { e in
            let left = e.certificate.notAfter.timeIntervalSince(now)
            guard left <= horizon else { return nil }
            let days = Int((left / 86_400).rounded(.towardZero))
            let whose = e.source == "pmode" ? "party \(e.party)'s \(e.role) certificate in parties.json" : "our \(e.role) certificate (\(e.source))"
            let reason = left < 0
                ? "\(whose) expired \(MessagesCommand.timestamp(e.certificate.notAfter)): exchanges that need it fail until it is renewed"
                : "\(whose) expires \(MessagesCommand.timestamp(e.certificate.notAfter)), in \(days) day(s): renew it and install the new one"
            return Finding(level: left < 0 ? .error : .warning, event: left < 0 ? "certificate-expired" : "certificate-expiring",
                           fields: ["party": e.party, "role": e.role, "source": e.source, "subject": e.certificate.subject,
                                    "serial": e.certificate.serialNumber, "not_after": MessagesCommand.timestamp(e.certificate.notAfter),
                                    "days_left": String(days), "reason": reason])
        }
    }

    /// Logs this moment's findings for our certificates and those of the P-Modes in force now,
    /// and each of ours not valid yet the first time it is seen so.
    func round(now: Date = Date()) {
        for f in Self.findings(inventory.distinct(pmodes: context.registry.current), now: now) { context.log.log(f.level, f.event, f.fields) }
        for f in early.withLock({ $0.fresh(inventory.own, now: now) }) { context.log.log(f.level, f.event, f.fields) }
    }

    /// Our certificates whose validity has not begun (a clock behind, or one issued for a later
    /// day): peers refuse what they sign or protect until then. Told once per certificate, not
    /// daily: the cause is on this host, and the operator sees it from the first line.
    struct NotYetValid {
        private var told = Set<[String]>()

        /// Findings for the entries not valid at `now` that were not told before.
        mutating func fresh(_ own: [CertificateInventory.Entry], now: Date) -> [Finding] {
            own.compactMap { e in
                let c = e.certificate
                guard c.notBefore > now, told.insert([e.role, e.source, c.subject, c.serialNumber]).inserted else { return nil }
                let from = MessagesCommand.timestamp(c.notBefore)
                return Finding(level: .warning, event: "certificate-not-yet-valid",
                               fields: ["party": e.party, "role": e.role, "source": e.source, "subject": c.subject,
                                        "serial": c.serialNumber, "not_before": from,
                                        "reason": "our \(e.role) certificate (\(e.source)) is not valid before \(from): peers refuse what "
                                            + "depends on it until then; check this host's clock, or install the certificate in use now"])
            }
        }
    }

    /// After a SIGHUP reload: the certificates that set loaded from parties.json, at once rather
    /// than at the next daily round (a partner's new certificate may end within days, or have
    /// ended). Ours are not reloaded, so not told again; one also in parties.json stays ours.
    func reloaded(_ pmodes: PModeSet, now: Date = Date()) {
        let loaded = inventory.distinct(pmodes: pmodes).filter { $0.source == "pmode" }
        for f in Self.findings(loaded, now: now) { context.log.log(f.level, f.event, f.fields) }
    }

    func start() {
        running.store(true, ordering: .sequentiallyConsistent)
        finished.store(false, ordering: .sequentiallyConsistent)
        let thread = Thread { [self] in
            var next = Date().addingTimeInterval(Self.interval)
            while running.load(ordering: .sequentiallyConsistent) {
                if Date() >= next {
                    round()
                    next = Date().addingTimeInterval(Self.interval)
                }
                // Short steps, so that a stop is not held up by a day's sleep.
                Thread.sleep(forTimeInterval: 0.2)
            }
            finished.store(true, ordering: .sequentiallyConsistent)
        }
        thread.name = "\(context.party)/certificate-expiry"
        thread.start()
    }

    /// Stops after the current round; false when that round was still running at the deadline.
    func stop(deadline: Date) -> Bool {
        running.store(false, ordering: .sequentiallyConsistent)
        while Date() < deadline, !finished.load(ordering: .sequentiallyConsistent) { Thread.sleep(forTimeInterval: 0.02) }
        return finished.load(ordering: .sequentiallyConsistent)
    }
}

import Foundation
#if canImport(Glibc)
import Glibc
#endif
import MessageStore
import Routing

/// Configuration `retention` (docs/RETENTION.md, docs/CONFIG.md): the archive time in days per
/// owner kind, which the directory's `retentionDays` of an address overrides, and how often the
/// background purge runs.
struct RetentionConfiguration: Codable, Sendable, Equatable {
    var institution = 3650
    var company = 1825
    var naturalPerson = 1825
    var purgeIntervalSeconds: Double = 3600
    /// How far past the last recorded purge run (hours) the clock may be before a purge is
    /// deferred by as much (docs/RETENTION.md, "A clock that jumps"). At least twice the purge
    /// interval, so that runs on time never look like a jump.
    var clockJumpBoundHours: Double = 24
    static let clockJumpBoundRange: ClosedRange<Double> = 1...720

    init() {}

    private enum CodingKeys: String, CodingKey, CaseIterable { case institution, company, naturalPerson, purgeIntervalSeconds, clockJumpBoundHours }

    init(from decoder: Decoder) throws {
        try decoder.refuseUnknownSettings(CodingKeys.allCases.map(\.rawValue))
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = RetentionConfiguration()
        institution = try c.wholeNumber(Int.self, forKey: .institution) ?? d.institution
        company = try c.wholeNumber(Int.self, forKey: .company) ?? d.company
        naturalPerson = try c.wholeNumber(Int.self, forKey: .naturalPerson) ?? d.naturalPerson
        purgeIntervalSeconds = try c.decodeIfPresent(Double.self, forKey: .purgeIntervalSeconds) ?? d.purgeIntervalSeconds
        // Left out, it follows a long purge interval, so that a configuration valid before stays valid.
        clockJumpBoundHours = try c.decodeIfPresent(Double.self, forKey: .clockJumpBoundHours)
            ?? max(d.clockJumpBoundHours, 2 * purgeIntervalSeconds / 3600)
        for (key, days) in [(CodingKeys.institution, institution), (.company, company), (.naturalPerson, naturalPerson)] {
            if days < 0 {
                throw DecodingError.dataCorruptedError(forKey: key, in: c, debugDescription: "retention days cannot be negative (0: purged at the next run)")
            }
            if days > DirectoryEntry.Limits.maximumRetentionDays {
                throw DecodingError.dataCorruptedError(forKey: key, in: c,
                                                       debugDescription: "at most \(DirectoryEntry.Limits.maximumRetentionDays) days (a thousand years)")
            }
        }
        guard purgeIntervalSeconds >= 1 else {
            throw DecodingError.dataCorruptedError(forKey: .purgeIntervalSeconds, in: c, debugDescription: "at least 1 second")
        }
        guard c.contains(.clockJumpBoundHours) == false || Self.clockJumpBoundRange.contains(clockJumpBoundHours) else {
            throw DecodingError.dataCorruptedError(forKey: .clockJumpBoundHours, in: c, debugDescription: "from 1 to 720 hours")
        }
        guard clockJumpBoundSeconds >= 2 * purgeIntervalSeconds else {
            throw DecodingError.dataCorruptedError(forKey: .clockJumpBoundHours, in: c,
                                                   debugDescription: "must be at least twice purgeIntervalSeconds (\(purgeIntervalSeconds) s), or every run would look like a clock jump")
        }
    }

    var clockJumpBoundSeconds: TimeInterval { clockJumpBoundHours * 3600 }

    func days(for kind: OwnerKind) -> Int {
        switch kind {
        case .institution: institution
        case .company: company
        case .naturalPerson: naturalPerson
        }
    }
}

/// When a document stored now may be purged: the longest archive time among its addresses held
/// here (the sender and recipients whose directory entry is this gateway's mailbox), each the
/// entry's `retentionDays` or else its owner kind's. A document none of whose addresses is held
/// here (a hub relaying between two other access points) keeps the longest configured time.
struct RetentionPolicy {
    let configuration: RetentionConfiguration
    let directory: any AddressDirectoryStore

    init(configuration: RetentionConfiguration, directory: any AddressDirectoryStore) {
        self.configuration = configuration
        self.directory = directory
    }

    init(context: GatewayContext) {
        self.init(configuration: context.config.retention, directory: context.addresses)
    }

    func retainUntil(storedAt: Date, addresses: [String]) throws -> Date {
        var days: Int?
        for address in Set(addresses) {
            guard let record = try directory.record(for: address), !record.remote, let kind = OwnerKind(rawValue: record.ownerKind) else { continue }
            days = max(days ?? 0, record.retentionDays ?? configuration.days(for: kind))
        }
        let chosen = days ?? OwnerKind.allCases.map(configuration.days(for:)).max() ?? 0
        // Bounded again for values stored before the bound existed: the store's millisecond
        // timestamps must hold the result.
        return storedAt.addingTimeInterval(Double(min(chosen, DirectoryEntry.Limits.maximumRetentionDays)) * 86_400)
    }
}

/// One run of the purge (the background loop's, or `as4gw retention purge`): every document past
/// its retention and not held goes, with its payload files; each purge is one log line and one
/// row of the store's `purges` table. Held documents are counted and named, not touched.
struct RetentionPurge {
    let store: any RetentionStore
    let log: EventLog?
    /// Who purges: `mailbox-worker` for the daemon, `cli` for an operator's command.
    let by: String
    /// How far past the last recorded run the clock may be before the run is deferred
    /// (`retention.clockJumpBoundHours`).
    var clockBound: TimeInterval = RetentionConfiguration().clockJumpBoundSeconds

    struct Summary: Sendable, Equatable {
        var purged: [PurgeRecord] = []
        /// Past retention but kept by a legal hold: message id and hold ids.
        var held: [(messageId: String, holds: [Int64])] = []
        /// Due documents whose purge failed (the reason is logged); tried again next run.
        var failed: [String] = []
        /// With `dryRun`: what would go.
        var due: [String] = []
        /// The clock was not trusted: nothing was purged (`PurgeClockRule`).
        var deferred: (until: Date, reason: String)?

        static func == (a: Summary, b: Summary) -> Bool {
            a.purged == b.purged && a.failed == b.failed && a.due == b.due
                && a.deferred?.until == b.deferred?.until && a.deferred?.reason == b.deferred?.reason
                && a.held.map(\.messageId) == b.held.map(\.messageId) && a.held.map(\.holds) == b.held.map(\.holds)
        }
    }

    /// The AS4 messages whose payloads go with a purged document.
    static let carrier = DocumentCarrier(service: EAddressMessages.service, action: EAddressMessages.documentAction)

    /// Purges in batches until nothing is due at `now` (at most `limit` documents per run), once
    /// the store finds `now` consistent with the runs before (deferred otherwise: nothing goes).
    /// `trustClock`: an operator vouches for the clock. `observedStep`: a forward step of the wall
    /// clock this process saw itself (`ClockStepWatch`).
    func run(now: Date, dryRun: Bool = false, trustClock: Bool = false, observedStep: TimeInterval? = nil,
             limit: Int = 10_000) throws -> Summary {
        var summary = Summary()
        // Files of purges already committed: removing them judges no clock.
        if !dryRun { try removeLeftoverFiles() }
        let check = PurgeClockCheck(now: now, bound: clockBound, by: by, trusted: trustClock, observedStep: observedStep, record: !dryRun)
        if case .deferred(let until, let reason) = try store.checkPurgeClock(check) {
            log?.log(.warning, "retention-purge-deferred", ["reason": "clock jumped forward or the node was down for long: purge deferred (\(reason))",
                                                            "until": ISO8601DateFormatter().string(from: until), "by": by])
            summary.deferred = (until, reason)
            return summary
        }
        if trustClock {
            log?.log(.warning, "retention-purge-clock-trusted", ["reason": "the clock was vouched for; no jump check", "by": by])
        }
        var seen = 0
        var last: DueDocument?
        while seen < limit {
            // Keyset pages: held documents and failed purges are passed once, not read again.
            let batch = try store.dueDocuments(now: now, after: last, limit: min(200, limit - seen))
            guard !batch.isEmpty else { break }
            last = batch.last
            for due in batch {
                seen += 1
                if !due.holds.isEmpty {
                    summary.held.append((due.messageId, due.holds))
                    continue
                }
                if dryRun {
                    summary.due.append(due.messageId)
                    continue
                }
                do {
                    let outcome = try store.purgeDocument(messageId: due.messageId, by: by, now: now, carrier: Self.carrier)
                    // After the commit: a crash here leaves the files listed in `purge_files`, for
                    // the next run; never a row without its file.
                    for path in outcome.filePaths { remove(path, of: outcome.record.id) }
                    summary.purged.append(outcome.record)
                    let r = outcome.record
                    log?.log(.info, "document-purged", ["document_id": r.messageId, "sender": r.sender, "recipients": r.recipients.joined(separator: ","),
                                                         "bytes": String(r.bytes), "as4_messages": r.as4Messages.joined(separator: ","),
                                                         "retain_until": ISO8601DateFormatter().string(from: r.retainUntil),
                                                         "by": by])
                } catch MailboxStoreError.notFound(_) {
                    continue  // purged meanwhile by another purge (the daemon's, or an operator's)
                } catch {
                    summary.failed.append(due.messageId)
                    log?.log(.error, "purge-failed", ["document_id": due.messageId, "reason": "\(error)"])
                }
            }
        }
        if !summary.purged.isEmpty || !summary.held.isEmpty || !summary.failed.isEmpty || !summary.due.isEmpty {
            // A dry run removes nothing: its line says so and counts what would have gone.
            log?.log(.info, "retention-purge", ["purged": String(summary.purged.count), "held": String(summary.held.count),
                                                "failed": String(summary.failed.count), "by": by,
                                                "dry_run": dryRun ? "true" : nil, "would_purge": dryRun ? String(summary.due.count) : nil])
        }
        return summary
    }

    /// Files of earlier purges still listed (a crash or a failed unlink after their commit).
    func removeLeftoverFiles() throws {
        for file in try store.unremovedPurgeFiles(limit: 10_000) { remove(file.path, of: file.purgeId) }
    }

    /// Removes one purged file; it leaves the list once it is gone (also when it was already).
    private func remove(_ path: String, of purgeId: Int64) {
        guard unlink(path) == 0 || errno == ENOENT else {
            log?.log(.error, "purge-file-kept", ["purge": String(purgeId), "path": path,
                                                 "reason": "\(String(cString: strerror(errno))); tried again at the next purge"])
            return
        }
        do {
            try store.purgeFileRemoved(purgeId: purgeId, path: path)
        } catch {
            log?.log(.error, "purge-file-kept", ["purge": String(purgeId), "path": path, "reason": "\(error)"])
        }
    }
}

import Foundation

// The outbound queue on PostgreSQL. A lease is (lease_owner, lease_until) on a `Sending` row, as
// in SQLite. A claim selects due rows `FOR UPDATE SKIP LOCKED` and leases them before COMMIT: rows
// another node is claiming right now are skipped rather than waited for, and a row whose lease
// another transaction just took no longer matches the claim's WHERE when PostgreSQL rechecks it.
extension PostgresMessageStore {
    public func enqueueOutbound(_ message: OutboundMessage) throws -> Int64 {
        let messageId = message.metadata.messageId
        guard !messageId.isEmpty else { throw StoreError.invalidArgument("empty message id") }
        guard message.maxAttempts >= 1 else { throw StoreError.invalidArgument("maxAttempts must be at least 1") }
        guard message.endpoint != nil || message.pullMPC != nil else {
            throw StoreError.invalidArgument("message \(messageId): neither an endpoint nor a pull MPC")
        }
        return try write { t in
            try t.lockMessageId(messageId, direction: .outbound)
            guard try t.execute("SELECT 1 AS found FROM messages WHERE direction = 'out' AND message_id = $1",
                                [messageId]).count == 0 else {
                throw StoreError.duplicateMessageId(messageId)
            }
            let rowId = try t.insertOutbound(message)
            let target = message.pullMPC.map { "waiting for a pull on \($0)" } ?? "for \(message.endpoint ?? "")"
            t.appendEvent(rowId: rowId, at: message.submittedAt, direction: .outbound, status: .submitted,
                          detail: "queued \(target), \(message.maxAttempts) attempt(s) allowed")
            return rowId
        }
    }

    public func claimDue(now: Date, limit: Int, owner: String, lease: TimeInterval) throws -> [OutboundJob] {
        guard limit > 0 else { throw StoreError.invalidArgument("limit must be positive") }
        try Self.checkLease(owner: owner, lease: lease)
        return try write(synchronousCommit: false) { t in
            try Self.failExhaustedLeases(t, now: now)
            let candidates = try t.execute("""
                SELECT * FROM messages
                WHERE direction = 'out' AND status IN ('Submitted', 'Sending') AND pull_mpc IS NULL
                  AND attempts < max_attempts
                  AND ((status = 'Submitted' AND next_attempt_at <= $1) OR (status = 'Sending' AND lease_until <= $1))
                ORDER BY CASE status WHEN 'Sending' THEN lease_until ELSE next_attempt_at END, row_id
                LIMIT $2
                FOR UPDATE SKIP LOCKED
                """, [now, limit]).rows.map(PostgresConnection.readMessage)
            return try candidates.map { try Self.lease($0, to: owner, now: now, lease: lease, t) }
        }
    }

    public func nextForPull(mpc: String, now: Date, owner: String, lease: TimeInterval) throws -> OutboundJob? {
        try Self.checkLease(owner: owner, lease: lease)
        return try write { t in
            try Self.failExhaustedLeases(t, now: now)
            let candidate = try t.execute("""
                SELECT * FROM messages
                WHERE direction = 'out' AND status IN ('Submitted', 'Sending') AND pull_mpc = $1
                  AND attempts < max_attempts
                  AND ((status = 'Submitted' AND next_attempt_at <= $2) OR (status = 'Sending' AND lease_until <= $2))
                ORDER BY created_at, row_id
                LIMIT 1
                FOR UPDATE SKIP LOCKED
                """, [mpc, now]).first.map(PostgresConnection.readMessage)
            return try candidate.map { try Self.lease($0, to: owner, now: now, lease: lease, t) }
        }
    }

    public func markDelivered(messageId: String, owner: String, receipt: Data, at date: Date) throws {
        try write(synchronousCommit: false) { t in
            let message = try t.lockedMessage(id: messageId, direction: .outbound)
            try t.checkTransition(message, to: .delivered)
            try Self.checkOwner(message, owner)
            try t.execute("""
                UPDATE messages SET status = 'Delivered', receipt = $1, receipt_at = $2, lease_owner = NULL,
                                    lease_until = NULL, next_attempt_at = NULL, updated_at = $2
                WHERE row_id = $3
                """, [receipt, date, message.rowId])
            t.appendEvent(rowId: message.rowId, at: date, direction: .outbound, status: .delivered,
                          detail: "receipt (\(receipt.count) bytes) accepted by \(owner)")
        }
    }

    @discardableResult
    public func markRetry(messageId: String, owner: String, error: DeliveryError, nextAttemptAt: Date,
                          at date: Date) throws -> MessageStatus {
        try write { t in
            let message = try t.lockedMessage(id: messageId, direction: .outbound)
            try t.checkTransition(message, to: .submitted)
            try Self.checkOwner(message, owner)
            let attempts = message.outbound?.attempts ?? 0
            let maxAttempts = message.outbound?.maxAttempts ?? 0
            if attempts >= maxAttempts {
                let exhausted = DeliveryError(code: error.code,
                                              reason: "retry budget exhausted (\(attempts)/\(maxAttempts)): \(error.reason)")
                try Self.fail(message, with: exhausted, at: date, t)
                return .failed
            }
            try t.execute("""
                UPDATE messages SET status = 'Submitted', next_attempt_at = $1, lease_owner = NULL, lease_until = NULL,
                                    last_error_code = $2, last_error_reason = $3, updated_at = $4
                WHERE row_id = $5
                """, [nextAttemptAt, error.code, error.reason, date, message.rowId])
            t.appendEvent(rowId: message.rowId, at: date, direction: .outbound, status: .submitted, code: error.code,
                          detail: "attempt \(attempts)/\(maxAttempts) failed: \(error.reason); next at "
                              + Self.timestamp(nextAttemptAt))
            return .submitted
        }
    }

    public func markFailed(messageId: String, owner: String?, error: DeliveryError, at date: Date) throws {
        try write { t in
            let message = try t.lockedMessage(id: messageId, direction: .outbound)
            try t.checkTransition(message, to: .failed)
            if message.status == .sending { try Self.checkOwner(message, owner) }
            try Self.fail(message, with: error, at: date, t)
        }
    }

    public func retryFailed(messageId: String, at date: Date) throws {
        try write { t in
            let message = try t.lockedMessage(id: messageId, direction: .outbound)
            guard message.status.allowsOperatorRetry(direction: .outbound) else {
                throw StoreError.illegalTransition(messageId: messageId, from: message.status, to: .submitted)
            }
            let used = message.outbound?.attempts ?? 0
            let maxAttempts = message.outbound?.maxAttempts ?? 0
            try t.execute("""
                UPDATE messages SET status = 'Submitted', attempts = 0, next_attempt_at = $1, lease_owner = NULL,
                                    lease_until = NULL, updated_at = $1
                WHERE row_id = $2
                """, [date, message.rowId])
            t.appendEvent(rowId: message.rowId, at: date, direction: .outbound, status: .submitted, code: "retry-requested",
                          detail: "re-queued by an operator after \(used) attempt(s); \(maxAttempts) attempt(s) allowed again")
        }
    }

    @discardableResult
    public func reclaimExpiredLeases(now: Date) throws -> Int {
        try write { t in
            let failed = try Self.failExhaustedLeases(t, now: now)
            let expired = try t.execute("""
                SELECT * FROM messages WHERE status = 'Sending' AND lease_until <= $1 AND direction = 'out'
                ORDER BY lease_until, row_id
                FOR UPDATE SKIP LOCKED
                """, [now]).rows.map(PostgresConnection.readMessage)
            for message in expired {
                try Self.requeue(message, at: now, t)
                t.appendEvent(rowId: message.rowId, at: now, direction: .outbound, status: .submitted,
                              code: "lease-expired", detail: Self.expiredLeaseText(message))
            }
            return failed + expired.count
        }
    }

    public func releaseLeases(ownerPrefix: String, now: Date) throws -> Int {
        try write { t in
            let held = try t.execute("""
                SELECT * FROM messages WHERE status = 'Sending' AND direction = 'out' AND pull_mpc IS NULL
                  AND starts_with(lease_owner, $1)
                ORDER BY row_id
                FOR UPDATE
                """, [ownerPrefix]).rows.map(PostgresConnection.readMessage)
            for message in held {
                try Self.requeue(message, at: now, t)
                t.appendEvent(rowId: message.rowId, at: now, direction: .outbound, status: .submitted,
                              code: "lease-released", detail: "released at restart of \(ownerPrefix)")
            }
            return held.count
        }
    }

    public func queueDepth() throws -> QueueDepth {
        try read { c in
            let rows = try c.execute("""
                SELECT status, COUNT(*) AS n FROM messages
                WHERE direction = 'out' AND status IN ('Submitted', 'Sending') GROUP BY status
                """).rows
            let byStatus = Dictionary(uniqueKeysWithValues: rows.map { ($0.string("status"), $0.int("n")) })
            return QueueDepth(submitted: byStatus["Submitted"] ?? 0, sending: byStatus["Sending"] ?? 0)
        }
    }

    public func messageCounts() throws -> [MessageCount] {
        let rows = try read { c in
            try c.execute("SELECT direction, status, COUNT(*) AS n FROM messages GROUP BY direction, status ORDER BY direction, status")
                .rows.map { ($0.string("direction"), $0.string("status"), $0.int("n")) }
        }
        return try rows.map { direction, status, n in
            // The CHECK constraints admit only known values; anything else was written by another program.
            guard let d = Direction(rawValue: direction), let s = MessageStatus(rawValue: status) else {
                throw StoreError.invalidArgument("unknown direction or status \(direction)/\(status) in the database")
            }
            return MessageCount(direction: d, status: s, count: n)
        }
    }

    public func oldestQueuedAge(now: Date) throws -> TimeInterval? {
        try read { c in
            try c.execute("""
                SELECT MIN(created_at) AS oldest FROM messages
                WHERE direction = 'out' AND status IN ('Submitted', 'Sending')
                """).first?.optionalDate("oldest").map { now.timeIntervalSince($0) }
        }
    }

    // MARK: Steps (inside the caller's transaction, on rows it has locked)

    /// Moves one claimable row to `Sending` for `owner` and counts the attempt.
    private static func lease(_ message: StoredMessage, to owner: String, now: Date, lease: TimeInterval,
                              _ t: PostgresTransaction) throws -> OutboundJob {
        try t.checkTransition(message, to: .sending)
        let until = now.addingTimeInterval(lease)
        let attempt = (message.outbound?.attempts ?? 0) + 1
        let maxAttempts = message.outbound?.maxAttempts ?? 0
        try t.execute("""
            UPDATE messages SET status = 'Sending', lease_owner = $1, lease_until = $2, attempts = $3, updated_at = $4
            WHERE row_id = $5
            """, [owner, until, attempt, now, message.rowId])
        let takeover = message.status == .sending ? " (" + expiredLeaseText(message) + ")" : ""
        let verb = message.outbound?.pullMPC == nil ? "leased" : "pulled"
        t.appendEvent(rowId: message.rowId, at: now, direction: .outbound, status: .sending,
                      detail: "attempt \(attempt)/\(maxAttempts) \(verb) by \(owner) until "
                          + Self.timestamp(until) + takeover)
        let state = message.outbound
        return OutboundJob(rowId: message.rowId, metadata: message.metadata, endpoint: state?.endpoint,
                           contentType: state?.contentType ?? "", messagePath: state?.messagePath ?? "",
                           sentReferences: state?.sentReferences, attempt: attempt, maxAttempts: maxAttempts,
                           owner: owner, leaseUntil: Date(storeMilliseconds: until.storeMilliseconds),
                           pullMPC: state?.pullMPC, createdAt: message.createdAt)
    }

    /// Fails every `Sending` row whose lease expired on its last allowed attempt (rows another
    /// transaction holds are left to it).
    @discardableResult
    private static func failExhaustedLeases(_ t: PostgresTransaction, now: Date) throws -> Int {
        let exhausted = try t.execute("""
            SELECT * FROM messages
            WHERE status = 'Sending' AND lease_until <= $1 AND direction = 'out' AND attempts >= max_attempts
            ORDER BY lease_until, row_id
            FOR UPDATE SKIP LOCKED
            """, [now]).rows.map(PostgresConnection.readMessage)
        for message in exhausted {
            try fail(message, with: .missingReceipt(attempts: message.outbound?.attempts ?? 0), at: now, t)
        }
        return exhausted.count
    }

    private static func requeue(_ message: StoredMessage, at now: Date, _ t: PostgresTransaction) throws {
        try t.execute("""
            UPDATE messages SET status = 'Submitted', next_attempt_at = $1, lease_owner = NULL, lease_until = NULL,
                                updated_at = $1
            WHERE row_id = $2
            """, [now, message.rowId])
    }

    private static func fail(_ message: StoredMessage, with error: DeliveryError, at date: Date,
                             _ t: PostgresTransaction) throws {
        try t.execute("""
            UPDATE messages SET status = 'Failed', last_error_code = $1, last_error_reason = $2, lease_owner = NULL,
                                lease_until = NULL, next_attempt_at = NULL, updated_at = $3
            WHERE row_id = $4
            """, [error.code, error.reason, date, message.rowId])
        t.appendEvent(rowId: message.rowId, at: date, direction: .outbound, status: .failed, code: error.code,
                      detail: error.reason)
    }

    private static func checkOwner(_ message: StoredMessage, _ owner: String?) throws {
        let holder = message.outbound?.leaseOwner
        guard let owner, owner == holder else {
            throw StoreError.leaseNotHeld(messageId: message.metadata.messageId, owner: owner, holder: holder)
        }
    }

    private static func checkLease(owner: String, lease: TimeInterval) throws {
        guard !owner.isEmpty else { throw StoreError.invalidArgument("empty lease owner") }
        guard lease > 0 else { throw StoreError.invalidArgument("lease must be positive") }
    }

    private static func expiredLeaseText(_ message: StoredMessage) -> String {
        "lease of \(message.outbound?.leaseOwner ?? "?") expired at "
            + (message.outbound?.leaseUntil.map(Self.timestamp) ?? "?")
    }

    private static func timestamp(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }
}

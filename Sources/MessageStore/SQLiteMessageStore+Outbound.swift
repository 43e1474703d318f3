import Foundation

// The outbound queue: enqueue, lease (push claims and pulls), and the outcomes of an attempt.
//
// A lease is (lease_owner, lease_until) on a `Sending` row. Claims run in one `BEGIN IMMEDIATE`
// transaction that selects the candidates and updates them before committing, so two claimers
// (threads, store objects or processes) are serialized and never see the same row as free.
extension SQLiteMessageStore {
    public func enqueueOutbound(_ message: OutboundMessage) throws -> Int64 {
        let messageId = message.metadata.messageId
        guard !messageId.isEmpty else { throw StoreError.invalidArgument("empty message id") }
        guard message.maxAttempts >= 1 else { throw StoreError.invalidArgument("maxAttempts must be at least 1") }
        guard message.endpoint != nil || message.pullMPC != nil else {
            throw StoreError.invalidArgument("message \(messageId): neither an endpoint nor a pull MPC")
        }
        try checkInlineParts(message.parts)
        if let bytes = message.messageBytes, bytes.count > inlineMessageLimit {
            throw StoreError.invalidArgument("message \(messageId): \(bytes.count) bytes exceed the inline limit of \(inlineMessageLimit); store it as a file")
        }
        return try write { c in
            guard try c.message(id: messageId, direction: .outbound) == nil else {
                throw StoreError.duplicateMessageId(messageId)
            }
            let rowId = try c.insertOutbound(message)
            if let bytes = message.messageBytes {
                try c.run("INSERT INTO message_bytes (message_row, bytes) VALUES (?, ?)", [rowId, bytes])
            }
            let target = message.pullMPC.map { "waiting for a pull on \($0)" } ?? "for \(message.endpoint ?? "")"
            try c.appendEvent(rowId: rowId, at: message.submittedAt, direction: .outbound, status: .submitted,
                              detail: "queued \(target), \(message.maxAttempts) attempt(s) allowed")
            return rowId
        }
    }

    public func claimDue(now: Date, limit: Int, owner: String, lease: TimeInterval) throws -> [OutboundJob] {
        guard limit > 0 else { throw StoreError.invalidArgument("limit must be positive") }
        try Self.checkLease(owner: owner, lease: lease)
        // Not waited for (see `write(durable:)`): a lease lost in a crash leaves the
        // row claimable again, and the node's leases are released at restart anyway. Fails of
        // exhausted leases in the same transaction become durable with the next synced commit.
        return try write(durable: false) { c in
            try Self.failExhaustedLeases(c, now: now)
            // Due first, by when each became due (a taken-over lease by its expiry, a queued
            // message by its next attempt), then by row. Two index-ordered queries merged here:
            // one ORDER BY over both kinds sorted the whole backlog on every claim.
            let expired = try c.query("""
                SELECT * FROM messages
                WHERE status = 'Sending' AND lease_until <= ?1 AND direction = 'out' AND pull_mpc IS NULL
                  AND attempts < max_attempts
                ORDER BY lease_until, row_id LIMIT ?2
                """, [now, limit], row: SQLiteConnection.readMessage)
            let queued = try c.query("""
                SELECT * FROM messages
                WHERE direction = 'out' AND status IN ('Submitted', 'Sending') AND status = 'Submitted'
                  AND next_attempt_at <= ?1 AND pull_mpc IS NULL AND attempts < max_attempts
                ORDER BY next_attempt_at, row_id LIMIT ?2
                """, [now, limit], row: SQLiteConnection.readMessage)
            func dueAt(_ m: StoredMessage) -> (Date, Int64) {
                let due = m.status == .sending ? m.outbound?.leaseUntil : m.outbound?.nextAttemptAt
                return (due ?? .distantPast, m.rowId)
            }
            let candidates = (expired + queued).sorted { dueAt($0) < dueAt($1) }.prefix(limit)
            return try candidates.map { try Self.lease($0, to: owner, now: now, lease: lease, c) }
        }
    }

    public func nextForPull(mpc: String, now: Date, owner: String, lease: TimeInterval) throws -> OutboundJob? {
        try Self.checkLease(owner: owner, lease: lease)
        return try write { c in
            try Self.failExhaustedLeases(c, now: now)
            let candidate = try c.queryFirst("""
                SELECT * FROM messages
                WHERE direction = 'out' AND status IN ('Submitted', 'Sending') AND pull_mpc = ?1
                  AND attempts < max_attempts
                  AND ((status = 'Submitted' AND next_attempt_at <= ?2) OR (status = 'Sending' AND lease_until <= ?2))
                ORDER BY created_at, row_id
                LIMIT 1
                """, [mpc, now], row: SQLiteConnection.readMessage)
            return try candidate.map { try Self.lease($0, to: owner, now: now, lease: lease, c) }
        }
    }

    /// Not waited for until durable: if a power cut loses it, the row is still `Sending` for this node, is
    /// released at restart and resent, and the receiver answers the duplicate with its receipt.
    public func markDelivered(messageId: String, owner: String, receipt: Data, at date: Date) throws {
        try write(durable: false) { c in
            let message = try c.existingMessage(id: messageId, direction: .outbound)
            try c.checkTransition(message, to: .delivered)
            try Self.checkOwner(message, owner)
            try c.run("""
                UPDATE messages SET status = 'Delivered', receipt = ?, receipt_at = ?, lease_owner = NULL,
                                    lease_until = NULL, next_attempt_at = NULL, updated_at = ?
                WHERE row_id = ?
                """, [receipt, date, date, message.rowId])
            try c.appendEvent(rowId: message.rowId, at: date, direction: .outbound, status: .delivered,
                              detail: "receipt (\(receipt.count) bytes) accepted by \(owner)")
        }
    }

    @discardableResult
    public func markRetry(messageId: String, owner: String, error: DeliveryError, nextAttemptAt: Date,
                          at date: Date) throws -> MessageStatus {
        try write { c in
            let message = try c.existingMessage(id: messageId, direction: .outbound)
            try c.checkTransition(message, to: .submitted)
            try Self.checkOwner(message, owner)
            let attempts = message.outbound?.attempts ?? 0
            let maxAttempts = message.outbound?.maxAttempts ?? 0
            if attempts >= maxAttempts {
                let exhausted = DeliveryError(code: error.code,
                                              reason: "retry budget exhausted (\(attempts)/\(maxAttempts)): \(error.reason)")
                try Self.fail(message, with: exhausted, at: date, c)
                return .failed
            }
            try c.run("""
                UPDATE messages SET status = 'Submitted', next_attempt_at = ?, lease_owner = NULL, lease_until = NULL,
                                    last_error_code = ?, last_error_reason = ?, updated_at = ?
                WHERE row_id = ?
                """, [nextAttemptAt, error.code, error.reason, date, message.rowId])
            try c.appendEvent(rowId: message.rowId, at: date, direction: .outbound, status: .submitted, code: error.code,
                              detail: "attempt \(attempts)/\(maxAttempts) failed: \(error.reason); next at "
                                  + Self.timestamp(nextAttemptAt))
            return .submitted
        }
    }

    public func markFailed(messageId: String, owner: String?, error: DeliveryError, at date: Date) throws {
        try write { c in
            let message = try c.existingMessage(id: messageId, direction: .outbound)
            try c.checkTransition(message, to: .failed)
            if message.status == .sending { try Self.checkOwner(message, owner) }
            try Self.fail(message, with: error, at: date, c)
        }
    }

    public func retryFailed(messageId: String, at date: Date) throws {
        try write { c in
            let message = try c.existingMessage(id: messageId, direction: .outbound)
            guard message.status.allowsOperatorRetry(direction: .outbound) else {
                throw StoreError.illegalTransition(messageId: messageId, from: message.status, to: .submitted)
            }
            let used = message.outbound?.attempts ?? 0
            let maxAttempts = message.outbound?.maxAttempts ?? 0
            try c.run("""
                UPDATE messages SET status = 'Submitted', attempts = 0, next_attempt_at = ?, lease_owner = NULL,
                                    lease_until = NULL, updated_at = ?
                WHERE row_id = ?
                """, [date, date, message.rowId])
            try c.appendEvent(rowId: message.rowId, at: date, direction: .outbound, status: .submitted,
                              code: "retry-requested",
                              detail: "re-queued by an operator after \(used) attempt(s); \(maxAttempts) attempt(s) allowed again")
        }
    }

    @discardableResult
    public func reclaimExpiredLeases(now: Date) throws -> Int {
        try write { c in
            let failed = try Self.failExhaustedLeases(c, now: now)
            let expired = try c.query("""
                SELECT * FROM messages WHERE status = 'Sending' AND lease_until <= ? AND direction = 'out'
                ORDER BY lease_until, row_id
                """, [now], row: SQLiteConnection.readMessage)
            for message in expired {
                try c.run("""
                    UPDATE messages SET status = 'Submitted', next_attempt_at = ?, lease_owner = NULL, lease_until = NULL,
                                        updated_at = ?
                    WHERE row_id = ?
                    """, [now, now, message.rowId])
                try c.appendEvent(rowId: message.rowId, at: now, direction: .outbound, status: .submitted,
                                  code: "lease-expired", detail: Self.expiredLeaseText(message))
            }
            return failed + expired.count
        }
    }

    /// Returns the messages a node held when it stopped without warning (kill -9, power loss):
    /// at restart no worker of that node is running, so its leases need not run out first.
    public func releaseLeases(ownerPrefix: String, now: Date) throws -> Int {
        try write { c in
            let held = try c.query("""
                SELECT * FROM messages WHERE status = 'Sending' AND direction = 'out' AND pull_mpc IS NULL
                  AND substr(lease_owner, 1, ?) = ?
                ORDER BY row_id
                """, [ownerPrefix.count, ownerPrefix], row: SQLiteConnection.readMessage)
            for message in held {
                try c.run("""
                    UPDATE messages SET status = 'Submitted', next_attempt_at = ?, lease_owner = NULL, lease_until = NULL,
                                        updated_at = ?
                    WHERE row_id = ?
                    """, [now, now, message.rowId])
                try c.appendEvent(rowId: message.rowId, at: now, direction: .outbound, status: .submitted,
                                  code: "lease-released", detail: "released at restart of \(ownerPrefix)")
            }
            return held.count
        }
    }

    public func queueDepth() throws -> QueueDepth {
        try withConnection { c in
            let counts = try c.query("""
                SELECT status, COUNT(*) AS n FROM messages
                WHERE direction = 'out' AND status IN ('Submitted', 'Sending') GROUP BY status
                """) { ($0.string("status"), $0.int("n")) }
            let byStatus = Dictionary(uniqueKeysWithValues: counts)
            return QueueDepth(submitted: byStatus["Submitted"] ?? 0, sending: byStatus["Sending"] ?? 0)
        }
    }

    public func oldestQueuedAge(now: Date) throws -> TimeInterval? {
        try withConnection { c in
            try c.queryFirst("""
                SELECT MIN(created_at) AS oldest FROM messages
                WHERE direction = 'out' AND status IN ('Submitted', 'Sending')
                """) { $0.optionalDate("oldest") }
                .flatMap { $0 }
                .map { now.timeIntervalSince($0) }
        }
    }

    // MARK: Steps (inside the caller's transaction)

    /// Moves one claimable row to `Sending` for `owner` and counts the attempt.
    private static func lease(_ message: StoredMessage, to owner: String, now: Date, lease: TimeInterval,
                              _ c: SQLiteConnection) throws -> OutboundJob {
        try c.checkTransition(message, to: .sending)
        let until = now.addingTimeInterval(lease)
        let attempt = (message.outbound?.attempts ?? 0) + 1
        let maxAttempts = message.outbound?.maxAttempts ?? 0
        try c.run("""
            UPDATE messages SET status = 'Sending', lease_owner = ?, lease_until = ?, attempts = ?, updated_at = ?
            WHERE row_id = ?
            """, [owner, until, attempt, now, message.rowId])
        let takeover = message.status == .sending ? " (" + expiredLeaseText(message) + ")" : ""
        let verb = message.outbound?.pullMPC == nil ? "leased" : "pulled"
        try c.appendEvent(rowId: message.rowId, at: now, direction: .outbound, status: .sending,
                          detail: "attempt \(attempt)/\(maxAttempts) \(verb) by \(owner) until \(timestamp(until))"
                              + takeover)
        let state = message.outbound
        return OutboundJob(rowId: message.rowId, metadata: message.metadata, endpoint: state?.endpoint,
                           contentType: state?.contentType ?? "", messagePath: state?.messagePath ?? "",
                           sentReferences: state?.sentReferences, attempt: attempt, maxAttempts: maxAttempts,
                           owner: owner, leaseUntil: Date(storeMilliseconds: until.storeMilliseconds),
                           pullMPC: state?.pullMPC, createdAt: message.createdAt,
                           messageBytes: try c.queryFirst("SELECT bytes FROM message_bytes WHERE message_row = ?",
                                                          [message.rowId]) { $0.optionalData("bytes") } ?? nil)
    }

    /// Fails every `Sending` row whose lease expired on its last allowed attempt.
    @discardableResult
    private static func failExhaustedLeases(_ c: SQLiteConnection, now: Date) throws -> Int {
        let exhausted = try c.query("""
            SELECT * FROM messages
            WHERE status = 'Sending' AND lease_until <= ? AND direction = 'out' AND attempts >= max_attempts
            ORDER BY lease_until, row_id
            """, [now], row: SQLiteConnection.readMessage)
        for message in exhausted {
            try fail(message, with: .missingReceipt(attempts: message.outbound?.attempts ?? 0), at: now, c)
        }
        return exhausted.count
    }

    private static func fail(_ message: StoredMessage, with error: DeliveryError, at date: Date,
                             _ c: SQLiteConnection) throws {
        try c.run("""
            UPDATE messages SET status = 'Failed', last_error_code = ?, last_error_reason = ?, lease_owner = NULL,
                                lease_until = NULL, next_attempt_at = NULL, updated_at = ?
            WHERE row_id = ?
            """, [error.code, error.reason, date, message.rowId])
        try c.appendEvent(rowId: message.rowId, at: date, direction: .outbound, status: .failed, code: error.code,
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
            + (message.outbound?.leaseUntil.map(timestamp) ?? "?")
    }

    static func timestamp(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }
}

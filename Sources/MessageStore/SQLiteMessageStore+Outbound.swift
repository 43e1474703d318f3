import Foundation

// The outbound queue: enqueue, lease (push claims and pulls), and the outcomes of an attempt.
//
// A lease is (lease_owner, lease_until) on a `Sending` row. Claims run in one `BEGIN IMMEDIATE`
// transaction that selects the candidates and updates them before committing, so two claimers
// (threads, store objects or processes) are serialized and never see the same row as free.
extension SQLiteMessageStore {
    public func enqueueOutbound(_ message: OutboundMessage) throws -> Int64 {
        try checkQueueable(message)
        return try write { c in try Self.insertQueued(message, c) }
    }

    public func enqueueOutbound(_ message: OutboundMessage, leasingTo owner: String, lease: TimeInterval,
                                now: Date) throws -> OutboundJob {
        try checkQueueable(message)
        try OutboundTransitions.checkEnqueueLeased(message, now: now)
        try OutboundTransitions.checkLease(owner: owner, lease: lease)
        return try write { c in
            let rowId = try Self.insertQueued(message, c)
            guard let queued = try c.message(rowId: rowId) else { throw StoreError.notFound(messageId: message.metadata.messageId, direction: .outbound) }
            return try Self.lease(queued, to: owner, now: now, lease: lease, c)
        }
    }

    /// What the queue takes, checked before any transaction: a complete message whose inline bytes fit.
    private func checkQueueable(_ message: OutboundMessage) throws {
        try OutboundTransitions.checkEnqueue(message)
        try checkInlineParts(message.parts)
        if let bytes = message.messageBytes, bytes.count > inlineMessageLimit {
            throw StoreError.invalidArgument("message \(message.metadata.messageId): \(bytes.count) bytes exceed the inline limit of \(inlineMessageLimit); store it as a file")
        }
    }

    /// The queue row, its inline bytes and its `Submitted` event; refuses a message id already queued.
    private static func insertQueued(_ message: OutboundMessage, _ c: SQLiteConnection) throws -> Int64 {
        let messageId = message.metadata.messageId
        guard try c.message(id: messageId, direction: .outbound) == nil else {
            throw StoreError.duplicateMessageId(messageId)
        }
        let rowId = try c.insertOutbound(message)
        if let bytes = message.messageBytes {
            try c.run("INSERT INTO message_bytes (message_row, bytes) VALUES (?, ?)", [rowId, bytes])
        }
        try c.appendEvent(rowId: rowId, at: message.submittedAt, direction: .outbound, status: .submitted,
                          detail: OutboundEventText.queued(message))
        return rowId
    }

    public func claimDue(now: Date, limit: Int, owner: String, lease: TimeInterval) throws -> [OutboundJob] {
        guard limit > 0 else { throw StoreError.invalidArgument("limit must be positive") }
        try OutboundTransitions.checkLease(owner: owner, lease: lease)
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

    public func nextForPull(mpc: String, receivers: [String], now: Date, owner: String, lease: TimeInterval) throws -> OutboundJob? {
        try OutboundTransitions.checkLease(owner: owner, lease: lease)
        guard !receivers.isEmpty else { return nil }
        let marks = (0..<receivers.count).map { "?\($0 + 3)" }.joined(separator: ", ")
        return try write { c in
            try Self.failExhaustedLeases(c, now: now)
            let candidate = try c.queryFirst("""
                SELECT * FROM messages
                WHERE direction = 'out' AND status IN ('Submitted', 'Sending') AND pull_mpc = ?1
                  AND attempts < max_attempts
                  AND ((status = 'Submitted' AND next_attempt_at <= ?2) OR (status = 'Sending' AND lease_until <= ?2))
                  AND to_party IN (\(marks))
                ORDER BY created_at, row_id
                LIMIT 1
                """, [mpc, now] + receivers, row: SQLiteConnection.readMessage)
            return try candidate.map { try Self.lease($0, to: owner, now: now, lease: lease, c) }
        }
    }

    /// Not waited for until durable: if a power cut loses it, the row is still `Sending` for this node, is
    /// released at restart and resent, and the receiver answers the duplicate with its receipt.
    public func markDelivered(messageId: String, owner: String, receipt: Data, at date: Date) throws {
        try write(durable: false) { c in
            let message = try c.existingMessage(id: messageId, direction: .outbound)
            // A receipt that comes after the queue gave up on its attempt is recorded all the
            // same (OutboundLateReceipt): it is the evidence of delivery.
            let inFlight = message.status == .sending && message.outbound?.leaseOwner == owner
            let withdrawn = inFlight ? try Self.holds(OutboundTransitions.withdrawnCondition, message, c) : false
            let record = try OutboundTransitions.recordReceipt(message, receipt: receipt, owner: owner, withdrawn: withdrawn)
            try c.run("""
                UPDATE messages SET status = 'Delivered', receipt = ?, receipt_at = ?, lease_owner = NULL,
                                    lease_until = NULL, next_attempt_at = NULL, updated_at = ?
                WHERE row_id = ?
                """, [receipt, date, date, message.rowId])
            try c.appendEvent(rowId: message.rowId, at: date, direction: .outbound, status: .delivered,
                              code: record.code, detail: record.detail)
        }
    }

    @discardableResult
    public func markRetry(messageId: String, owner: String, error: DeliveryError, nextAttemptAt: Date,
                          at date: Date) throws -> MessageStatus {
        try write { c in
            let message = try c.existingMessage(id: messageId, direction: .outbound)
            try c.checkTransition(message, to: .submitted)
            try OutboundTransitions.checkOwner(message, owner)
            // Withdrawn while this attempt was in flight: no further attempt (OutboundWithdrawal).
            if try Self.holds(OutboundTransitions.withdrawnCondition, message, c) {
                try Self.fail(message, with: OutboundTransitions.withdrawnFailure(message, attemptError: error), at: date, c)
                return .failed
            }
            let detail: String
            switch OutboundTransitions.retry(message, error: error, nextAttemptAt: nextAttemptAt) {
            case .exhausted(let exhausted):
                try Self.fail(message, with: exhausted, at: date, c)
                return .failed
            case .scheduled(let scheduled):
                detail = scheduled
            }
            try c.run("""
                UPDATE messages SET status = 'Submitted', next_attempt_at = ?, lease_owner = NULL, lease_until = NULL,
                                    last_error_code = ?, last_error_reason = ?, updated_at = ?
                WHERE row_id = ?
                """, [nextAttemptAt, error.code, error.reason, date, message.rowId])
            try c.appendEvent(rowId: message.rowId, at: date, direction: .outbound, status: .submitted, code: error.code,
                              detail: detail)
            return .submitted
        }
    }

    @discardableResult
    public func releaseAfterLocalFault(messageId: String, owner: String, reason: String, retryAt: Date, giveUpAfter: TimeInterval,
                                       at date: Date) throws -> MessageStatus {
        try write { c in
            let message = try c.existingMessage(id: messageId, direction: .outbound)
            try c.checkTransition(message, to: .submitted)
            try OutboundTransitions.checkOwner(message, owner)
            // Withdrawn while this attempt was in flight: failed, not released (OutboundWithdrawal).
            let withdrawn = try Self.holds(OutboundTransitions.withdrawnCondition, message, c)
            switch LocalStorageFault.decide(message, events: try c.events(rowId: message.rowId), withdrawn: withdrawn,
                                            owner: owner, reason: reason, retryAt: retryAt, giveUpAfter: giveUpAfter, at: date) {
            case .fail(let error):
                try Self.fail(message, with: error, at: date, c)
                return .failed
            case let .release(detail, error):
                try c.run("""
                    UPDATE messages SET status = 'Submitted', attempts = MAX(attempts - 1, 0), next_attempt_at = ?, lease_owner = NULL,
                                        lease_until = NULL, last_error_code = ?, last_error_reason = ?, updated_at = ?
                    WHERE row_id = ?
                    """, [retryAt, error.code, error.reason, date, message.rowId])
                try c.appendEvent(rowId: message.rowId, at: date, direction: .outbound, status: .submitted, code: error.code,
                                  detail: detail)
                return .submitted
            }
        }
    }

    public func markFailed(messageId: String, owner: String?, error: DeliveryError, at date: Date) throws {
        try write { c in
            let message = try c.existingMessage(id: messageId, direction: .outbound)
            try c.checkTransition(message, to: .failed)
            try OutboundTransitions.checkMayFail(message, owner: owner)
            try Self.fail(message, with: error, at: date, c)
        }
    }

    @discardableResult
    public func recordAttemptError(messageId: String, owner: String, error: DeliveryError, at date: Date) throws -> MessageStatus {
        try write { c in
            let message = try c.existingMessage(id: messageId, direction: .outbound)
            // An error that comes after the queue gave up on its attempt is recorded all the
            // same (OutboundLateError): it is the receiver's word on the message.
            let sent = try message.wentOut { try c.events(rowId: message.rowId) }
            let record = try OutboundTransitions.recordError(message, error: error, owner: owner, sent: sent)
            try c.run("""
                UPDATE messages SET status = ?, last_error_code = ?, last_error_reason = ?, lease_owner = NULL,
                                    lease_until = NULL, next_attempt_at = NULL, updated_at = ?
                WHERE row_id = ?
                """, [record.status.rawValue, error.code, error.reason, date, message.rowId])
            try c.appendEvent(rowId: message.rowId, at: date, direction: .outbound, status: record.status, code: record.code,
                              detail: record.detail)
            return record.status
        }
    }

    public func withdraw(messageId: String, error: DeliveryError, at date: Date) throws -> WithdrawalOutcome {
        try write { c in
            let message = try c.existingMessage(id: messageId, direction: .outbound)
            let withdrawn = try Self.holds(OutboundTransitions.withdrawnCondition, message, c)
            switch OutboundTransitions.withdrawal(message, alreadyWithdrawn: withdrawn) {
            case .fail:
                try Self.fail(message, with: error, at: date, c)
                return .failed
            case .markInFlight:
                // The withdrawal's reason is the row's last error until the attempt's outcome.
                try c.run("UPDATE messages SET last_error_code = ?, last_error_reason = ?, updated_at = ? WHERE row_id = ?",
                          [error.code, error.reason, date, message.rowId])
                try c.appendEvent(rowId: message.rowId, at: date, direction: .outbound, status: .sending,
                                  code: OutboundTransitions.withdrawnCode,
                                  detail: OutboundTransitions.withdrawnDetail(error, holder: message.outbound?.leaseOwner))
                return .withdrawnInFlight
            case .none(let outcome):
                return outcome
            }
        }
    }

    public func retryFailed(messageId: String, at date: Date) throws {
        try write { c in
            let message = try c.existingMessage(id: messageId, direction: .outbound)
            try OutboundTransitions.checkOperatorRetry(message)
            try c.run("""
                UPDATE messages SET status = 'Submitted', attempts = 0, next_attempt_at = ?, lease_owner = NULL,
                                    lease_until = NULL, updated_at = ?
                WHERE row_id = ?
                """, [date, date, message.rowId])
            try c.appendEvent(rowId: message.rowId, at: date, direction: .outbound, status: .submitted,
                              code: OutboundEventText.retryRequestedCode, detail: OutboundEventText.operatorRetry(message))
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
                try Self.requeue(message, at: now, c)
                try c.appendEvent(rowId: message.rowId, at: now, direction: .outbound, status: .submitted,
                                  code: OutboundEventText.leaseExpiredCode, detail: OutboundEventText.leaseExpired(message))
            }
            return failed + expired.count
        }
    }

    /// Returns the messages a node held when it stopped without warning (kill -9, power loss):
    /// at restart no worker of that node is running, so its leases need not run out first.
    public func releaseLeases(ownerPrefix: String, now: Date) throws -> [String] {
        try write { c in
            let held = try c.query("""
                SELECT * FROM messages WHERE status = 'Sending' AND direction = 'out' AND pull_mpc IS NULL
                  AND substr(lease_owner, 1, ?) = ?
                ORDER BY row_id
                """, [ownerPrefix.count, ownerPrefix], row: SQLiteConnection.readMessage)
            for message in held {
                // An attempt cut off by our own stop (OutboundRestartRecovery).
                switch OutboundTransitions.release(message,
                                                   withdrawn: try Self.holds(OutboundTransitions.withdrawnCondition, message, c),
                                                   recoveredBefore: try Self.holds(OutboundTransitions.recoveredCondition, message, c)) {
                case .fail(let error):
                    try Self.fail(message, with: error, at: now, c)
                case .recover(let attempts):
                    try Self.requeue(message, at: now, c)
                    try c.run("UPDATE messages SET attempts = ? WHERE row_id = ?", [attempts, message.rowId])
                    try c.appendEvent(rowId: message.rowId, at: now, direction: .outbound, status: .submitted,
                                      code: OutboundTransitions.restartRecoveryCode,
                                      detail: OutboundTransitions.restartRecoveryDetail(message, ownerPrefix: ownerPrefix))
                case .requeue:
                    try Self.requeue(message, at: now, c)
                    try c.appendEvent(rowId: message.rowId, at: now, direction: .outbound, status: .submitted,
                                      code: OutboundEventText.leaseReleasedCode,
                                      detail: OutboundEventText.leaseReleased(ownerPrefix: ownerPrefix))
                }
            }
            return held.map(\.metadata.messageId)
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
        let grant = OutboundTransitions.lease(message, to: owner, now: now, lease: lease)
        try c.run("""
            UPDATE messages SET status = 'Sending', lease_owner = ?, lease_until = ?, attempts = ?, updated_at = ?
            WHERE row_id = ?
            """, [owner, grant.until, grant.attempt, now, message.rowId])
        try c.appendEvent(rowId: message.rowId, at: now, direction: .outbound, status: .sending,
                          detail: grant.eventDetail)
        // A message small enough to keep inline travels in the job rather than through a file.
        let messageBytes = try c.queryFirst("SELECT bytes FROM message_bytes WHERE message_row = ?",
                                            [message.rowId]) { $0.optionalData("bytes") } ?? nil
        return grant.job(for: message, messageBytes: messageBytes)
    }

    /// Fails every `Sending` row whose lease expired on its last allowed attempt, or after it
    /// was withdrawn. Its worker may yet get the receipt: `markDelivered` still records it.
    @discardableResult
    private static func failExhaustedLeases(_ c: SQLiteConnection, now: Date) throws -> Int {
        let exhausted = try c.query("""
            SELECT messages.*, CASE WHEN \(OutboundTransitions.withdrawnCondition) THEN 1 ELSE 0 END AS withdrawn FROM messages
            WHERE status = 'Sending' AND lease_until <= ? AND direction = 'out'
              AND (attempts >= max_attempts OR \(OutboundTransitions.withdrawnCondition))
            ORDER BY lease_until, row_id
            """, [now]) { (try SQLiteConnection.readMessage($0), $0.int("withdrawn") != 0) }
        for (message, withdrawn) in exhausted {
            let error = withdrawn ? OutboundTransitions.withdrawnFailure(message, attemptError: nil)
                                  : OutboundTransitions.exhaustedLeaseError(message)
            try fail(message, with: error, at: now, c)
        }
        return exhausted.count
    }

    /// Whether `condition` (SQL over the `messages` row) holds for `message`.
    private static func holds(_ condition: String, _ message: StoredMessage, _ c: SQLiteConnection) throws -> Bool {
        try c.queryFirst("SELECT 1 AS found FROM messages WHERE row_id = ? AND \(condition)", [message.rowId]) { _ in true } ?? false
    }

    private static func requeue(_ message: StoredMessage, at now: Date, _ c: SQLiteConnection) throws {
        try c.run("""
            UPDATE messages SET status = 'Submitted', next_attempt_at = ?, lease_owner = NULL, lease_until = NULL,
                                updated_at = ?
            WHERE row_id = ?
            """, [now, now, message.rowId])
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
}

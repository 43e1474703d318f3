import Foundation

// The outbound queue on PostgreSQL. A lease is (lease_owner, lease_until) on a `Sending` row, as
// in SQLite. A claim selects due rows `FOR UPDATE SKIP LOCKED` and leases them before COMMIT: rows
// another node is claiming right now are skipped rather than waited for, and a row whose lease
// another transaction just took no longer matches the claim's WHERE when PostgreSQL rechecks it.
extension PostgresMessageStore {
    public func enqueueOutbound(_ message: OutboundMessage) throws -> Int64 {
        try OutboundTransitions.checkEnqueue(message)
        return try write { t in try Self.insertQueued(message, t) }
    }

    public func enqueueOutbound(_ message: OutboundMessage, leasingTo owner: String, lease: TimeInterval,
                                now: Date) throws -> OutboundJob {
        try OutboundTransitions.checkEnqueue(message)
        try OutboundTransitions.checkEnqueueLeased(message, now: now)
        try OutboundTransitions.checkLease(owner: owner, lease: lease)
        return try write { t in
            let rowId = try Self.insertQueued(message, t)
            guard let queued = try t.execute("SELECT * FROM messages WHERE row_id = $1", [rowId]).first.map(PostgresConnection.readMessage) else {
                throw StoreError.notFound(messageId: message.metadata.messageId, direction: .outbound)
            }
            return try Self.lease(queued, to: owner, now: now, lease: lease, t)
        }
    }

    /// The queue row and its `Submitted` event; refuses a message id already queued.
    private static func insertQueued(_ message: OutboundMessage, _ t: PostgresTransaction) throws -> Int64 {
        let messageId = message.metadata.messageId
        try t.lockMessageId(messageId, direction: .outbound)
        guard try t.execute("SELECT 1 AS found FROM messages WHERE direction = 'out' AND message_id = $1",
                            [messageId]).count == 0 else {
            throw StoreError.duplicateMessageId(messageId)
        }
        let rowId = try t.insertOutbound(message)
        t.appendEvent(rowId: rowId, at: message.submittedAt, direction: .outbound, status: .submitted,
                      detail: OutboundEventText.queued(message))
        return rowId
    }

    public func claimDue(now: Date, limit: Int, owner: String, lease: TimeInterval) throws -> [OutboundJob] {
        guard limit > 0 else { throw StoreError.invalidArgument("limit must be positive") }
        try OutboundTransitions.checkLease(owner: owner, lease: lease)
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

    public func nextForPull(mpc: String, receivers: [String], now: Date, owner: String, lease: TimeInterval) throws -> OutboundJob? {
        try OutboundTransitions.checkLease(owner: owner, lease: lease)
        guard !receivers.isEmpty else { return nil }
        return try write { t in
            try Self.failExhaustedLeases(t, now: now)
            let candidate = try t.execute("""
                SELECT * FROM messages
                WHERE direction = 'out' AND status IN ('Submitted', 'Sending') AND pull_mpc = $1
                  AND attempts < max_attempts
                  AND ((status = 'Submitted' AND next_attempt_at <= $2) OR (status = 'Sending' AND lease_until <= $2))
                  AND to_party = ANY($3::text[])
                ORDER BY created_at, row_id
                LIMIT 1
                FOR UPDATE SKIP LOCKED
                """, [mpc, now, PostgresArray(receivers)]).first.map(PostgresConnection.readMessage)
            return try candidate.map { try Self.lease($0, to: owner, now: now, lease: lease, t) }
        }
    }

    public func markDelivered(messageId: String, owner: String, receipt: Data, at date: Date) throws {
        try write(synchronousCommit: false) { t in
            let message = try t.lockedMessage(id: messageId, direction: .outbound)
            // A receipt that comes after the queue gave up on its attempt is recorded all the
            // same (OutboundLateReceipt): it is the evidence of delivery.
            let inFlight = message.status == .sending && message.outbound?.leaseOwner == owner
            let withdrawn = inFlight ? try Self.holds(OutboundTransitions.withdrawnCondition, message, t) : false
            let record = try OutboundTransitions.recordReceipt(message, receipt: receipt, owner: owner, withdrawn: withdrawn)
            try t.execute("""
                UPDATE messages SET status = 'Delivered', receipt = $1, receipt_at = $2, lease_owner = NULL,
                                    lease_until = NULL, next_attempt_at = NULL, updated_at = $2
                WHERE row_id = $3
                """, [receipt, date, message.rowId])
            t.appendEvent(rowId: message.rowId, at: date, direction: .outbound, status: .delivered,
                          code: record.code, detail: record.detail)
        }
    }

    @discardableResult
    public func markRetry(messageId: String, owner: String, error: DeliveryError, nextAttemptAt: Date,
                          at date: Date) throws -> MessageStatus {
        try write { t in
            let message = try t.lockedMessage(id: messageId, direction: .outbound)
            try t.checkTransition(message, to: .submitted)
            try OutboundTransitions.checkOwner(message, owner)
            // Withdrawn while this attempt was in flight: no further attempt (OutboundWithdrawal).
            if try Self.holds(OutboundTransitions.withdrawnCondition, message, t) {
                try Self.fail(message, with: OutboundTransitions.withdrawnFailure(message, attemptError: error), at: date, t)
                return .failed
            }
            let detail: String
            switch OutboundTransitions.retry(message, error: error, nextAttemptAt: nextAttemptAt) {
            case .exhausted(let exhausted):
                try Self.fail(message, with: exhausted, at: date, t)
                return .failed
            case .scheduled(let scheduled):
                detail = scheduled
            }
            try t.execute("""
                UPDATE messages SET status = 'Submitted', next_attempt_at = $1, lease_owner = NULL, lease_until = NULL,
                                    last_error_code = $2, last_error_reason = $3, updated_at = $4
                WHERE row_id = $5
                """, [nextAttemptAt, error.code, error.reason, date, message.rowId])
            t.appendEvent(rowId: message.rowId, at: date, direction: .outbound, status: .submitted, code: error.code,
                          detail: detail)
            return .submitted
        }
    }

    @discardableResult
    public func releaseAfterLocalFault(messageId: String, owner: String, reason: String, retryAt: Date, giveUpAfter: TimeInterval,
                                       at date: Date) throws -> MessageStatus {
        try write { t in
            let message = try t.lockedMessage(id: messageId, direction: .outbound)
            try t.checkTransition(message, to: .submitted)
            try OutboundTransitions.checkOwner(message, owner)
            // Withdrawn while this attempt was in flight: failed, not released (OutboundWithdrawal).
            let withdrawn = try Self.holds(OutboundTransitions.withdrawnCondition, message, t)
            switch LocalStorageFault.decide(message, events: try t.connection.events(rowId: message.rowId), withdrawn: withdrawn,
                                            owner: owner, reason: reason, retryAt: retryAt, giveUpAfter: giveUpAfter, at: date) {
            case .fail(let error):
                try Self.fail(message, with: error, at: date, t)
                return .failed
            case let .release(detail, error):
                try t.execute("""
                    UPDATE messages SET status = 'Submitted', attempts = GREATEST(attempts - 1, 0), next_attempt_at = $1,
                                        lease_owner = NULL, lease_until = NULL, last_error_code = $2, last_error_reason = $3,
                                        updated_at = $4
                    WHERE row_id = $5
                    """, [retryAt, error.code, error.reason, date, message.rowId])
                t.appendEvent(rowId: message.rowId, at: date, direction: .outbound, status: .submitted, code: error.code,
                              detail: detail)
                return .submitted
            }
        }
    }

    public func markFailed(messageId: String, owner: String?, error: DeliveryError, at date: Date) throws {
        try write { t in
            let message = try t.lockedMessage(id: messageId, direction: .outbound)
            try t.checkTransition(message, to: .failed)
            try OutboundTransitions.checkMayFail(message, owner: owner)
            try Self.fail(message, with: error, at: date, t)
        }
    }

    @discardableResult
    public func recordAttemptError(messageId: String, owner: String, error: DeliveryError, at date: Date) throws -> MessageStatus {
        try write { t in
            let message = try t.lockedMessage(id: messageId, direction: .outbound)
            // An error that comes after the queue gave up on its attempt is recorded all the
            // same (OutboundLateError): it is the receiver's word on the message.
            let sent = try message.wentOut { try t.connection.events(rowId: message.rowId) }
            let record = try OutboundTransitions.recordError(message, error: error, owner: owner, sent: sent)
            try t.execute("""
                UPDATE messages SET status = $1, last_error_code = $2, last_error_reason = $3, lease_owner = NULL,
                                    lease_until = NULL, next_attempt_at = NULL, updated_at = $4
                WHERE row_id = $5
                """, [record.status.rawValue, error.code, error.reason, date, message.rowId])
            t.appendEvent(rowId: message.rowId, at: date, direction: .outbound, status: record.status, code: record.code,
                          detail: record.detail)
            return record.status
        }
    }

    public func withdraw(messageId: String, error: DeliveryError, at date: Date) throws -> WithdrawalOutcome {
        try write { t in
            let message = try t.lockedMessage(id: messageId, direction: .outbound)
            let withdrawn = try Self.holds(OutboundTransitions.withdrawnCondition, message, t)
            switch OutboundTransitions.withdrawal(message, alreadyWithdrawn: withdrawn) {
            case .fail:
                try Self.fail(message, with: error, at: date, t)
                return .failed
            case .markInFlight:
                // The withdrawal's reason is the row's last error until the attempt's outcome.
                try t.execute("UPDATE messages SET last_error_code = $1, last_error_reason = $2, updated_at = $3 WHERE row_id = $4",
                              [error.code, error.reason, date, message.rowId])
                t.appendEvent(rowId: message.rowId, at: date, direction: .outbound, status: .sending,
                              code: OutboundTransitions.withdrawnCode,
                              detail: OutboundTransitions.withdrawnDetail(error, holder: message.outbound?.leaseOwner))
                return .withdrawnInFlight
            case .none(let outcome):
                return outcome
            }
        }
    }

    public func retryFailed(messageId: String, at date: Date) throws {
        try write { t in
            let message = try t.lockedMessage(id: messageId, direction: .outbound)
            try OutboundTransitions.checkOperatorRetry(message)
            try t.execute("""
                UPDATE messages SET status = 'Submitted', attempts = 0, next_attempt_at = $1, lease_owner = NULL,
                                    lease_until = NULL, updated_at = $1
                WHERE row_id = $2
                """, [date, message.rowId])
            t.appendEvent(rowId: message.rowId, at: date, direction: .outbound, status: .submitted,
                          code: OutboundEventText.retryRequestedCode, detail: OutboundEventText.operatorRetry(message))
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
                              code: OutboundEventText.leaseExpiredCode, detail: OutboundEventText.leaseExpired(message))
            }
            return failed + expired.count
        }
    }

    public func releaseLeases(ownerPrefix: String, now: Date) throws -> [String] {
        try write { t in
            let held = try t.execute("""
                SELECT * FROM messages WHERE status = 'Sending' AND direction = 'out' AND pull_mpc IS NULL
                  AND starts_with(lease_owner, $1)
                ORDER BY row_id
                FOR UPDATE
                """, [ownerPrefix]).rows.map(PostgresConnection.readMessage)
            for message in held {
                // An attempt cut off by our own stop (OutboundRestartRecovery).
                switch OutboundTransitions.release(message,
                                                   withdrawn: try Self.holds(OutboundTransitions.withdrawnCondition, message, t),
                                                   recoveredBefore: try Self.holds(OutboundTransitions.recoveredCondition, message, t)) {
                case .fail(let error):
                    try Self.fail(message, with: error, at: now, t)
                case .recover(let attempts):
                    try Self.requeue(message, at: now, t)
                    try t.execute("UPDATE messages SET attempts = $1 WHERE row_id = $2", [attempts, message.rowId])
                    t.appendEvent(rowId: message.rowId, at: now, direction: .outbound, status: .submitted,
                                  code: OutboundTransitions.restartRecoveryCode,
                                  detail: OutboundTransitions.restartRecoveryDetail(message, ownerPrefix: ownerPrefix))
                case .requeue:
                    try Self.requeue(message, at: now, t)
                    t.appendEvent(rowId: message.rowId, at: now, direction: .outbound, status: .submitted,
                                  code: OutboundEventText.leaseReleasedCode,
                                  detail: OutboundEventText.leaseReleased(ownerPrefix: ownerPrefix))
                }
            }
            return held.map(\.metadata.messageId)
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
        let grant = OutboundTransitions.lease(message, to: owner, now: now, lease: lease)
        try t.execute("""
            UPDATE messages SET status = 'Sending', lease_owner = $1, lease_until = $2, attempts = $3, updated_at = $4
            WHERE row_id = $5
            """, [owner, grant.until, grant.attempt, now, message.rowId])
        t.appendEvent(rowId: message.rowId, at: now, direction: .outbound, status: .sending, detail: grant.eventDetail)
        return grant.job(for: message)
    }

    /// Fails every `Sending` row whose lease expired on its last allowed attempt, or after it
    /// was withdrawn (rows another transaction holds are left to it). Its worker may yet get the
    /// receipt: `markDelivered` still records it.
    @discardableResult
    private static func failExhaustedLeases(_ t: PostgresTransaction, now: Date) throws -> Int {
        let exhausted = try t.execute("""
            SELECT messages.*, CASE WHEN \(OutboundTransitions.withdrawnCondition) THEN 1 ELSE 0 END AS withdrawn FROM messages
            WHERE status = 'Sending' AND lease_until <= $1 AND direction = 'out'
              AND (attempts >= max_attempts OR \(OutboundTransitions.withdrawnCondition))
            ORDER BY lease_until, row_id
            FOR UPDATE OF messages SKIP LOCKED
            """, [now]).rows.map { (try PostgresConnection.readMessage($0), $0.int("withdrawn") != 0) }
        for (message, withdrawn) in exhausted {
            let error = withdrawn ? OutboundTransitions.withdrawnFailure(message, attemptError: nil)
                                  : OutboundTransitions.exhaustedLeaseError(message)
            try fail(message, with: error, at: now, t)
        }
        return exhausted.count
    }

    /// Whether `condition` (SQL over the `messages` row) holds for `message`.
    private static func holds(_ condition: String, _ message: StoredMessage, _ t: PostgresTransaction) throws -> Bool {
        try t.execute("SELECT 1 AS found FROM messages WHERE row_id = $1 AND \(condition)", [message.rowId]).count > 0
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
}

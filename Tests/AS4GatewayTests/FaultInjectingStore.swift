import Foundation
import MessageStore
import Synchronization

/// A `MessageStore` in front of a real one that fails chosen operations with a chosen error (a
/// lost PostgreSQL connection, say) for a number of calls or until healed, and counts the calls:
/// a store outage at an exact point, without stopping a database.
final class FaultInjectingStore: MessageStore {
    enum Operation: String, Sendable, CaseIterable {
        case storePayload, recordInbound, attachReceipt, markHandedOver, markIntakeFailed, retryIntake, markRetrieved, findMessage, findReply, events, listMessages
        case enqueueOutbound, claimDue, nextForPull, markDelivered, markRetry, markFailed, recordAttemptError, withdraw, releaseAfterLocalFault, retryFailed, reclaimExpiredLeases
        case releaseLeases, queueState, chainedEvents, recordSeenRequest, removeExpiredSeenRequests
    }

    /// A lost connection, as libpq reports a server that went away.
    static let connectionLost = StoreError.connectionLost("server closed the connection unexpectedly (injected)")

    let inner: any MessageStore
    private struct Fault { var error: StoreError; var remaining: Int?; var message: String?; var row: Int64? }
    private let faults = Mutex<[Operation: Fault]>([:])
    private let counts = Mutex<[Operation: Int]>([:])

    init(_ inner: any MessageStore) {
        self.inner = inner
    }

    /// The next `times` calls of each operation (every call until `heal` when nil) throw `error`.
    /// With `message` or `row`, only the calls that name that message id or row do (a value the
    /// store refuses for one message); calls naming neither, or another, pass.
    func fail(_ operations: [Operation], with error: StoreError = FaultInjectingStore.connectionLost, times: Int? = nil,
              message: String? = nil, row: Int64? = nil) {
        faults.withLock { for op in operations { $0[op] = Fault(error: error, remaining: times, message: message, row: row) } }
    }

    func failEverything(with error: StoreError = FaultInjectingStore.connectionLost) { fail(Operation.allCases, with: error) }

    func heal() { faults.withLock { $0.removeAll() } }

    /// How many times `operation` was called, failed calls included.
    func calls(_ operation: Operation) -> Int { counts.withLock { $0[operation] ?? 0 } }

    private func check(_ operation: Operation, message: String? = nil, row: Int64? = nil) throws {
        counts.withLock { $0[operation, default: 0] += 1 }
        let error = faults.withLock { faults -> StoreError? in
            guard var fault = faults[operation] else { return nil }
            if let only = fault.message, only != message { return nil }
            if let only = fault.row, only != row { return nil }
            if let remaining = fault.remaining {
                if remaining <= 1 { faults[operation] = nil } else { fault.remaining = remaining - 1; faults[operation] = fault }
            }
            return fault.error
        }
        if let error { throw error }
    }

    // MARK: Forwarded, each behind its check

    var inlineMessageLimit: Int { inner.inlineMessageLimit }
    func storePayload(_ source: PayloadSource, at: Date) throws -> StoredFile {
        try check(.storePayload); return try inner.storePayload(source, at: at)
    }
    func recordInbound(_ message: InboundMessage, duplicateWindow: TimeInterval) throws -> InboundResult {
        try check(.recordInbound); return try inner.recordInbound(message, duplicateWindow: duplicateWindow)
    }
    func attachReceipt(messageId: String, direction: Direction, receipt: Data, at: Date) throws {
        try check(.attachReceipt); try inner.attachReceipt(messageId: messageId, direction: direction, receipt: receipt, at: at)
    }
    func markHandedOver(messageId: String, at: Date) throws { try check(.markHandedOver, message: messageId); try inner.markHandedOver(messageId: messageId, at: at) }
    func markIntakeFailed(messageId: String, error: DeliveryError, at: Date) throws {
        try check(.markIntakeFailed, message: messageId); try inner.markIntakeFailed(messageId: messageId, error: error, at: at)
    }
    func retryIntake(messageId: String, requestedBy: String, at: Date) throws {
        try check(.retryIntake, message: messageId); try inner.retryIntake(messageId: messageId, requestedBy: requestedBy, at: at)
    }
    func markHandedOver(rowId: Int64, at: Date) throws { try check(.markHandedOver, row: rowId); try inner.markHandedOver(rowId: rowId, at: at) }
    func markIntakeFailed(rowId: Int64, error: DeliveryError, at: Date) throws {
        try check(.markIntakeFailed, row: rowId); try inner.markIntakeFailed(rowId: rowId, error: error, at: at)
    }
    func retryIntake(rowId: Int64, requestedBy: String, at: Date) throws {
        try check(.retryIntake, row: rowId); try inner.retryIntake(rowId: rowId, requestedBy: requestedBy, at: at)
    }
    func retryPassedOverIntake(rowId: Int64, passedBy cursor: Int64, requestedBy: String, at: Date) throws {
        try check(.retryIntake, row: rowId); try inner.retryPassedOverIntake(rowId: rowId, passedBy: cursor, requestedBy: requestedBy, at: at)
    }
    func markRetrieved(messageId: String, at: Date) throws { try check(.markRetrieved); try inner.markRetrieved(messageId: messageId, at: at) }
    func findMessage(id: String, direction: Direction) throws -> StoredMessage? {
        try check(.findMessage, message: id); return try inner.findMessage(id: id, direction: direction)
    }
    func findInbound(id: String) throws -> [StoredMessage] { try check(.findMessage, message: id); return try inner.findInbound(id: id) }
    func findReply(toRequest requestId: String) throws -> StoredMessage? {
        try check(.findReply); return try inner.findReply(toRequest: requestId)
    }
    func events(for rowId: Int64) throws -> [MessageEvent] { try check(.events); return try inner.events(for: rowId) }
    func events(after afterId: Int64, limit: Int) throws -> [(messageId: String, event: MessageEvent)] {
        try check(.events); return try inner.events(after: afterId, limit: limit)
    }
    func latestEventId() throws -> Int64 { try check(.events); return try inner.latestEventId() }
    func listMessages(status: MessageStatus?, since: Date?, direction: Direction?, limit: Int) throws -> [StoredMessage] {
        try check(.listMessages); return try inner.listMessages(status: status, since: since, direction: direction, limit: limit)
    }
    func enqueueOutbound(_ message: OutboundMessage) throws -> Int64 { try check(.enqueueOutbound); return try inner.enqueueOutbound(message) }
    func enqueueOutbound(_ message: OutboundMessage, leasingTo owner: String, lease: TimeInterval, now: Date) throws -> OutboundJob {
        try check(.enqueueOutbound); return try inner.enqueueOutbound(message, leasingTo: owner, lease: lease, now: now)
    }
    func claimDue(now: Date, limit: Int, owner: String, lease: TimeInterval) throws -> [OutboundJob] {
        try check(.claimDue); return try inner.claimDue(now: now, limit: limit, owner: owner, lease: lease)
    }
    func nextForPull(mpc: String, receivers: [String], now: Date, owner: String, lease: TimeInterval) throws -> OutboundJob? {
        try check(.nextForPull); return try inner.nextForPull(mpc: mpc, receivers: receivers, now: now, owner: owner, lease: lease)
    }
    func markDelivered(messageId: String, owner: String, receipt: Data, at: Date) throws {
        try check(.markDelivered); try inner.markDelivered(messageId: messageId, owner: owner, receipt: receipt, at: at)
    }
    func markRetry(messageId: String, owner: String, error: DeliveryError, nextAttemptAt: Date, at: Date) throws -> MessageStatus {
        try check(.markRetry); return try inner.markRetry(messageId: messageId, owner: owner, error: error, nextAttemptAt: nextAttemptAt, at: at)
    }
    func markFailed(messageId: String, owner: String?, error: DeliveryError, at: Date) throws {
        try check(.markFailed); try inner.markFailed(messageId: messageId, owner: owner, error: error, at: at)
    }

    func recordAttemptError(messageId: String, owner: String, error: DeliveryError, at: Date) throws -> MessageStatus {
        try check(.recordAttemptError); return try inner.recordAttemptError(messageId: messageId, owner: owner, error: error, at: at)
    }
    func releaseAfterLocalFault(messageId: String, owner: String, reason: String, retryAt: Date, giveUpAfter: TimeInterval,
                                at: Date) throws -> MessageStatus {
        try check(.releaseAfterLocalFault)
        return try inner.releaseAfterLocalFault(messageId: messageId, owner: owner, reason: reason, retryAt: retryAt,
                                                giveUpAfter: giveUpAfter, at: at)
    }
    func withdraw(messageId: String, error: DeliveryError, at: Date) throws -> WithdrawalOutcome {
        try check(.withdraw); return try inner.withdraw(messageId: messageId, error: error, at: at)
    }
    func retryFailed(messageId: String, at: Date) throws { try check(.retryFailed); try inner.retryFailed(messageId: messageId, at: at) }
    func reclaimExpiredLeases(now: Date) throws -> Int { try check(.reclaimExpiredLeases); return try inner.reclaimExpiredLeases(now: now) }
    func releaseLeases(ownerPrefix: String, now: Date) throws -> [String] {
        try check(.releaseLeases); return try inner.releaseLeases(ownerPrefix: ownerPrefix, now: now)
    }
    func queueDepth() throws -> QueueDepth { try check(.queueState); return try inner.queueDepth() }
    func oldestQueuedAge(now: Date) throws -> TimeInterval? { try check(.queueState); return try inner.oldestQueuedAge(now: now) }
    func messageCounts() throws -> [MessageCount] { try check(.queueState); return try inner.messageCounts() }
    func chainedEvents(_ table: ChainedTable, after afterId: Int64, limit: Int) throws -> [ChainedEvent] {
        try check(.chainedEvents); return try inner.chainedEvents(table, after: afterId, limit: limit)
    }
    func chainedEvents(_ table: ChainedTable, messageId: String) throws -> [ChainedEvent] {
        try check(.chainedEvents); return try inner.chainedEvents(table, messageId: messageId)
    }
    func recordSeenRequest(messageId: String, expiresAt: Date) throws -> Bool {
        try check(.recordSeenRequest); return try inner.recordSeenRequest(messageId: messageId, expiresAt: expiresAt)
    }
    func removeExpiredSeenRequests(now: Date, limit: Int) throws -> Int {
        try check(.removeExpiredSeenRequests); return try inner.removeExpiredSeenRequests(now: now, limit: limit)
    }
    func close() { inner.close() }
}

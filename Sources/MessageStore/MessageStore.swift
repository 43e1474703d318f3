import Foundation

/// The gateway's durable store: messages in both directions, their parts, their append-only
/// event history, the outbound delivery queue with leases, and the payload files.
///
/// `SQLiteMessageStore` implements it; the operations are phrased so that a PostgreSQL backend
/// (`SELECT … FOR UPDATE SKIP LOCKED` for claims) can implement the same contract.
///
/// Contract shared by every implementation:
/// - Every method is synchronous and may block on disk I/O (fsync) or on another writer: call it
///   from a dedicated thread, not from the Swift concurrency pool or an actor.
/// - A method that returns has committed durably; one that throws has changed nothing.
/// - Every status change is validated against `MessageStatus.allows` and appends a `MessageEvent`.
/// - Outbound message ids are unique. Inbound ids are unique per sending party within the
///   duplicate window given to `recordInbound`; after it, or from another party, the same id is
///   stored as a new row. Lookups by id answer the most recent row; `findInbound` lists them all,
///   and the inbound transitions also take a row (`rowId:`).
/// - Times are passed in (`at`, `now`) so that callers and tests control the clock.
public protocol MessageStore: AnyObject, Sendable, EventChainReading, SeenRequestStore {
    // MARK: Payloads

    /// Copies or moves a payload under `<dataDir>/payloads/yyyy/mm/dd/<uuid>` (UTC date of `at`)
    /// and fsyncs the file and its directory before returning.
    func storePayload(_ source: PayloadSource, at: Date) throws -> StoredFile

    // MARK: Inbound

    /// Records a received message (status `Received`) with its parts (and the bytes of parts that
    /// carry them, see `inlineMessageLimit`) and an event, in one transaction — unless the same message id was received from
    /// the same party (`fromParty`) at or after `receivedAt - duplicateWindow`, in which case
    /// nothing is stored (a `duplicate` event is added to the original) and the original comes
    /// back. Another party's message with that id is no duplicate: ids are chosen by their
    /// senders, and one sender must not be able to block another's message by using its id first. A Two-Way reply (`isTwoWayReply`) to a
    /// request that already has a reply under another message id throws
    /// `requestAlreadyAnswered` and stores nothing, also when two replies are recorded at once
    /// by different store objects or nodes.
    func recordInbound(_ message: InboundMessage, duplicateWindow: TimeInterval) throws -> InboundResult

    /// Stores the raw receipt bytes of a message (answered for inbound, received for outbound)
    /// without changing its status. Outbound messages normally get theirs from `markDelivered`.
    func attachReceipt(messageId: String, direction: Direction, receipt: Data, at: Date) throws

    /// Inbound `Received → Delivered`: the message was handed to the backend.
    func markHandedOver(messageId: String, at: Date) throws

    /// Inbound `Delivered → Retrieved`: the backend took the message.
    func markRetrieved(messageId: String, at: Date) throws

    /// Inbound `Received → Failed`: the backend could not take in a message whose receipt was
    /// already given. The error is kept as the message's last error and in its `Failed` event, so
    /// the message shows in `messages list --status Failed` with why (and whether its sender was told).
    func markIntakeFailed(messageId: String, error: DeliveryError, at: Date) throws

    /// Operator action: inbound `Failed → Received`, so that the daemon, which follows the event
    /// history, takes the message in again (once: it acts on the one `Received` event with code
    /// `MessageEvent.intakeRetryRequestedCode` this appends, whose detail names `requestedBy`).
    /// The last intake error is cleared (the `Failed` event keeps it); a new failure sets it anew.
    /// Checked and changed under the row's lock in one transaction, so of two requests at once,
    /// from any process or node, one wins and the other finds the message `Received`. Throws
    /// `notFound` for no inbound message with that id, `illegalTransition` unless it is `Failed`.
    func retryIntake(messageId: String, requestedBy: String, at: Date) throws

    /// `markHandedOver`, `markIntakeFailed` and `retryIntake` of the inbound row `rowId`, for
    /// whoever follows one message (the mailbox worker follows events, which name their row)
    /// where its id may name another party's message too. `notFound` for no such inbound row.
    func markHandedOver(rowId: Int64, at: Date) throws
    func markIntakeFailed(rowId: Int64, error: DeliveryError, at: Date) throws
    func retryIntake(rowId: Int64, requestedBy: String, at: Date) throws

    /// Operator action for the inbound row `rowId` left `Received` by the history's reader: one
    /// whose intake and whose `Failed` mark the store both refused, which the mailbox worker
    /// passed over so that the messages after it go on. It is passed over when none of its events
    /// comes after `cursor` (the reader's position). Appends the `Received` event with code
    /// `MessageEvent.intakeRetryRequestedCode` that `retryIntake` appends, so the reader takes it in
    /// again, and leaves the row as it is (the store refused to change it). Checked and appended
    /// under the row's lock: of two requests at once one wins, and the other finds an event after
    /// `cursor`. Throws `notFound` for no such inbound row, `illegalTransition` (to `Received`)
    /// unless it is `Received` with no event after `cursor` (one still waiting for its intake).
    func retryPassedOverIntake(rowId: Int64, passedBy cursor: Int64, requestedBy: String, at: Date) throws

    // MARK: Lookups

    /// The message with this id in this direction (the most recent row for an inbound id).
    func findMessage(id: String, direction: Direction) throws -> StoredMessage?

    /// Every inbound row with this id, newest first: one per sending party and duplicate window.
    func findInbound(id: String) throws -> [StoredMessage]

    /// The Two-Way reply recorded for our request `requestId` (received with `isTwoWayReply`,
    /// from the party the request went to), if there is one. Replies recorded before the store
    /// kept this link are not found.
    func findReply(toRequest requestId: String) throws -> StoredMessage?

    /// A message's history, oldest first.
    func events(for rowId: Int64) throws -> [MessageEvent]

    /// Events of every message with an id above `afterId`, oldest first, each with its message's
    /// id (for operators following the store, `as4gw tail`). Event ids only grow.
    func events(after afterId: Int64, limit: Int) throws -> [(messageId: String, event: MessageEvent)]

    /// The highest event id so far (0 when there is none).
    func latestEventId() throws -> Int64

    /// Messages for operators, oldest first, filtered by any of status, creation time (at or
    /// after `since`) and direction.
    func listMessages(status: MessageStatus?, since: Date?, direction: Direction?, limit: Int) throws -> [StoredMessage]

    // MARK: Outbound queue

    /// Queues a submitted message (status `Submitted`); returns its row id. Its
    /// `messageBytes`, if any, are committed with the row (see `inlineMessageLimit`).
    func enqueueOutbound(_ message: OutboundMessage) throws -> Int64

    /// Queues a submitted message and leases it at once to `owner` until `now + lease` (one
    /// attempt counted, both events written), in one durable commit: a submission handed
    /// straight to an idle delivery worker saves that worker a claim. Only for a push message
    /// due now (no `pullMPC`, no later `firstAttemptAt`).
    func enqueueOutbound(_ message: OutboundMessage, leasingTo owner: String, lease: TimeInterval, now: Date) throws -> OutboundJob

    /// The largest sealed outbound message or received payload, in bytes, that this store keeps
    /// in its own rows (`OutboundMessage.messageBytes`, handed back in `OutboundJob.messageBytes`;
    /// `MessagePart.bytes` of `recordInbound`, handed back by `findMessage`) instead of a payload
    /// file: one durable commit instead of a file, its fsyncs and a row. 0 (the default) when the
    /// store keeps none; callers then use `storePayload` and must not pass bytes.
    var inlineMessageLimit: Int { get }

    /// Atomically leases up to `limit` push messages that are due — `Submitted` with
    /// `next_attempt_at <= now`, or `Sending` whose lease expired — to `owner` until `now + lease`,
    /// counting one attempt each. No message is ever leased to two owners at once. A message whose
    /// lease expired on its last allowed attempt is failed (`DeliveryError.missingReceipt`) instead.
    func claimDue(now: Date, limit: Int, owner: String, lease: TimeInterval) throws -> [OutboundJob]

    /// Leases the oldest message waiting on pull MPC `mpc` for a receiver (`to_party`) among
    /// `receivers` (same rules as `claimDue`): two parties allowed to pull the same MPC never get
    /// each other's messages. A pulled message that is never receipted becomes available again
    /// when its lease expires.
    func nextForPull(mpc: String, receivers: [String], now: Date, owner: String, lease: TimeInterval) throws -> OutboundJob?

    /// Records a receipt `owner` has validated: `Sending → Delivered` for the lease holder's own
    /// attempt. A receipt that comes after the queue gave that attempt up is recorded too: from
    /// `Failed`, from `Submitted` (lease expired or released) or from `Sending` under another
    /// lease, with a `late-receipt` event saying what had happened (also for a withdrawn
    /// message's attempt in flight). Throws `illegalTransition` for a message already
    /// `Delivered` (its first receipt stays) or never attempted.
    func markDelivered(messageId: String, owner: String, receipt: Data, at: Date) throws

    /// `Sending → Submitted` after a retryable failure, to be tried again at `nextAttemptAt`, by the
    /// lease owner only. When the message has used all its attempts it goes to `Failed` instead;
    /// the status reached is returned.
    @discardableResult
    func markRetry(messageId: String, owner: String, error: DeliveryError, nextAttemptAt: Date, at: Date) throws -> MessageStatus

    /// `Sending → Submitted` after this node could not read the message's own file (a local
    /// storage fault, `LocalStorageFault`): the attempt the claim counted is given back, no peer
    /// error is recorded, and the message is due again at `retryAt`, for this node or another that
    /// may see the file. When the file has stayed unreadable for `giveUpAfter` since the first
    /// such release, with no attempt that read it in between, the message goes `Failed` with
    /// `DeliveryError.localStorageCode` instead. By the lease owner only; returns the status reached.
    @discardableResult
    func releaseAfterLocalFault(messageId: String, owner: String, reason: String, retryAt: Date, giveUpAfter: TimeInterval,
                                at: Date) throws -> MessageStatus

    /// `Submitted/Sending → Failed` with the reason. A message in `Sending` can only be failed by
    /// its lease owner; a `Submitted` one by anyone (pass `owner: nil`).
    func markFailed(messageId: String, owner: String?, error: DeliveryError, at: Date) throws

    /// Records an ebMS error the receiver signed for the attempt `owner` made, also after the
    /// queue gave that attempt up (`OutboundLateError`): the error becomes the message's last
    /// error; a `Submitted` message (lease run out or released, or queued again by an operator
    /// after a send) goes `Failed`, a `Failed` or `Delivered` one keeps its status (a receipt is
    /// not undone), each with a `late-error` event; `owner`'s own attempt in `Sending` is failed
    /// as by `markFailed`. Returns the status reached. Throws `illegalTransition` for a message
    /// never sent (`StoredMessage.wentOut`), `leaseNotHeld` for one another owner is sending.
    /// An error the receiver pushed of its own accord names no attempt: `owner` is
    /// `PushedErrorSignal.owner(party:)`, and it fails a message in `Sending` too (with a
    /// `late-error` event).
    @discardableResult
    func recordAttemptError(messageId: String, owner: String, error: DeliveryError, at: Date) throws -> MessageStatus

    /// Withdraws an outbound message no longer wanted (its document's deadline passed): a queued
    /// one becomes `Failed` with `error`; for one being sent a `withdrawn` event is recorded and
    /// `error` becomes its last error, no further attempt starts (a retry, an expired lease or a
    /// restart fails it with that reason), and the attempt in flight may still deliver it. A
    /// message already `Delivered` or `Failed` is left as it is. Throws `notFound` for no
    /// outbound message with that id. An operator's `retryFailed` ends the withdrawal.
    func withdraw(messageId: String, error: DeliveryError, at: Date) throws -> WithdrawalOutcome

    /// Operator action: `Failed → Submitted` for an outbound message, due at `at`, with a fresh
    /// attempt budget (attempts reset to 0, `maxAttempts` unchanged) and a `retry-requested`
    /// event. The last error is kept until the next attempt outcome replaces it. Throws
    /// `notFound` for no outbound message with that id, `illegalTransition` unless it is `Failed`.
    func retryFailed(messageId: String, at: Date) throws

    /// Puts every `Sending` message whose lease expired back to `Submitted` (due at once), or to
    /// `Failed` when it has no attempt left. Returns how many messages it touched.
    @discardableResult
    func reclaimExpiredLeases(now: Date) throws -> Int
    /// Puts back in the queue what the workers named `ownerPrefix…` held (restart after a crash
    /// or a stop whose grace ran out). An attempt cut off so was not answered by the peer: one
    /// that was the last allowed is not counted, once per message (`restart-recovery` event);
    /// a second such cut, or a withdrawn message, fails (`EBMS:0301` / the withdrawal's reason).
    /// Returns the ids of the messages it released, in queue order.
    func releaseLeases(ownerPrefix: String, now: Date) throws -> [String]

    /// Outbound messages not yet final.
    func queueDepth() throws -> QueueDepth

    /// Age at `now` of the oldest outbound message not yet final; nil when there is none.
    func oldestQueuedAge(now: Date) throws -> TimeInterval?

    /// Messages per direction and status, over the whole history; pairs with no message are
    /// left out. Scans every row, so callers poll it (a metrics scrape), not per message.
    func messageCounts() throws -> [MessageCount]

    // MARK: Lifecycle

    /// Releases the database; later calls throw `StoreError.closed`. Idempotent.
    func close()
}

extension MessageStore {
    /// A store keeps no message bytes in its rows unless it says so.
    public var inlineMessageLimit: Int { 0 }
}

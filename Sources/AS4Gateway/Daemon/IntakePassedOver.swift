import MessageStore

/// Received e-address messages the mailbox worker passed over: it set one aside after the store
/// refused its intake (`IntakeStrikes`) and the store refused its `Failed` mark as well, so the
/// row is still `Received` while the worker's position (`MailboxWorker.cursorName`) is past every
/// event of it. Nothing marks them (the store refused to change the row): the position and the
/// status say it, which also finds those an older version passed over without a word. Operators
/// see them with `messages list --passed-over` (and `as4gw_intake_passed_over_total` counts them
/// as they happen), and `messages retry-intake` has them taken in again
/// (`MessageStore.retryPassedOverIntake`), like one whose intake failed.
enum IntakePassedOver {
    /// Those of `store` that no event after `cursor` (the worker's position) concerns, oldest
    /// first. A store whose worker never ran (position 0) has none.
    static func messages(in store: any MessageStore, cursor: Int64) throws -> [StoredMessage] {
        guard cursor > 0 else { return [] }
        return try store.listMessages(status: .received, since: nil, direction: .inbound, limit: Int(Int32.max)).filter { m in
            guard isTakenIn(m) else { return false }
            return try store.events(for: m.rowId).last.map { $0.id <= cursor } ?? false
        }
    }

    /// Whether the mailbox worker takes `m` in: an e-address document or status message. Other
    /// services (a ping) stay Received by design: the worker has nothing to take in.
    static func isTakenIn(_ m: StoredMessage) -> Bool {
        m.metadata.service == EAddressMessages.service && [EAddressMessages.documentAction, EAddressMessages.statusAction].contains(m.metadata.action)
    }

    /// The worker's position in `location`'s history.
    static func cursor(at location: StoreLocation) throws -> Int64 {
        let mailbox = try location.openMailbox(schema: .existing)
        defer { mailbox.close() }
        return try mailbox.cursor(MailboxWorker.cursorName)
    }
}

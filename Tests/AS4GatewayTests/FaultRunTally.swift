import MessageStore

/// The outcome of a fault run (kills, restarts) from the sender's outbound rows and the receiver's
/// inbound rows: what was delivered, failed, stored twice or lost. The fault tests print these
/// figures and assert on them, so they are counted the same way in each.
struct FaultRunTally {
    /// Every outbound row at the sender.
    let outbound: [StoredMessage]
    let delivered: Set<String>
    let failed: [StoredMessage]
    /// The message ids the receiver stored, each once.
    let received: Set<String>
    /// Inbound rows beyond the first for one message id.
    let duplicates: Int
    /// Acknowledged submissions that ended neither Delivered nor Failed.
    let lost: Set<String>

    init(sent: [String], sender: any MessageStore, receiver: any MessageStore, limit: Int) throws {
        outbound = try sender.listMessages(status: nil, since: nil, direction: .outbound, limit: limit)
        delivered = Set(outbound.filter { $0.status == .delivered }.map(\.metadata.messageId))
        failed = outbound.filter { $0.status == .failed }
        let inbound = try receiver.listMessages(status: nil, since: nil, direction: .inbound, limit: limit)
            .map(\.metadata.messageId)
        received = Set(inbound)
        duplicates = inbound.count - received.count
        lost = Set(sent).subtracting(delivered).subtracting(failed.map(\.metadata.messageId))
    }
}

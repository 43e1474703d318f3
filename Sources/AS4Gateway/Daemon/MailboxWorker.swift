import Foundation
import MessageStore
import Synchronization

/// Connects the AS4 store to the backend API, following the store's event history (one thread):
/// - a received e-address document or status message is taken in (`DocumentExchange`) and then
///   marked handed over;
/// - an outbound document message that got its receipt makes that recipient `Accepted` (the
///   receipt kept as proof), one that failed makes it `Failed`; both notify the sender.
/// The position in the history is kept in the store after each batch; taking an event in twice
/// changes nothing (documents and recipient states are keyed), so a crash only repeats work.
final class MailboxWorker: Sendable {
    let context: GatewayContext
    private let running = Atomic<Bool>(true)
    private let finished = Atomic<Bool>(false)
    static let cursorName = "mailbox-worker"
    static let interval = 0.1

    init(context: GatewayContext) {
        self.context = context
    }

    func start() {
        let thread = Thread { [self] in
            while running.load(ordering: .sequentiallyConsistent) {
                do {
                    if try !runOnce() { Thread.sleep(forTimeInterval: Self.interval) }
                } catch {
                    context.log.log(.error, "mailbox-worker", ["reason": "\(error)"])
                    Thread.sleep(forTimeInterval: 1)
                }
            }
            finished.store(true, ordering: .sequentiallyConsistent)
        }
        thread.name = "\(context.party)/mailbox"
        thread.start()
    }

    func stop(deadline: Date) {
        running.store(false, ordering: .sequentiallyConsistent)
        while Date() < deadline, !finished.load(ordering: .sequentiallyConsistent) {
            Thread.sleep(forTimeInterval: 0.02)
        }
    }

    /// One batch of events; returns whether there was any.
    @discardableResult
    func runOnce() throws -> Bool {
        let cursor = try context.mailbox.cursor(Self.cursorName)
        let batch = try context.store.events(after: cursor, limit: 200)
        guard let last = batch.last else { return false }
        for (messageId, event) in batch {
            switch (event.direction, event.status) {
            case (.inbound, .received): try takeIn(messageId)
            case (.outbound, .delivered), (.outbound, .failed): try track(messageId)
            default: continue
            }
        }
        try context.mailbox.setCursor(Self.cursorName, to: last.event.id)
        return true
    }

    private func takeIn(_ id: String) throws {
        guard let m = try context.store.findMessage(id: id, direction: .inbound), m.status == .received,
              m.metadata.service == EAddressMessages.service else { return }
        let exchange = DocumentExchange(context: context)
        do {
            switch m.metadata.action {
            case EAddressMessages.documentAction: try exchange.takeDocument(m)
            case EAddressMessages.statusAction: try exchange.takeStatus(m)
            default: return
            }
        } catch let e as DocumentExchange.IntakeError {
            // The sender's receipt was given; what is wrong inside stays in the log and the history.
            context.log.log(.error, "document-intake-refused", ["message_id": id, "action": m.metadata.action, "reason": e.description])
        }
        try context.store.markHandedOver(messageId: id, at: Date())
    }

    private func track(_ as4Id: String) throws {
        guard let (documentId, address) = try context.mailbox.recipient(as4MessageId: as4Id),
              let m = try context.store.findMessage(id: as4Id, direction: .outbound),
              let d = try context.mailbox.document(messageId: documentId) else { return }
        switch m.status {
        case .delivered:
            let detail = "the receiving access point's signed receipt is held"
            try context.mailbox.updateRecipient(RecipientUpdate(
                messageId: documentId, address: address, status: .accepted, detail: detail, receipt: m.receipt,
                notifications: DocumentExchange.senderNotifications(d, address: address, status: .accepted, detail: nil)), at: Date())
        case .failed:
            let detail = m.outbound?.lastError.map { "\($0.code): \($0.reason)" } ?? "the access point did not take the message"
            try context.mailbox.updateRecipient(RecipientUpdate(
                messageId: documentId, address: address, status: .failed, detail: detail,
                notifications: DocumentExchange.senderNotifications(d, address: address, status: .failed, detail: detail)), at: Date())
        default:
            return
        }
    }
}

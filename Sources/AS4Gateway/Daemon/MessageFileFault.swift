import Foundation
import MessageStore

/// The sealed message's file could not be read when a delivery worker went to send it: a fault
/// of this node's storage (a payload volume not mounted, a file removed, an I/O error), not of
/// the peer, which may not even have been reached.
struct MessageFileUnreadable: Error, CustomStringConvertible {
    let path: String
    let reason: String

    var description: String { "message file \(path): \(reason)" }
}

extension OutboundWorkers {
    /// How soon a message released after a local fault is due again: long enough that this node
    /// does not spin on it, short enough that another node that sees the file soon takes it.
    static let unreadableRetryDelay: TimeInterval = 15
    /// How long a message file may stay unreadable on every node that tried before the message
    /// fails with `local-storage`: time for an operator to mount the payload volume again, yet
    /// a bound, so the sender hears of it (a backend document's recipient turns Failed and its
    /// connection is notified) instead of the message waiting unseen.
    static let unreadableGiveUpAfter: TimeInterval = 3600

    /// Gives the attempt back and releases the message to the queue (`releaseAfterLocalFault`),
    /// or fails it once the file has stayed unreadable for `unreadableGiveUpAfter`.
    func releaseUnreadable(_ job: OutboundJob, _ fault: MessageFileUnreadable, fields: [String: String?]) {
        var fields = fields
        fields["path"] = fault.path
        fields["reason"] = "\(fault.reason): a local storage fault, the peer was not tried; released for this or another node"
        context.log.log(.error, "message-file-unreadable", fields)
        do {
            let status = try context.store.releaseAfterLocalFault(
                messageId: job.metadata.messageId, owner: job.owner, reason: "\(fault.path): \(fault.reason)",
                retryAt: Date().addingTimeInterval(Self.unreadableRetryDelay), giveUpAfter: Self.unreadableGiveUpAfter, at: Date())
            if status == .failed {
                let reason = (try? context.store.findMessage(id: job.metadata.messageId, direction: .outbound))?.outbound?.lastError?.reason
                context.log.log(.error, "failed", fields.merging(["status": "Failed", "error_code": DeliveryError.localStorageCode,
                                                                  "reason": reason ?? fault.reason]) { $1 })
            }
        } catch {
            context.log.log(.error, "store-failed", fields.merging(["reason": "\(error)"]) { $1 })
        }
    }
}

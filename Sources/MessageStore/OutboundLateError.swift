import Foundation

// How an ebMS error the receiver signed is recorded when it comes after the queue gave the
// attempt up, or pushed by the receiver apart from any answer of ours (a Domibus whose agreement
// says errorAsResponse=false sends its errors as requests of their own). The error is the
// receiver's word about a message we sent (ebMS3 §6: the sending MSH reports it to its
// producer), so it is never dropped for our own bookkeeping's sake; but it says only that the
// message was refused, so it cannot undo a receipt, which proves the receiver holds the message.

extension OutboundTransitions {
    /// The event code of an error recorded after the message had left the lease holder's hands.
    static let lateErrorCode = "late-error"

    /// What an error answering `owner`'s attempt does to the row: the status it leaves and its event.
    struct ErrorRecord: Equatable {
        var status: MessageStatus
        var code: String
        var detail: String
    }

    /// Checks that an error answering `owner`'s attempt may be recorded on `message` now and
    /// says how. `Submitted` (the lease ran out or was released, or the message was queued
    /// again with its attempts counted afresh) is failed with the error: the receiver refused
    /// the message, and another attempt would be refused again. `Failed` and `Delivered` keep
    /// their status. The lease holder's own attempt is failed as `markFailed` would. Throws
    /// `illegalTransition` for a message never sent (`sent`, `StoredMessage.wentOut`: no answer
    /// of the receiver can exist) and
    /// `leaseNotHeld` for one another owner is sending. A pushed error (`PushedErrorSignal`)
    /// fails a message being sent too: the receiver refused it, and the attempt in flight can
    /// still make it Delivered with a receipt (`recordReceipt`).
    static func recordError(_ message: StoredMessage, error: DeliveryError, owner: String, sent: Bool) throws -> ErrorRecord {
        let messageId = message.metadata.messageId
        guard !owner.isEmpty, owner != PushedErrorSignal.ownerPrefix else { throw StoreError.invalidArgument("empty lease owner") }
        guard message.direction == .outbound, sent else {
            throw StoreError.illegalTransition(messageId: messageId, from: message.status, to: .failed)
        }
        let prefix = PushedErrorSignal.ownerPrefix
        let pushedBy = owner.hasPrefix(prefix) ? String(owner.dropFirst(prefix.count)) : nil
        let answered = "\(error.code): \(error.reason) "
            + (pushedBy.map { "(in an error signal \($0) pushed of its own accord)" } ?? "(answering the attempt of \(owner))")
        switch message.status {
        case .sending:
            if pushedBy != nil {
                return ErrorRecord(status: .failed, code: lateErrorCode,
                                   detail: answered + " while attempt \(message.outbound?.attempts ?? 0) was in flight")
            }
            try checkOwner(message, owner)
            return ErrorRecord(status: .failed, code: error.code, detail: error.reason)
        case .submitted where (message.outbound?.attempts ?? 0) == 0:
            return ErrorRecord(status: .failed, code: lateErrorCode,
                               detail: answered + " after it was queued again with its attempts counted afresh (an operator's retry, "
                                   + "or a restart that cut its last attempt off)")
        case .submitted:
            return ErrorRecord(status: .failed, code: lateErrorCode,
                               detail: answered + " after its lease ran out or was released (attempt \(message.outbound?.attempts ?? 0) made)")
        case .failed:
            return ErrorRecord(status: .failed, code: lateErrorCode,
                               detail: answered + " after the message was failed (" + lastErrorText(message) + ")")
        case .delivered:
            return ErrorRecord(status: .delivered, code: lateErrorCode,
                               detail: answered + " after the message was delivered; its receipt stays the evidence")
        default:
            throw StoreError.illegalTransition(messageId: messageId, from: message.status, to: .failed)
        }
    }
}

extension StoredMessage {
    /// Whether this outbound message went out before, so that its receiver can have answered
    /// it: an attempt of its current budget, or one that no longer counts, since an operator's
    /// retry counted the attempts afresh or a restart gave back the last one it cut off (every
    /// attempt leases the message: a `Sending` event). `events` is its history, read only when
    /// the attempts do not tell. The rule `recordAttemptError` checks.
    public func wentOut(events: () throws -> [MessageEvent]) rethrows -> Bool {
        if (outbound?.attempts ?? 0) >= 1 { return true }
        return try events().contains { $0.status == .sending }
    }
}

/// The `owner` under which `MessageStore.recordAttemptError` records an error signal the
/// receiver pushed of its own accord: it names the party, not a lease holder whose attempt the
/// error answers.
public enum PushedErrorSignal {
    static let ownerPrefix = "signal:"

    public static func owner(party: String) -> String { ownerPrefix + party }
}

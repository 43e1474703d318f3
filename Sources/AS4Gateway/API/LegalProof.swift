import Foundation
import MessageStore
import Routing

/// Whether a document counts as sent to one recipient, since when, and the day it is deemed
/// notified (docs/EVIDENCE.md). Sent means: for a recipient served by another access point, this
/// gateway holds that access point's signed AS4 receipt and it verifies now; for a mailbox on
/// this gateway, the document was stored in it.
struct RecipientSending: Sendable {
    var sent: Bool
    var sentAt: Date?
    var deemedNotifiedOn: CalendarDay?
    /// The plain statement shown to people, either way.
    var statement: String
    /// The receipt check's verdict (remote recipients with a receipt only).
    var receiptValid: Bool?
    var receiptDetail: String?
    /// A remote recipient still Submitted: the last failed attempt's error, attempts made, allowed.
    var lastAttemptError: (error: DeliveryError, attempts: Int, maxAttempts: Int)?

    var jsonFields: [(String, JSON)] {
        var fields: [(String, JSON)] = [("sent", .bool(sent)), ("sentAt", sentAt.map(DocumentView.time) ?? .null),
                                        ("deemedNotifiedOn", deemedNotifiedOn.map { .string($0.description) } ?? .null), ("sentStatement", .string(statement))]
        if let last = lastAttemptError {
            fields.append(("lastAttemptError", .object([("code", .string(last.error.code)), ("reason", .string(last.error.reason)),
                                                        ("attempts", .int(last.attempts)), ("maxAttempts", .int(last.maxAttempts))])))
        }
        return fields
    }
}

struct LegalProof {
    let context: GatewayContext

    /// Statuses a recipient only reaches after the document was in its mailbox.
    static let afterStorage = Set([RecipientStatus.accepted, .delivered, .recipientAccepted, .recipientRejected,
                                   .deliveryDelayed].map(\.rawValue))

    func sending(_ d: Document, _ r: DocumentRecipient, events: [DocumentEvent]) -> RecipientSending {
        switch r.route {
        case .mailbox:
            guard let stored = events.first(where: { $0.address == r.address && Self.afterStorage.contains($0.status) })?.at else {
                return RecipientSending(sent: false, statement: "Not sent: the document was never stored in \(r.address)'s mailbox (status \(r.status.rawValue)).")
            }
            let deemed = context.calendar.deemedNotificationDay(sentAt: stored)
            return RecipientSending(sent: true, sentAt: stored, deemedNotifiedOn: deemed,
                                    statement: "Sent on \(Self.text(stored)): stored in \(r.address)'s mailbox on this gateway. Deemed notified on \(deemed), the second working day in Latvia after the day of sending.")
        case .remote:
            guard let receipt = r.receipt, let as4 = r.as4MessageId else {
                var sending = RecipientSending(sent: false, statement: "Not sent: this gateway holds no signed receipt from \(r.party ?? "the recipient's access point") yet (status \(r.status.rawValue)).")
                // While the retries go on, the DMS sees why the attempts so far failed (the
                // receiving side's refusal, kept by `AttemptFailure` across broken connections)
                // rather than a bare "Submitted" until they run out.
                if r.status == .submitted || r.status == .failed, let as4 = r.as4MessageId,
                   let outbound = (try? context.store.findMessage(id: as4, direction: .outbound))??.outbound, let error = outbound.lastError {
                    if r.status == .submitted {
                        sending.lastAttemptError = (error, outbound.attempts, outbound.maxAttempts)
                        sending.statement += " Attempt \(outbound.attempts) of \(outbound.maxAttempts) got no receipt: \(error.code): \(error.reason)."
                    } else {
                        // Why, in the words the message failed with: a refusal, no receipt after the
                        // retries, or the receiver's report that it holds the message (ReceiptLost).
                        sending.statement += " The AS4 message failed: \(error.code): \(error.reason)."
                    }
                }
                return sending
            }
            let check = ReceiptCheck(context: context).verify(receipt, as4MessageId: as4)
            guard check.valid else {
                return RecipientSending(sent: false, statement: "Not sent: the receipt held from \(r.party ?? "the access point") does not verify: \(check.detail).",
                                        receiptValid: false, receiptDetail: check.detail)
            }
            // The receipt proves the access point took the AS4 message; a hub or access point may
            // still refuse the recipient itself (unknown, blocked, non-digital, policy) and report
            // it Failed. Then nothing reached a mailbox and nobody can be deemed notified. (A
            // failure of ours that a receipt answers later is superseded: the recipient is
            // Accepted then, see `RecipientStatus.allows(_:receiptHeld:)`.)
            if r.status == .failed {
                let reason = events.last(where: { $0.address == r.address && $0.status == RecipientStatus.failed.rawValue })?.detail
                let why = reason.map { " (\($0))" } ?? ""
                let party = r.party ?? "the recipient's access point"
                return RecipientSending(sent: false,
                                        statement: "Not sent: \(r.address) is Failed\(why); the valid signed receipt of \(party) for the AS4 message is held, but it proves only that \(party) took the AS4 message, not that the document reached \(r.address).",
                                        receiptValid: true, receiptDetail: check.detail)
            }
            let at = (try? context.store.findMessage(id: as4, direction: .outbound))??.receiptAt
                ?? events.first(where: { $0.address == r.address && $0.status == RecipientStatus.accepted.rawValue })?.at ?? r.updatedAt
            let deemed = context.calendar.deemedNotificationDay(sentAt: at)
            return RecipientSending(sent: true, sentAt: at, deemedNotifiedOn: deemed,
                                    statement: "Sent on \(Self.text(at)): this gateway holds the valid signed AS4 receipt of \(r.party ?? "the recipient's access point") for message \(as4). Deemed notified on \(deemed), the second working day in Latvia after the day of sending.",
                                    receiptValid: true, receiptDetail: check.detail)
        }
    }

    /// Each shown recipient's sending fields, by address.
    func fields(_ d: Document, recipients: [DocumentRecipient], events: [DocumentEvent]) -> [String: [(String, JSON)]] {
        var result: [String: [(String, JSON)]] = [:]
        for r in recipients { result[r.address] = sending(d, r, events: events).jsonFields }
        return result
    }

    static func text(_ date: Date) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        return f.string(from: date)
    }
}

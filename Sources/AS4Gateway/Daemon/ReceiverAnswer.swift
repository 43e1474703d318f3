import EnvelopeXML
import Foundation

/// What the receiving side's `eb:Error`s, given instead of a receipt to one push (in an error
/// signal, or in the Detail of a bare SOAP Fault), say about our message. The same element can
/// be a refusal, no answer at all, or the news that the receiver holds the message already, and
/// each calls for something else: the refusal is recorded as the receiver's word, the others are
/// no receipt and no refusal.
enum ReceiverAnswer: Equatable {
    /// An error of failure severity about our message: the receiver refused it.
    case refusal(ErrorDetail)
    /// The receiver reports that a message with our id reached it before. After an earlier send
    /// of ours that means its receipt to that send was lost; on a first send it is a refusal.
    case alreadyReceived(ErrorDetail)
    /// Only warnings about our message. A warning does not stop the receiver's processing
    /// (ebMS3 §6.2.7), so it is no refusal; it is no receipt either.
    case warningsOnly(ErrorDetail)
    /// Errors that name another message than ours: no answer to it.
    case aboutAnother(String)

    /// The answer `errors` give; `signalRef` is the error signal's `RefToMessageId`, which an
    /// error without a `refToMessageInError` of its own is about. Nil for no errors.
    static func of(_ errors: [ErrorDetail], signalRef: String?, sentMessageId: String) -> ReceiverAnswer? {
        let ours = errors.filter { ($0.refToMessageInError ?? signalRef).map { $0 == sentMessageId } ?? true }
        guard let first = ours.first else {
            return errors.compactMap { $0.refToMessageInError ?? signalRef }.first.map { .aboutAnother($0) }
        }
        let failures = ours.filter { $0.severity.lowercased() == "failure" }
        guard let firstFailure = failures.first else { return .warningsOnly(first) }
        // Named as ours explicitly: an error that names no message cannot say it holds ours.
        let named = { (e: ErrorDetail) in (e.refToMessageInError ?? signalRef) == sentMessageId }
        if failures.allSatisfy({ reportsAlreadyReceived($0) && named($0) }) { return .alreadyReceived(firstFailure) }
        return .refusal(failures.first { !reportsAlreadyReceived($0) } ?? firstFailure)
    }

    /// How phase4 says a message with the id was received before (`EBMS:0004` Other, severity
    /// failure, from its duplicate check): up to 2.5 in the eb:Description; from 2.6 the
    /// Description is EBMS:0004's generic text and this is in the eb:ErrorDetail, with the id.
    /// Domibus and as4gw answer such a resend with the receipt they gave instead.
    static let alreadyReceivedWordings = ["another message with the same id was already received",
                                          "was already handled (this is a duplicate)"]

    static func reportsAlreadyReceived(_ e: ErrorDetail) -> Bool {
        guard e.errorCode == EbmsError.Code.other.rawValue else { return false }
        let texts = [e.description?.text, e.detail].compactMap { $0.map(normalised) }
        return alreadyReceivedWordings.contains { wording in texts.contains { $0.contains(wording) } }
    }

    /// Lower case, runs of white space as one space: the wording matched however it was wrapped.
    private static func normalised(_ text: String) -> String {
        text.lowercased().split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
    }

    /// The error as the receiver gave it, on one line: code (`PeerErrorCode.shown`), short
    /// description, description and detail (each cut to 500 characters: an ErrorDetail may hold
    /// a whole stack trace).
    static func words(_ e: ErrorDetail) -> String {
        let cut = { (s: String?) in
            s.map { String(PeerErrorCode.oneLine($0).trimmingCharacters(in: .whitespacesAndNewlines).prefix(500)) } ?? ""
        }
        let description = cut(e.description?.text), detail = cut(e.detail)
        var said = description
        if !detail.isEmpty, detail != description { said = said.isEmpty ? detail : "\(said) (\(detail))" }
        let short = cut(e.shortDescription)
        return PeerErrorCode(e.errorCode).shown + (short.isEmpty ? "" : " \(short)") + (said.isEmpty ? "" : ": \(said)")
    }
}

extension AttemptFailure {
    /// Recorded when the receiver reports it holds the message already, after an earlier send:
    /// it took the message, but the receipt it gave then never reached us, and without a
    /// receipt there is no proof of delivery. Final at once: a resend gets the same answer, and
    /// once the receiver forgets the id (phase4 after its duplicate window) it would take the
    /// message a second time.
    static let receiptLostCode = "ReceiptLost"

    /// The failure `answer` makes of this attempt; `where` says how the errors came (a Fault),
    /// `sentBefore` whether an earlier send of this message went out.
    init(_ answer: ReceiverAnswer, sentMessageId: String, where: String = "", sentBefore: Bool) {
        switch answer {
        case .aboutAnother(let ref):
            self.init(EbmsError(.invalidReceipt, "the response is an error about \(ref), not about \(sentMessageId)"))
        case .alreadyReceived(let e) where sentBefore:
            self.init(code: Self.receiptLostCode,
                      reason: "the receiver reports it already holds this message (its receipt to an earlier attempt was lost): "
                          + "no proof of delivery; it answered \(ReceiverAnswer.words(e))\(`where`)",
                      isPeerAnswer: true, ebms: nil, endsDelivery: true)
        case .refusal(let e), .alreadyReceived(let e):
            // Recorded with the receiver's own code, one we do not know included (`PeerErrorCode`);
            // the metrics only tell our codes apart.
            self.init(code: PeerErrorCode(e.errorCode).recorded, reason: "the receiver answered \(ReceiverAnswer.words(e))\(`where`)",
                      isPeerAnswer: true, ebms: EbmsError(e.knownCode ?? .other, ReceiverAnswer.words(e)))
        case .warningsOnly(let e):
            self.init(EbmsError(.missingReceipt, "the receiver answered only a warning, and no receipt: \(ReceiverAnswer.words(e))\(`where`)"))
        }
    }
}

extension ReceiverAnswer {
    /// Whether what the answer means depends on the message's earlier sends.
    var needsHistory: Bool {
        if case .alreadyReceived = self { return true }
        return false
    }
}

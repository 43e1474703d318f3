import MessageStore

/// Why an e-address message received here was not taken in after its sender got our receipt,
/// and whether the access point it came from heard of it. The AS4 message ends inbound `Failed`
/// with this as its last error (`MailboxWorker`), never "handed over": the receipt is already
/// given, so this status, the log and the report to the origin are all that is left to say so.
struct IntakeFailure: Sendable, Equatable {
    /// What the origin access point was told.
    enum Report: Sendable, Equatable {
        /// A `Failed` status report is queued to it (documents), now or by an earlier intake of
        /// the same message (`OriginStatusReport`: it gets one).
        case sent
        /// It was owed one, but none could be queued: no status leg back to it, its party gone
        /// from the P-Modes, no usable certificate. Configuration to fix (`pmode check` warns).
        case notSent
        /// The e-address protocol has no answer to give: a status report that cannot be applied
        /// is not answered by another status report.
        case none
    }

    /// The outcome code a refused recipient would get (`SenderNotServed`, `unknown`, …) or one
    /// of the codes below.
    var code: String
    /// Says what was wrong and, for documents, whether and why not the origin was told.
    var reason: String
    var report: Report

    var error: DeliveryError { DeliveryError(code: code, reason: reason) }

    /// The document id is held here already from another access point (or a backend here), or
    /// for another document from the same one (`DocumentArrivingAgain`).
    static let documentIdTaken = "DocumentIdTaken"
    /// The AS4 MessageId already carried another document or recipient here (`DocumentExchange.carrierTaken`).
    static let messageIdTaken = "MessageIdTaken"
    /// The sending party is no longer in the P-Modes (a reload after the receipt).
    static let unknownSenderParty = "UnknownSenderParty"
    /// A document header the pre-receipt check refuses (only messages received before it existed).
    static let documentHeaderInvalid = "DocumentHeaderInvalid"
    /// A payload the store lost between the receipt and the intake.
    static let payloadMissing = "PayloadMissing"
    /// The store refused the message's intake in `IntakeStrikes.limit` rounds in a row (a
    /// constraint, a value it does not take): set aside so that the messages after it go on.
    static let storeRefused = "StoreRefused"
    /// A status report that cannot be read, or names a status a mailbox cannot report.
    static let statusReportInvalid = "StatusReportInvalid"
    /// A status report about a document or recipient this gateway did not send to that party.
    static let statusReportNotApplicable = "StatusReportNotApplicable"
}

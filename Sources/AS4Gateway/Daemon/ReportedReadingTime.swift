import Foundation

/// The moment a remote recipient read a document, as its access point reports it
/// (`StatusReport.retrievedAt`), bounded before it becomes the recipient's `retrievedAt` here.
///
/// The moment of reading is a legal fact (docs/EVIDENCE.md), so the sender's gateway records
/// the receiver's time, not when the report happened to arrive (the sender may have been down
/// meanwhile). But it is the other side's claim, made with the other side's clock: a time before
/// the document existed here, or after now, cannot be true. Such a time is clamped into
/// [document created here, now] rather than the report refused, since refusing would lose the
/// reading altogether (reports are not sent again); the recipient's history says it was clamped
/// and what was claimed, and beyond `clockSkewAllowance` the log warns of the other clock.
struct ReportedReadingTime: Equatable {
    /// Clock differences between access points this large are ordinary and not worth a warning.
    static let clockSkewAllowance: TimeInterval = 120

    /// What is recorded as `retrievedAt`.
    var recorded: Date
    /// Set when the claimed time was clamped: the history's words for it.
    var clampNote: String?
    /// The claimed time was off by more than `clockSkewAllowance`.
    var beyondSkew: Bool

    init(reported: Date, documentCreatedAt: Date, now: Date) {
        // The store keeps milliseconds: compare in them, so a time equal to a bound stays put.
        func ms(_ d: Date) -> Date { Date(timeIntervalSince1970: (d.timeIntervalSince1970 * 1000).rounded() / 1000) }
        let reported = ms(reported), lower = ms(documentCreatedAt), upper = ms(now)
        let claimed = ISO8601DateFormatter.millis(reported)
        if reported < lower {
            recorded = lower
            clampNote = "the reported reading time \(claimed) is before the document was submitted here; recorded as \(ISO8601DateFormatter.millis(lower))"
            beyondSkew = lower.timeIntervalSince(reported) > Self.clockSkewAllowance
        } else if reported > upper {
            recorded = upper
            clampNote = "the reported reading time \(claimed) is ahead of this gateway's clock; recorded as \(ISO8601DateFormatter.millis(upper))"
            beyondSkew = reported.timeIntervalSince(upper) > Self.clockSkewAllowance
        } else {
            recorded = reported
            clampNote = nil
            beyondSkew = false
        }
    }
}

extension ISO8601DateFormatter {
    /// RFC 3339 UTC with milliseconds, the store's resolution.
    static func millis(_ date: Date) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.string(from: date)
    }
}

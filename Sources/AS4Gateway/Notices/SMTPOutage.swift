import Foundation

/// The notice mailer's view of its SMTP server while the server cannot be reached (no
/// connection, no TLS, no greeting: `SMTPSendError.serverUnreachable`). Such a failure is the
/// server's, not any notice's: no attempt is spent, and instead of trying the next notice (which
/// would meet the same) the mailer waits and tries the oldest due notice again, after `first`
/// seconds, doubled after each failed try, at most `longest`.
///
/// Why 2 s doubling to 300 s: a relay restart or a failover is over within seconds, and is then
/// noticed at once; a longer outage costs one connect attempt (at most `connectTimeout`, holding
/// the job lock) every 5 minutes, and notices go out at most 5 minutes after the server is back,
/// which is the claim period of a notice and well within any notice's own retry schedule.
///
/// The beginning and end of an outage are logged once each. A server that keeps coming and going
/// would still fill the log, so an outage beginning within `quiet` seconds of the last one
/// logged is not logged (nor its end); the next one logged says how many were not (`repeated`).
struct SMTPOutage {
    var first: TimeInterval = 2
    var longest: TimeInterval = 300
    var quiet: TimeInterval = 60

    /// When the current outage began; nil while the server answers (or was never tried).
    private(set) var since: Date?
    private(set) var reason: String?
    /// Tries that found the server unreachable in the current outage.
    private(set) var tries = 0
    private(set) var nextTry: Date?
    private var loggedAt = Date.distantPast
    private var logged = false
    private var unlogged = 0

    init(first: TimeInterval = 2, longest: TimeInterval = 300, quiet: TimeInterval = 60) {
        self.first = first
        self.longest = longest
        self.quiet = quiet
    }

    /// Whether the mailer may try the server at `now` (always, unless an outage's wait runs).
    func mayTry(at now: Date) -> Bool {
        nextTry.map { now >= $0 } ?? true
    }

    /// The wait after `tries` failed tries.
    func wait(afterTries tries: Int) -> TimeInterval {
        min(longest, first * pow(2, Double(max(0, tries - 1))))
    }

    /// A try found the server unreachable at `now`: the fields of the line that says an outage
    /// began, or nil when it goes on (or began too soon after the last one logged).
    mutating func failed(_ reason: String, at now: Date) -> [String: String?]? {
        tries += 1
        nextTry = now.addingTimeInterval(wait(afterTries: tries))
        self.reason = reason
        guard since == nil else { return nil }
        since = now
        guard now.timeIntervalSince(loggedAt) >= quiet else {
            logged = false
            unlogged += 1
            return nil
        }
        var fields: [String: String?] = ["reason": reason, "retry_in_s": String(format: "%.0f", wait(afterTries: tries)),
                                         "detail": "no notice's attempt is spent while the mail server cannot be reached; the oldest is tried again with growing waits"]
        if unlogged > 0 { fields["repeated"] = String(unlogged) }
        logged = true
        loggedAt = now
        unlogged = 0
        return fields
    }

    /// The server answered at `now`: the fields of the line that says the outage ended, or nil
    /// when there was none (or its beginning was not logged).
    mutating func answered(at now: Date) -> [String: String?]? {
        guard let began = since else { return nil }
        defer {
            since = nil
            reason = nil
            tries = 0
            nextTry = nil
        }
        guard logged else { return nil }
        return ["duration_s": String(format: "%.0f", now.timeIntervalSince(began)), "tries": String(tries),
                "reason": "the mail server answers again after: \(reason ?? "?")"]
    }
}

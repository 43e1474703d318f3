import Foundation

/// The notice mailer's view of its SMTP server while no notice can be handed to it, for either
/// of two reasons that are the server's or the gateway's, never a notice's:
/// - `unreachable`: no connection, no TLS, no greeting, a 421 before any recipient was named
///   (`SMTPSendError.serverUnreachable`): waiting is the cure. A 421 to RCPT TO or to the message
///   is not among them: servers answer it there to rate-limit one recipient domain, so only that
///   notice waits, spending an attempt like a 451 (`NoticeMailer.record`), and the next goes on;
/// - `refused`: the server answers but refuses this gateway's session, its login, its sender
///   address or its lack of TLS (`SMTPSendError.refusesGateway`): someone must fix the settings
///   or the server.
/// No attempt is spent on either, and instead of trying the next notice (which would meet the
/// same) the mailer waits and tries the oldest due notice again, after `first` seconds (at least
/// `firstRefused` while refused), doubled after each failed try, at most `longest`.
///
/// Why 2 s doubling to 300 s: a relay restart or a failover is over within seconds, and is then
/// noticed at once; a longer outage costs one connect attempt (at most `connectTimeout`, holding
/// the job lock) every 5 minutes, and notices go out at most 5 minutes after the server is back,
/// which is the claim period of a notice and well within any notice's own retry schedule.
/// Why a refusal starts at 60 s: it lasts until someone acts, and a login refused in quick
/// succession is what gets a client's address banned (fail2ban's default is 5 failures in 10
/// minutes; 60 s doubling makes at most 4).
///
/// The beginning and end of an outage are logged once each, and a change of kind within it
/// (a server that comes back refusing us) once per kind. A server that keeps coming and going
/// would still fill the log, so an outage of a kind beginning within `quiet` seconds of the last
/// one of that kind logged is not logged (nor its end); the next one logged says how many were
/// not (`repeated`).
struct SMTPOutage {
    enum Kind: String, Sendable { case unreachable, refused }

    var first: TimeInterval = 2
    var longest: TimeInterval = 300
    var firstRefused: TimeInterval = 60
    var quiet: TimeInterval = 60

    /// When the current outage began; nil while the server answers (or was never tried).
    private(set) var since: Date?
    /// What the last try met, and its reason; nil while the server answers.
    private(set) var kind: Kind?
    private(set) var reason: String?
    /// The kinds met in the current outage.
    private(set) var kinds: Set<Kind> = []
    /// Tries that failed in the current outage, of either kind.
    private(set) var tries = 0
    private(set) var nextTry: Date?
    private var loggedAt: [Kind: Date] = [:]
    /// The kinds whose line was logged in the current outage.
    private var logged: Set<Kind> = []
    private var unlogged: [Kind: Int] = [:]

    init(first: TimeInterval = 2, longest: TimeInterval = 300, firstRefused: TimeInterval = 60, quiet: TimeInterval = 60) {
        self.first = first
        self.longest = longest
        self.firstRefused = firstRefused
        self.quiet = quiet
    }

    /// Whether the mailer may try the server at `now` (always, unless an outage's wait runs).
    func mayTry(at now: Date) -> Bool {
        nextTry.map { now >= $0 } ?? true
    }

    /// The wait after `tries` failed tries, the last of them of `kind`.
    func wait(afterTries tries: Int, kind: Kind = .unreachable) -> TimeInterval {
        let base = kind == .refused ? max(first, firstRefused) : first
        return min(longest, base * pow(2, Double(max(0, tries - 1))))
    }

    /// A try met `kind` at `now`: the fields of the line to log (the outage began, or met this
    /// kind for the first time), or nil when there is nothing new to say.
    mutating func failed(_ reason: String, kind: Kind = .unreachable, at now: Date) -> [String: String?]? {
        tries += 1
        let wait = wait(afterTries: tries, kind: kind)
        nextTry = now.addingTimeInterval(wait)
        self.reason = reason
        self.kind = kind
        let began = since == nil
        let new = kinds.insert(kind).inserted
        if began { since = now }
        // Said once per kind and outage; one not said yet is said once `quiet` has passed.
        guard new || !logged.contains(kind) else { return nil }
        // A kind met again within `quiet` of its last line, at the start of an outage or after
        // a change: a server coming and going. Counted for the next line instead, which comes
        // at the first try after `quiet`, should this outage last: never silent for longer.
        guard now.timeIntervalSince(loggedAt[kind] ?? .distantPast) >= quiet else {
            if new { unlogged[kind, default: 0] += 1 }
            return nil
        }
        var fields: [String: String?] = ["reason": reason, "retry_in_s": String(format: "%.0f", wait),
                                         "detail": kind == .unreachable
                                             ? "no notice's attempt is spent while the mail server cannot be reached; the oldest is tried again with growing waits"
                                             : "the mail server refuses this gateway, not a notice: no notice's attempt is spent; fix the notices settings "
                                                 + "(username, passwordFile, from, startTLS) or the server's; the oldest is tried again with growing waits, "
                                                 + "the password file read again each time"]
        if !began, let other = kinds.subtracting([kind]).first { fields["after"] = other.rawValue }
        if let n = unlogged[kind], n > 0 { fields["repeated"] = String(n) }
        if !new, let since { fields["lasting_s"] = String(format: "%.0f", now.timeIntervalSince(since)) }
        logged.insert(kind)
        loggedAt[kind] = now
        unlogged[kind] = 0
        return fields
    }

    /// The server took a notice or answered about one at `now`: the fields of the line that says
    /// the outage ended, or nil when there was none (or none of its lines was logged).
    mutating func answered(at now: Date) -> [String: String?]? {
        guard let began = since else { return nil }
        defer {
            since = nil
            kind = nil
            reason = nil
            kinds = []
            logged = []
            tries = 0
            nextTry = nil
        }
        guard !logged.isEmpty else { return nil }
        let after = kind == .refused ? "the mail server accepts this gateway again after: " : "the mail server answers again after: "
        return ["duration_s": String(format: "%.0f", now.timeIntervalSince(began)), "tries": String(tries),
                "reason": after + (reason ?? "?")]
    }
}

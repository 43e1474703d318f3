import EnvelopeXML
import MessageStore

/// Why one delivery attempt ended without a valid receipt, as the queue records it.
///
/// What the receiving side *answered* (an ebMS error signal, a SOAP Fault, an HTTP refusal such
/// as 413) is the reason its DMS needs; a connection that broke on a later attempt is not. So a
/// failure without an answer keeps the last answer in its reason ("…; last answer: HTTP 413:
/// …"), which then reaches the recipient's status while the retries go on and the final Failed
/// when they run out. The retries themselves stay as the agreement configures them: a refusal
/// may be passing (a mailbox freed, a limit raised), and issue 4's "Failed after the configured
/// retries" holds for every peer answer.
struct AttemptFailure: Error {
    var code: String
    var reason: String
    /// The receiving side answered: an ebMS error or Fault, or a definite HTTP status. Not a
    /// connection, TLS or timeout failure, a temporary HTTP status, or our verdict on a receipt.
    var isPeerAnswer: Bool
    /// The ebMS error, for the metrics (an invalid receipt is counted there).
    var ebms: EbmsError?
    /// No further attempt can change the outcome (`receiptLostCode`): the message fails now,
    /// whatever retries the agreement has left.
    var endsDelivery = false

    static let lastAnswerMarker = "; last answer: "

    /// HTTP statuses that say "not now" rather than "not this": retried like a broken connection.
    /// 507 is the receiver's disk full for the moment (as4gw's own submission endpoint answers it
    /// with `Retry-After`), not a verdict on the message.
    static let temporaryStatuses: Set<Int> = [408, 425, 429, 500, 502, 503, 504, 507]

    init(_ error: EbmsError) {
        self.init(code: error.code.rawValue, reason: error.reason, isPeerAnswer: Self.isPeerAnswer(code: error.code.rawValue), ebms: error)
    }

    /// An HTTP answer without an AS4 signal: a definite 4xx/5xx is recorded as what it is
    /// ("HTTP 413"), anything else as the connection failure it amounts to, a temporary status
    /// worded as such (it is no refusal of the message). `answer` says what came instead
    /// (`describe`), in parentheses after the status.
    init(httpStatus status: Int, answer: String? = nil) {
        let shown = answer.map { " (\($0))" } ?? ""
        guard (400...599).contains(status), !Self.temporaryStatuses.contains(status) else {
            let temporary = Self.temporaryStatuses.contains(status) ? "the receiving side could not take the message for now: " : ""
            self.init(EbmsError(.connectionFailure, "\(temporary)HTTP \(status) without an AS4 signal\(shown)"))
            return
        }
        self.init(code: "HTTP \(status)", reason: status == 413
                      ? "the receiving gateway refused the message's size (HTTP 413 Content Too Large)"
                      : "the receiving gateway refused the message with HTTP \(status) and no AS4 signal\(shown)",
                  isPeerAnswer: true, ebms: nil)
    }

    /// What answered in place of an AS4 signal, for an operator to tell a proxy's or web
    /// server's page from the partner's gateway: its media type and size, and the title of an
    /// HTML page or the first line of plain text (their own words about the failure), at most
    /// `shownCharacters` of it. Nothing else of the body.
    static func describe(contentType: String?, body: [UInt8]) -> String {
        guard !body.isEmpty else { return "no body" }
        let type = contentType.flatMap { $0.split(separator: ";").first }.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        let about = (type.isEmpty ? "no media type" : type) + ", \(body.count) bytes"
        let text = String(decoding: body.prefix(16_384), as: UTF8.self)
        if type == "text/html" || type == "application/xhtml+xml", let title = title(in: text) { return about + ", title \"\(title)\"" }
        if type == "text/plain", let line = text.split(whereSeparator: \.isNewline).first.map(shown), !line.isEmpty {
            return about + ": \"\(line)\""
        }
        return about
    }

    static let shownCharacters = 120

    private static func title(in html: String) -> String? {
        guard let open = html.range(of: "<title", options: .caseInsensitive),
              let start = html[open.upperBound...].firstIndex(of: ">"),
              let close = html.range(of: "</title", options: .caseInsensitive, range: html.index(after: start)..<html.endIndex) else { return nil }
        let title = shown(html[html.index(after: start)..<close.lowerBound])
        return title.isEmpty ? nil : title
    }

    /// Whitespace runs as one space, cut to `shownCharacters`.
    private static func shown(_ text: Substring) -> String {
        let words = text.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        return words.count > shownCharacters ? words.prefix(shownCharacters) + "…" : words
    }

    init(code: String, reason: String, isPeerAnswer: Bool, ebms: EbmsError?, endsDelivery: Bool = false) {
        self.code = code
        self.reason = reason
        self.isPeerAnswer = isPeerAnswer
        self.ebms = ebms
        self.endsDelivery = endsDelivery
    }

    /// Codes the receiving side gave: its ebMS errors (its own codes too, `PeerErrorCode`),
    /// definite HTTP statuses, and its report that it holds the message already. Ours are a
    /// failed connection (0005), a missing (0301) or invalid (0302) receipt, and the words the
    /// queue records itself, lower case with hyphens (`local-storage`, `deadline`, `withdrawn`);
    /// a peer's code never has that shape (`PeerErrorCode` records one as EBMS:0004).
    static func isPeerAnswer(code: String) -> Bool {
        if code.hasPrefix("HTTP ") || code == receiptLostCode { return true }
        if [EbmsError.Code.connectionFailure, .missingReceipt, .invalidReceipt].map(\.rawValue).contains(code) { return false }
        return !code.isEmpty && !PeerErrorCode.hasOurShape(code)
    }

    /// The receiving side's last answer that `recorded` holds ("HTTP 413: …"), if any.
    static func lastAnswer(in recorded: DeliveryError?) -> String? {
        guard let recorded else { return nil }
        if isPeerAnswer(code: recorded.code) { return "\(recorded.code): \(recorded.reason)" }
        guard let marker = recorded.reason.range(of: lastAnswerMarker) else { return nil }
        return String(recorded.reason[marker.upperBound...])
    }

    /// What a retry records; `previous` is the message's last error before this attempt.
    func retryError(after previous: DeliveryError?) -> DeliveryError {
        guard !isPeerAnswer, let answer = Self.lastAnswer(in: previous) else { return DeliveryError(code: code, reason: reason) }
        return DeliveryError(code: code, reason: reason + Self.lastAnswerMarker + answer)
    }

    /// What the message fails with after its last attempt (or one that `endsDelivery`): the
    /// answer itself, or EBMS:0301 with this attempt's failure and the last answer before it.
    func finalError(attempts: Int, after previous: DeliveryError?) -> DeliveryError {
        if isPeerAnswer { return DeliveryError(code: code, reason: reason) }
        let answer = Self.lastAnswer(in: previous).map { Self.lastAnswerMarker + $0 } ?? ""
        return DeliveryError(code: EbmsError.Code.missingReceipt.rawValue, reason: "no valid receipt after \(attempts) attempts: \(reason)\(answer)")
    }
}

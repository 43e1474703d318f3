import CCurl
#if canImport(Glibc)
import Glibc
#endif

/// Where and how e-mail leaves: an SMTP server reached through libcurl.
public struct SMTPConfiguration: Sendable, Equatable {
    /// `smtp://host[:port]` (STARTTLS per `startTLS`) or `smtps://host[:port]` (TLS from the start).
    public var url: String
    /// The envelope sender (MAIL FROM), a bare address.
    public var from: String
    public var username: String?
    public var password: String?
    /// With `smtp://`: `required` refuses to send without STARTTLS, `optional` uses it when
    /// offered, `off` never asks (a relay on loopback).
    public var startTLS: StartTLS = .required
    /// PEM bundle of the CAs that may issue the server's certificate; nil: the system store.
    public var trustedCAFile: String?
    public var connectTimeout: Double = 10
    public var totalTimeout: Double = 60

    public enum StartTLS: String, Sendable, CaseIterable { case required, optional, off }

    public init(url: String, from: String) {
        self.url = url
        self.from = from
    }
}

/// Why a message was not handed over, and whose failure it is: the server's (`serverUnreachable`),
/// this gateway's (`refusesGateway`), or this message's (the rest; `permanent` among them when
/// sending it again gives the same answer).
public struct SMTPSendError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The server's last reply code, 0 when there was none (no connection, TLS failure, timeout).
    public var replyCode: Int
    public var detail: String
    /// `curl_easy_perform`'s result, 0 for a failure before the transfer (a bad recipient, a
    /// curl option that would not set).
    public var curlCode: Int = 0
    /// The text of the server's refusal that carried `replyCode` (after the code; the lines of a
    /// multiline reply joined by spaces), empty when none was seen.
    public var serverReply: String = ""
    /// The server refused this recipient for good (5xx to RCPT TO): sending again gives the same.
    public var permanent: Bool { (500...599).contains(replyCode) && detail.contains("RCPT") }

    /// No usable mail server was there: the failure says nothing of this message or recipient,
    /// and the next message would meet the same. The split, and why:
    /// - unreachable: the name did not resolve, the connection was refused or timed out, the TLS
    ///   handshake failed or the certificate did not verify (or STARTTLS was required and not
    ///   offered), whatever the server had answered before (a handshake follows the greeting and
    ///   the STARTTLS reply); a connection that was cut, answered nothing or timed out before the
    ///   server's first reply (a balancer with no server behind it); and a 421 before any
    ///   recipient was named (the greeting, EHLO, AUTH, MAIL FROM), which RFC 5321 reserves for a
    ///   server closing its service to everyone.
    /// - not unreachable: any other reply code, 4xx (this recipient or message for now) or 5xx,
    ///   and a connection cut or timed out after the server had answered (mid-transaction: the
    ///   server may have judged this message; such a failure stays one of its attempts). A 421
    ///   to RCPT TO, DATA or the message itself is among them (`atRecipientOrMessage`): servers
    ///   answer it there to rate-limit one recipient domain, and the next notice, to another
    ///   domain, may well be taken, so it is this message's temporary failure, like a 451.
    public var serverUnreachable: Bool {
        if replyCode == 421 { return !atRecipientOrMessage }
        switch curlCode {
        case Self.code(CURLE_COULDNT_RESOLVE_HOST), Self.code(CURLE_COULDNT_RESOLVE_PROXY), Self.code(CURLE_COULDNT_CONNECT),
             Self.code(CURLE_SSL_CONNECT_ERROR), Self.code(CURLE_PEER_FAILED_VERIFICATION), Self.code(CURLE_SSL_CACERT_BADFILE),
             Self.code(CURLE_USE_SSL_FAILED):
            return true
        case Self.code(CURLE_OPERATION_TIMEDOUT), Self.code(CURLE_GOT_NOTHING), Self.code(CURLE_RECV_ERROR), Self.code(CURLE_SEND_ERROR),
             Self.code(CURLE_WEIRD_SERVER_REPLY):
            return replyCode == 0
        default:
            return false
        }
    }

    /// The server's reply was to this recipient (RCPT TO) or this message (DATA, or the reply
    /// after its text), by what curl reports: "RCPT failed" and "DATA failed" with
    /// `CURLE_SEND_ERROR`, and the final reply as `CURLE_WEIRD_SERVER_REPLY` without the greeting's
    /// "unexpected smtp-server response".
    public var atRecipientOrMessage: Bool {
        switch curlCode {
        case Self.code(CURLE_SEND_ERROR):
            return detail.contains("RCPT failed") || detail.contains("DATA failed")
        case Self.code(CURLE_WEIRD_SERVER_REPLY):
            return replyCode != 0 && !detail.contains("unexpected smtp-server response")
        default:
            return false
        }
    }

    /// The server answered, and refused this gateway's session before any recipient was named:
    /// the same answer awaits every message until the settings (login, sender address, TLS) or
    /// the server change, so no message is at fault. What curl reports, by the command refused:
    /// - the greeting: a 4xx or 5xx instead of 220 (RFC 5321 4.3.2: 554 "no SMTP service here";
    ///   421 is unreachable above) — `CURLE_WEIRD_SERVER_REPLY`, "Got unexpected smtp-server
    ///   response";
    /// - EHLO refused (and HELO, where curl falls back to it) — `CURLE_REMOTE_ACCESS_DENIED`;
    /// - AUTH (RFC 4954 6: 535 credentials invalid, 534 mechanism too weak, 538 encryption
    ///   required, 530 authentication or STARTTLS required, 454 temporary failure, 432 password
    ///   transition), or no mechanism both sides know — `CURLE_LOGIN_DENIED`, whatever the code;
    /// - MAIL FROM, any 4xx or 5xx: its only argument is the configured sender address (and a
    ///   SIZE that every notice shares within a few bytes); 530 there is RFC 3207's "must issue a
    ///   STARTTLS command first" or a login the server wants — `CURLE_SEND_ERROR`, "MAIL failed".
    /// Not the gateway's: RCPT TO (this recipient) and DATA or the message's final reply (this
    /// message), which are "RCPT failed", "DATA failed" and a reply after the message.
    public var refusesGateway: Bool {
        guard !serverUnreachable else { return false }
        switch curlCode {
        case Self.code(CURLE_LOGIN_DENIED), Self.code(CURLE_REMOTE_ACCESS_DENIED):
            return true
        case Self.code(CURLE_WEIRD_SERVER_REPLY):
            return (400...599).contains(replyCode) && detail.contains("unexpected smtp-server response")
        case Self.code(CURLE_SEND_ERROR):
            return (400...599).contains(replyCode) && detail.contains("MAIL failed")
        default:
            return false
        }
    }

    /// Without the server's text, which may quote the recipient's e-mail address: fit for the log.
    public var description: String { replyCode == 0 ? detail : "SMTP \(replyCode): \(detail)" }

    /// With the server's text, for whoever may see the recipient's address (a notice's `lastError`).
    public var descriptionWithReply: String {
        serverReply.isEmpty ? description : "\(description); the server said: \(replyCode) \(serverReply)"
    }

    public init(replyCode: Int, detail: String, curlCode: Int = 0, serverReply: String = "") {
        self.replyCode = replyCode
        self.detail = detail
        self.curlCode = curlCode
        self.serverReply = serverReply
    }

    static func code(_ code: CURLcode) -> Int { Int(code.rawValue) }

    /// The text of the last reply with `code` among the server's `lines` (a multiline reply's
    /// lines, `code-text` … `code text`, joined), at most 300 characters; empty when none, and
    /// for a code that refuses nothing (a login curl gave up after the server's 250 to EHLO).
    /// Replies after it (221 to the QUIT curl sends when it closes a failed connection) are passed over.
    static func reply(_ code: Int, in lines: [String]) -> String {
        guard (400...599).contains(code), let last = lines.lastIndex(where: { $0.hasPrefix("\(code) ") || $0 == "\(code)" }) else { return "" }
        var first = last
        while first > lines.startIndex, lines[first - 1].hasPrefix("\(code)-") { first -= 1 }
        let text = lines[first...last].map { String($0.dropFirst(4)).trimmingOptionalWhitespace() }.filter { !$0.isEmpty }.joined(separator: " ")
        return String(text.unicodeScalars.filter { $0.value >= 0x20 && $0.value != 0x7F }.prefix(300).map(Character.init))
    }
}

/// Sends one e-mail per call over its own curl easy handle (connections are reused between
/// calls to the same server). Not `Sendable`: one sender per thread, like `HTTPClient`.
public final class SMTPSender {
    public let configuration: SMTPConfiguration
    private let handle: UnsafeMutableRawPointer
    /// `CURLOPT_ERRORBUFFER`: curl writes into it during perform, so it lives as long as the handle.
    private let errorBuffer: UnsafeMutablePointer<CChar>

    public init(configuration: SMTPConfiguration) throws(HTTPClientError) {
        try ensureCurlGlobalInit()
        guard configuration.url.hasPrefix("smtp://") || configuration.url.hasPrefix("smtps://") else {
            throw .other("SMTP URL \(configuration.url) must start with smtp:// or smtps://")
        }
        guard Self.isBareAddress(configuration.from) else { throw .other("SMTP sender \(configuration.from) is not a bare e-mail address") }
        guard let handle = curl_easy_init() else { throw .other("curl_easy_init failed") }
        self.configuration = configuration
        self.handle = handle
        errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE))
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE))
        try configure()
    }

    deinit {
        curl_easy_cleanup(handle)
        errorBuffer.deallocate()
    }

    private func configure() throws(HTTPClientError) {
        let options = CurlOptions(handle: handle)
        let c = configuration
        try options.set(CURLOPT_ERRORBUFFER, pointer: UnsafeMutableRawPointer(errorBuffer))
        try options.installCallbacks()
        try options.set(CURLOPT_NOSIGNAL, 1)
        try options.set(CURLOPT_PROTOCOLS_STR, "smtp,smtps")
        try options.set(CURLOPT_CONNECTTIMEOUT_MS, Int(c.connectTimeout * 1000))
        try options.set(CURLOPT_TIMEOUT_MS, Int(c.totalTimeout * 1000))
        try options.set(CURLOPT_PROXY, "")
        try options.set(CURLOPT_URL, c.url)
        try options.set(CURLOPT_MAIL_FROM, "<\(c.from)>")
        try options.set(CURLOPT_UPLOAD, 1)
        if c.url.hasPrefix("smtp://") {
            let level: curl_usessl = switch c.startTLS {
            case .required: CURLUSESSL_ALL
            case .optional: CURLUSESSL_TRY
            case .off: CURLUSESSL_NONE
            }
            try options.set(CURLOPT_USE_SSL, Int(level.rawValue))
        }
        try options.set(CURLOPT_SSLVERSION, Int(CURL_SSLVERSION_TLSv1_2))
        if let ca = c.trustedCAFile {
            try options.set(CURLOPT_CAINFO, ca)
            try options.set(CURLOPT_CAPATH, nil as String?)
        }
        if let user = c.username { try options.set(CURLOPT_USERNAME, user) }
        if let password = c.password { try options.set(CURLOPT_PASSWORD, password) }
    }

    /// Hands `message` (a complete RFC 5322 message, CRLF line ends) to the server for `recipient`.
    public func send(_ message: [UInt8], to recipient: String) throws(SMTPSendError) {
        guard Self.isBareAddress(recipient) else { throw SMTPSendError(replyCode: 553, detail: "RCPT TO not sent: \(recipient) is not an e-mail address") }
        let options = CurlOptions(handle: handle)
        guard let rcpt = curl_slist_append(nil, "<\(recipient)>") else { throw SMTPSendError(replyCode: 0, detail: "curl_slist_append failed") }
        defer { curl_slist_free_all(rcpt) }
        let body: RequestBodyReader
        do { body = try RequestBodyReader(.bytes(message)) } catch { throw SMTPSendError(replyCode: 0, detail: "\(error)") }
        let state = TransferState(maxBodyBytes: 1 << 16, requestBody: body, keepsLines: true)
        defer {
            _ = try? options.set(CURLOPT_MAIL_RCPT, list: nil)
            for option in [CURLOPT_WRITEDATA, CURLOPT_HEADERDATA, CURLOPT_READDATA, CURLOPT_SEEKDATA] { _ = try? options.set(option, pointer: nil) }
        }
        do {
            try options.set(CURLOPT_MAIL_RCPT, list: rcpt)
            try options.set(CURLOPT_INFILESIZE_LARGE, offset: body.length)
            try options.set(CURLOPT_WRITEDATA, pointer: state.context)
            try options.set(CURLOPT_HEADERDATA, pointer: state.context)
            try options.set(CURLOPT_READDATA, pointer: state.context)
            try options.set(CURLOPT_SEEKDATA, pointer: state.context)
        } catch {
            throw SMTPSendError(replyCode: 0, detail: "\(error)")
        }
        errorBuffer[0] = 0
        let code = withExtendedLifetime((state, rcpt)) { curl_easy_perform(handle) }
        guard code == CURLE_OK else {
            // The last reply the server gave (0 when it never answered) decides retry or not.
            let reply = options.long(CURLINFO_RESPONSE_CODE)
            throw SMTPSendError(replyCode: reply, detail: HTTPClientError.message(code: code, detail: String(cString: errorBuffer)),
                                curlCode: SMTPSendError.code(code), serverReply: SMTPSendError.reply(reply, in: state.recentLines))
        }
    }

    /// `local@domain` without spaces, angle brackets or line breaks (nothing to inject into the
    /// SMTP commands); the server judges the rest.
    public static func isBareAddress(_ text: String) -> Bool {
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[1].contains("."), text.utf8.count <= 254 else { return false }
        return !text.utf8.contains { $0 <= 0x20 || $0 == 0x7F || $0 == UInt8(ascii: "<") || $0 == UInt8(ascii: ">") || $0 == UInt8(ascii: ",") }
    }
}

@available(*, unavailable, message: "SMTPSender owns a curl easy handle: use one per thread")
extension SMTPSender: Sendable {}

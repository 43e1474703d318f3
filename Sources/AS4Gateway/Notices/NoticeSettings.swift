import Foundation
import HTTPClient

/// The `notices` block of the configuration: the SMTP server that e-mails people and companies
/// when a message reaches their mailbox, and how hard to try. Absent: no e-mail notices (the
/// start-up log says so).
struct NoticeSettings: Codable, Sendable, Equatable {
    /// `smtp://host[:port]` or `smtps://host[:port]`.
    var smtp: String
    /// The sender address of the notices (envelope and From:).
    var from: String
    var startTLS: String = SMTPConfiguration.StartTLS.required.rawValue
    var username: String?
    /// A file holding the SMTP password (kept out of the configuration file).
    var passwordFile: String?
    /// PEM bundle of the CAs for the SMTP server's certificate; absent: the system's.
    var caFile: String?
    /// Attempts before a notice is given up as failed (a 5xx refusal fails it at once).
    var maxAttempts: Int = 8
    /// Wait before the second attempt; doubled for each further one, at most `maxRetrySeconds`.
    var retrySeconds: Double = 30
    var maxRetrySeconds: Double = 3600
    /// The web address people are pointed to, named in the notice's text.
    var portalURL: String = "https://latvija.gov.lv"

    enum CodingKeys: String, CodingKey, CaseIterable { case smtp, from, startTLS, username, passwordFile, caFile, maxAttempts, retrySeconds, maxRetrySeconds, portalURL }

    init(smtp: String, from: String) {
        self.smtp = smtp
        self.from = from
    }

    init(from decoder: Decoder) throws {
        try decoder.refuseUnknownSettings(CodingKeys.allCases.map(\.rawValue))
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = NoticeSettings(smtp: "", from: "")
        smtp = try c.decode(String.self, forKey: .smtp)
        from = try c.decode(String.self, forKey: .from)
        startTLS = try c.decodeIfPresent(String.self, forKey: .startTLS) ?? d.startTLS
        username = try c.decodeIfPresent(String.self, forKey: .username)
        passwordFile = try c.decodeIfPresent(String.self, forKey: .passwordFile)
        caFile = try c.decodeIfPresent(String.self, forKey: .caFile)
        maxAttempts = try c.wholeNumber(Int.self, forKey: .maxAttempts) ?? d.maxAttempts
        retrySeconds = try c.decodeIfPresent(Double.self, forKey: .retrySeconds) ?? d.retrySeconds
        maxRetrySeconds = try c.decodeIfPresent(Double.self, forKey: .maxRetrySeconds) ?? d.maxRetrySeconds
        portalURL = try c.decodeIfPresent(String.self, forKey: .portalURL) ?? d.portalURL
    }

    /// Every problem of the block, for `serve` and `--check-config`.
    var problems: [String] {
        var p: [String] = []
        if !(smtp.hasPrefix("smtp://") || smtp.hasPrefix("smtps://")) { p.append("notices.smtp \(smtp): expected smtp://host[:port] or smtps://host[:port]") }
        if !SMTPSender.isBareAddress(from) { p.append("notices.from \(from): not an e-mail address") }
        if SMTPConfiguration.StartTLS(rawValue: startTLS) == nil { p.append("notices.startTLS \(startTLS): expected required, optional or off") }
        if maxAttempts < 1 { p.append("notices.maxAttempts must be at least 1") }
        if !(retrySeconds > 0) || maxRetrySeconds < retrySeconds { p.append("notices.retrySeconds must be > 0 and at most maxRetrySeconds") }
        if let file = passwordFile, !FileManager.default.isReadableFile(atPath: file) { p.append("notices.passwordFile \(file) is not readable") }
        return p
    }

    /// The libcurl side of the settings (reads the password file).
    func smtpConfiguration() throws -> SMTPConfiguration {
        var c = SMTPConfiguration(url: smtp, from: from)
        c.startTLS = SMTPConfiguration.StartTLS(rawValue: startTLS) ?? .required
        c.username = username
        if let file = passwordFile {
            c.password = try String(contentsOfFile: file, encoding: .utf8).trimmingCharacters(in: .newlines)
        }
        c.trustedCAFile = caFile
        return c
    }

    /// Delay before attempt `attempt + 1`, after `attempt` failed ones (1-based).
    func delay(afterAttempts attempt: Int) -> Double {
        min(maxRetrySeconds, retrySeconds * pow(2, Double(max(0, attempt - 1))))
    }
}

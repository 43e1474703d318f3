import Foundation
import MessageStore
import HTTPServer
import Routing

/// The daemon's configuration file (JSON). Every setting has a safe default, so `as4gw serve`
/// with no file runs the embedded development setup: SQLite under ./data, the sample P-Modes in
/// ./pmode, and a development PKI generated on first start. See examples/gateway.json.
struct GatewayConfiguration: Codable, Sendable {
    /// Which party of the P-Mode set this gateway is (its name in parties.json).
    var party: String = "gw-a"
    var dataDirectory: String = "./data"
    var pmodeDirectory: String = "./pmode"
    /// `sqlite:PATH` or `postgres://user@host:port/database`; nil: SQLite in `dataDirectory`.
    var store: String?
    /// PostgreSQL store only: payload and message files, shared by every node; nil: under `dataDirectory`.
    var payloadDirectory: String?
    var as4Listener: Listener = Listener(address: "127.0.0.1", port: 8443, path: "/as4", tls: nil)
    /// The backend REST API (`/api/v1`, HTTPS and mTLS as for the AS4 listener); `path` is the
    /// operators' JSON submission endpoint of `as4gw send`, answered to loopback peers only.
    /// `submissionListener` is read as its older name.
    var apiListener: Listener = Listener(address: "127.0.0.1", port: 8080, path: "/submit", tls: nil)
    /// Plain-HTTP /metrics, /healthz and /readyz; nil (JSON null) turns it off.
    var adminListener: AdminListener? = AdminListener(address: "127.0.0.1", port: 9090)
    /// Our keys. When absent the development PKI provides them (and says so in the log).
    var keys: Keys?
    /// Trust anchors (PEM files or folders) for partner signatures and TLS client certificates.
    var truststore: [String] = []
    var crls: [String] = []
    var logFormat: String = "logfmt"
    var logLevel: String = "info"
    var maxMessageBytes: UInt64 = 200 << 20
    var outboundWorkers: Int = 2
    var pollIntervalSeconds: Double = 0.5
    var connectTimeoutSeconds: Double = 10
    var requestTimeoutSeconds: Double = 120
    /// Seconds between rounds of PullRequests on the MPCs we pull from.
    var pullIntervalSeconds: Double = 1
    /// How long a message stays claimed by a worker before another may take it over.
    var leaseSeconds: Double = 300
    /// Seconds SIGTERM waits for in-flight work.
    var shutdownGraceSeconds: Double = 20
    /// Generate missing certificates and keys for every party of the P-Mode set (development only).
    var developmentPKI: Bool = true
    /// E-mail notices of mailbox arrivals (docs/NOTICES.md); nil: none are sent.
    var notices: NoticeSettings?
    /// How long documents are archived, and how often the purge runs (docs/RETENTION.md).
    var retention = RetentionConfiguration()
    /// The operator's holiday calendar (docs/EVIDENCE.md), read at start and on SIGHUP; nil: the statutory rules only.
    var holidayCalendar: String?
    /// Self-service access points (docs/SELF-SERVICE.md); nil: registered access points get no
    /// P-Modes (DMS registrations need nothing here).
    var selfService: SelfServiceSettings?

    struct SelfServiceSettings: Codable, Sendable {
        /// The P-Mode party whose P-Modes with us an approved access point's P-Modes copy.
        var template: String?
        /// PEM files or folders: when given, a registering company's certificate must also chain
        /// to one of these (e.g. the qualified CAs that issue organisation certificates), not
        /// only to `truststore`.
        var registrationTrust: [String]?

        private enum CodingKeys: String, CodingKey, CaseIterable { case template, registrationTrust }

        init(from decoder: Decoder) throws {
            try decoder.refuseUnknownSettings(CodingKeys.allCases.map(\.rawValue))
            let c = try decoder.container(keyedBy: CodingKeys.self)
            template = try c.nonEmptyString(forKey: .template)
            registrationTrust = try c.decodeIfPresent([String].self, forKey: .registrationTrust)
        }
    }
    /// Who may write to whom beyond the e-address law (docs/CONFIG.md); the law alone by default.
    var messagingPolicy = MessagingPolicy()
    /// Refuse documents arriving by AS4 from sender addresses the directory does not list (a hub
    /// that lists every address); by default such senders are taken on the access point's word.
    var refuseUnlistedSenders = false

    struct Listener: Codable, Sendable {
        var address: String
        var port: UInt16
        var path: String
        var tls: TLS?
        /// Connection limits (docs/CONFIG.md); nil keeps the HTTP server's default.
        var maxConnections: Int?
        /// 0: no per-client limit (behind a reverse proxy every client has the proxy's address).
        var maxConnectionsPerClient: Int?
        var idleTimeoutSeconds: Int?
        var requestHeadTimeoutSeconds: Double?
        /// The floor under a body's average arrival rate after `bodyGraceSeconds` (0: none).
        var minimumBodyBytesPerSecond: Int?
        var bodyGraceSeconds: Double?
        /// Requests handled at once: each pool thread serves its connections one request at a
        /// time, and a request blocks its thread while the store syncs.
        var threads: Int?
    }

    struct AdminListener: Codable, Sendable {
        var address: String
        var port: UInt16
        /// How long the mailbox worker may keep failing before `/readyz` says not ready.
        var mailboxWorkerFailingSeconds: Double = 60
        /// Free bytes each directory the daemon writes to must keep for `/readyz` (0: not checked).
        var minimumFreeBytes: UInt64 = DiskSpace.reserve

        init(address: String, port: UInt16) {
            self.address = address
            self.port = port
        }
    }

    struct TLS: Codable, Sendable {
        var certificate: String
        var key: String
        var clientAuthentication: ClientAuthentication = .none
    }

    /// Whether TLS clients must present a certificate. An enum, not a string: an unknown word
    /// (`"require"`) once fell through to no client-certificate check at all.
    enum ClientAuthentication: String, Codable, Sendable, CaseIterable {
        case none, optional, required
    }

    struct Keys: Codable, Sendable {
        var signingKey: String
        var signingCertificate: String
        var encryptionKey: String
        var encryptionCertificate: String
        /// Client certificate and key for outbound mTLS (optional).
        var tlsClientCertificate: String?
        var tlsClientKey: String?
        /// More signing and encryption keys, for partners on another security profile (RSA
        /// for 1.15 beside Ed25519/X25519 for 2.0): each leg signs with a key its profile suits.
        var additional: [Identity] = []

        struct Identity: Codable, Sendable {
            var signingKey: String
            var signingCertificate: String
            var encryptionKey: String
            var encryptionCertificate: String
        }
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case party, dataDirectory, pmodeDirectory, store, payloadDirectory, as4Listener, apiListener, adminListener, keys, truststore, crls
        case logFormat, logLevel, maxMessageBytes, outboundWorkers, pollIntervalSeconds, connectTimeoutSeconds
        case requestTimeoutSeconds, pullIntervalSeconds, leaseSeconds, shutdownGraceSeconds, developmentPKI, retention, holidayCalendar
        case notices, selfService, messagingPolicy, refuseUnlistedSenders
    }

    private enum LegacyKeys: String, CodingKey { case submissionListener }

    init() {}

    init(from decoder: Decoder) throws {
        try decoder.refuseUnknownSettings(CodingKeys.allCases.map(\.rawValue) + [LegacyKeys.submissionListener.rawValue])
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = GatewayConfiguration()
        party = try c.nonEmptyString(forKey: .party) ?? d.party
        // An empty path would be taken relative to the file's folder: the folder itself.
        dataDirectory = try c.nonEmptyString(forKey: .dataDirectory) ?? d.dataDirectory
        pmodeDirectory = try c.nonEmptyString(forKey: .pmodeDirectory) ?? d.pmodeDirectory
        store = try c.nonEmptyString(forKey: .store, "must not be empty (null: SQLite in dataDirectory)")
        payloadDirectory = try c.nonEmptyString(forKey: .payloadDirectory, "must not be empty (null: dataDirectory/payloads)")
        as4Listener = try c.decodeIfPresent(Listener.self, forKey: .as4Listener) ?? d.as4Listener
        let legacy = try decoder.container(keyedBy: LegacyKeys.self)
        apiListener = try c.decodeIfPresent(Listener.self, forKey: .apiListener)
            ?? legacy.decodeIfPresent(Listener.self, forKey: .submissionListener) ?? d.apiListener
        // Absent keeps the default listener; an explicit null switches it off.
        if c.contains(.adminListener) {
            adminListener = try c.decodeNil(forKey: .adminListener) ? nil : try c.decode(AdminListener.self, forKey: .adminListener)
        }
        keys = try c.decodeIfPresent(Keys.self, forKey: .keys)
        truststore = try c.decodeIfPresent([String].self, forKey: .truststore) ?? []
        crls = try c.decodeIfPresent([String].self, forKey: .crls) ?? []
        // The CLI refuses unknown --log-format and --log-level words; the file does too rather than
        // falling back silently to a format or level the operator did not ask for.
        logFormat = try c.oneOf(EventLog.Format.self, forKey: .logFormat)?.rawValue ?? d.logFormat
        logLevel = try c.decodeIfPresent(String.self, forKey: .logLevel) ?? d.logLevel
        if EventLog.Level(name: logLevel) == nil {
            throw ConfigurationDecoding.SettingError([CodingKeys.logLevel], "\(logLevel) is not one of \(EventLog.Level.names)")
        }
        maxMessageBytes = try c.wholeNumber(UInt64.self, forKey: .maxMessageBytes) ?? d.maxMessageBytes
        outboundWorkers = try c.wholeNumber(Int.self, forKey: .outboundWorkers) ?? d.outboundWorkers
        pollIntervalSeconds = try c.decodeIfPresent(Double.self, forKey: .pollIntervalSeconds) ?? d.pollIntervalSeconds
        connectTimeoutSeconds = try c.decodeIfPresent(Double.self, forKey: .connectTimeoutSeconds) ?? d.connectTimeoutSeconds
        requestTimeoutSeconds = try c.decodeIfPresent(Double.self, forKey: .requestTimeoutSeconds) ?? d.requestTimeoutSeconds
        pullIntervalSeconds = try c.decodeIfPresent(Double.self, forKey: .pullIntervalSeconds) ?? d.pullIntervalSeconds
        leaseSeconds = try c.decodeIfPresent(Double.self, forKey: .leaseSeconds) ?? d.leaseSeconds
        shutdownGraceSeconds = try c.decodeIfPresent(Double.self, forKey: .shutdownGraceSeconds) ?? d.shutdownGraceSeconds
        developmentPKI = try c.decodeIfPresent(Bool.self, forKey: .developmentPKI) ?? (keys == nil)
        notices = try c.decodeIfPresent(NoticeSettings.self, forKey: .notices)
        retention = try c.decodeIfPresent(RetentionConfiguration.self, forKey: .retention) ?? d.retention
        holidayCalendar = try c.nonEmptyString(forKey: .holidayCalendar)
        selfService = try c.decodeIfPresent(SelfServiceSettings.self, forKey: .selfService)
        messagingPolicy = try c.decodeIfPresent(MessagingPolicy.self, forKey: .messagingPolicy) ?? d.messagingPolicy
        refuseUnlistedSenders = try c.decodeIfPresent(Bool.self, forKey: .refuseUnlistedSenders) ?? d.refuseUnlistedSenders
    }

    struct ConfigError: Error, CustomStringConvertible { var description: String }

    /// The numbers `serve` accepts. docs/config.schema.json states the same bounds as
    /// `minimum`/`maximum` (ConfigurationLimitsTests compares them), so an editor checking the
    /// file against the schema refuses what the daemon refuses.
    struct Limit: Sendable {
        var name: String
        var range: ClosedRange<Double>
        var why: String
        var integer = false
    }

    /// A listener's highest body floor (1 GiB/s): above any link, so a larger value is a typo.
    static let minimumBodyBytesPerSecondLimit = 1 << 30

    static let limits: [Limit] = [
        Limit(name: "connectTimeoutSeconds", range: 0.001...3600, why: "seconds"),
        Limit(name: "requestTimeoutSeconds", range: 0.001...86_400, why: "seconds"),
        Limit(name: "pollIntervalSeconds", range: 0.01...3600, why: "seconds (shorter only spins the workers)"),
        Limit(name: "pullIntervalSeconds", range: 0.01...86_400, why: "seconds"),
        Limit(name: "leaseSeconds", range: 0.001...(30 * 86_400), why: "seconds"),
        Limit(name: "shutdownGraceSeconds", range: 0...3600, why: "seconds"),
        Limit(name: "outboundWorkers", range: 1...256, why: "", integer: true),
        // Smaller bodies cannot hold a signed AS4 message; there is no upper bound.
        Limit(name: "maxMessageBytes", range: 1024...Double.infinity, why: "", integer: true),
    ]

    private func number(_ name: String) -> Double {
        switch name {
        case "connectTimeoutSeconds": return connectTimeoutSeconds
        case "requestTimeoutSeconds": return requestTimeoutSeconds
        case "pollIntervalSeconds": return pollIntervalSeconds
        case "pullIntervalSeconds": return pullIntervalSeconds
        case "leaseSeconds": return leaseSeconds
        case "shutdownGraceSeconds": return shutdownGraceSeconds
        case "outboundWorkers": return Double(outboundWorkers)
        case "maxMessageBytes": return Double(maxMessageBytes)
        default: preconditionFailure("no setting \(name)")
        }
    }

    /// Numbers the daemon cannot work with, each a line for the operator (`serve` refuses to start).
    var settingProblems: [String] {
        var problems: [String] = []
        for limit in Self.limits {
            let value = number(limit.name)
            guard !value.isFinite || !limit.range.contains(value) else { continue }
            let shown = limit.integer ? String(format: "%.0f", value) : "\(value)"
            let low = limit.integer ? String(format: "%.0f", limit.range.lowerBound) : "\(limit.range.lowerBound)"
            if limit.range.upperBound == .infinity {
                problems.append("\(limit.name) (\(shown)) must be at least \(low)")
            } else {
                let high = limit.integer ? String(format: "%.0f", limit.range.upperBound) : "\(limit.range.upperBound)"
                problems.append("\(limit.name) (\(shown)) must be from \(low) to \(high)" + (limit.why.isEmpty ? "" : " \(limit.why)"))
            }
        }
        for (name, listener) in [("as4Listener", as4Listener), ("apiListener", apiListener)] {
            if let v = listener.maxConnections, !(1...1_000_000).contains(v) { problems.append("\(name).maxConnections (\(v)) must be from 1 to 1000000") }
            if let v = listener.maxConnectionsPerClient, !(0...1_000_000).contains(v) {
                problems.append("\(name).maxConnectionsPerClient (\(v)) must be from 0 (no limit) to 1000000")
            }
            if let v = listener.threads, !(1...1024).contains(v) { problems.append("\(name).threads (\(v)) must be from 1 to 1024") }
            // libmicrohttpd shares the connection limit out among the threads: a thread whose
            // share is 0 could never accept one.
            if let v = listener.threads, (1...1024).contains(v), v > (listener.maxConnections ?? HTTPServerConfiguration().maxConnections) {
                problems.append("\(name).threads (\(v)) must not exceed maxConnections (\(listener.maxConnections ?? HTTPServerConfiguration().maxConnections)): "
                    + "the connections are shared out among the threads")
            }
            if let v = listener.idleTimeoutSeconds, !(1...3600).contains(v) { problems.append("\(name).idleTimeoutSeconds (\(v)) must be from 1 to 3600") }
            if let v = listener.requestHeadTimeoutSeconds, !(v >= 0 && v <= 3600) {
                problems.append("\(name).requestHeadTimeoutSeconds (\(v)) must be from 0 (no deadline) to 3600 seconds")
            }
            if let v = listener.minimumBodyBytesPerSecond, !(0...Self.minimumBodyBytesPerSecondLimit).contains(v) {
                problems.append("\(name).minimumBodyBytesPerSecond (\(v)) must be from 0 (no floor) to \(Self.minimumBodyBytesPerSecondLimit)")
            }
            if let v = listener.bodyGraceSeconds, !(v >= 0 && v <= 3600) {
                problems.append("\(name).bodyGraceSeconds (\(v)) must be from 0 to 3600 seconds")
            }
        }
        // A lease must outlast the longest exchange a worker can be in, or a slow send is taken
        // over by a second worker (or node) and goes out twice at once.
        if problems.isEmpty, leaseSeconds <= connectTimeoutSeconds + requestTimeoutSeconds {
            problems.append("leaseSeconds (\(leaseSeconds)) must exceed connectTimeoutSeconds + requestTimeoutSeconds "
                + "(\(connectTimeoutSeconds) + \(requestTimeoutSeconds)): a send still running when its lease ends would be taken over and sent twice")
        }
        return problems
    }

    /// Reads a configuration file; relative paths in it are taken relative to the file's folder.
    static func load(path: String?) throws -> GatewayConfiguration {
        guard let path else { return GatewayConfiguration() }
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw ConfigError(description: "cannot read configuration \(path): \(error.localizedDescription)")
        }
        var config: GatewayConfiguration
        do { config = try JSONDecoder().decode(GatewayConfiguration.self, from: data) } catch {
            // One line per problem, each starting with the file: `gateway.json: as4Listener.port: …`.
            let lines = ConfigurationDecoding.describe(error, data: data).split(separator: "\n")
            throw ConfigError(description: lines.map { "\(path): \($0)" }.joined(separator: "\n"))
        }
        let base = URL(fileURLWithPath: path).deletingLastPathComponent().path
        func resolve(_ p: String) -> String { p.hasPrefix("/") ? p : base + "/" + p }
        config.dataDirectory = resolve(config.dataDirectory)
        config.pmodeDirectory = resolve(config.pmodeDirectory)
        config.truststore = config.truststore.map(resolve)
        config.crls = config.crls.map(resolve)
        if var keys = config.keys {
            keys.signingKey = resolve(keys.signingKey)
            keys.signingCertificate = resolve(keys.signingCertificate)
            for i in keys.additional.indices {
                keys.additional[i].signingKey = resolve(keys.additional[i].signingKey)
                keys.additional[i].signingCertificate = resolve(keys.additional[i].signingCertificate)
                keys.additional[i].encryptionKey = resolve(keys.additional[i].encryptionKey)
                keys.additional[i].encryptionCertificate = resolve(keys.additional[i].encryptionCertificate)
            }
            keys.encryptionKey = resolve(keys.encryptionKey)
            keys.encryptionCertificate = resolve(keys.encryptionCertificate)
            keys.tlsClientCertificate = keys.tlsClientCertificate.map(resolve)
            keys.tlsClientKey = keys.tlsClientKey.map(resolve)
            config.keys = keys
        }
        for keyPath in [\GatewayConfiguration.as4Listener, \GatewayConfiguration.apiListener] {
            if var tls = config[keyPath: keyPath].tls {
                tls.certificate = resolve(tls.certificate)
                tls.key = resolve(tls.key)
                config[keyPath: keyPath].tls = tls
            }
        }
        if let store = config.store, store.hasPrefix("sqlite:") {
            config.store = "sqlite:" + resolve(String(store.dropFirst(7)))
        }
        config.payloadDirectory = config.payloadDirectory.map(resolve)
        if var notices = config.notices {
            notices.passwordFile = notices.passwordFile.map(resolve)
            notices.caFile = notices.caFile.map(resolve)
            config.notices = notices
        }
        config.holidayCalendar = config.holidayCalendar.map(resolve)
        if let trust = config.selfService?.registrationTrust { config.selfService?.registrationTrust = trust.map(resolve) }
        // The store URL is judged where it is used (serve, the ops commands, --check-config),
        // so that --check-config can list it beside every other problem.
        return config
    }

    /// The store the URL names; no URL: SQLite in `dataDirectory`.
    func storeLocation() throws -> StoreLocation {
        try store.map(StoreLocation.init(parsing:)) ?? .sqlite(directory: dataDirectory)
    }

    /// Where a PostgreSQL store keeps payload and message files.
    var payloadDirectoryPath: String { payloadDirectory ?? dataDirectory + "/payloads" }

    /// The folder holding the store's files: SQLite's directory, or PostgreSQL's payload directory.
    var storeDirectory: String {
        switch try? storeLocation() {
        case let .sqlite(directory)?: return directory
        case .postgres?: return payloadDirectoryPath
        case nil: return dataDirectory
        }
    }

    /// The configured files that hold private keys or passwords, wherever they lie.
    var secretFiles: [String] {
        let identities = keys.map { k in [k.signingKey, k.encryptionKey] + (k.tlsClientKey.map { [$0] } ?? [])
            + k.additional.flatMap { [$0.signingKey, $0.encryptionKey] } } ?? []
        return identities + [as4Listener.tls?.key, apiListener.tls?.key, notices?.passwordFile].compactMap { $0 }
    }
}

// Hand-written decoding for the nested objects: each refuses keys it does not know, and the
// synthesized versions would make defaulted members required.

extension GatewayConfiguration.TLS {
    private enum CodingKeys: String, CodingKey, CaseIterable { case certificate, key, clientAuthentication }

    init(from decoder: Decoder) throws {
        try decoder.refuseUnknownSettings(CodingKeys.allCases.map(\.rawValue))
        let c = try decoder.container(keyedBy: CodingKeys.self)
        certificate = try c.decode(String.self, forKey: .certificate)
        key = try c.decode(String.self, forKey: .key)
        clientAuthentication = try c.oneOf(GatewayConfiguration.ClientAuthentication.self, forKey: .clientAuthentication) ?? .none
    }
}

extension GatewayConfiguration.Listener {
    private enum CodingKeys: String, CodingKey, CaseIterable {
        case address, port, path, tls, maxConnections, maxConnectionsPerClient, idleTimeoutSeconds, requestHeadTimeoutSeconds
        case minimumBodyBytesPerSecond, bodyGraceSeconds, threads
    }

    init(from decoder: Decoder) throws {
        try decoder.refuseUnknownSettings(CodingKeys.allCases.map(\.rawValue))
        let c = try decoder.container(keyedBy: CodingKeys.self)
        address = try c.decode(String.self, forKey: .address)
        port = try c.port(forKey: .port)
        path = try c.decode(String.self, forKey: .path)
        tls = try c.decodeIfPresent(GatewayConfiguration.TLS.self, forKey: .tls)
        maxConnections = try c.wholeNumber(Int.self, forKey: .maxConnections)
        maxConnectionsPerClient = try c.wholeNumber(Int.self, forKey: .maxConnectionsPerClient)
        idleTimeoutSeconds = try c.wholeNumber(Int.self, forKey: .idleTimeoutSeconds)
        requestHeadTimeoutSeconds = try c.decodeIfPresent(Double.self, forKey: .requestHeadTimeoutSeconds)
        minimumBodyBytesPerSecond = try c.wholeNumber(Int.self, forKey: .minimumBodyBytesPerSecond)
        bodyGraceSeconds = try c.decodeIfPresent(Double.self, forKey: .bodyGraceSeconds)
        threads = try c.wholeNumber(Int.self, forKey: .threads)
    }
}

extension GatewayConfiguration.AdminListener {
    private enum CodingKeys: String, CodingKey, CaseIterable { case address, port, mailboxWorkerFailingSeconds, minimumFreeBytes }

    /// Up to 1 PiB: any disk, and no overflow when bytes are added to it.
    static let minimumFreeBytesRange: ClosedRange<Int64> = 0...(1 << 50)

    init(from decoder: Decoder) throws {
        try decoder.refuseUnknownSettings(CodingKeys.allCases.map(\.rawValue))
        let c = try decoder.container(keyedBy: CodingKeys.self)
        address = try c.decode(String.self, forKey: .address)
        port = try c.port(forKey: .port)
        if let seconds = try c.decodeIfPresent(Double.self, forKey: .mailboxWorkerFailingSeconds) {
            guard seconds > 0, seconds <= 86_400 else {
                throw DecodingError.dataCorruptedError(forKey: .mailboxWorkerFailingSeconds, in: c,
                                                       debugDescription: "must be more than 0 and at most 86400 seconds")
            }
            mailboxWorkerFailingSeconds = seconds
        }
        if let bytes = try c.wholeNumber(Int64.self, forKey: .minimumFreeBytes) {
            guard Self.minimumFreeBytesRange.contains(bytes) else {
                throw DecodingError.dataCorruptedError(forKey: .minimumFreeBytes, in: c,
                                                       debugDescription: "must be from 0 (no disk check) to \(Self.minimumFreeBytesRange.upperBound) bytes")
            }
            minimumFreeBytes = UInt64(bytes)
        }
    }
}

extension GatewayConfiguration.Keys {
    private enum CodingKeys: String, CodingKey, CaseIterable {
        case signingKey, signingCertificate, encryptionKey, encryptionCertificate, tlsClientCertificate, tlsClientKey, additional
    }

    init(from decoder: Decoder) throws {
        try decoder.refuseUnknownSettings(CodingKeys.allCases.map(\.rawValue))
        let c = try decoder.container(keyedBy: CodingKeys.self)
        signingKey = try c.decode(String.self, forKey: .signingKey)
        signingCertificate = try c.decode(String.self, forKey: .signingCertificate)
        encryptionKey = try c.decode(String.self, forKey: .encryptionKey)
        encryptionCertificate = try c.decode(String.self, forKey: .encryptionCertificate)
        tlsClientCertificate = try c.decodeIfPresent(String.self, forKey: .tlsClientCertificate)
        tlsClientKey = try c.decodeIfPresent(String.self, forKey: .tlsClientKey)
        additional = try c.decodeIfPresent([Identity].self, forKey: .additional) ?? []
    }
}

extension GatewayConfiguration.Keys.Identity {
    private enum CodingKeys: String, CodingKey, CaseIterable {
        case signingKey, signingCertificate, encryptionKey, encryptionCertificate
    }

    init(from decoder: Decoder) throws {
        try decoder.refuseUnknownSettings(CodingKeys.allCases.map(\.rawValue))
        let c = try decoder.container(keyedBy: CodingKeys.self)
        signingKey = try c.decode(String.self, forKey: .signingKey)
        signingCertificate = try c.decode(String.self, forKey: .signingCertificate)
        encryptionKey = try c.decode(String.self, forKey: .encryptionKey)
        encryptionCertificate = try c.decode(String.self, forKey: .encryptionCertificate)
    }
}

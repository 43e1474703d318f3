import Dispatch
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// `as4gw serve`: runs the gateway until SIGTERM or SIGINT.
enum ServeCommand {
    static let help = """
    Usage: as4gw serve [--config FILE] [--party NAME] [--data DIR] [--pmode DIR]
                       [--as4-port N] [--submit-port N] [--admin-port N] [--log-format logfmt|json]
                       [--log-level L] [--lease-seconds S] [--pull-interval S] [--check-config]

    Runs the AS4 gateway: receives messages on the AS4 endpoint (HTTPS with the development PKI
    by default) and answers with signed receipts or ebMS errors; takes submissions from
    `as4gw send` on the local submission endpoint and delivers them with retries.
    With no --config: SQLite under ./data, the P-Modes in ./pmode, and a development PKI
    generated on first start (the log says so). Options override the configuration file.
    The admin listener (127.0.0.1:9090 by default) serves /metrics, /healthz and /readyz.

    --check-config: check the configuration (with the options applied) and exit without
    starting: the checks serve makes before it starts (store URL form, numbers, P-Mode directory
    and our party in it, key, TLS, truststore and CRL files, listener paths, listeners on the
    same port), and on PostgreSQL whether the payload directory is the one the store records
    (when the database answers; nothing is written). Prints a summary (exit 0) or each problem
    on stderr (exit 2).

    Signals: SIGHUP reloads the P-Modes and the holiday calendar (a bad file keeps what is in
    use and is logged);
    SIGTERM/SIGINT stop gracefully (no new connections, in-flight work finishes, exit 0).
    A start that fails logs one `event=start-failed` error line, in the log format asked for.
    Exit status: 0 after a clean stop; 2 for configuration errors.
    """

    static func run(_ args: [String]) -> Int32 {
        // Stop and reload signals are blocked before this process starts any thread (threads
        // inherit the mask) and taken by one `sigwait` thread once the gateway may act on them:
        // a SIGTERM arriving at any moment of the start stays pending instead of being ignored or
        // caught by a thread that drops it (libdispatch signal sources register asynchronously,
        // and one arriving before that was lost).
        var stopSignals = sigset_t()
        sigemptyset(&stopSignals)
        for s in [SIGTERM, SIGINT, SIGHUP] { sigaddset(&stopSignals, s) }
        pthread_sigmask(SIG_BLOCK, &stopSignals, nil)
        let a: Arguments
        do {
            a = try Arguments(args, valued: ["config", "party", "data", "pmode", "as4-port", "submit-port", "admin-port", "log-format",
                                             "log-level", "lease-seconds", "pull-interval"], flags: ["check-config"])
        } catch {
            return CLI.usageError("\(error)", help: help)
        }
        if a.has("help") { print(help); return 0 }
        var config: GatewayConfiguration
        do {
            config = try GatewayConfiguration.load(path: a.value("config"))
        } catch {
            if a.has("check-config") { return CLI.ioError("\(error)") }
            return startFailed("\(error)", format: a.value("log-format"))
        }
        if let v = a.value("party") { config.party = v }
        if let v = a.value("data") { config.dataDirectory = v }
        if let v = a.value("pmode") { config.pmodeDirectory = v }
        if let v = a.value("as4-port") { guard let p = UInt16(v) else { return CLI.usageError("bad --as4-port", help: help) }; config.as4Listener.port = p }
        if let v = a.value("submit-port") { guard let p = UInt16(v) else { return CLI.usageError("bad --submit-port", help: help) }; config.apiListener.port = p }
        if let v = a.value("admin-port") {
            guard let p = UInt16(v) else { return CLI.usageError("bad --admin-port", help: help) }
            guard config.adminListener != nil else { return CLI.usageError("--admin-port: the configuration turns the admin listener off", help: help) }
            config.adminListener?.port = p
        }
        if let v = a.value("log-format") { guard ["logfmt", "json"].contains(v) else { return CLI.usageError("--log-format is logfmt or json", help: help) }; config.logFormat = v }
        if let v = a.value("log-level") {
            guard EventLog.Level(name: v) != nil else { return CLI.usageError("--log-level is \(EventLog.Level.names)", help: help) }
            config.logLevel = v
        }
        if let v = a.value("lease-seconds") { guard let d = Double(v), d > 0 else { return CLI.usageError("bad --lease-seconds", help: help) }; config.leaseSeconds = d }
        if let v = a.value("pull-interval") { guard let d = Double(v), d > 0 else { return CLI.usageError("bad --pull-interval", help: help) }; config.pullIntervalSeconds = d }
        // The same checks for both: a configuration --check-config passes must not be refused at
        // start for something knowable before it (a missing TLS key, a truststore typo).
        let (problems, summary) = ConfigurationCheck.problems(config)
        if !problems.isEmpty, !a.has("check-config") {
            return startFailed(problems.joined(separator: "; "), format: config.logFormat)
        }
        if a.has("check-config") {
            var problems = problems
            var notes: [String] = []
            if problems.isEmpty {
                switch ConfigurationCheck.payloadDirectory(config) {
                case .problem(let p): problems.append(p)
                case .note(let n): notes.append(n)
                case nil: break
                }
            }
            guard problems.isEmpty, let summary else {
                CLI.printError("as4gw: \(a.value("config") ?? "the default configuration") has problems:\n" + problems.joined(separator: "\n"))
                return 2
            }
            for note in notes { CLI.printError("as4gw: note: " + note) }
            print("\(a.value("config") ?? "default configuration"): party \(config.party), \(summary.parties) parties, \(summary.pmodes) P-Modes, "
                  + "store \(config.store.map(ConfigurationCheck.redacted) ?? "sqlite:" + config.storeDirectory): OK")
            return 0
        }

        // The signals pending since the start are taken here, outside async-signal context: a
        // stop sent during the start stops the gateway as soon as it has started; a SIGHUP
        // before then has nothing to reload yet.
        let done = DispatchSemaphore(value: 0)
        let started = Mutex<(context: GatewayContext, expiryWatch: CertificateExpiryWatch?)?>(nil)
        let watched = stopSignals
        let watcher = Thread {
            var set = watched
            var received: Int32 = 0
            while sigwait(&set, &received) == 0 {
                if received == SIGHUP {
                    if let gateway = started.withLock({ $0 }) {
                        Gateway.reloadPModes(gateway.context, expiryWatch: gateway.expiryWatch)
                        HolidayCalendarSource.reload(gateway.context)
                    }
                    continue
                }
                done.signal()
            }
        }
        watcher.name = "as4gw/signals"
        watcher.start()
        let gateway: Gateway
        do {
            gateway = try Gateway(config: config)
            try gateway.start()
        } catch {
            return startFailed("\(error)", format: config.logFormat)
        }
        started.withLock { $0 = (gateway.context, gateway.certificateExpiryWatch) }
        done.wait()
        if !gateway.stop() {
            // Threads still run inside the C libraries: no atexit clean-ups under them.
            fflush(nil)
            _exit(0)
        }
        return 0
    }

    /// A start that fails is one error line in the log's format (`--log-format`, or the
    /// configuration's once it is read), like every line after a start: a collector reading JSON
    /// gets JSON, and a reason carrying libpq's tabs and newlines stays one escaped line.
    /// Exit status 2, as for every configuration error.
    static func startFailed(_ reason: String, format: String?) -> Int32 {
        let log = EventLog(format: format.flatMap(EventLog.Format.init(rawValue:)) ?? .logfmt, minimum: .error)
        log.log(.error, "start-failed", ["reason": reason])
        return 2
    }
}

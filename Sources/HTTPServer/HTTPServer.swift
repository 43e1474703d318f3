import AS4Crypto
import CMicroHTTPD
import Foundation
import Synchronization

/// The gateway's inbound HTTP(S) endpoint: a thin owner of a libmicrohttpd daemon.
///
/// The daemon runs a pool of ``HTTPServerConfiguration/threads`` threads over epoll, listening on
/// the configured address only. Each request is screened as soon as its head has arrived (client
/// certificate, ``HTTPHandler/admit(_:)``, declared length), its body is collected in memory or
/// streamed to a spool file, and ``HTTPHandler/handle(_:)`` then runs on the pool thread.
///
/// ```swift
/// let server = try HTTPServer(configuration: .init(port: 8443, tls: tls), handler: inbox)
/// try server.start()
/// ...
/// server.stop(gracePeriod: 10)
/// ```
public final class HTTPServer: @unchecked Sendable {
    // Unchecked Sendable: `phase` (with the daemon pointer and the C option memory) is only read or
    // changed under `lock`; `context` is itself thread-safe, the rest is immutable.

    private enum Phase {
        case created
        case running(daemon: OpaquePointer, options: DaemonOptions, port: UInt16)
        /// Stop has begun: the listen socket is closed, in-flight requests are finishing.
        case draining(port: UInt16)
        case stopped
    }

    /// `Retry-After` of the 503 a request gets while the server drains (one arriving on a
    /// connection opened before the stop; new connections are refused). A stop is followed by a
    /// restart or, with several nodes, by another node's answer: a few seconds, not the
    /// sender's own back-off, which for an AS4 peer may be many minutes.
    public static let retryAfterWhileStoppingSeconds = 5

    public let configuration: HTTPServerConfiguration
    private let context: ServerContext
    private let lock = NSLock()
    private var phase = Phase.created

    /// Checks the configuration (bind address, spool directory, limits, TLS material and priority
    /// string) without binding anything yet.
    public init(configuration: HTTPServerConfiguration, handler: any HTTPHandler) throws {
        try Self.validate(configuration)
        self.configuration = configuration
        self.context = ServerContext(configuration: configuration, handler: handler)
    }

    deinit {
        self.stop(gracePeriod: 0)
    }

    /// Binds and starts serving. A server starts once; create a new one after ``stop(gracePeriod:)``.
    public func start() throws {
        self.lock.lock()
        defer { self.lock.unlock() }
        guard case .created = self.phase else {
            throw HTTPServerError.invalidState("start() may be called once, before stop()")
        }
        let options = try DaemonOptions(configuration: self.configuration, context: self.context)
        let contextPointer = Unmanaged.passUnretained(self.context).toOpaque()
        let started = options.withItems { items in
            as4gw_mhd_start_daemon(options.flags, self.configuration.port, accessHandlerCallback, contextPointer, items)
        }
        guard let daemon = started else {
            let reason = self.context.lastMessage ?? "no diagnostic from libmicrohttpd"
            throw HTTPServerError.startFailed("\(self.configuration.bindAddress):\(self.configuration.port): \(reason)")
        }
        let port = as4gw_mhd_daemon_bind_port(daemon)
        self.context.connections.startWatchdog()
        self.phase = .running(daemon: daemon, options: options, port: port != 0 ? port : self.configuration.port)
    }

    /// The port being listened on (the one picked by the system when 0 was configured); 0 before ``start()``.
    public var port: UInt16 {
        self.lock.lock()
        defer { self.lock.unlock() }
        switch self.phase {
        case .running(_, _, let port), .draining(let port): return port
        case .created, .stopped: return 0
        }
    }

    /// Whether the listen socket is open (started and not yet stopping).
    public var isAcceptingConnections: Bool {
        self.lock.lock()
        defer { self.lock.unlock() }
        if case .running = self.phase { return true }
        return false
    }

    /// Stops gracefully: closes the listen socket at once (new connections are refused), lets
    /// requests in flight finish for up to `gracePeriod` seconds (their responses close the
    /// connection; new requests on kept-alive connections get 503), then shuts libmicrohttpd down,
    /// closing whatever connections remain.
    ///
    /// The grace period holds: a handler still running when it ends cannot be interrupted, so the
    /// daemon is then shut down on a background thread once that handler has returned (its
    /// connection is closed without the response), and `stop` returns false at once. A caller that
    /// gets false must not pull away what handlers use. Returns true when nothing was left running.
    /// Must not be called from a handler. Calls after the first one return true at once.
    @discardableResult
    public func stop(gracePeriod: Double) -> Bool {
        self.lock.lock()
        guard case .running(let daemon, let options, let port) = self.phase else {
            self.lock.unlock()
            return true
        }
        self.context.beginDraining()
        // MHD hands the listen socket back; closing it makes the kernel refuse new connections
        // instead of queueing them in the backlog.
        let listenSocket = MHD_quiesce_daemon(daemon)
        if listenSocket >= 0 {
            close(listenSocket)
        }
        self.phase = .draining(port: port)
        self.lock.unlock()

        let finished = self.context.waitUntilIdle(deadline: Date(timeIntervalSinceNow: max(0, gracePeriod)))
        // From here no handler starts, so MHD_stop_daemon only waits for those already running.
        let stillRunning = self.context.closeHandlers()
        if !finished {
            self.context.log("stopping with requests still in flight after \(gracePeriod) s"
                + (stillRunning > 0 ? " (\(stillRunning) handler(s) running: their connections close when they return)" : ""))
        }
        // Handed whole to the thread that stops the daemon; nothing else touches it after this.
        let shutDown = Mutex<DaemonShutdown?>(DaemonShutdown(daemon: daemon, options: options, context: self.context))
        if stillRunning > 0 {
            // MHD_stop_daemon joins the pool threads, i.e. waits for the handlers: not here.
            let thread = Thread { shutDown.withLock { $0.take() }?.run() }
            thread.name = "as4gw-http-stop"
            thread.start()
        } else {
            shutDown.withLock { $0.take() }?.run()
        }

        self.lock.lock()
        self.phase = .stopped
        self.lock.unlock()
        return stillRunning == 0
    }

    /// What `MHD_stop_daemon` needs kept alive until it has returned, possibly on another thread.
    private struct DaemonShutdown {
        let daemon: OpaquePointer
        let options: DaemonOptions
        let context: ServerContext

        func run() {
            MHD_stop_daemon(self.daemon)
            self.context.connections.stopWatchdog()
            withExtendedLifetime(self.options) {}
        }
    }

    // MARK: Configuration checks

    private static func validate(_ configuration: HTTPServerConfiguration) throws {
        func invalid(_ text: String) -> HTTPServerError { .invalidConfiguration(text) }
        guard configuration.threads >= 1, configuration.threads <= 1024 else { throw invalid("threads must be 1...1024") }
        guard configuration.maxConnections >= 1, configuration.maxConnections <= Int(Int32.max) else {
            throw invalid("maxConnections must be positive")
        }
        guard configuration.maxConnectionsPerClient >= 0, configuration.maxConnectionsPerClient <= Int(Int32.max) else {
            throw invalid("maxConnectionsPerClient must be 0 (no limit) or positive")
        }
        guard configuration.requestHeadTimeout.isFinite, configuration.requestHeadTimeout >= 0 else {
            throw invalid("requestHeadTimeout must be 0 (none) or positive")
        }
        guard configuration.bodyGracePeriod.isFinite, configuration.bodyGracePeriod >= 0 else {
            throw invalid("bodyGracePeriod must not be negative")
        }
        guard configuration.refusalLogInterval.isFinite, configuration.refusalLogInterval >= 0 else {
            throw invalid("refusalLogInterval must not be negative")
        }
        guard configuration.inMemoryBodyLimit <= UInt64(Int32.max) else { throw invalid("inMemoryBodyLimit must be below 2 GiB") }
        let (address, _) = try DaemonOptions.socketAddress(configuration.bindAddress, port: configuration.port)
        free(address)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: configuration.spoolDirectory, isDirectory: &isDirectory), isDirectory.boolValue,
              access(configuration.spoolDirectory, W_OK | X_OK) == 0 else {
            throw invalid("spool directory \(configuration.spoolDirectory) is not a writable directory")
        }
        if let tls = configuration.tls {
            try Self.validate(tls)
        }
    }

    private static func validate(_ tls: HTTPServerConfiguration.TLS) throws {
        try TLSPriorities.validate(tls.priorities)
        let chain: [Certificate]
        let key: PrivateKey
        do {
            chain = try Certificate.certificates(fromPEM: tls.certificateChainPEM)
            key = try PrivateKey(pemEncoded: tls.privateKeyPEM)
        } catch {
            throw HTTPServerError.invalidConfiguration("TLS certificate or key cannot be read: \(error)")
        }
        guard let leaf = chain.first else { throw HTTPServerError.invalidConfiguration("the TLS certificate chain is empty") }
        guard let leafKey = try? leaf.publicKey, key.matches(leafKey) else {
            throw HTTPServerError.invalidConfiguration("the TLS private key does not belong to \(leaf.subject)")
        }
        if let validator = tls.clientAuthentication.validator, validator.trustStore.anchors.isEmpty {
            throw HTTPServerError.invalidConfiguration("client authentication needs at least one trust anchor")
        }
    }
}

import Foundation

/// The state every libmicrohttpd pool thread shares: the handler, the configuration, and the
/// count of requests in flight that a graceful stop waits for.
///
/// It reaches the C callbacks as an unretained `void *` (the owning ``HTTPServer`` keeps it alive
/// until `MHD_stop_daemon` has returned), so Swift's checker cannot see the threads that use it.
/// The unchecked Sendable conformance is sound because `configuration` and `handler` are immutable `Sendable`
/// values and the mutable counters are only touched under `condition`'s lock.
final class ServerContext: @unchecked Sendable {
    let configuration: HTTPServerConfiguration
    let handler: any HTTPHandler
    /// Open connections, their head deadlines and the reports of refused connections.
    let connections: ConnectionGuard

    private let condition = NSCondition()
    private var requestsInFlight = 0
    private var handlersRunning = 0
    private var draining = false
    /// The grace period is over: no handler may start any more.
    private var closing = false
    private var lastLogMessage: String?

    init(configuration: HTTPServerConfiguration, handler: any HTTPHandler) {
        self.configuration = configuration
        self.handler = handler
        let report = configuration.warningLogger ?? configuration.logger ?? { _ in }
        self.connections = ConnectionGuard(configuration: configuration, report: report)
    }

    /// Called before a handler runs; false once the grace period of a stop is over (the request is
    /// then dropped: a handler started now would hold the stop past its deadline).
    func handlerWillRun() -> Bool {
        self.condition.lock()
        defer { self.condition.unlock() }
        guard !self.closing else { return false }
        self.handlersRunning += 1
        return true
    }

    func handlerDidRun() {
        self.condition.lock()
        defer { self.condition.unlock() }
        self.handlersRunning -= 1
    }

    /// Ends the grace period: no handler starts from now on. Returns how many are still running.
    func closeHandlers() -> Int {
        self.condition.lock()
        defer { self.condition.unlock() }
        self.closing = true
        return self.handlersRunning
    }

    /// Counts a request that got per-request state (balanced by ``requestEnded()`` in the completion callback).
    func requestBegan() {
        self.condition.lock()
        defer { self.condition.unlock() }
        self.requestsInFlight += 1
    }

    func requestEnded() {
        self.condition.lock()
        defer { self.condition.unlock() }
        self.requestsInFlight -= 1
        if self.requestsInFlight == 0 {
            self.condition.broadcast()
        }
    }

    /// Whether a graceful stop has begun: new requests get 503 and responses close their connection.
    var isDraining: Bool {
        self.condition.lock()
        defer { self.condition.unlock() }
        return self.draining
    }

    func beginDraining() {
        self.condition.lock()
        defer { self.condition.unlock() }
        self.draining = true
    }

    /// Waits until no request is in flight or `deadline` passes; returns whether it became idle.
    func waitUntilIdle(deadline: Date) -> Bool {
        self.condition.lock()
        defer { self.condition.unlock() }
        while self.requestsInFlight > 0 {
            guard self.condition.wait(until: deadline) else { return self.requestsInFlight == 0 }
        }
        return true
    }

    /// A libmicrohttpd diagnostic: forwarded to the configured logger, and remembered so that a
    /// failed start can say why.
    func log(_ message: String) {
        // MHD says this once per refused connection; a flood of them is reported at a bounded rate.
        if message.hasPrefix("Server reached connection limit") {
            self.connections.noteRefusal(.connectionLimit)
            return
        }
        self.condition.lock()
        self.lastLogMessage = message
        self.condition.unlock()
        self.configuration.logger?(message)
    }

    /// The server answers `method path` with 500 itself: always reported, to ``HTTPServerConfiguration/errorLogger``
    /// (or the diagnostic logger when none is set), since a client sees only "internal server error".
    func reportInternalError(_ message: String) {
        if let report = self.configuration.errorLogger { report(message) } else { self.log(message) }
    }

    /// The most recent diagnostic, if any.
    var lastMessage: String? {
        self.condition.lock()
        defer { self.condition.unlock() }
        return self.lastLogMessage
    }
}

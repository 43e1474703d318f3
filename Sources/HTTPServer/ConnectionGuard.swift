import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Defends the listener against clients that hold connections without finishing requests
/// (slow-loris): a deadline for each request head, a floor under the rate at which a body
/// arrives, and rate-limited reports of refused connections.
///
/// libmicrohttpd 0.9.75 only has an *inactivity* timeout, which a client dripping one header byte
/// now and then never trips. So every connection is registered when MHD accepts it
/// (`MHD_OPTION_NOTIFY_CONNECTION`) with a deadline for its first request head (TLS handshake
/// included); the head's arrival clears it. Between requests a kept-alive connection may wait
/// quietly for the inactivity timeout, which MHD enforces (closing it is no refusal and is not
/// reported): a finished response re-arms the deadline at that timeout plus the head timeout,
/// which only a connection still dripping an unfinished head can reach.
///
/// A body is read by MHD only under its inactivity timeout, which a client dripping a byte now and
/// then never trips either, up to the body limit. So from the moment a body is expected until the
/// upload ends, the body must keep ahead of a floor: at `t` seconds after that moment at least
/// `floor × (t − grace)` bytes must have reached the server. The grace covers a slow start (TCP
/// slow start, a client waiting for `100 Continue`); the average, not each second, is bounded, so
/// a pause is made up for by what came before. The handler's time after the upload does not count.
///
/// A watchdog thread shuts down the socket of a connection past either bound: MHD still owns the
/// descriptor and closes the connection when its next read fails, so nothing is closed twice, and
/// the completion callback MHD then calls removes a cut-off body's spool file. Entries are removed
/// in MHD's "closed" notification, which MHD sends before it closes the descriptor, and `shutdown`
/// runs under the same lock, so a descriptor number reused by a later connection is never hit.
final class ConnectionGuard: @unchecked Sendable {
    // Unchecked Sendable: every mutable field is touched only under `condition`'s lock.

    /// Why connections were refused or cut off, each reported on its own schedule.
    enum Refusal: String {
        /// MHD's total or per-client connection limit (0.9.75 logs both with one message).
        case connectionLimit = "connection limit"
        /// The request head did not arrive in time.
        case headTimeout = "request head timeout"
        /// A kept-alive connection kept sending without completing its next request head.
        case keptAliveHeadTimeout = "kept-alive request head timeout"
        /// The body arrived slower than the floor allows.
        case slowBody = "request body too slow"
    }

    /// An upload in progress: when it was first expected and how much of it has arrived.
    private struct Upload {
        var started: Date
        var receivedBytes: UInt64 = 0
    }

    private struct Entry {
        var descriptor: Int32
        var headDeadline: Date?
        /// The deadline runs from a previous response, not from the connection's start.
        var keptAlive = false
        /// Set while a body is expected and has not ended.
        var upload: Upload?
    }

    private let headTimeout: Double
    /// MHD's inactivity timeout (0: none).
    private let idleTimeout: Double
    /// Bytes per second a body must average after the grace (0: no floor).
    private let bodyFloor: Double
    private let bodyGrace: Double
    private let reportInterval: Double
    private let report: @Sendable (String) -> Void
    private let limits: String
    private let condition = NSCondition()
    private var entries: [UInt: Entry] = [:]
    private var lastReport: [Refusal: Date] = [:]
    private var unreported: [Refusal: Int] = [:]
    private var watching = false
    private var watchdogEnded = true

    /// - Parameters:
    ///   - headTimeout: seconds a connection may take to deliver a request head; 0 turns the deadline off.
    ///   - reportInterval: at most one report per reason per this many seconds.
    ///   - report: receives the (already rate-limited) reports.
    init(configuration: HTTPServerConfiguration, report: @escaping @Sendable (String) -> Void) {
        self.headTimeout = configuration.requestHeadTimeout
        self.idleTimeout = Double(configuration.connectionTimeout)
        self.bodyFloor = Double(configuration.minimumBodyBytesPerSecond)
        self.bodyGrace = configuration.bodyGracePeriod
        self.reportInterval = configuration.refusalLogInterval
        self.report = report
        self.limits = "at most \(configuration.maxConnections) connections"
            + (configuration.maxConnectionsPerClient > 0 ? ", \(configuration.maxConnectionsPerClient) per client address" : "")
    }

    // MARK: Connection life cycle (called on MHD threads)

    func connectionStarted(_ connection: OpaquePointer, descriptor: Int32) {
        self.condition.lock()
        defer { self.condition.unlock() }
        self.entries[Self.key(connection)] = Entry(descriptor: descriptor, headDeadline: self.deadline())
    }

    func connectionClosed(_ connection: OpaquePointer) {
        self.condition.lock()
        defer { self.condition.unlock() }
        self.entries[Self.key(connection)] = nil
    }

    /// A request head has arrived: the body and the handler are governed by the inactivity timeout.
    func headArrived(on connection: OpaquePointer) {
        self.condition.lock()
        defer { self.condition.unlock() }
        self.entries[Self.key(connection)]?.headDeadline = nil
    }

    /// The head was accepted and its body is expected: the body's clock starts now (after the
    /// handler's `admit`, so a slow check costs the client nothing).
    func bodyExpected(on connection: OpaquePointer) {
        guard self.bodyFloor > 0 else { return }
        self.condition.lock()
        defer { self.condition.unlock() }
        self.entries[Self.key(connection)]?.upload = Upload(started: Date())
    }

    /// `count` more body bytes have reached the server.
    func bodyReceived(_ count: Int, on connection: OpaquePointer) {
        guard self.bodyFloor > 0 else { return }
        self.condition.lock()
        defer { self.condition.unlock() }
        self.entries[Self.key(connection)]?.upload?.receivedBytes += UInt64(count)
    }

    /// The upload has ended: what follows (the handler, the response) is no body's to bound.
    func bodyEnded(on connection: OpaquePointer) {
        guard self.bodyFloor > 0 else { return }
        self.condition.lock()
        defer { self.condition.unlock() }
        self.entries[Self.key(connection)]?.upload = nil
    }

    /// A response is done: the connection may now idle until MHD's inactivity timeout closes it
    /// (the usual end of a client's kept-alive connection), so its next head is due only after
    /// that timeout and the head timeout together. Without an inactivity timeout nothing else
    /// would close it: the head timeout alone applies, as to a new connection.
    func requestFinished(on connection: OpaquePointer) {
        self.condition.lock()
        defer { self.condition.unlock() }
        if self.entries[Self.key(connection)] != nil {
            self.entries[Self.key(connection)]?.headDeadline = self.deadline(after: self.idleTimeout)
            self.entries[Self.key(connection)]?.keptAlive = true
            self.entries[Self.key(connection)]?.upload = nil
        }
    }

    /// The number of connections open now.
    var openConnections: Int {
        self.condition.lock()
        defer { self.condition.unlock() }
        return self.entries.count
    }

    // MARK: Rate-limited reports

    /// Notes one refusal; reports it at once when the last report of this reason is older than
    /// the report interval, otherwise counts it for the next report.
    func noteRefusal(_ reason: Refusal) {
        self.condition.lock()
        let now = Date()
        self.unreported[reason, default: 0] += 1
        if let last = self.lastReport[reason], now.timeIntervalSince(last) < self.reportInterval {
            self.condition.unlock()
            return
        }
        let count = self.unreported[reason] ?? 1
        self.unreported[reason] = 0
        self.lastReport[reason] = now
        let open = self.entries.count
        self.condition.unlock()
        let what: String
        switch reason {
        case .connectionLimit: what = "refused \(count) connection(s): connection limit reached (\(open) open; \(self.limits))"
        case .headTimeout: what = "closed \(count) connection(s) that sent no complete request head within \(self.headTimeout) s"
        case .keptAliveHeadTimeout:
            what = "closed \(count) kept-alive connection(s) that sent no complete request head within \(self.idleTimeout + self.headTimeout) s "
                + "of their previous response"
        case .slowBody:
            what = "closed \(count) connection(s) whose request body arrived slower than \(Int(self.bodyFloor)) bytes/s "
                + "(averaged after a grace of \(self.bodyGrace) s)"
        }
        self.report(what + " since the last report (at most one every \(self.reportInterval) s)")
    }

    // MARK: Watchdog

    func startWatchdog() {
        guard self.headTimeout > 0 || self.bodyFloor > 0 else { return }
        self.condition.lock()
        self.watching = true
        self.watchdogEnded = false
        self.condition.unlock()
        let thread = Thread { [self] in self.watch() }
        thread.name = "as4gw-http-head-deadline"
        thread.start()
    }

    /// Ends the watchdog and waits for it (call after `MHD_stop_daemon`, when no connection is left).
    func stopWatchdog() {
        self.condition.lock()
        defer { self.condition.unlock() }
        self.watching = false
        self.condition.broadcast()
        while !self.watchdogEnded {
            self.condition.wait()
        }
    }

    private func watch() {
        // A quarter of the shortest period (at most 1 s) keeps the overshoot of a deadline small.
        let periods = [self.headTimeout, self.bodyFloor > 0 ? self.bodyGrace : 0].filter { $0 > 0 }
        let tick = min(1, (periods.min() ?? 1) / 4)
        self.condition.lock()
        while self.watching {
            _ = self.condition.wait(until: Date(timeIntervalSinceNow: tick))
            let now = Date()
            var expired: [Refusal] = []
            for (key, entry) in self.entries {
                if let deadline = entry.headDeadline, deadline <= now {
                    shutdown(entry.descriptor, Int32(SHUT_RDWR))
                    self.entries[key]?.headDeadline = nil
                    expired.append(entry.keptAlive ? .keptAliveHeadTimeout : .headTimeout)
                } else if let upload = entry.upload, self.isBehind(upload, at: now) {
                    shutdown(entry.descriptor, Int32(SHUT_RDWR))
                    self.entries[key]?.upload = nil
                    expired.append(.slowBody)
                }
            }
            if !expired.isEmpty {
                self.condition.unlock()
                for reason in expired { self.noteRefusal(reason) }
                self.condition.lock()
            }
        }
        self.watchdogEnded = true
        self.condition.broadcast()
        self.condition.unlock()
    }

    /// Whether fewer than `floor × (elapsed − grace)` bytes have arrived: each byte buys the
    /// client `1 / floor` seconds beyond the grace.
    private func isBehind(_ upload: Upload, at now: Date) -> Bool {
        let allowed = self.bodyGrace + Double(upload.receivedBytes) / self.bodyFloor
        return now.timeIntervalSince(upload.started) > allowed
    }

    private func deadline(after idle: Double = 0) -> Date? {
        self.headTimeout > 0 ? Date(timeIntervalSinceNow: idle + self.headTimeout) : nil
    }

    private static func key(_ connection: OpaquePointer) -> UInt {
        UInt(bitPattern: Int(bitPattern: UnsafeRawPointer(connection)))
    }
}

import AS4Crypto
import Foundation
import HTTPClient
import MessageStore
import Synchronization

/// Pushes each connection's notifications to its webhook: a POST of `{"items": [...]}` (the
/// shape of `GET /api/v1/notifications`), signed with HMAC-SHA256 over `<timestamp>.<body>` under
/// the connection's webhook secret:
///
///     X-As4gw-Timestamp: 1764240000
///     X-As4gw-Signature: sha256=<hex>
///
/// A 2xx answer moves the connection's webhook position past the batch; anything else is tried
/// again after 1, 2, 4 … seconds (at most `maxBackoff`), the attempt count and last error kept
/// in the store and logged. The webhook is independent of the pull feed and its confirmations.
///
/// One thread finds the connections with something to push (`round`) and queues them
/// (`WebhookQueue`); `threads` threads push them, each connection one batch at a time, so a
/// receiver that hangs until the timeout holds up its own connection and one thread, not the
/// others. Each connection's pushes are a job of their own (`webhook:<name>`, fenced), so nodes
/// sharing a store push a connection one at a time and may push different ones at once.
final class WebhookPusher: Sendable {
    let context: GatewayContext
    private let running = Atomic<Bool>(true)
    private let finishedThreads = Atomic<Int>(0)
    private let queue = Mutex(WebhookQueue())
    /// Signalled for each connection queued, so an idle pushing thread starts on it at once.
    private let queued = DispatchSemaphore(value: 0)
    static let interval = 0.25
    static let maxBackoff = 300.0
    static let batch = 50
    /// Pushing threads: up to `threads - 1` connections whose receivers failed are pushed at once.
    static let threads = 4
    /// Added to a POST's timeouts in the bound it announces: scheduling, the answer's recording.
    static let margin = 5.0

    init(context: GatewayContext) {
        self.context = context
    }

    /// The job under which a connection's batches are pushed.
    static func job(_ connection: String) -> String { "webhook:" + connection }

    func start() {
        let finder = Thread { [self] in
            var failures = RepeatedFailureLog()
            while running.load(ordering: .sequentiallyConsistent) {
                round(at: Date(), failures: &failures)
                Thread.sleep(forTimeInterval: Self.interval)
            }
            finishedThreads.add(1, ordering: .sequentiallyConsistent)
        }
        finder.name = "\(context.party)/webhooks"
        finder.start()
        for n in 0..<Self.threads {
            let pusher = Thread { [self] in
                var failures = RepeatedFailureLog()
                while running.load(ordering: .sequentiallyConsistent) {
                    if !pushNext(failures: &failures) { _ = queued.wait(timeout: .now() + Self.interval) }
                }
                finishedThreads.add(1, ordering: .sequentiallyConsistent)
            }
            pusher.name = "\(context.party)/webhook-\(n)"
            pusher.start()
        }
    }

    /// Waits for the threads until `deadline`; false when one was still running then (one in a
    /// POST ends with the POST's timeout).
    func stop(deadline: Date) -> Bool {
        running.store(false, ordering: .sequentiallyConsistent)
        while Date() < deadline, finishedThreads.load(ordering: .sequentiallyConsistent) < Self.threads + 1 {
            Thread.sleep(forTimeInterval: 0.02)
        }
        return finishedThreads.load(ordering: .sequentiallyConsistent) >= Self.threads + 1
    }

    /// One round of finding work. A round that fails the way the last one did (the store gone
    /// for minutes: four rounds a second) is logged once a minute with the count, and the
    /// recovery once.
    func round(at now: Date, failures: inout RepeatedFailureLog) {
        note(Result { try queueDue(now: now) }, at: now, failures: &failures)
    }

    /// Queues each connection whose webhook has notifications beyond its position and is not
    /// waiting out a backoff (nor queued or pushed already).
    func queueDue(now: Date) throws {
        for connection in try context.mailbox.connections() where connection.revokedAt == nil {
            guard connection.webhookURL != nil, connection.webhookSecret != nil, !queue.withLock({ $0.holds(connection.name) }),
                  let state = try context.mailbox.webhookState(connection: connection.name) else { continue }
            if let next = state.nextAttemptAt, next > now { continue }
            guard try !context.mailbox.notifications(after: state.upTo, addresses: connection.addresses, limit: 1).isEmpty else { continue }
            if queue.withLock({ $0.add(connection, retrying: state.attempts > 0) }) { queued.signal() }
        }
    }

    /// Pushes the next queued connection, if one may start now; false when there was none.
    func pushNext(failures: inout RepeatedFailureLog) -> Bool {
        guard let connection = queue.withLock({ $0.next(threads: Self.threads) }) else { return false }
        defer { queue.withLock { $0.done(connection.name) } }
        // One node at a time pushes a connection, so a batch goes out once, not once per node;
        // the fence keeps it so when the job lock is lost mid-push (see push).
        let outcome = Result { _ = try context.mailbox.exclusively(job: Self.job(connection.name), fenced: { fence in
            try push(connection, now: Date(), fence: fence)
        }) }
        note(outcome, at: Date(), failures: &failures)
        return true
    }

    /// Logs a round's or a push's outcome. Failures are compared by kind (`FailureKey`), not
    /// text, as in the queue and mailbox workers: a PostgreSQL outage answers with a different
    /// message from round to round (refused, reset, closed), and each would otherwise be a line
    /// of its own.
    func note(_ outcome: Result<Void, any Error>, at now: Date, failures: inout RepeatedFailureLog) {
        switch outcome {
        case .success:
            if let fields = failures.succeeded() { context.log.log(.info, "webhook-recovered", fields) }
        case .failure(let lost as JobFenceError):
            context.log.log(.warning, "webhook-job-lost", ["reason": "\(lost); stopped pushing, the node holding the job goes on"])
        case .failure(let error):
            if let fields = failures.failed("\(error)", key: FailureKey.of(error), at: now) { context.log.log(.error, "webhook", fields) }
        }
    }

    /// One batch of the connection's, read under its job. Before the POST the fence proves the
    /// job is still this node's and announces the POST's bound (its timeouts and a margin), and
    /// the result is recorded only under the same fence: a node whose job lock was lost during a
    /// push (a database restart) neither posts again nor records over the node that took the job,
    /// which does not start before the announced POST is over, and then reads what was recorded.
    /// What remains at-least-once: a POST that outlasts its bound, or whose result cannot be
    /// recorded, is sent again by the next holder; a POST under way cannot be recalled
    /// (docs/API.md, Webhook).
    func push(_ connection: BackendConnection, now: Date, fence: JobFence) throws {
        let postBound = context.config.connectTimeoutSeconds + min(context.config.requestTimeoutSeconds, 30) + Self.margin
        // The queue's reading may be a round old: another node may have pushed since.
        guard let url = connection.webhookURL, let secret = connection.webhookSecret,
              let state = try context.mailbox.webhookState(connection: connection.name) else { return }
        if let next = state.nextAttemptAt, next > now { return }
        let items = try context.mailbox.notifications(after: state.upTo, addresses: connection.addresses, limit: Self.batch)
        guard let last = items.last else { return }
        try fence.beginEffect(lasting: postBound)
        let body = Array(JSON.object([("items", .array(items.map(DocumentView.notification)))]).serialized(pretty: false).utf8)
        let timestamp = String(Int(now.timeIntervalSince1970))
        let signature = APICredentials.hex(try HMAC.sha256(key: Array(secret.utf8), data: Array((timestamp + ".").utf8) + body))
        var failure: String?
        do {
            var configuration = HTTPClientConfiguration()
            configuration.connectTimeout = context.config.connectTimeoutSeconds
            configuration.totalTimeout = min(context.config.requestTimeoutSeconds, 30)
            configuration.trustedCAFile = context.outboundTrustFile
            let response = try HTTPClient(configuration: configuration).post(
                url: url, headers: [("Content-Type", "application/json"), ("X-As4gw-Timestamp", timestamp),
                                    ("X-As4gw-Signature", "sha256=" + signature)], body: .bytes(body))
            if !(200..<300).contains(response.status) { failure = "HTTP \(response.status)" }
        } catch {
            failure = "\(error)"
        }
        if let failure {
            let delay = min(Self.maxBackoff, pow(2, Double(state.attempts)))
            try context.mailbox.recordWebhookFailure(connection: connection.name, error: failure, nextAttemptAt: Date().addingTimeInterval(delay),
                                                     fence: fence)
            context.log.log(.warning, "webhook-failed", ["connection": connection.name, "attempt": String(state.attempts + 1),
                                                         "reason": failure, "retry_in_s": String(Int(delay))])
        } else {
            try context.mailbox.recordWebhookDelivery(connection: connection.name, upTo: last.id, fence: fence)
            context.log.log(.info, "webhook-delivered", ["connection": connection.name, "notifications": String(items.count)])
        }
    }
}

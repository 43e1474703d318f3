import AS4Crypto
import Foundation
import HTTPClient
import MessageStore
import Synchronization

/// Pushes each connection's notifications to its webhook (one thread): a POST of
/// `{"items": [...]}` (the shape of `GET /api/v1/notifications`), signed with HMAC-SHA256 over
/// `<timestamp>.<body>` under the connection's webhook secret:
///
///     X-As4gw-Timestamp: 1764240000
///     X-As4gw-Signature: sha256=<hex>
///
/// A 2xx answer moves the connection's webhook position past the batch; anything else is tried
/// again after 1, 2, 4 … seconds (at most `maxBackoff`), the attempt count and last error kept
/// in the store and logged. The webhook is independent of the pull feed and its confirmations.
/// Nodes sharing a store take turns through the store's job lock.
final class WebhookPusher: Sendable {
    let context: GatewayContext
    private let running = Atomic<Bool>(true)
    private let finished = Atomic<Bool>(false)
    static let interval = 0.25
    static let maxBackoff = 300.0
    static let batch = 50
    /// Added to a POST's timeouts in the bound it announces: scheduling, the answer's recording.
    static let margin = 5.0

    init(context: GatewayContext) {
        self.context = context
    }

    func start() {
        let thread = Thread { [self] in
            var failures = RepeatedFailureLog()
            while running.load(ordering: .sequentiallyConsistent) {
                round(at: Date(), failures: &failures)
                Thread.sleep(forTimeInterval: Self.interval)
            }
            finished.store(true, ordering: .sequentiallyConsistent)
        }
        thread.name = "\(context.party)/webhooks"
        thread.start()
    }

    /// Stops after the current round; false when that round was still running at the deadline.
    func stop(deadline: Date) -> Bool {
        running.store(false, ordering: .sequentiallyConsistent)
        while Date() < deadline, !finished.load(ordering: .sequentiallyConsistent) {
            Thread.sleep(forTimeInterval: 0.02)
        }
        return finished.load(ordering: .sequentiallyConsistent)
    }

    /// One round. A round that fails the way the last one did (the store gone for minutes: four
    /// rounds a second) is logged once a minute with the count, and the recovery once.
    func round(at now: Date, failures: inout RepeatedFailureLog) {
        // One node at a time pushes, so a batch goes out once, not once per node; the fence
        // keeps it so when the job lock is lost mid-push (see pushOnce).
        let outcome = Result { _ = try context.mailbox.exclusively(job: "webhook-pusher", fenced: { fence in try pushOnce(now: now, fence: fence) }) }
        note(outcome, at: now, failures: &failures)
    }

    /// Logs a round's outcome. Failures are compared by kind (`FailureKey`), not text, as in the
    /// queue and mailbox workers: a PostgreSQL outage answers with a different message from
    /// round to round (refused, reset, closed), and each would otherwise be a line of its own.
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

    /// One batch per connection. Before each POST the fence proves the job is still this node's
    /// and announces the POST's bound (its timeouts and a margin), and the result is recorded
    /// only under the same fence: a node whose job lock was lost during a push (a database
    /// restart) neither posts again nor records over the node that took the job, which does not
    /// start before the announced POST is over, and then reads what was recorded. What remains
    /// at-least-once: a POST that outlasts its bound, or whose result cannot be recorded, is sent
    /// again by the next holder; a POST under way cannot be recalled (docs/API.md, Webhook).
    func pushOnce(now: Date, fence: JobFence) throws {
        let postBound = context.config.connectTimeoutSeconds + min(context.config.requestTimeoutSeconds, 30) + Self.margin
        for connection in try context.mailbox.connections() where connection.revokedAt == nil {
            guard let url = connection.webhookURL, let secret = connection.webhookSecret,
                  let state = try context.mailbox.webhookState(connection: connection.name) else { continue }
            if let next = state.nextAttemptAt, next > now { continue }
            let items = try context.mailbox.notifications(after: state.upTo, addresses: connection.addresses, limit: Self.batch)
            guard let last = items.last else { continue }
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
                try context.mailbox.recordWebhookFailure(connection: connection.name, error: failure, nextAttemptAt: now.addingTimeInterval(delay),
                                                         fence: fence)
                context.log.log(.warning, "webhook-failed", ["connection": connection.name, "attempt": String(state.attempts + 1),
                                                             "reason": failure, "retry_in_s": String(Int(delay))])
            } else {
                try context.mailbox.recordWebhookDelivery(connection: connection.name, upTo: last.id, fence: fence)
                context.log.log(.info, "webhook-delivered", ["connection": connection.name, "notifications": String(items.count)])
            }
        }
    }
}

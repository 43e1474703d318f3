import MessageStore

/// The connections with notifications to push, waiting for one of the webhook pusher's threads,
/// and those being pushed now. A connection is here at most once, waiting or pushed, so its
/// batches go out one after another in order; connections are taken oldest first. A connection
/// whose last push failed (a receiver that is down or hangs until the timeout) is taken only
/// while fewer than `threads - 1` such connections are being pushed: one thread at least is
/// always left for connections whose receivers answer, so dead receivers, however many, delay
/// them by no more than the pushes already under way on that thread.
struct WebhookQueue {
    private var waiting: [(connection: BackendConnection, retrying: Bool)] = []
    private var busy: [String: Bool] = [:]

    /// Whether the connection is waiting or being pushed.
    func holds(_ name: String) -> Bool {
        busy[name] != nil || waiting.contains { $0.connection.name == name }
    }

    /// Queues a connection unless it is waiting or being pushed already (false then).
    /// `retrying`: its last push failed.
    mutating func add(_ connection: BackendConnection, retrying: Bool) -> Bool {
        guard !holds(connection.name) else { return false }
        waiting.append((connection, retrying))
        return true
    }

    /// The connection a free thread of `threads` pushes next, marked busy; nil when none may start.
    mutating func next(threads: Int) -> BackendConnection? {
        let retryingBusy = busy.values.filter { $0 }.count
        guard let index = waiting.firstIndex(where: { !$0.retrying || retryingBusy < max(threads - 1, 1) }) else { return nil }
        let taken = waiting.remove(at: index)
        busy[taken.connection.name] = taken.retrying
        return taken.connection
    }

    /// The connection's push is over (whatever its outcome): it may be queued again.
    mutating func done(_ name: String) {
        busy[name] = nil
    }

    var waitingCount: Int { waiting.count }
    var busyCount: Int { busy.count }
}

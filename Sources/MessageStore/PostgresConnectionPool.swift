import Foundation
import Synchronization

/// A fixed number of PostgreSQL connections shared by the threads that call the store (HTTP
/// threads, delivery workers). Each connection sits behind its own mutex, which a caller holds
/// for the whole operation: a connection serves one caller at a time, and a caller finding every
/// connection busy waits on one of them. Connections open lazily and are replaced after a loss.
final class PostgresConnectionPool: Sendable {
    private final class Slot: Sendable {
        let connection = Mutex<PostgresConnection?>(nil)

        /// Closes the connection unless a call is using it.
        func closeIfFree() {
            _ = connection.withLockIfAvailable { connection in
                connection?.close()
                connection = nil
            }
        }
    }

    let url: String
    private let slots: [Slot]
    private let nextSlot = Atomic<Int>(0)
    private let isClosed = Atomic<Bool>(false)

    init(url: String, size: Int) {
        self.url = url
        slots = (0..<max(size, 1)).map { _ in Slot() }
    }

    var size: Int { slots.count }

    /// Lends a connection to `body`. When the first statement fails because the connection was
    /// lost (the server restarted while it sat idle), nothing was done yet, so `body` runs once
    /// more on a new connection; a loss after that reaches the caller as `connectionLost`.
    func withConnection<T: Sendable>(_ body: (PostgresConnection) throws -> T) throws -> T {
        guard !isClosed.load(ordering: .acquiring) else { throw StoreError.closed }
        let ticket = UInt(bitPattern: nextSlot.wrappingAdd(1, ordering: .relaxed).oldValue)
        let start = Int(ticket % UInt(slots.count))
        // A free connection first; only when all are busy, wait for one (round robin).
        for offset in 0..<slots.count {
            let slot = slots[(start &+ offset) % slots.count]
            if let result = try closingAfterwardsIfClosed(slot, { try slot.connection.withLockIfAvailable({ try lend(&$0, body) }) }) {
                return result
            }
        }
        let slot = slots[start % slots.count]
        return try closingAfterwardsIfClosed(slot) { try slot.connection.withLock { try lend(&$0, body) } }
    }

    /// Closes every connection not in use; later calls throw `closed`. A call in progress keeps
    /// its connection until it returns, which then closes it: `close` does not wait for it, since
    /// it may be waiting on a server that stopped answering (a stopping daemon must not hang there).
    func close() {
        isClosed.store(true, ordering: .releasing)
        for slot in slots { slot.closeIfFree() }
    }

    /// Runs `use`; when the pool was closed meanwhile, the slot's connection is closed once free.
    private func closingAfterwardsIfClosed<T>(_ slot: Slot, _ use: () throws -> T) rethrows -> T {
        defer {
            if isClosed.load(ordering: .acquiring) { slot.closeIfFree() }
        }
        return try use()
    }

    private func lend<T: Sendable>(_ connection: inout sending PostgresConnection?, _ body: (PostgresConnection) throws -> T) throws -> T {
        for attempt in 1...2 {
            guard !isClosed.load(ordering: .acquiring) else { throw StoreError.closed }
            if connection?.isUsable != true {
                connection?.close()
                connection = nil
                connection = try PostgresConnection(url: url)
            }
            let lent = connection!
            lent.statementsSinceLoan = 0
            do {
                return try body(lent)
            } catch StoreError.connectionLost(let message) {
                let untouched = lent.statementsSinceLoan == 0
                lent.close()
                connection = nil
                if attempt == 2 || !untouched { throw StoreError.connectionLost(message) }
            }
        }
        preconditionFailure("unreachable: the second attempt returns or throws")
    }
}

import MessageStore

/// Whoever holds an address reads its mailbox, its notifications and the documents sent from it.
/// So a second connection holding an address is made only on purpose: `as4gw connections add
/// --shared`, or the approval of a DMS registration with `"shared": true`. Both ask here.
enum AddressHolders {
    /// An address of the new connection that another active connection holds already.
    struct Held: Equatable, CustomStringConvertible {
        var address: String
        var connection: String
        var description: String { "\(address) is held by connection \(connection) already" }
    }

    /// The addresses among `addresses` that an active connection other than `name` holds, each
    /// with its first holder. A connection of the same name is left to the store, which refuses
    /// the name (or, for a registration's connection, is that connection itself).
    static func others(of addresses: [String], except name: String, store: any MailboxStore) throws -> [Held] {
        let active = try store.connections().filter { $0.revokedAt == nil && $0.name != name }
        return addresses.compactMap { address in
            active.first { $0.addresses.contains(address) }.map { Held(address: address, connection: $0.name) }
        }
    }
}

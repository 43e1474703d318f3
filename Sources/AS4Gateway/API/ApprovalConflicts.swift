import MessageStore

/// What approving a registration would take from someone who has an address now, judged before
/// the decision is stored so that a refused approval changes nothing.
///
/// Two rules, each with the operator's word that overrides it:
/// - **shared** (a DMS): a second connection holding an address reads its mailbox, its
///   notifications and the documents sent from it, as `connections add` without `--shared`.
/// - **move** (either kind): approval changes where an address's new documents go. An access
///   point's approval makes its addresses remote, so a local connection holding one receives
///   nothing new (what is in its mailbox stays), and an address another access point serves
///   leaves it; a DMS's approval makes remote addresses local mailboxes. Done silently, a
///   registrant's approval would redirect documents that someone else is waiting for.
struct ApprovalConflicts {
    /// Addresses another active connection holds, for a DMS whose connection does not exist yet.
    var holders: [AddressHolders.Held] = []
    /// Addresses whose documents would go elsewhere after approval, each with where they go now.
    var moves: [Move] = []

    struct Move: Equatable, CustomStringConvertible {
        var address: String
        /// `connection NAME` or `access point PARTYID`.
        var from: String
        var description: String { "\(address) goes to \(from) now" }
    }

    /// An approved registration is judged as well: approving it again re-runs its effects, which
    /// would take back an address moved elsewhere since. An address whose documents go to this
    /// registration already (its access point's row; a DMS's local row) is no move.
    static func of(_ r: Registration, connectionName: String, mailbox: any MailboxStore,
                   directory: any AddressDirectoryStore) throws -> ApprovalConflicts {
        var found = ApprovalConflicts()
        if r.kind == .dms, try !mailbox.connections().contains(where: { $0.name == connectionName }) {
            found.holders = try AddressHolders.others(of: r.addresses, except: connectionName, store: mailbox)
        }
        let rows = Dictionary(try directory.records(for: r.addresses).map { ($0.address, $0) }, uniquingKeysWith: { first, _ in first })
        switch r.kind {
        case .accessPoint:
            let held = try AddressHolders.others(of: r.addresses, except: "", store: mailbox)
            found.moves = r.addresses.compactMap { address in
                if let row = rows[address], row.remote, row.partyId == r.partyId { return nil }
                if let holder = held.first(where: { $0.address == address }) { return Move(address: address, from: "connection \(holder.connection)") }
                guard let row = rows[address], row.remote, let party = row.partyId, party != r.partyId else { return nil }
                return Move(address: address, from: "access point \(party)")
            }
        case .dms:
            found.moves = r.addresses.compactMap { address in
                guard let row = rows[address], row.remote else { return nil }
                return Move(address: address, from: "access point \(row.partyId ?? "(none named)")")
            }
        }
        return found
    }

    /// The refusal's text for the operator, or nil when the operator's flags cover every conflict.
    func refusal(of r: Registration, shared: Bool, move: Bool) -> String? {
        var parts: [String] = []
        var ways: [String] = []
        if !holders.isEmpty && !shared {
            parts.append(holders.map(\.description).joined(separator: "; ") + "; a second connection holding an address reads its "
                + "mailbox, its notifications and the documents sent from it")
            ways.append("{\"shared\": true} to share " + (holders.count == 1 ? "the address" : "these addresses") + " on purpose")
        }
        if !moves.isEmpty && !move {
            let after = r.kind == .accessPoint ? "this registration's access point" : "a mailbox here, read by this registration's DMS"
            parts.append(moves.map(\.description).joined(separator: "; ") + "; once approved, new documents for "
                + (moves.count == 1 ? "it" : "them") + " go to \(after) instead (documents already delivered stay where they are)")
            ways.append("{\"move\": true} to move " + (moves.count == 1 ? "the address" : "these addresses") + " on purpose")
        }
        guard !parts.isEmpty else { return nil }
        return parts.joined(separator: ". ") + ". Nothing was changed: registration \(r.id) stays \(r.status.rawValue). "
            + "Revoke or change what holds the address, reject the registration, or approve it with " + ways.joined(separator: " and ")
    }
}

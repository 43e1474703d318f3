import Foundation

/// Where the router finds directory entries. The in-memory `AddressDirectory` is one; the daemon
/// backs another with its SQLite store.
public protocol AddressLookup: Sendable {
    /// The entry of exactly this (canonical) address, or nil.
    func entry(for address: EAddress) throws -> DirectoryEntry?
}

/// Decides the route of a message to one recipient from the directory entry, the message size and
/// the time. The checks run in a fixed order, so one decision explains the strongest reason:
/// unknown, blocked, not yet active, suspended, too large; then local mailbox or remote access
/// point. Date bounds: a start is inclusive, an end exclusive (`DirectoryEntry.Availability`).
public struct Router: Sendable {
    public let directory: any AddressLookup

    public init(directory: any AddressLookup) {
        self.directory = directory
    }

    /// - Parameters:
    ///   - sender: becomes the four-corner `originalSender`; nil only for an operator's lookup.
    ///   - size: the whole message in bytes (all payloads), or nil when unknown yet.
    /// - Throws: only what the lookup throws (a store failure), never for a refused route.
    public func route(to recipient: EAddress, from sender: EAddress?, size: Int?, at now: Date) throws -> RouteDecision {
        guard let entry = try directory.entry(for: recipient) else { return .unknownAddress(recipient) }
        return Self.decide(entry, from: sender, size: size, at: now)
    }

    /// The decision for a known entry.
    public static func decide(_ entry: DirectoryEntry, from sender: EAddress?, size: Int?, at now: Date) -> RouteDecision {
        let a = entry.availability
        if let blocked = a.blockedFrom, now >= blocked {
            return .blocked(entry.address, since: blocked)
        }
        if let active = a.activeFrom, now < active {
            return .notYetActive(entry.address, activeFrom: active)
        }
        if let from = a.suspendedFrom, now >= from, a.suspendedUntil.map({ now < $0 }) ?? true {
            return .suspended(entry.address, from: from, until: a.suspendedUntil)
        }
        if let size, let limit = entry.limits.maxMessageBytes, size > limit {
            return .tooLarge(entry.address, size: size, limit: limit)
        }
        switch entry.accessPoint {
        case .localMailbox:
            return .localMailbox(entry)
        case .remote(let accessPoint):
            return .remoteAccessPoint(.init(entry: entry, accessPoint: accessPoint, originalSender: sender, finalRecipient: entry.address))
        }
    }
}

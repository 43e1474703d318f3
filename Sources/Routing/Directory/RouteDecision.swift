import Foundation

/// Where a message to one recipient goes, or why it goes nowhere. Every refusal is its own case
/// with the facts behind it, so the caller answers the sender at once instead of queueing.
public enum RouteDecision: Sendable, Equatable {
    /// Store it in this gateway's mailbox for the recipient.
    case localMailbox(DirectoryEntry)
    /// Forward it to the access point serving the recipient (four-corner model).
    case remoteAccessPoint(RemoteRoute)
    case unknownAddress(EAddress)
    case notYetActive(EAddress, activeFrom: Date)
    case suspended(EAddress, from: Date, until: Date?)
    case blocked(EAddress, since: Date)
    case tooLarge(EAddress, size: Int, limit: Int)

    /// The four-corner facts of a forwarded message: the ebMS `originalSender` and
    /// `finalRecipient` message properties, and the access point that takes it.
    public struct RemoteRoute: Sendable, Equatable {
        public var entry: DirectoryEntry
        public var accessPoint: RemoteAccessPoint
        /// The sender's canonical address; nil only when a route was asked without a sender
        /// (an operator's lookup). A real submission always has one.
        public var originalSender: EAddress?
        public var finalRecipient: EAddress
    }

    /// The outcome's name as logs, the CLI and the API show it.
    public var outcome: String {
        switch self {
        case .localMailbox: return "localMailbox"
        case .remoteAccessPoint: return "remoteAccessPoint"
        case .unknownAddress: return "unknownAddress"
        case .notYetActive: return "notYetActive"
        case .suspended: return "suspended"
        case .blocked: return "blocked"
        case .tooLarge: return "tooLarge"
        }
    }

    /// Whether the message can go on (to a mailbox or an access point).
    public var isDeliverable: Bool {
        switch self {
        case .localMailbox, .remoteAccessPoint: return true
        default: return false
        }
    }

    /// One sentence for the sender or the operator.
    public var reason: String {
        switch self {
        case .localMailbox(let entry):
            return "\(entry.address) is served by this gateway's mailbox"
        case .remoteAccessPoint(let route):
            return "\(route.finalRecipient) is served by access point \(route.accessPoint.partyId) at \(route.accessPoint.endpoint.absoluteString)"
        case .unknownAddress(let address):
            return "\(address) is not in the e-address directory"
        case .notYetActive(let address, let activeFrom):
            return "\(address) becomes active on \(RFC3339.format(activeFrom)) and receives nothing before"
        case .suspended(let address, let from, let until):
            let end = until.map { "until \(RFC3339.format($0))" } ?? "until further notice"
            return "\(address) is suspended since \(RFC3339.format(from)) \(end)"
        case .blocked(let address, let since):
            return "\(address) is blocked since \(RFC3339.format(since))"
        case .tooLarge(let address, let size, let limit):
            return "the message is \(size) bytes; \(address) accepts at most \(limit) bytes"
        }
    }
}

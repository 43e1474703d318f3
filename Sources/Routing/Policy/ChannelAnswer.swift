import Foundation

/// How a state or municipal system reaches a natural person: by e-address, or on paper and why.
public enum ChannelAnswer: Sendable, Equatable {
    /// The person's `_PRIVATE@` address is in the directory and may receive now.
    case eAddress(EAddress)
    /// The person is in the non-digital persons register (valid now): paper, with its reason.
    case paperNonDigital(NonDigitalStatus)
    /// No active e-address: none in the directory, or not active now (the router's reason).
    case paperNoActiveAddress(String)

    /// The register comes first: a person with a lawful reason not to use an e-address is
    /// written to on paper even if an address of theirs is still in the directory. Otherwise the
    /// address counts when the router would deliver to it now (not blocked, suspended or
    /// before its start).
    public static func decide(personalCode: String, nonDigital: NonDigitalStatus?, entry: DirectoryEntry?, at now: Date) -> ChannelAnswer {
        if let nonDigital { return .paperNonDigital(nonDigital) }
        guard let entry else { return .paperNoActiveAddress("_PRIVATE@\(personalCode) is not in the e-address directory") }
        let decision = Router.decide(entry, from: nil, size: nil, at: now)
        return decision.isDeliverable ? .eAddress(entry.address) : .paperNoActiveAddress(decision.reason)
    }

    /// The personal code in its 11-digit form, or why the text is not one.
    public static func personalCode(_ text: String) -> Result<String, EAddressError> {
        do throws(LatvianIdentifiers.Invalid) {
            return .success(try LatvianIdentifiers.personalCode(Substring(text)))
        } catch {
            return .failure(EAddressError(text: text, reason: error.reason))
        }
    }
}

/// A natural person's entry in the non-digital persons register, valid now, as the channel
/// lookup gives it to the systems entitled to ask (delivery refusals never carry it).
public struct NonDigitalStatus: Sendable, Equatable {
    public var reason: String
    /// Since when the entry holds: the basis a system cites for writing on paper, and what tells
    /// it that a status changed since it last asked.
    public var validFrom: Date
    public var validUntil: Date?

    public init(reason: String, validFrom: Date, validUntil: Date?) {
        self.reason = reason
        self.validFrom = validFrom
        self.validUntil = validUntil
    }
}

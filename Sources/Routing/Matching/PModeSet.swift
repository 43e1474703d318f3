import EnvelopeXML
import Foundation

/// A validated, immutable set of parties and P-Modes: what `PModeLoader` produces and what
/// `PModeRegistry` swaps on reload. Lookups are by name, id and party id; `match` selects the
/// P-Mode of a received user message (PModeMatcher.swift).
public struct PModeSet: Sendable {
    public let parties: [Party]
    public let pmodes: [PMode]
    /// The directory the set was loaded from (nil for sets built in code).
    public let directory: String?

    private let partyIndex: [String: Int]
    private let pmodeIndex: [String: Int]
    /// (P-Mode index, leg index) by service value, service type and action: selection starts here.
    private let legIndex: [LegKey: [(pmode: Int, leg: Int)]]

    private struct LegKey: Hashable {
        var service: String
        var serviceType: String
        var action: String

        init(_ service: Service, _ action: String) {
            self.service = service.value
            self.serviceType = service.type ?? ""
            self.action = action
        }
    }

    /// A set with nothing in it: every message is refused with EBMS:0001.
    public static let empty = PModeSet(uncheckedParties: [], pmodes: [])

    /// Builds a set without the loader's checks (party references, duplicates, certificates).
    /// For tests and tools; the daemon uses `PModeLoader.load(directory:)`.
    public init(uncheckedParties parties: [Party], pmodes: [PMode], directory: String? = nil) {
        self.parties = parties
        self.pmodes = pmodes
        self.directory = directory
        var partyIndex: [String: Int] = [:]
        for (i, p) in parties.enumerated() where partyIndex[p.name] == nil { partyIndex[p.name] = i }
        var pmodeIndex: [String: Int] = [:]
        for (i, p) in pmodes.enumerated() where pmodeIndex[p.id] == nil { pmodeIndex[p.id] = i }
        var legIndex: [LegKey: [(pmode: Int, leg: Int)]] = [:]
        for (i, p) in pmodes.enumerated() {
            for (j, leg) in p.legs.enumerated() { legIndex[LegKey(leg.service, leg.action), default: []].append((i, j)) }
        }
        self.partyIndex = partyIndex
        self.pmodeIndex = pmodeIndex
        self.legIndex = legIndex
    }

    /// Every leg for this service (value and type; absent type = empty) and action, in file order.
    func legs(handling service: Service, _ action: String) -> [(pmode: PMode, leg: Int)] {
        (legIndex[LegKey(service, action)] ?? []).map { (pmodes[$0.pmode], $0.leg) }
    }

    public func pmode(id: String) -> PMode? {
        pmodeIndex[id].map { pmodes[$0] }
    }

    public func party(named name: String) -> Party? {
        partyIndex[name].map { parties[$0] }
    }

    /// The party with this party id (value and type; an absent type equals an empty one).
    public func party(for id: PartyId) -> Party? {
        parties.first { $0.partyIds.contains { $0.matches(id) } }
    }

    /// Whether `partyName` may pull from `mpc`: listed in the party's `mpcs`, or authorised by a
    /// pull leg on that MPC.
    public func mayPull(party partyName: String, mpc: String) -> Bool {
        if let party = party(named: partyName), party.mpcs.contains(mpc) { return true }
        return pmodes.contains { pmode in
            pmode.binding == .pull && pmode.legs.contains { $0.mpc == mpc && ($0.pullAuthorization?.parties.contains(partyName) ?? false) }
        }
    }

    /// The P-Mode legs whose user messages wait on `mpc` for `partyName` to pull them.
    public func pullLegs(for partyName: String, mpc: String) -> [Match] {
        pmodes.flatMap { pmode in
            pmode.legs.indices.compactMap { i -> Match? in
                guard pmode.delivery(ofLeg: i) == .pull, pmode.legs[i].mpc == mpc,
                      pmode.legs[i].pullAuthorization?.parties.contains(partyName) ?? false else { return nil }
                return resolved(pmode, leg: i)
            }
        }
    }

    /// The P-Mode and leg with both parties resolved, if they exist.
    func resolved(_ pmode: PMode, leg index: Int) -> Match? {
        guard let sender = party(named: pmode.participant(pmode.sendingSide(ofLeg: index)).party),
              let receiver = party(named: pmode.participant(pmode.receivingSide(ofLeg: index)).party) else { return nil }
        return Match(pmode: pmode, legIndex: index, sender: sender, receiver: receiver)
    }
}

/// The outcome of P-Mode selection: the P-Mode, which leg, and both parties with their certificates.
public struct Match: Sendable {
    public let pmode: PMode
    public let legIndex: Int
    /// The party that sends this leg's user message (`eb:From`).
    public let sender: Party
    /// The party that receives it (`eb:To`).
    public let receiver: Party

    public var leg: Leg { pmode.legs[legIndex] }
    public var delivery: LegDelivery { pmode.delivery(ofLeg: legIndex) }
    /// The roles this leg's user message carries in `eb:From/eb:Role` and `eb:To/eb:Role`.
    public var senderRole: String { pmode.participant(pmode.sendingSide(ofLeg: legIndex)).role }
    public var receiverRole: String { pmode.participant(pmode.receivingSide(ofLeg: legIndex)).role }
}

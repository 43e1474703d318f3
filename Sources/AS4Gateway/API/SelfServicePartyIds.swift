import Foundation
import MessageStore
import Routing

/// Whose addresses a self-service access point's party id reaches. Routing (`accessPointParty`)
/// and the sender check (`senderRefusal`) find the access point of a directory row by its party
/// id's value, so every row naming a registration's party id would send that address's documents
/// to the registrant, and let it send as that address. A directory row may name a party id that
/// is not (yet, or any more) a configured partner: onboarding, a retired partner. A registration
/// choosing that id would take over another company's addresses.
///
/// So a registration's party id must name no directory row outside its own addresses. The
/// directory changes on its own (imports, which warn of such rows: `rowConflicts`), so this is
/// checked at submission, again at approval, again when the P-Modes are built (a colliding
/// registration gets no party), and per message by `mayServe` (the P-Mode build is cached until a
/// registration changes, not the directory).
enum SelfServicePartyIds {
    /// A registration's party id is named by directory rows of addresses outside the registration.
    struct Conflict: Error, CustomStringConvertible {
        var registrationId: String
        var partyId: String
        /// The foreign addresses (for operators and the log; never shown to the registrant).
        var addresses: [String]
        var description: String {
            "party id \(partyId) of registration \(registrationId) is the access point of \(addresses.count) directory "
                + "address(es) outside the registration (\(addresses.prefix(5).joined(separator: ", "))"
                + (addresses.count > 5 ? ", …" : "") + ")"
        }
    }

    /// A directory row that names the party id of a pending or approved access-point
    /// registration for an address outside it. Found when the directory is imported, so the
    /// operator learns it there (`as4gw directory import` warns per row) rather than from the
    /// first refused submission; the row is imported all the same, since the directory may be
    /// right and the registration wrong.
    struct RowConflict: Equatable, CustomStringConvertible {
        var address: String
        var partyId: String
        var registrationId: String
        var status: RegistrationStatus
        var description: String {
            // An approved one: the P-Mode build leaves it out; a pending one: approval refuses it.
            let consequence = status == .approved ? "that access point is taken out of service" : "the registration cannot be approved"
            return "\(address) names party id \(partyId), the self-service access point of registration \(registrationId) "
                + "(\(status.rawValue)) for other addresses: submissions to \(address) are refused, and \(consequence) "
                + "until the directory or the registration is corrected"
        }
    }

    /// The rows among `rows` (canonical address, and the party id of a remote access point)
    /// that name an open access-point registration's party id for an address outside it.
    static func rowConflicts(_ rows: [(address: String, partyId: String?)], registrations: [Registration]) -> [RowConflict] {
        var open: [String: Registration] = [:]
        for r in registrations where r.kind == .accessPoint && (r.status == .pending || r.status == .approved) {
            if let partyId = r.partyId { open[partyId] = r }
        }
        return rows.compactMap { row in
            guard let partyId = row.partyId, let r = open[partyId], !r.addresses.contains(row.address) else { return nil }
            return RowConflict(address: row.address, partyId: partyId, registrationId: r.id, status: r.status)
        }
    }

    /// The addresses the directory lists as served by `partyId` that are not among `own`.
    static func foreignAddresses(partyId: String, own: [String], directory: any AddressDirectoryStore) throws -> [String] {
        try foreignAddresses(of: [(partyId, own)], directory: directory)[partyId] ?? []
    }

    /// Per party id, the directory addresses it serves outside its registration's `own` ones;
    /// party ids without any are left out. One directory scan for them all (the P-Mode build).
    static func foreignAddresses(of registrations: [(partyId: String, own: [String])],
                                 directory: any AddressDirectoryStore) throws -> [String: [String]] {
        guard !registrations.isEmpty else { return [:] }
        let served = try directory.addresses(servedBy: registrations.map(\.partyId))
        var out: [String: [String]] = [:]
        for (partyId, own) in registrations {
            let foreign = (served[partyId] ?? []).filter { !own.contains($0) }
            if !foreign.isEmpty { out[partyId] = foreign }
        }
        return out
    }

    /// Throws `Conflict` when `r` is an access point whose party id the directory uses for
    /// another address.
    static func check(_ r: Registration, directory: any AddressDirectoryStore) throws {
        guard r.kind == .accessPoint, let partyId = r.partyId else { return }
        let foreign = try foreignAddresses(partyId: partyId, own: r.addresses, directory: directory)
        if !foreign.isEmpty { throw Conflict(registrationId: r.id, partyId: partyId, addresses: foreign) }
    }

    /// The registration behind a party of the P-Modes in force, when it is a self-service party
    /// (not one of the configured set, which keeps its names).
    static func registrationId(ofParty name: String, configured: PModeSet) -> String? {
        let prefix = SelfService.connectionName("")
        guard configured.party(named: name) == nil, name.hasPrefix(prefix) else { return nil }
        return String(name.dropFirst(prefix.count))
    }

    /// Whether `party` may carry documents to and from `address`: a configured partner for any
    /// address the directory gives it; a self-service access point only for the addresses of its
    /// approved registration, whatever the directory says by now.
    static func mayServe(_ address: String, party: String, context: GatewayContext) throws -> Bool {
        guard let id = registrationId(ofParty: party, configured: context.registry.current) else { return true }
        guard let r = try context.registrations.registration(id: id), r.kind == .accessPoint, r.status == .approved else { return false }
        let canonical = (try? EAddress(address).canonical) ?? address
        return r.addresses.contains(canonical)
    }
}

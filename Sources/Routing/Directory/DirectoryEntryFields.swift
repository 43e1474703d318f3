import Foundation

/// The columns of a directory file, in export order. The JSON members have the same names.
public enum DirectoryColumn: String, Sendable, CaseIterable, Hashable {
    case address, ownerId, ownerKind
    case maxMessageBytes, mailboxBytes, retentionDays
    case activeFrom, suspendedFrom, suspendedUntil, blockedFrom
    case accessPoint, partyId, partyIdType, endpoint, certificates

    /// Every file must give these; the others may be left out (or empty in CSV).
    public static let required: [DirectoryColumn] = [.address, .ownerId, .ownerKind, .accessPoint]

    /// Position in `allCases`.
    var ordinal: Int {
        switch self {
        case .address: return 0
        case .ownerId: return 1
        case .ownerKind: return 2
        case .maxMessageBytes: return 3
        case .mailboxBytes: return 4
        case .retentionDays: return 5
        case .activeFrom: return 6
        case .suspendedFrom: return 7
        case .suspendedUntil: return 8
        case .blockedFrom: return 9
        case .accessPoint: return 10
        case .partyId: return 11
        case .partyIdType: return 12
        case .endpoint: return 13
        case .certificates: return 14
        }
    }
}

/// `accessPoint` column values.
enum AccessPointKind: String, CaseIterable {
    case local, remote
}

/// One entry's values once each has the right type, before the checks that span several of them
/// (the address against the owner, a remote access point's parts). Both file formats and the
/// store adapter go through `entry(report:)`, so one entry is held to one set of rules.
public struct DirectoryEntryFields: Sendable, Equatable {
    public var address: String
    public var ownerId: String
    public var ownerKind: OwnerKind
    public var maxMessageBytes: Int?
    public var mailboxBytes: Int?
    public var retentionDays: Int?
    public var activeFrom: Date?
    public var suspendedFrom: Date?
    public var suspendedUntil: Date?
    public var blockedFrom: Date?
    /// true: `remote`; false: `local`.
    public var remote: Bool
    public var partyId: String?
    public var partyIdType: String?
    public var endpoint: String?
    /// Text forms of `CertificatePin` (`sha256:…` or a PEM block).
    public var certificates: [String]

    public init(address: String, ownerId: String, ownerKind: OwnerKind, maxMessageBytes: Int? = nil, mailboxBytes: Int? = nil,
                retentionDays: Int? = nil, activeFrom: Date? = nil, suspendedFrom: Date? = nil, suspendedUntil: Date? = nil,
                blockedFrom: Date? = nil, remote: Bool = false, partyId: String? = nil, partyIdType: String? = nil,
                endpoint: String? = nil, certificates: [String] = []) {
        self.address = address
        self.ownerId = ownerId
        self.ownerKind = ownerKind
        self.maxMessageBytes = maxMessageBytes
        self.mailboxBytes = mailboxBytes
        self.retentionDays = retentionDays
        self.activeFrom = activeFrom
        self.suspendedFrom = suspendedFrom
        self.suspendedUntil = suspendedUntil
        self.blockedFrom = blockedFrom
        self.remote = remote
        self.partyId = partyId
        self.partyIdType = partyIdType
        self.endpoint = endpoint
        self.certificates = certificates
    }

    /// The fields of an entry, for writing it out or storing it.
    public init(_ entry: DirectoryEntry) {
        self.init(address: entry.address.canonical, ownerId: entry.owner.id, ownerKind: entry.owner.kind,
                  maxMessageBytes: entry.limits.maxMessageBytes, mailboxBytes: entry.limits.mailboxBytes,
                  retentionDays: entry.limits.retentionDays, activeFrom: entry.availability.activeFrom,
                  suspendedFrom: entry.availability.suspendedFrom, suspendedUntil: entry.availability.suspendedUntil,
                  blockedFrom: entry.availability.blockedFrom)
        if case .remote(let ap) = entry.accessPoint {
            remote = true
            partyId = ap.partyId
            partyIdType = ap.partyIdType
            endpoint = ap.endpoint.absoluteString
            certificates = ap.certificates.map(\.text)
        }
    }

    /// The entry, or nil after `report` was called once per problem with the column it concerns.
    public func entry(allowInsecureEndpoints: Bool = false, report: (DirectoryColumn, String) -> Void) -> DirectoryEntry? {
        var ok = true
        func fail(_ column: DirectoryColumn, _ message: String) {
            report(column, message)
            ok = false
        }
        var parsedAddress: EAddress?
        do {
            parsedAddress = try EAddress(address)
        } catch {
            fail(.address, error.description)
        }
        if let a = parsedAddress {
            if let identifier = a.latvianIdentifier, identifier != ownerId {
                fail(.ownerId, "\"\(ownerId)\" is not \(identifier), the number in the address \(a.canonical)")
            }
            switch (a.form, ownerKind) {
            case (.privatePerson, .naturalPerson), (.participant, _): break
            case (.privatePerson, _):
                fail(.ownerKind, "is \(ownerKind.rawValue), but a _PRIVATE@ address belongs to a naturalPerson")
            case (_, .naturalPerson):
                fail(.ownerKind, "is naturalPerson, but \(a.canonical) is a legal person's address (a person's is _PRIVATE@<personal code>)")
            default: break
            }
        }
        if suspendedUntil != nil && suspendedFrom == nil {
            fail(.suspendedUntil, "is given without suspendedFrom")
        }
        if let from = suspendedFrom, let until = suspendedUntil, until <= from {
            fail(.suspendedUntil, "\(RFC3339.format(until)) is not after suspendedFrom \(RFC3339.format(from))")
        }
        let accessPoint = remote ? remoteAccessPoint(allowInsecureEndpoints: allowInsecureEndpoints, fail: fail) : localAccessPoint(fail: fail)
        guard ok, let address = parsedAddress, let accessPoint else { return nil }
        return DirectoryEntry(
            address: address, owner: .init(id: ownerId, kind: ownerKind),
            limits: .init(maxMessageBytes: maxMessageBytes, mailboxBytes: mailboxBytes, retentionDays: retentionDays),
            availability: .init(activeFrom: activeFrom, suspendedFrom: suspendedFrom, suspendedUntil: suspendedUntil, blockedFrom: blockedFrom),
            accessPoint: accessPoint)
    }

    private func localAccessPoint(fail: (DirectoryColumn, String) -> Void) -> DirectoryEntry.AccessPoint? {
        let stray: [(DirectoryColumn, Bool)] = [(.partyId, partyId != nil), (.partyIdType, partyIdType != nil),
                                                (.endpoint, endpoint != nil), (.certificates, !certificates.isEmpty)]
        var ok = true
        for (column, present) in stray where present {
            fail(column, "is only for accessPoint remote; this address is served by the local mailbox")
            ok = false
        }
        return ok ? .localMailbox : nil
    }

    private func remoteAccessPoint(allowInsecureEndpoints: Bool, fail: (DirectoryColumn, String) -> Void) -> DirectoryEntry.AccessPoint? {
        var ok = true
        if partyId == nil { fail(.partyId, "is required for accessPoint remote"); ok = false }
        var url: URL?
        if let endpoint {
            let allowed = allowInsecureEndpoints ? ["https", "http"] : ["https"]
            if let u = URL(string: endpoint), let scheme = u.scheme?.lowercased(), allowed.contains(scheme),
               let host = u.host, !host.isEmpty, u.user == nil, u.password == nil, u.fragment == nil {
                url = u
            } else {
                fail(.endpoint, "must be an \(allowed.joined(separator: " or ")) URL with a host, without user, password or fragment, not \"\(endpoint)\"")
                ok = false
            }
        } else {
            fail(.endpoint, "is required for accessPoint remote")
            ok = false
        }
        var pins: [CertificatePin] = []
        if certificates.isEmpty {
            fail(.certificates, "are required for accessPoint remote (a PEM certificate or sha256:<fingerprint>)")
            ok = false
        }
        for (index, text) in certificates.enumerated() {
            do {
                pins.append(try CertificatePin(text: text))
            } catch {
                fail(.certificates, certificates.count == 1 ? error.reason : "item \(index + 1): \(error.reason)")
                ok = false
            }
        }
        guard ok, let partyId, let url else { return nil }
        return .remote(RemoteAccessPoint(partyId: partyId, partyIdType: partyIdType, endpoint: url, certificates: pins))
    }
}

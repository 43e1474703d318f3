import Foundation

/// One row of the e-address directory as the store keeps it. The store checks only what its
/// schema needs (a non-empty address, positive limits, a remote row's party and endpoint); the
/// meaning of each value is the Routing module's (`DirectoryEntryFields`), and the gateway
/// converts between the two.
public struct AddressRecord: Sendable, Equatable {
    /// Canonical spelling: the key lookups use as is.
    public var address: String
    public var ownerId: String
    /// `institution`, `company` or `naturalPerson`.
    public var ownerKind: String
    public var maxMessageBytes: Int?
    public var mailboxBytes: Int?
    public var retentionDays: Int?
    public var activeFrom: Date?
    public var suspendedFrom: Date?
    public var suspendedUntil: Date?
    public var blockedFrom: Date?
    /// false: the local mailbox serves the address; true: the remote access point below.
    public var remote: Bool
    public var partyId: String?
    public var partyIdType: String?
    public var endpoint: String?
    /// Text forms (PEM blocks or `sha256:` fingerprints); none may contain a blank line.
    public var certificates: [String]

    public init(address: String, ownerId: String, ownerKind: String, maxMessageBytes: Int? = nil, mailboxBytes: Int? = nil,
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

    /// Equality as stored: dates compared at the store's millisecond precision.
    func sameAsStored(_ other: AddressRecord) -> Bool {
        func ms(_ d: Date?) -> Int64? { d?.storeMilliseconds }
        return address == other.address && ownerId == other.ownerId && ownerKind == other.ownerKind
            && maxMessageBytes == other.maxMessageBytes && mailboxBytes == other.mailboxBytes && retentionDays == other.retentionDays
            && ms(activeFrom) == ms(other.activeFrom) && ms(suspendedFrom) == ms(other.suspendedFrom)
            && ms(suspendedUntil) == ms(other.suspendedUntil) && ms(blockedFrom) == ms(other.blockedFrom)
            && remote == other.remote && partyId == other.partyId && partyIdType == other.partyIdType
            && endpoint == other.endpoint && certificates == other.certificates
    }
}

/// What a directory import did (see `SQLiteAddressDirectory.importRecords`).
public struct AddressImportResult: Sendable, Equatable {
    public var added = 0
    public var changed = 0
    public var unchanged = 0
    public var removed = 0

    public init(added: Int = 0, changed: Int = 0, unchanged: Int = 0, removed: Int = 0) {
        self.added = added
        self.changed = changed
        self.unchanged = unchanged
        self.removed = removed
    }
}

import Foundation

/// One e-address of the directory: who owns it, its limits, when it may receive, and which access
/// point serves it. Columns and JSON members: docs/DIRECTORY.md.
public struct DirectoryEntry: Sendable, Equatable {
    public var address: EAddress
    public var owner: Owner
    public var limits: Limits
    public var availability: Availability
    public var accessPoint: AccessPoint

    public init(address: EAddress, owner: Owner, limits: Limits = Limits(), availability: Availability = Availability(),
                accessPoint: AccessPoint = .localMailbox) {
        self.address = address
        self.owner = owner
        self.limits = limits
        self.availability = availability
        self.accessPoint = accessPoint
    }

    public struct Owner: Sendable, Equatable {
        /// For a Latvian address its registration number or personal code (the importers check
        /// that they agree); for a participant address whatever the operator identifies it by.
        public var id: String
        public var kind: OwnerKind

        public init(id: String, kind: OwnerKind) {
            self.id = id
            self.kind = kind
        }
    }

    /// Per-address limits; nil means the gateway-wide setting applies.
    public struct Limits: Sendable, Equatable {
        /// A message (all its parts) larger than this is refused with `tooLarge`.
        public var maxMessageBytes: Int?
        /// What the mailbox may hold at once (enforced by the mailbox, not by route decisions).
        public var mailboxBytes: Int?
        /// How long delivered messages are archived, in days.
        public var retentionDays: Int?
        /// The longest archive time a directory entry (or the configuration) may give: a thousand
        /// years, far beyond any archive law, and well inside what the store's timestamps hold.
        public static let maximumRetentionDays = 365_250

        public init(maxMessageBytes: Int? = nil, mailboxBytes: Int? = nil, retentionDays: Int? = nil) {
            self.maxMessageBytes = maxMessageBytes
            self.mailboxBytes = mailboxBytes
            self.retentionDays = retentionDays
        }
    }

    /// When the address may receive. Every start is inclusive and every end exclusive: at
    /// `activeFrom` it is active, at `suspendedUntil` the suspension is over.
    public struct Availability: Sendable, Equatable {
        public var activeFrom: Date?
        public var suspendedFrom: Date?
        /// Only with `suspendedFrom`; nil means suspended until further notice.
        public var suspendedUntil: Date?
        /// From then on the address receives nothing, for good.
        public var blockedFrom: Date?

        public init(activeFrom: Date? = nil, suspendedFrom: Date? = nil, suspendedUntil: Date? = nil, blockedFrom: Date? = nil) {
            self.activeFrom = activeFrom
            self.suspendedFrom = suspendedFrom
            self.suspendedUntil = suspendedUntil
            self.blockedFrom = blockedFrom
        }
    }

    public enum AccessPoint: Sendable, Equatable {
        /// Messages land in this gateway's own mailbox for the address.
        case localMailbox
        /// Messages are forwarded to another access point (four-corner model).
        case remote(RemoteAccessPoint)
    }
}

public enum OwnerKind: String, Sendable, CaseIterable, Hashable {
    case institution
    case company
    case naturalPerson
}

/// The access point that serves an address elsewhere: its ebMS party id, its AS4 endpoint and
/// the certificates its messages and receipts are signed with (PEM, or a SHA-256 fingerprint).
public struct RemoteAccessPoint: Sendable, Equatable {
    public var partyId: String
    public var partyIdType: String?
    public var endpoint: URL
    /// At least one; several while a certificate is being renewed.
    public var certificates: [CertificatePin]

    public init(partyId: String, partyIdType: String? = nil, endpoint: URL, certificates: [CertificatePin]) {
        self.partyId = partyId
        self.partyIdType = partyIdType
        self.endpoint = endpoint
        self.certificates = certificates
    }
}

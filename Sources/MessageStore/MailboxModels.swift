import Foundation

// Value types of the backend API's store (`MailboxStore`): backend connections, documents with
// their per-recipient state, and the notification feed.

/// A backend system (a DMS) allowed to use the REST API: its credentials, kept only as SHA-256
/// digests (lowercase hex), and the e-addresses it may send from and read.
public struct BackendConnection: Sendable, Equatable {
    public var name: String
    public var tokenSHA256: String?
    public var certificateSHA256: String?
    public var addresses: [String]
    public var createdAt: Date
    public var revokedAt: Date?
    /// Where notifications are pushed, and the key their HMAC-SHA256 signatures use.
    public var webhookURL: String?
    public var webhookSecret: String?
    /// What the connection may do beyond sending from and reading its addresses.
    public var roles: Set<ConnectionRole>

    public init(name: String, tokenSHA256: String?, certificateSHA256: String?, addresses: [String], createdAt: Date,
                revokedAt: Date? = nil, webhookURL: String? = nil, webhookSecret: String? = nil, roles: Set<ConnectionRole> = []) {
        self.name = name
        self.tokenSHA256 = tokenSHA256
        self.certificateSHA256 = certificateSHA256
        self.addresses = addresses
        self.createdAt = createdAt
        self.revokedAt = revokedAt
        self.webhookURL = webhookURL
        self.webhookSecret = webhookSecret
        self.roles = roles
    }
}

/// A permission a backend connection holds besides its addresses. Stored by raw value, so the
/// names are part of the store's format and the CLI's (`connections add --role`).
public enum ConnectionRole: String, Sendable, CaseIterable, Comparable {
    /// The platform's operators: registers, approvals, legal holds, limits.
    case operatorRole = "operator"
    /// State and municipal systems that ask which channel (e-address or paper) reaches a person.
    case channelLookup = "lookup"

    public static func < (a: ConnectionRole, b: ConnectionRole) -> Bool { a.rawValue < b.rawValue }

    /// The column text: role names, sorted, comma-separated; unknown names are dropped on read.
    public static func column(_ roles: Set<ConnectionRole>) -> String { roles.sorted().map(\.rawValue).joined(separator: ",") }
    public static func roles(column: String) -> Set<ConnectionRole> {
        Set(column.split(separator: ",").compactMap { ConnectionRole(rawValue: String($0)) })
    }
}

/// How far a connection's webhook got: notifications up to `upTo` were accepted by it.
public struct WebhookState: Sendable, Equatable {
    public var upTo: Int64
    /// Failed attempts since the last success.
    public var attempts: Int
    public var nextAttemptAt: Date?
    public var lastError: String?
}

/// The state of a document for one recipient, in the words DMS users know. A state only moves
/// forward (`rank`); `RecipientAccepted` and `RecipientRejected` are final, and so is `Failed`
/// unless a proof of delivery comes after it (`allows(_:receiptHeld:)`).
///
/// The sender's `deliveryBy` is a deadline to read and answer. `Delivered` is a reading by the
/// deadline (or with none); `DeliveryDelayed` says the recipient had not read the document when
/// the deadline passed, and stays so when it reads later (its `retrievedAt` and a `Delivered`
/// event record that reading). A recipient who read in time and has not answered keeps
/// `Delivered`, with an `AnswerDelayed` event (`answerDelayedEvent`). Which of these the
/// deadline allows depends on the times as well as the states: `MailboxRules.deadlineJudgement`.
public enum RecipientStatus: String, Sendable, CaseIterable {
    case submitted = "Submitted"
    case deliveryDelayed = "DeliveryDelayed"
    case accepted = "Accepted"
    case delivered = "Delivered"
    case recipientAccepted = "RecipientAccepted"
    case recipientRejected = "RecipientRejected"
    case failed = "Failed"

    var rank: Int {
        switch self {
        case .submitted: return 0
        case .accepted: return 1
        case .delivered, .deliveryDelayed: return 2
        case .recipientAccepted, .recipientRejected, .failed: return 3
        }
    }

    /// Whether a recipient in this state may move to `next`. `Failed` is only reachable before
    /// the recipient's mailbox took the document (a hub that accepted it may still fail to hand
    /// it on, and its report may come after the deadline made the recipient DeliveryDelayed;
    /// later, the recipient's answer decides);
    /// `DeliveryDelayed` marks a held document not read by its deadline, after which answering
    /// still counts. Between `Delivered` and `DeliveryDelayed` the reading time decides, not the
    /// states alone (`MailboxRules.deadlineJudgement`): both ways are allowed here.
    public func allows(_ next: RecipientStatus) -> Bool {
        switch next {
        case .failed: return self == .submitted || self == .accepted || self == .deliveryDelayed
        case .deliveryDelayed: return self == .accepted || self == .delivered
        case .delivered where self == .deliveryDelayed: return true
        default: return next.rank > rank
        }
    }

    /// `allows`, plus the one way out of `Failed`: a proof that the document was delivered
    /// after all. `Failed` said "no proof of delivery by now" (retries ran out, a lease was
    /// judged lost, the deadline passed); a proof that comes later is the truth, and the sender
    /// must learn it. The proofs: the receiving access point's signed receipt, when none was
    /// held as the recipient failed (`Accepted`; with a receipt already held the failure was
    /// the receiving side's own refusal of the recipient, which that receipt cannot undo), and
    /// that side's report that the recipient read or answered the document (`Delivered`,
    /// `RecipientAccepted`, `RecipientRejected`).
    /// `receiptHeld`: whether the recipient held a receipt before this change.
    public func allows(_ next: RecipientStatus, receiptHeld: Bool) -> Bool {
        guard self == .failed else { return allows(next) }
        switch next {
        case .accepted: return !receiptHeld
        case .delivered, .recipientAccepted, .recipientRejected: return true
        default: return false
        }
    }
}

extension RecipientStatus {
    /// The history event (and, lower-camel, the notification kind) of a recipient who read the
    /// document by its deadline but had not answered when it passed. Not a status: the recipient
    /// stays `Delivered`, which is what it did.
    public static let answerDelayedEvent = "AnswerDelayed"
    public static let answerDelayedNotification = "answerDelayed"
}

/// How a recipient is served: its mailbox on this node, or another access point by AS4.
public enum RecipientRoute: String, Sendable {
    case mailbox
    case remote
}

public struct DocumentFile: Sendable, Equatable {
    public var name: String
    public var mimeType: String
    public var file: StoredFile

    public init(name: String, mimeType: String, file: StoredFile) {
        self.name = name
        self.mimeType = mimeType
        self.file = file
    }
}

public struct DocumentRecipient: Sendable, Equatable {
    /// Grows with every recipient row: the inbox cursor.
    public var id: Int64
    public var address: String
    public var route: RecipientRoute
    public var status: RecipientStatus
    /// Remote: the access point's party and the AS4 message that carries the document to it.
    public var party: String?
    public var as4MessageId: String?
    /// Remote: the receiving access point's signed AS4 receipt.
    public var receipt: Data?
    public var decision: RecipientDecision?
    public var retrievedAt: Date?
    public var updatedAt: Date
}

/// The recipient's answer to a document.
public struct RecipientDecision: Sendable, Equatable {
    public var accepted: Bool
    public var code: String?
    public var reason: String?
    public var at: Date

    public init(accepted: Bool, code: String?, reason: String?, at: Date) {
        self.accepted = accepted
        self.code = code
        self.reason = reason
        self.at = at
    }
}

/// A document as stored, with files and recipients.
public struct Document: Sendable, Equatable {
    public var messageId: String
    /// The connection that submitted it; nil when it arrived by AS4.
    public var connection: String?
    public var idempotencyKey: String?
    /// What was submitted under `idempotencyKey` (the API's fingerprint of the request); nil
    /// without a key, and for documents stored before fingerprints were kept.
    public var idempotencyFingerprint: String?
    public var sender: String
    /// The metadata as the sender gave it (JSON text); it travels with the document.
    public var metadata: String
    /// Arrived by AS4: the sending access point (status messages go back there) and the message.
    public var originParty: String?
    public var originMessageId: String?
    /// The sender's deadline for reading and answering (documents submitted here only).
    public var deliveryBy: Date?
    public var createdAt: Date
    public var files: [DocumentFile]
    public var recipients: [DocumentRecipient]
}

/// A document to store: a submission through the API or one arriving by AS4.
public struct NewDocument: Sendable {
    public var messageId: String
    public var connection: String?
    public var idempotencyKey: String?
    /// Kept with the key: see `Document.idempotencyFingerprint`.
    public var idempotencyFingerprint: String?
    public var sender: String
    public var metadata: String
    public var originParty: String?
    public var originMessageId: String?
    public var deliveryBy: Date?
    public var files: [DocumentFile]
    public var recipients: [Recipient]
    /// Completed uploads of `connection` whose files are among `files`: taken in the same
    /// transaction, or the whole insert fails.
    public var uploads: [String] = []
    /// When the document may be purged (docs/RETENTION.md); nil keeps it without end. A
    /// document arriving again for more recipients keeps the later of the two.
    public var retainUntil: Date?

    public struct Recipient: Sendable {
        public var address: String
        public var route: RecipientRoute
        public var status: RecipientStatus
        public var party: String?
        public var as4MessageId: String?

        public init(address: String, route: RecipientRoute, status: RecipientStatus, party: String? = nil, as4MessageId: String? = nil) {
            self.address = address
            self.route = route
            self.status = status
            self.party = party
            self.as4MessageId = as4MessageId
        }
    }

    public init(messageId: String, connection: String?, idempotencyKey: String?, sender: String, metadata: String,
                originParty: String? = nil, originMessageId: String? = nil, deliveryBy: Date? = nil, files: [DocumentFile],
                recipients: [Recipient]) {
        self.messageId = messageId
        self.connection = connection
        self.idempotencyKey = idempotencyKey
        self.sender = sender
        self.metadata = metadata
        self.originParty = originParty
        self.originMessageId = originMessageId
        self.deliveryBy = deliveryBy
        self.files = files
        self.recipients = recipients
    }
}

/// What `insertDocument` did.
public enum DocumentInsertResult: Sendable, Equatable {
    /// Stored (or, for a document already held from the same origin, its new recipients added).
    case stored
    /// Nothing stored: the connection used this idempotency key before (for that message), or
    /// every recipient of an arriving document is already held.
    case existing(messageId: String)
}

/// One entry of a document's history; `address` is nil for events of the whole document.
public struct DocumentEvent: Sendable, Equatable {
    public var id: Int64
    public var address: String?
    public var at: Date
    public var status: String
    public var detail: String?
}

/// A notification for the holders of `address` (the sender's address for outcomes of a sent
/// document, the recipient's for a new message).
public struct BackendNotification: Sendable, Equatable {
    public var id: Int64
    public var address: String
    public var kind: String
    public var messageId: String
    public var recipient: String?
    public var detail: String?
    public var at: Date

    public init(id: Int64 = 0, address: String, kind: String, messageId: String, recipient: String?, detail: String?, at: Date) {
        self.id = id
        self.address = address
        self.kind = kind
        self.messageId = messageId
        self.recipient = recipient
        self.detail = detail
        self.at = at
    }
}

/// A change of one recipient's state, with the notifications it causes.
public struct RecipientUpdate: Sendable {
    public var messageId: String
    public var address: String
    public var status: RecipientStatus
    public var detail: String?
    public var receipt: Data?
    public var decision: RecipientDecision?
    /// Set when the recipient first retrieves the document.
    public var retrieved: Bool
    /// When it read it, if not at the update's own time: a remote recipient's reading is
    /// reported later by its access point, and the moment of reading is the legal fact.
    public var retrievedAt: Date?
    public var notifications: [BackendNotification]
    /// The status report the document's origin is owed for this step, recorded with it when the
    /// step is taken (`OwedReport`); nil for a document submitted here, or a step not reported.
    public var originReport: OriginReportDue?
    /// For a `Failed` update: how often an operator had queued the recipient's AS4 message again
    /// (`MessageStore.retryFailed`) before the failure it reports. `Failed` is final, but the
    /// outcome of such a retry is news to a sender told of the failure before it: a recipient
    /// already `Failed` is failed again (its event and notifications recorded, its status kept)
    /// while it has been failed no more often than this. So each retry's outcome is told once,
    /// however often the update is repeated, and without a retry nothing is told twice.
    public var operatorRetries: Int

    public init(messageId: String, address: String, status: RecipientStatus, detail: String? = nil, receipt: Data? = nil,
                decision: RecipientDecision? = nil, retrieved: Bool = false, retrievedAt: Date? = nil, notifications: [BackendNotification] = [],
                originReport: OriginReportDue? = nil, operatorRetries: Int = 0) {
        self.messageId = messageId
        self.address = address
        self.status = status
        self.detail = detail
        self.receipt = receipt
        self.decision = decision
        self.retrieved = retrieved
        self.retrievedAt = retrievedAt
        self.notifications = notifications
        self.originReport = originReport
        self.operatorRetries = operatorRetries
    }
}

/// A file arriving in numbered chunks (resumable upload) before a submission names it.
public struct Upload: Sendable, Equatable {
    public var id: String
    public var connection: String
    public var name: String
    public var mimeType: String
    public var size: Int64
    public var chunkSize: Int64
    /// Chunks 1…received are on disk, in order.
    public var received: Int
    public var path: String
    /// The whole file's SHA-256, once complete.
    public var sha256: String?
    public var createdAt: Date
    public var completedAt: Date?
    /// The message that took the file.
    public var usedBy: String?

    public init(id: String, connection: String, name: String, mimeType: String, size: Int64, chunkSize: Int64, path: String, createdAt: Date) {
        self.id = id
        self.connection = connection
        self.name = name
        self.mimeType = mimeType
        self.size = size
        self.chunkSize = chunkSize
        self.received = 0
        self.path = path
        self.createdAt = createdAt
    }

    public var chunkCount: Int { Int((size + chunkSize - 1) / chunkSize) }

    /// The length chunk `n` (from 1) must have.
    public func length(ofChunk n: Int) -> Int64 {
        n < chunkCount ? chunkSize : size - Int64(chunkCount - 1) * chunkSize
    }
}

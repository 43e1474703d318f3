import Foundation

// Value types the store takes and returns. Metadata is plain strings (the store knows nothing of
// XML or P-Modes); payloads are files referenced by path. Dates round-trip with millisecond
// precision.

/// The ebMS header values kept for every message, in both directions.
public struct MessageMetadata: Sendable, Equatable {
    public var messageId: String
    public var conversationId: String
    public var refToMessageId: String?
    public var fromParty: String
    public var toParty: String
    public var service: String
    public var action: String
    public var pmodeId: String?
    public var mpc: String?
    /// eb:MessageProperties in their order (empty for messages stored before properties were kept).
    public var properties: [MessageProperty]

    public init(messageId: String, conversationId: String = "", refToMessageId: String? = nil, fromParty: String,
                toParty: String, service: String, action: String, pmodeId: String? = nil, mpc: String? = nil,
                properties: [MessageProperty] = []) {
        self.messageId = messageId
        self.conversationId = conversationId
        self.refToMessageId = refToMessageId
        self.fromParty = fromParty
        self.toParty = toParty
        self.service = service
        self.action = action
        self.pmodeId = pmodeId
        self.mpc = mpc
        self.properties = properties
    }
}

/// A file the store has made durable: absolute path, byte count, SHA-256 (lowercase hex).
public struct StoredFile: Sendable, Equatable {
    public var path: String
    public var size: Int64
    public var sha256: String

    public init(path: String, size: Int64, sha256: String) {
        self.path = path
        self.size = size
        self.sha256 = sha256
    }
}

/// Where `storePayload` takes a payload from.
public enum PayloadSource: Sendable {
    /// Bytes in memory.
    case bytes(Data)
    /// A file that is copied (the source stays).
    case copy(path: String)
    /// A file that is moved (renamed when on the same file system, else copied and removed).
    case move(path: String)
}

/// One payload part of a message.
public struct MessagePart: Sendable, Equatable {
    public var contentId: String
    public var mimeType: String
    public var file: StoredFile
    /// The payload itself, for a store that keeps small payloads in its own rows
    /// (`MessageStore.inlineMessageLimit` > 0): committed with the message, no file. `file` then
    /// has an empty path and gives the size and SHA-256. Filled by `findMessage`; listings and
    /// duplicate answers leave it out.
    public var bytes: Data?
    /// The part's eb:PartProperties as received, less `MimeType` (that is `mimeType`) and
    /// `CompressionType` (the stored payload is decompressed): `CharacterSet` and any
    /// agreement-specific ones, in their order.
    public var properties: [MessageProperty]

    public init(contentId: String, mimeType: String, file: StoredFile, bytes: Data? = nil, properties: [MessageProperty] = []) {
        self.contentId = contentId
        self.mimeType = mimeType
        self.file = file
        self.bytes = bytes
        self.properties = properties
    }
}

/// A message received from another access point, to be recorded (status `Received`).
public struct InboundMessage: Sendable, Equatable {
    public var metadata: MessageMetadata
    public var parts: [MessagePart]
    /// The whole message as received (MIME file), if kept.
    public var storedPath: String?
    public var receivedAt: Date
    /// The signed receipt answered, when it is already built; else `attachReceipt` later.
    public var receipt: Data?
    /// The reply leg of a Two-Way exchange: `metadata.refToMessageId` names the request of ours
    /// it answers, and a request has one reply (`recordInbound` refuses a second one).
    public var isTwoWayReply: Bool

    public init(metadata: MessageMetadata, parts: [MessagePart] = [], storedPath: String? = nil, receivedAt: Date,
                receipt: Data? = nil, isTwoWayReply: Bool = false) {
        self.metadata = metadata
        self.parts = parts
        self.storedPath = storedPath
        self.receivedAt = receivedAt
        self.receipt = receipt
        self.isTwoWayReply = isTwoWayReply
    }

    /// The request this message answers when it is a Two-Way reply (the `answers_request` column).
    var answersRequest: String? { isTwoWayReply ? metadata.refToMessageId : nil }
}

/// A message our backend submitted, to be queued (status `Submitted`).
public struct OutboundMessage: Sendable, Equatable {
    public var metadata: MessageMetadata
    public var parts: [MessagePart]
    /// The receiving access point's URL; nil for a pull leg.
    public var endpoint: String?
    /// The HTTP Content-Type of the stored MIME file.
    public var contentType: String
    /// The signed message exactly as it will be (re)sent: retries must reuse the same bytes.
    /// Empty when `messageBytes` carries the message instead.
    public var messagePath: String
    /// Opaque JSON describing the `ds:Reference`s sent, kept to validate the receipt.
    public var sentReferences: String?
    /// Attempts allowed in total (the first send included); at least 1.
    public var maxAttempts: Int
    public var submittedAt: Date
    /// When the first attempt may be made (default: `submittedAt`).
    public var firstAttemptAt: Date?
    /// Set for a pull leg: the message waits on this MPC for a PullRequest instead of being pushed.
    public var pullMPC: String?
    /// The signed message itself, for a store that keeps small messages in its own rows
    /// (`MessageStore.inlineMessageLimit` > 0): stored in the same durable commit as the row,
    /// with no file. nil: the message is the file at `messagePath`.
    public var messageBytes: Data?

    public init(metadata: MessageMetadata, parts: [MessagePart] = [], endpoint: String?, contentType: String,
                messagePath: String, sentReferences: String? = nil, maxAttempts: Int, submittedAt: Date,
                firstAttemptAt: Date? = nil, pullMPC: String? = nil, messageBytes: Data? = nil) {
        self.metadata = metadata
        self.parts = parts
        self.endpoint = endpoint
        self.contentType = contentType
        self.messagePath = messagePath
        self.sentReferences = sentReferences
        self.maxAttempts = maxAttempts
        self.submittedAt = submittedAt
        self.firstAttemptAt = firstAttemptAt
        self.pullMPC = pullMPC
        self.messageBytes = messageBytes
    }
}

/// Why a delivery attempt failed: a code (an ebMS error code, `http-503`, …) and a reason.
public struct DeliveryError: Sendable, Equatable {
    public var code: String
    public var reason: String

    public init(code: String, reason: String) {
        self.code = code
        self.reason = reason
    }

    /// Recorded when the sending nodes could not read the message's own file for too long
    /// (`MessageStore.releaseAfterLocalFault`): a fault of our storage, not a peer's error code.
    public static let localStorageCode = "local-storage"

    /// Recorded when a message's last allowed attempt ended by lease expiry (no receipt came).
    public static func missingReceipt(attempts: Int) -> DeliveryError {
        DeliveryError(code: "EBMS:0301", reason: "no receipt after \(attempts) attempt(s); the last lease expired")
    }
}

/// The outbound delivery state of a stored message.
public struct OutboundState: Sendable, Equatable {
    public var endpoint: String?
    public var contentType: String
    public var messagePath: String
    public var sentReferences: String?
    public var attempts: Int
    public var maxAttempts: Int
    public var nextAttemptAt: Date?
    public var leaseOwner: String?
    public var leaseUntil: Date?
    public var lastError: DeliveryError?
    public var pullMPC: String?
    /// The sealed message when the store keeps it in its own rows (`messagePath` is then empty).
    /// Filled by `findMessage` only: listings leave it out.
    public var messageBytes: Data?
}

/// A message as stored, with its parts.
public struct StoredMessage: Sendable, Equatable {
    public var rowId: Int64
    public var direction: Direction
    public var status: MessageStatus
    public var metadata: MessageMetadata
    public var parts: [MessagePart]
    public var createdAt: Date
    public var updatedAt: Date
    /// Delivery state; nil for inbound messages.
    public var outbound: OutboundState?
    /// Raw signed receipt: the one received (outbound) or the one answered (inbound).
    public var receipt: Data?
    public var receiptAt: Date?
    /// Inbound: the stored MIME file, and when the backend retrieved the message.
    public var storedPath: String?
    public var retrievedAt: Date?
    /// Inbound `Failed`: why the backend could not take the message in (`markIntakeFailed`).
    public var intakeError: DeliveryError? = nil
}

/// One entry of a message's append-only history.
public struct MessageEvent: Sendable, Equatable {
    public var id: Int64
    public var rowId: Int64
    public var at: Date
    public var direction: Direction
    /// The status after the event.
    public var status: MessageStatus
    public var code: String?
    public var detail: String?

    /// The code of the `Received` event an operator's `retryIntake` appends: the daemon, which
    /// follows the history, takes the message in again when it meets it.
    public static let intakeRetryRequestedCode = "intake-retry-requested"
    /// The code of the `Submitted` event an operator's `retryFailed` appends.
    public static let retryRequestedCode = "retry-requested"
}

/// What `recordInbound` did.
public enum InboundResult: Sendable, Equatable {
    /// A new message, stored under this row id.
    case stored(rowId: Int64)
    /// The message id was received within the duplicate window: nothing stored; the original
    /// (with the receipt answered then, if any) comes back so the receipt can be sent again.
    case duplicate(original: StoredMessage)
}

/// An outbound message a worker has leased for one delivery attempt (push) or one pull.
public struct OutboundJob: Sendable, Equatable {
    public var rowId: Int64
    public var metadata: MessageMetadata
    public var endpoint: String?
    public var contentType: String
    public var messagePath: String
    public var sentReferences: String?
    /// The number of this attempt (1 for the first).
    public var attempt: Int
    public var maxAttempts: Int
    public var owner: String
    public var leaseUntil: Date
    public var pullMPC: String?
    /// When the message was submitted (the start of its end-to-end latency).
    public var createdAt: Date
    /// The message to send when the store keeps it in its own row (`messagePath` is then empty).
    public var messageBytes: Data?
    /// The first attempt since an operator sent the failed message again (`retryFailed`): the
    /// attempts start over from 0 while the message still has the error it failed with.
    public var afterOperatorRetry = false

    /// Whether no retry is left after this attempt.
    public var isLastAttempt: Bool { attempt >= maxAttempts }
}

/// Outbound messages not yet final.
public struct QueueDepth: Sendable, Equatable {
    public var submitted: Int
    public var sending: Int
    public var total: Int { submitted + sending }

    public init(submitted: Int, sending: Int) {
        self.submitted = submitted
        self.sending = sending
    }
}

/// How many messages one direction holds in one status (operators' overview, `/metrics`).
public struct MessageCount: Sendable, Equatable {
    public var direction: Direction
    public var status: MessageStatus
    public var count: Int

    public init(direction: Direction, status: MessageStatus, count: Int) {
        self.direction = direction
        self.status = status
        self.count = count
    }
}

import Foundation

/// How documents between e-addresses and their status travel by AS4 between access points.
///
/// - A document goes as one user message per recipient: service `service`, action
///   `documentAction`, message properties `originalSender` and `finalRecipient` (four-corner)
///   and `documentId`; its first payload is `DocumentHeader` as JSON, the files follow in order.
/// - The mailbox's news about it (retrieved, accepted, rejected, failed) comes back as a user
///   message with action `statusAction` whose one payload is `StatusReport` as JSON, with
///   `eb:RefToMessageId` naming the document's message. Both are signed and receipted as usual.
enum EAddressMessages {
    static let service = "urn:eadrese:services:delivery"
    static let documentAction = "EAddressDocument"
    static let statusAction = "EAddressStatus"
    static let headerContentID = "document-header@as4gw"

    struct FileInfo: Codable, Equatable {
        var name: String
        var mimeType: String
        var size: Int64
        var sha256: String
    }

    /// The first payload of a document message.
    struct DocumentHeader: Codable {
        var documentId: String
        var sender: String
        var recipient: String
        /// The metadata as the sender's DMS gave it (JSON text).
        var metadata: String
        var files: [FileInfo]
    }

    /// The payload of a status message.
    struct StatusReport: Codable {
        var documentId: String
        var recipient: String
        /// Delivered, RecipientAccepted, RecipientRejected or Failed.
        var status: String
        var code: String?
        var reason: String?
        var at: Date
        /// When the recipient first read it, if it did: reports may overtake each other on the
        /// way, and an answer that arrives first still leaves Delivered in the sender's history.
        var retrievedAt: Date?
    }

    static func encode<T: Encodable>(_ value: T) throws -> Data {
        let e = JSONEncoder()
        e.dateEncodingStrategy = .millisecondsSince1970
        e.outputFormatting = [.sortedKeys]
        return try e.encode(value)
    }

    /// A partner's payload; its texts must be carriable like a client's (`TextInput`), or the
    /// document's evidence and a PostgreSQL store could not hold them.
    static func decode<T: Decodable>(_ type: T.Type, from data: Data) throws -> T {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .millisecondsSince1970
        let value = try d.decode(type, from: data)
        let texts: [String?]
        switch value {
        case let h as DocumentHeader: texts = [h.documentId, h.sender, h.recipient, h.metadata] + h.files.flatMap { [$0.name, $0.mimeType, $0.sha256] }
        case let r as StatusReport: texts = [r.documentId, r.recipient, r.status, r.code, r.reason]
        default: texts = []
        }
        if let bad = texts.compactMap({ $0 }).first(where: { !TextInput.isCarriable($0) }) {
            throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "a text contains a control character: \(bad.debugDescription)"))
        }
        return value
    }
}

import EnvelopeXML
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
    /// The eb:Property naming the document a message carries (or reports on).
    static let documentIdProperty = "documentId"
    /// Files one document may have: its AS4 message holds them as MIME parts beside the SOAP
    /// root part and the JSON document header, and a receiver refuses a message of more parts
    /// than `MIMELimits.maxParts` (EBMS:0007). Checked at submission, where the DMS can still
    /// split the document, instead of failing at the receiver after the retries.
    static let maxFiles = MIMELimits.default.maxParts - 2

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
        // Each text with where it is, so the refusal names the field rather than quoting its
        // value: the value may hold anything, a personal code included, and the reason is logged.
        let texts: [(path: [JSONKey], text: String?)]
        switch value {
        case let h as DocumentHeader:
            texts = [([.init("documentId")], h.documentId), ([.init("sender")], h.sender), ([.init("recipient")], h.recipient),
                     ([.init("metadata")], h.metadata)]
                + h.files.enumerated().flatMap { i, f in
                    [("name", f.name), ("mimeType", f.mimeType), ("sha256", f.sha256)].map { ([.init("files"), .init(i), .init($0)], $1) }
                }
        case let r as StatusReport:
            texts = [([.init("documentId")], r.documentId), ([.init("recipient")], r.recipient), ([.init("status")], r.status),
                     ([.init("code")], r.code), ([.init("reason")], r.reason)]
        default: texts = []
        }
        if let bad = texts.first(where: { $0.text.map { !TextInput.isCarriable($0) } ?? false }) {
            throw DecodingError.dataCorrupted(.init(codingPath: bad.path, debugDescription: "contains a control character"))
        }
        return value
    }

    /// A place in a payload's JSON, for `DecodingError`s that name it.
    struct JSONKey: CodingKey {
        var stringValue: String
        var intValue: Int?
        init(_ name: String) { stringValue = name }
        init(_ index: Int) { stringValue = "Index \(index)"; intValue = index }
        init?(stringValue: String) { self.init(stringValue) }
        init?(intValue: Int) { self.init(intValue) }
    }
}

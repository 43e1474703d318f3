import EnvelopeXML
import Foundation

/// Why an e-address document cannot be taken as its AS4 message brings it, judged from the
/// message alone (`DocumentHeaderCheck`). Each description is what the sending gateway gets
/// as the ebMS error's description and passes on to its DMS, so it says what to fix: which value,
/// which file, what was expected and what was found. Descriptions go to our log as well, where
/// `_PRIVATE@` codes are masked; a value that may be a bare personal code is never quoted.
enum DocumentHeaderProblem: Error, Equatable, CustomStringConvertible {
    /// The message has no payload at all, so no header.
    case noHeader
    /// The header is larger than is ever read into memory.
    case headerTooLarge(bytes: Int64, limit: UInt64)
    /// The first payload is not a document header: not JSON, a field missing or of the wrong
    /// type, a control character (`why` names the place, not the value).
    case headerUnreadable(why: String)
    /// The header's documentId is outside `DocumentIdentifier`'s rule (`why` never quotes it).
    case documentIdRefused(why: String)
    /// The header's metadata is not what a submission here could give: `problems` are JSON
    /// pointers into it with what is wrong, values never quoted.
    case metadataRefused(problems: [String])
    /// The metadata's `sender` is another e-address than the header's (both canonical, as they
    /// are checked e-addresses by then).
    case metadataSenderDiffers(header: String, metadata: String)
    /// The header's sender or recipient is no e-address; `why` is the parser's reason when it
    /// quotes no number that may be a personal code, else nil.
    case notAnAddress(CarrierField, why: String?)
    /// The header and the carrier's eb:MessageProperties name different values. `property` is
    /// nil when the property's value is itself no e-address (and so not quoted).
    case differsFromProperty(CarrierField, header: String, property: String?)
    case fileCount(listed: Int, carried: Int)
    /// `position` counts from 1 among the files (the payloads after the header).
    case fileSize(position: Int, of: Int, contentId: String, listed: Int64, carried: Int64)
    case fileHash(position: Int, of: Int, contentId: String, listed: String, carried: String)
    /// A file name the REST API would refuse in a submission (`DocumentFileName`): a path, `..`,
    /// empty, too long. `why` is that rule's reason; the name itself is not quoted.
    case fileName(position: Int, of: Int, why: String)
    /// The payload's eb:PartProperties `CharacterSet` is no charset name (`why`: the rule).
    case characterSetInvalid(position: Int, of: Int, contentId: String, why: String)
    /// The header's media type names one charset, the payload's `CharacterSet` another (both
    /// checked charset names, so quotable).
    case charsetDiffers(position: Int, of: Int, contentId: String, header: String, property: String)

    /// The values a document's header and its carrier's eb:MessageProperties both give.
    enum CarrierField: Equatable {
        case sender, recipient, documentId

        /// The header's JSON field.
        var headerField: String {
            switch self {
            case .sender: return "sender"
            case .recipient: return "recipient"
            case .documentId: return "documentId"
            }
        }

        /// The eb:Property that names the same value.
        var property: String {
            switch self {
            case .sender: return EbmsConstants.originalSender
            case .recipient: return EbmsConstants.finalRecipient
            case .documentId: return EAddressMessages.documentIdProperty
            }
        }
    }

    /// ebMS3 §6.7.1: two values of the message that contradict each other are
    /// ValueInconsistent; a header that cannot be used at all contradicts nothing, and no other
    /// code fits a payload's content (0001 and 0009 are about the ebMS header), so it is Other.
    var code: EbmsError.Code {
        switch self {
        case .noHeader, .headerTooLarge, .headerUnreadable, .notAnAddress, .fileName, .characterSetInvalid, .documentIdRefused, .metadataRefused:
            return .other
        case .differsFromProperty, .metadataSenderDiffers, .fileCount, .fileSize, .fileHash, .charsetDiffers: return .valueInconsistent
        }
    }

    var ebmsError: EbmsError { EbmsError(code, description) }

    var description: String {
        switch self {
        case .noHeader:
            return "the e-address document carries no payload; its first payload must be the JSON document header"
        case .headerTooLarge(let bytes, let limit):
            return "the document header (the first payload) is \(bytes) bytes; a header may have at most \(limit)"
        case .headerUnreadable(let why):
            return "the first payload is not a readable document header: \(why)"
        case .documentIdRefused(let why):
            return "the document header's documentId \(why); a document id has 1 to \(DocumentIdentifier.maxLength) characters, "
                + "none of them a space, a control or format character, or one of / \\ ? # %"
        case .metadataRefused(let problems):
            return "the document header's metadata is not acceptable: " + problems.joined(separator: "; ")
        case .metadataSenderDiffers(let header, let metadata):
            return "the document header names sender \(header), but its metadata's sender is \(metadata)"
        case .notAnAddress(let field, let why):
            return "the document header's \(field.headerField) is not an e-address" + (why.map { ": \($0)" } ?? "")
        case .differsFromProperty(let field, let header, let property):
            return "the document header names \(field.headerField) \(header), but eb:MessageProperties \(field.property) "
                + (property.map { "is \($0)" } ?? "is not an e-address")
        case .fileCount(let listed, let carried):
            return "the document header lists \(listed) file\(listed == 1 ? "" : "s"), but the message carries \(carried) after the header"
        case .fileSize(let position, let count, let contentId, let listed, let carried):
            return "file \(position) of \(count) (payload cid:\(contentId)): the document header gives its size as \(listed) bytes, "
                + "the payload (decrypted, decompressed) has \(carried)"
        case .fileHash(let position, let count, let contentId, let listed, let carried):
            return "file \(position) of \(count) (payload cid:\(contentId)): the document header gives SHA-256 \(Self.prefix(listed)), "
                + "the payload's (decrypted, decompressed) is \(Self.prefix(carried))"
        case .fileName(let position, let count, let why):
            return "file \(position) of \(count): the document header's file name is refused, as in a submission here: \(why)"
        case .characterSetInvalid(let position, let count, let contentId, let why):
            return "file \(position) of \(count) (payload cid:\(contentId)): eb:PartProperties CharacterSet is refused: \(why)"
        case .charsetDiffers(let position, let count, let contentId, let header, let property):
            return "file \(position) of \(count) (payload cid:\(contentId)): the document header gives its charset as \(header), "
                + "but eb:PartProperties CharacterSet is \(property)"
        }
    }

    /// Enough of a hex digest to tell two apart, short enough for a description; a listed value
    /// is the sender's text and may be anything, so it is cut too.
    static func prefix(_ digest: String) -> String {
        digest.count > 12 ? digest.prefix(12) + "…" : digest
    }
}

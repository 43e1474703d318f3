import EnvelopeXML
import Foundation
import MessageStore
import Routing

/// Everything about an e-address document that its AS4 message alone decides, judged before the
/// receipt. Once receipted, the sending gateway and its DMS hold proof of delivery; a document
/// the intake after the receipt (`DocumentExchange.takeDocument`) then could not read would be
/// lost with nobody told. So what can refuse a document without asking the directory, the
/// registers or the mailboxes is judged here, and refused with an ebMS error instead
/// (`DocumentHeaderProblem` names the code and what to fix):
///
/// - the first payload is a readable JSON document header (`EAddressMessages.DocumentHeader`,
///   at most `maxHeaderBytes`) whose sender and recipient are e-addresses;
/// - where the carrier's eb:MessageProperties give them, `finalRecipient`, `originalSender` and
///   `documentId` name what the header names: the checks before the receipt route on the
///   properties (`MailboxQuota`), the intake places the document by the header, and the receipt
///   must vouch for the document that is placed. One AS4 message carries a document to one
///   recipient, so the rule is equality (addresses in canonical spelling, as the intake keeps them);
/// - the header lists as many files as follow it, each with the size and SHA-256 of its payload,
///   and a name the REST API would take in a submission (`DocumentFileName`: no path, no `..`);
/// - a payload's eb:PartProperties `CharacterSet` is a charset name and, where the header's media
///   type names a charset too, the same one (the intake keeps the file's charset from either,
///   `mediaType`).
/// - its documentId is one the API can name in a URL (`DocumentIdentifier`), and its metadata
///   meets the rule a submission's does (`DocumentMetadata`): the API serves both as they came.
///
/// The intake reads the header through `header(of:carrier:)` too, so it never refuses what
/// passed here. Sizes and digests are those the store computed while writing each payload,
/// decrypted and decompressed (streaming, `PayloadDirectory`): no file is read again here, and
/// only the header is read into memory, bounded.
enum DocumentHeaderCheck {
    /// The largest header read: it is read into memory whole, as the SOAP envelope is, and gets
    /// the envelope's bound. Our own headers stay far below (metadata of at most 64 KiB, at most
    /// 999 files a message, the MIME part limit).
    static let maxHeaderBytes = MIMELimits.default.maxRootPartSize

    typealias Field = DocumentHeaderProblem.CarrierField

    /// What a document's carrier says of it in its eb:MessageProperties; nil where it says
    /// nothing (there is nothing to compare then).
    struct Carrier: Equatable {
        var originalSender: String?
        var finalRecipient: String?
        var documentId: String?

        /// Read by property name, from the wire's `eb:Property`s or the stored ones.
        init(_ property: (String) -> String?) {
            originalSender = property(EbmsConstants.originalSender)
            finalRecipient = property(EbmsConstants.finalRecipient)
            documentId = property(EAddressMessages.documentIdProperty)
        }

        func value(_ field: Field) -> String? {
            switch field {
            case .sender: return originalSender
            case .recipient: return finalRecipient
            case .documentId: return documentId
            }
        }
    }

    /// Before the receipt: an `EAddressDocument` the intake could not take as it is is refused
    /// with the ebMS error its problem names. Other messages pass untouched.
    static func checkArrival(_ user: UserMessage, parts: [MessagePart]) throws {
        guard user.collaboration.service.value == EAddressMessages.service,
              user.collaboration.action == EAddressMessages.documentAction else { return }
        do {
            _ = try header(of: parts, carrier: Carrier { user.properties[$0] })
        } catch let problem as DocumentHeaderProblem {
            throw problem.ebmsError
        }
    }

    /// The document header of a message's payloads, checked against the carrier and the files.
    /// Throws `DocumentHeaderProblem`; an I/O error reading the header file passes through (ours,
    /// not the sender's).
    static func header(of parts: [MessagePart], carrier: Carrier) throws -> EAddressMessages.DocumentHeader {
        guard let first = parts.first else { throw DocumentHeaderProblem.noHeader }
        let header = try read(first)
        for field in [Field.sender, .recipient] {
            do {
                _ = try EAddress(value(field, of: header))
            } catch {
                throw DocumentHeaderProblem.notAnAddress(field, why: quotable(error.reason))
            }
        }
        if let why = DocumentIdentifier.problem(header.documentId) { throw DocumentHeaderProblem.documentIdRefused(why: why) }
        let metadataSender = try checkMetadata(header.metadata)
        for field in [Field.recipient, .sender, .documentId] {
            guard let given = carrier.value(field) else { continue }
            let named = value(field, of: header)
            if field == .documentId {
                guard named == given else { throw DocumentHeaderProblem.differsFromProperty(field, header: named, property: given) }
                continue
            }
            // Both as the sender wrote them, so it can find its mistake; a property that is no
            // e-address might be a bare personal code, and is not quoted.
            guard let address = try? EAddress(given) else { throw DocumentHeaderProblem.differsFromProperty(field, header: named, property: nil) }
            guard (try? EAddress(named))?.canonical == address.canonical else {
                throw DocumentHeaderProblem.differsFromProperty(field, header: named, property: given)
            }
        }
        // After the carrier: a header sender that contradicts originalSender is told as that.
        if let named = try? EAddress(header.sender).canonical, metadataSender != named {
            throw DocumentHeaderProblem.metadataSenderDiffers(header: named, metadata: metadataSender)
        }
        try checkFiles(header.files, Array(parts.dropFirst()))
        return header
    }

    /// The metadata by the rule a submission here meets (`DocumentMetadata`), since the API
    /// serves a received document's metadata as it serves a submitted one's; its `sender`
    /// (canonical), which must be the header's: another one would let an access point name, in
    /// the metadata the API serves and the evidence seals as sent, a sender it may not speak for
    /// (`DocumentExchange.senderRefusal` judges the header's). The text is kept as it came, so
    /// JSON that readers may take differently (a key given twice: Foundation keeps one without a
    /// word) is refused; the metadata a gateway stores and sends never has it.
    static func checkMetadata(_ text: String) throws -> String {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] else {
            throw DocumentHeaderProblem.metadataRefused(problems: ["it is not a JSON object"])
        }
        if let problem = StrictJSON.problem(text) {
            throw DocumentHeaderProblem.metadataRefused(problems: [quotable(problem) ?? "it is not strict JSON (RFC 8259, each key once)"])
        }
        let (checked, errors) = DocumentMetadata.check(object, origin: .arrival)
        guard errors.isEmpty, let checked else {
            throw DocumentHeaderProblem.metadataRefused(problems: errors.map { "\($0.pointer) " + (quotable($0.detail) ?? "is not acceptable") })
        }
        return checked.sender
    }

    static func value(_ field: Field, of header: EAddressMessages.DocumentHeader) -> String {
        switch field {
        case .sender: return header.sender
        case .recipient: return header.recipient
        case .documentId: return header.documentId
        }
    }

    /// The header part decoded, if it is small enough to read.
    static func read(_ part: MessagePart) throws -> EAddressMessages.DocumentHeader {
        guard part.file.size >= 0, UInt64(part.file.size) <= maxHeaderBytes else {
            throw DocumentHeaderProblem.headerTooLarge(bytes: part.file.size, limit: maxHeaderBytes)
        }
        // Small payloads the store keeps in its rows; a header in a file is read whole, which
        // the bound above allows.
        let data = try part.bytes ?? Data(contentsOf: URL(fileURLWithPath: part.file.path))
        do {
            return try EAddressMessages.decode(EAddressMessages.DocumentHeader.self, from: data)
        } catch {
            throw DocumentHeaderProblem.headerUnreadable(why: reason(error))
        }
    }

    /// The payloads after the header against the header's list, in order; sizes first, since a
    /// size that differs says more than a digest that does. Hex digests compare in either case.
    static func checkFiles(_ listed: [EAddressMessages.FileInfo], _ files: [MessagePart]) throws {
        guard listed.count == files.count else { throw DocumentHeaderProblem.fileCount(listed: listed.count, carried: files.count) }
        for (i, (info, part)) in zip(listed, files).enumerated() {
            // Refused, not renamed: the DMS that saves the file may be anybody's software, so a
            // path must never reach it, and a safe name made up here would be a document the
            // sender did not send, vouched for by our receipt. Before the receipt the sender's
            // gateway still gets an error naming the rule, as its own DMS would from our API.
            do throws(DocumentFileName.Invalid) {
                _ = try DocumentFileName.check(info.name)
            } catch {
                throw DocumentHeaderProblem.fileName(position: i + 1, of: files.count, why: error.reason)
            }
            if info.size != part.file.size {
                throw DocumentHeaderProblem.fileSize(position: i + 1, of: files.count, contentId: part.contentId,
                                                     listed: info.size, carried: part.file.size)
            }
            if info.sha256.lowercased() != part.file.sha256.lowercased() {
                throw DocumentHeaderProblem.fileHash(position: i + 1, of: files.count, contentId: part.contentId,
                                                     listed: info.sha256, carried: part.file.sha256)
            }
            guard let property = characterSet(of: part) else { continue }
            let charset: String
            do throws(FileMediaType.Invalid) {
                charset = try FileMediaType.charset(property)
            } catch {
                throw DocumentHeaderProblem.characterSetInvalid(position: i + 1, of: files.count, contentId: part.contentId, why: error.reason)
            }
            if let named = FileMediaType.stored(info.mimeType).charset, named != charset {
                throw DocumentHeaderProblem.charsetDiffers(position: i + 1, of: files.count, contentId: part.contentId,
                                                           header: named, property: charset)
            }
        }
    }

    /// The payload's eb:PartProperties `CharacterSet`, as sent.
    static func characterSet(of part: MessagePart) -> String? {
        part.properties.first { $0.name == EbmsConstants.characterSet }?.value
    }

    /// A file's media type as the intake keeps it: the header's, with the charset of the
    /// payload's `CharacterSet` when the header names none. A gateway may say a file's charset
    /// only there (ebMS3 has the property for it) and a DMS reading the file without it would
    /// guess. For a header and payload `checkFiles` passed; a `CharacterSet` that is no charset
    /// name (a message received before that check) is left out.
    static func mediaType(_ info: EAddressMessages.FileInfo, of part: MessagePart) -> String {
        let type = FileMediaType.stored(info.mimeType)
        guard type.charset == nil, let property = characterSet(of: part), let charset = try? FileMediaType.charset(property) else {
            return info.mimeType
        }
        return FileMediaType(essence: type.essence, charset: charset).text
    }

    /// What the decoder found wrong, by place (a JSON pointer) and kind; never a value.
    static func reason(_ error: Error) -> String {
        guard let decoding = error as? DecodingError else { return "it is not a JSON document header" }
        switch decoding {
        case .keyNotFound(let key, let c): return "\(pointer(c.codingPath + [key])) is missing"
        case .valueNotFound(let type, let c): return "\(pointer(c.codingPath)) is null, not \(kind(type))"
        case .typeMismatch(let type, let c): return "\(pointer(c.codingPath)) is not \(kind(type))"
        case .dataCorrupted(let c): return c.codingPath.isEmpty ? "it is not JSON" : "\(pointer(c.codingPath)) \(c.debugDescription)"
        @unknown default: return "it is not a JSON document header"
        }
    }

    /// RFC 6901, as the backend API's errors point at fields; the root is the header itself.
    static func pointer(_ path: [CodingKey]) -> String {
        path.isEmpty ? "the header" : "field /" + path.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: "/")
    }

    static func kind(_ type: Any.Type) -> String {
        let name = String(describing: type)
        if name == "String" { return "a string" }
        if name.hasPrefix("Int") { return "an integer" }
        if name.hasPrefix("Array") { return "an array" }
        if name.hasPrefix("Dictionary") { return "an object" }
        return name
    }

    /// The e-address parser's reason, unless it quotes a number that may be a personal code
    /// (the identifier checks quote what they judge): that would reach our log without the
    /// `_PRIVATE@` before it by which the log masks codes.
    static func quotable(_ reason: String) -> String? {
        var run = 0
        for c in reason.unicodeScalars {
            run = ("0"..."9").contains(c) ? run + 1 : 0
            if run >= 6 { return nil }
        }
        return reason
    }
}

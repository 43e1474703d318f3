import Foundation
import HTTPServer
import MessageStore

/// The JSON shapes of documents in API responses (docs/openapi.yaml names them).
enum DocumentView {
    static func time(_ d: Date) -> JSON {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return .string(f.string(from: d))
    }

    /// Stored as the checked JSON text; handed back as an object, its `recipients` reduced to
    /// `recipientsShown` unless that is nil (the sender's view: `MetadataRecipients`).
    static func metadata(_ d: Document, recipientsShown: Set<String>?) -> JSON {
        convert(MetadataRecipients.shown(d.metadata, to: recipientsShown))
    }

    static func convert(_ v: Any) -> JSON {
        switch v {
        case let s as String: return .string(s)
        case let n as NSNumber:
            if SubmitRoute.isJSONBoolean(n) { return .bool(n.boolValue) }
            return n.doubleValue == n.doubleValue.rounded() && abs(n.doubleValue) < 1e15 ? .int(n.int64Value) : .double(n.doubleValue)
        case let a as [Any]: return .array(a.map(convert))
        case let o as [String: Any]: return .object(o.keys.sorted().map { ($0, convert(o[$0]!)) })
        default: return .null
        }
    }

    static func recipient(_ r: DocumentRecipient) -> JSON {
        var fields: [(String, JSON)] = [("address", .string(r.address)), ("route", .string(r.route == .mailbox ? "localMailbox" : "remoteAccessPoint")),
                                        ("status", .string(r.status.rawValue)), ("updatedAt", time(r.updatedAt)),
                                        ("receiptHeld", .bool(r.receipt != nil))]
        if let party = r.party { fields.append(("accessPoint", .string(party))) }
        if let at = r.retrievedAt { fields.append(("retrievedAt", time(at))) }
        if let d = r.decision { fields.append(("decision", decision(d))) }
        return .object(fields)
    }

    /// A recipient's answer: in its view, and in the 409 to another answer after it.
    static func decision(_ d: RecipientDecision) -> JSON {
        .object([("decision", .string(d.accepted ? "accept" : "reject")), ("code", .string(d.code)), ("reason", .string(d.reason)), ("at", time(d.at))])
    }

    static func files(_ d: Document, id: String) -> JSON {
        .array(d.files.enumerated().map { i, f in
            .object([("n", .int(i + 1)), ("name", .string(f.name)), ("mimeType", .string(f.mimeType)), ("size", .int(f.file.size)),
                     ("sha256", .string(f.file.sha256)), ("href", .string(href(id, file: i + 1)))])
        })
    }

    /// Where file `n` of document `id` is read; the id escaped, since one may hold characters a
    /// path cannot carry as they are (the routes decode each segment, `APIHandler.segments`).
    static func href(_ id: String, file n: Int) -> String {
        "/api/v1/messages/\(PercentEncoding.pathSegment(id))/files/\(n)"
    }

    /// The answer to a submission: the id and each recipient's route and status.
    static func submission(_ d: Document) -> JSON {
        .object([("messageId", .string(d.messageId)),
                 ("recipients", .array(d.recipients.map { r in
                     .object([("address", .string(r.address)), ("route", .string(r.route == .mailbox ? "localMailbox" : "remoteAccessPoint")),
                              ("status", .string(r.status.rawValue))])
                 }))])
    }

    /// A document with the recipients the caller may see and their histories; the metadata's
    /// list of recipients is whole for the sender (`isSender`), else reduced to those shown.
    static func full(_ d: Document, recipients: [DocumentRecipient], isSender: Bool, events: [DocumentEvent],
                     sending: [String: [(String, JSON)]] = [:]) -> JSON {
        let shown = Set(recipients.map(\.address))
        return .object([
            ("messageId", .string(d.messageId)), ("sender", .string(d.sender)), ("metadata", metadata(d, recipientsShown: isSender ? nil : shown)),
            ("createdAt", time(d.createdAt)),
            ("files", files(d, id: d.messageId)),
            ("recipients", .array(recipients.map { r in
                guard case .object(var fields) = recipient(r) else { return recipient(r) }
                fields += sending[r.address] ?? []
                fields.append(("events", .array(events.filter { $0.address == r.address }.map { e in
                    .object([("at", time(e.at)), ("status", .string(e.status)), ("detail", .string(e.detail))])
                })))
                return .object(fields)
            })),
            ("events", .array(events.filter { $0.address.map(shown.contains) ?? true }.map { e in
                .object([("id", .int(e.id)), ("at", time(e.at)), ("recipient", .string(e.address)), ("status", .string(e.status)),
                         ("detail", .string(e.detail))])
            })),
        ])
    }

    static func notification(_ n: BackendNotification) -> JSON {
        .object([("id", .int(n.id)), ("kind", .string(n.kind)), ("messageId", .string(n.messageId)), ("address", .string(n.address)),
                 ("recipient", .string(n.recipient)), ("detail", .string(n.detail)), ("at", time(n.at))])
    }
}

import Foundation
import Routing

/// A document's metadata (docs/openapi.yaml, schema `Metadata`): what a DMS submits here, and
/// what a document arriving from another access point carries in its header (the sending
/// gateway's stored metadata). One rule for both, so every document the API serves has metadata
/// of that one documented shape: a received one outside it is refused before its receipt
/// (`DocumentHeaderCheck`, `EBMS:0004`) instead of being served as something else.
enum DocumentMetadata {
    /// Where the metadata comes from. An arrival carries no `uploads`: they are files of the
    /// sending gateway, spent there and left out of what it stores and sends.
    enum Origin { case submission, arrival }

    static let fields: Set<String> = ["sender", "recipients", "subject", "documentKind", "referenceNumber", "deliveryBy",
                                      "notifyOnDelivery", "idempotencyKey"]
    static let maxRecipients = 100
    /// Free text members and their longest (Unicode code points, as JSON Schema's maxLength).
    static let texts = ["subject", "documentKind", "referenceNumber"]
    static let maxTextLength = 1000
    static let maxIdempotencyKeyLength = 200

    struct Checked {
        var sender: String
        var recipients: [String]
        var idempotencyKey: String?
        var deliveryBy: Date?
        /// Completed uploads of the connection that are files of this message, after the parts.
        var uploads: [String]
        /// The metadata JSON as stored and carried (addresses in canonical spelling, no uploads).
        var json: String
        /// The same without the idempotency key and with the uploads: what the key's
        /// `SubmissionFingerprint` takes of the metadata.
        var fingerprintBasis: String
    }

    /// The metadata checked, or every problem with its JSON Pointer (nil then).
    static func check(_ object: [String: Any], origin: Origin) -> (Checked?, [(pointer: String, detail: String)]) {
        let known = origin == .submission ? fields.union(["uploads"]) : fields
        var errors: [(pointer: String, detail: String)] = []
        for key in object.keys.sorted() where !known.contains(key) {
            errors.append(("/\(key)", "unknown field; known are \(known.sorted().joined(separator: ", "))"))
        }
        var out = object
        out["uploads"] = nil
        var sender = ""
        switch object["sender"] {
        case let s as String:
            do { sender = try EAddress(s).canonical; out["sender"] = sender } catch { errors.append(("/sender", "not an e-address: \(error)")) }
        case nil: errors.append(("/sender", "required: the e-address this message is sent from"))
        default: errors.append(("/sender", "must be a string"))
        }
        var recipients: [String] = []
        switch object["recipients"] {
        case let list as [Any] where !list.isEmpty && list.count <= maxRecipients:
            for (i, item) in list.enumerated() {
                guard let s = item as? String else { errors.append(("/recipients/\(i)", "must be a string")); continue }
                do {
                    let canonical = try EAddress(s).canonical
                    if recipients.contains(canonical) { errors.append(("/recipients/\(i)", "\(canonical) is listed twice")) } else { recipients.append(canonical) }
                } catch { errors.append(("/recipients/\(i)", "not an e-address: \(error)")) }
            }
            out["recipients"] = recipients
        case nil: errors.append(("/recipients", "required: a list of e-addresses"))
        default: errors.append(("/recipients", "must be a list of 1 to \(maxRecipients) e-addresses"))
        }
        // Free text is carried in XML (the document header's JSON rides in AS4, the metadata in
        // the evidence bundle): what XML cannot hold is refused here, not found at the receiver.
        for key in texts {
            guard let v = object[key] else { continue }
            guard let s = v as? String else { errors.append(("/\(key)", "must be a string of at most \(maxTextLength) characters")); continue }
            if let p = TextInput.problem(s, maxLength: maxTextLength) { errors.append(("/\(key)", p)) }
        }
        if object["subject"] == nil { errors.append(("/subject", "required")) }
        // Whether it has passed is judged after an idempotent replay was answered (`SubmitRoute`),
        // and never for an arrival: the sender judged it when it was submitted.
        let deliveryBy = RegisterRoutes.date(object["deliveryBy"], "/deliveryBy", &errors)
        if let v = object["notifyOnDelivery"], !SubmitRoute.isJSONBoolean(v) {
            errors.append(("/notifyOnDelivery", "must be true or false"))
        }
        var key: String?
        if let v = object["idempotencyKey"] {
            if let s = v as? String, (1...maxIdempotencyKeyLength).contains(TextInput.length(s)) {
                if TextInput.isCarriable(s) { key = s } else { errors.append(("/idempotencyKey", TextInput.refusal)) }
            } else { errors.append(("/idempotencyKey", "must be a string of 1 to \(maxIdempotencyKeyLength) characters")) }
        }
        var uploads: [String] = []
        switch object["uploads"] {
        case _ where origin == .arrival: break
        case nil: break
        case let list as [Any] where list.count <= 100:
            for (i, item) in list.enumerated() {
                if let id = item as? String, !id.isEmpty, !uploads.contains(id) { uploads.append(id) } else { errors.append(("/uploads/\(i)", "must be a distinct upload id")) }
            }
        default: errors.append(("/uploads", "must be a list of at most 100 upload ids"))
        }
        guard errors.isEmpty else { return (nil, errors) }
        func text(_ object: [String: Any]) -> String {
            (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        }
        // The idempotency key is the sending connection's own retry token, kept in its own column:
        // the metadata that recipients read and other access points receive goes without it.
        var shown = out
        shown["idempotencyKey"] = nil
        var basis = shown
        if !uploads.isEmpty { basis["uploads"] = uploads }
        return (Checked(sender: sender, recipients: recipients, idempotencyKey: key, deliveryBy: deliveryBy, uploads: uploads, json: text(shown),
                        fingerprintBasis: text(basis)), errors)
    }
}

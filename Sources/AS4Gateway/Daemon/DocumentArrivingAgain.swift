import Foundation
import MessageStore

/// A document arriving from the access point that delivered its id here before. One AS4 message
/// carries a document to one recipient, so a document for several recipients served here arrives
/// once per recipient under one id, and each arrival after the first adds its recipient to the
/// document held (or, for a recipient held already, is a copy sent again and changes nothing).
/// That is right only for the same document: an access point that used the id again for another
/// one would have its new recipient handed the first document's files, or its new document
/// dropped, after our receipt told it the document was delivered. So the two are compared first.
struct DocumentArrivingAgain {
    var sender: String
    var metadata: String
    /// As the intake would store them: the header's names and types
    /// (`DocumentHeaderCheck.mediaType`), the store's sizes and digests of the payloads.
    var files: [DocumentFile]

    /// What of it differs from `held` ("another sender", "other metadata", "other files"); empty
    /// for the same document. The metadata's `recipients` are left out: each access point's copy
    /// lists the recipients that access point serves (`MetadataRecipients`), another gateway's
    /// perhaps only the message's own, and a document does not change with who it is shown to.
    func differences(from held: Document) -> [String] {
        var found: [String] = []
        if sender != held.sender { found.append("another sender") }
        if MetadataRecipients.withoutRecipients(metadata) != MetadataRecipients.withoutRecipients(held.metadata) {
            found.append("other metadata")
        }
        func comparable(_ files: [DocumentFile]) -> [[String]] {
            files.map { [$0.name, $0.mimeType, String($0.file.size), $0.file.sha256.lowercased()] }
        }
        if comparable(files) != comparable(held.files) { found.append("other files") }
        return found
    }
}

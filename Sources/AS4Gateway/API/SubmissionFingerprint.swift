import AS4Crypto
import EnvelopeXML
import Foundation

/// What a submission was, kept with its idempotency key: a request repeating the key is the
/// same submission (answered with the first message) only when its fingerprint is the same;
/// another one under a used key is refused, not dropped (docs/API.md, "Sending").
///
/// The fingerprint is the SHA-256 of the canonical metadata without the key (addresses in
/// canonical spelling, members sorted, uploads named by id in their order) and, per file part
/// in order, its SHA-256 and its name and type as the request gave them. So a retry with the
/// members in another order or an address spelled otherwise is the same submission; other
/// recipients, another subject or another file is not.
enum SubmissionFingerprint {
    /// Marks the fingerprint's form, should it ever change.
    static let version = "as4gw-submission-1"

    struct File {
        var sha256: String
        var filename: String?
        var extendedFilename: String?
        var contentType: String?

        init(sha256: String, part: FormData.Field) {
            self.sha256 = sha256
            filename = part.filename
            extendedFilename = part.extendedFilename
            contentType = part.contentType
        }
    }

    /// `metadata`: `DocumentMetadata.Checked.fingerprintBasis`.
    static func of(metadata: String, files: [File]) throws -> String {
        func value(_ text: String?) -> Any { text.map { $0 as Any } ?? NSNull() }
        let parts: [Any] = files.map { [$0.sha256, value($0.filename), value($0.extendedFilename), value($0.contentType)] as [Any] }
        let text = try JSONSerialization.data(withJSONObject: [version, metadata, parts] as [Any])
        return APICredentials.hex(try Digest.sha256(text))
    }

    /// A file part's SHA-256, read in chunks (a part may be a range of the spooled request).
    static func sha256(_ body: PartBody) throws -> String {
        let context = try DigestContext(algorithm: .sha256)
        try body.forEachChunk { try context.update($0) }
        return APICredentials.hex(try context.finalize())
    }
}

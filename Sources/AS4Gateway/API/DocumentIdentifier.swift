/// What a document id may be. The id names the document in the backend API's URLs
/// (`/api/v1/messages/{id}/files/1`), in the evidence bundle and in the log, and arrives from
/// other access points in their document headers: one that clients cannot put in a URL
/// unchanged would leave a receipted document that no DMS could read. So a document arriving by
/// AS4 with an id outside this rule is refused before its receipt (`DocumentHeaderCheck`,
/// `EBMS:0004`); the ids this gateway makes (`Identifier.messageId`: a UUID, `@`, the party's
/// letters, digits, `-` and `.`) are within it.
///
/// The API still encodes every id it puts in a URL and decodes each path segment, so ids with
/// characters that need escaping (`[`, `ā`, …) work, and so do documents stored before the rule.
enum DocumentIdentifier {
    /// Unicode code points, as JSON Schema counts a string's length.
    static let maxLength = 255
    /// Delimiters of URLs and paths: `/` splits the path, `?` and `#` end it, `%` starts an
    /// escape, and `\` is a `/` to WHATWG URL parsers.
    static let delimiters: Set<Unicode.Scalar> = ["/", "\\", "?", "#", "%"]

    /// Why `id` cannot be a document id, or nil. Never quotes the id (it may hold a personal
    /// code, and the reason is logged and sent to the access point).
    static func problem(_ id: String) -> String? {
        let length = id.unicodeScalars.count
        if length == 0 { return "is empty" }
        if length > maxLength { return "has \(length) characters; at most \(maxLength)" }
        for scalar in id.unicodeScalars {
            if delimiters.contains(scalar) { return "contains \"\(scalar)\", which URLs use as a delimiter" }
            let p = scalar.properties
            if p.isWhitespace || p.generalCategory == .control || p.generalCategory == .format || p.isNoncharacterCodePoint {
                let hex = String(scalar.value, radix: 16, uppercase: true)
                return "contains U+\(String(repeating: "0", count: max(0, 4 - hex.count)) + hex), a space, control, format or non-character"
            }
        }
        return nil
    }
}

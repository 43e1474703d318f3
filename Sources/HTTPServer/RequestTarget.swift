/// What a request target may hold once this server has decoded its escapes (`PercentEncoding`).
/// `%00` would otherwise reach a handler as a NUL inside a path segment or query value, where
/// readers disagree about the value: a C string (a libpq parameter, a file name) ends at the NUL,
/// Swift and SQLite keep what follows, so `id%00x` could be looked up as `id` by one and refused
/// by another. No resource any handler serves is named with a control character, so a target
/// that decodes to one is refused before the handler sees it, its body unread.
///
/// An encoded `/` (`%2F`) is not refused: it is data inside its segment, never a separator,
/// since routes split the raw path at the `/`s sent and decode each segment after.
enum RequestTarget {
    /// Why the decoded `path` or `query` cannot name a resource, or nil.
    static func problem(path: String, query: [String: String]) -> String? {
        if let c = firstControlCharacter(in: path) {
            return "the request path holds the control character \(c) once percent-decoded; no resource is named with one"
        }
        for (name, value) in query {
            if let c = firstControlCharacter(in: name) ?? firstControlCharacter(in: value) {
                return "the request's query holds the control character \(c) once percent-decoded; no argument takes one"
            }
        }
        return nil
    }

    /// `U+0000` for the first C0 or C1 control character or DEL (Unicode category Cc), if any.
    private static func firstControlCharacter(in text: String) -> String? {
        guard let scalar = text.unicodeScalars.first(where: { $0.properties.generalCategory == .control }) else { return nil }
        let hex = String(scalar.value, radix: 16, uppercase: true)
        return "U+" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
    }
}

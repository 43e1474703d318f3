import Foundation

/// Keeping a store URL's passwords out of logs and messages. A PostgreSQL URL may carry one in
/// its user part (`user:password@`) or in a `password=` / `sslpassword=` parameter, and an
/// operator may write the libpq key=value form (`host=db password=…`) where a URL is expected.
/// libpq itself repeats a URI it cannot parse, or the token it stumbled on, in its error message
/// (`invalid percent-encoded token: "…"`), so its messages are scrubbed as well as the URL.
extension PostgresConnection {
    /// `url` for logs and messages: every password masked as `***`. An unparsable URL shows only
    /// its scheme; a key=value string keeps its keys and other values.
    static func redacted(_ url: String) -> String {
        guard url.contains("://"), var components = URLComponents(string: url) else {
            return url.hasPrefix("postgres") ? String(url.prefix { $0 != ":" }) + "://(unparsable URL hidden)" : masking(url, of: url)
        }
        if components.password != nil { components.password = "***" }
        components.queryItems = components.queryItems?.map { item in
            isSecret(item.name) ? URLQueryItem(name: item.name, value: "***") : item
        }
        return components.string ?? url
    }

    /// `message` (libpq's, or one that quotes `url`) with `url` shown redacted and each of its
    /// passwords, as written or percent-decoded, replaced by `***`.
    static func scrubbed(_ message: String, of url: String) -> String {
        guard !url.isEmpty else { return message }
        return masking(message.replacingOccurrences(of: url, with: redacted(url)), of: url)
    }

    /// `text` with each password of `url`, as written or percent-decoded, replaced by `***`.
    private static func masking(_ text: String, of url: String) -> String {
        let secrets = Set(passwords(in: url).flatMap { [$0, $0.removingPercentEncoding].compactMap { $0 } }.filter { !$0.isEmpty })
        // Longest first, so that a password containing another is masked whole.
        return secrets.sorted { $0.count > $1.count }.reduce(text) { $0.replacingOccurrences(of: $1, with: "***") }
    }

    private static func isSecret(_ key: String) -> Bool { ["password", "sslpassword"].contains(key.lowercased()) }

    /// The passwords `url` holds, read the way libpq reads them and without needing the rest of
    /// it to be valid: the user part ends at the first `@` (libpq looks for it before the first
    /// `/`), the password after its first `:`; parameters are `&`-separated `key=value`; in the
    /// key=value form a value is a bare word or single-quoted.
    static func passwords(in url: String) -> [String] {
        var found: [String] = []
        if let scheme = url.range(of: "://") {
            let rest = url[scheme.upperBound...]
            let authorityEnd = rest.firstIndex { $0 == "@" || $0 == "/" } ?? rest.endIndex
            if authorityEnd < rest.endIndex, rest[authorityEnd] == "@", let colon = rest[..<authorityEnd].firstIndex(of: ":") {
                found.append(String(rest[rest.index(after: colon)..<authorityEnd]))
            }
            if let query = rest.firstIndex(of: "?") {
                for pair in rest[rest.index(after: query)...].split(separator: "&") {
                    let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                    if parts.count == 2, isSecret(String(parts[0])) { found.append(String(parts[1])) }
                }
            }
            return found
        }
        var rest = Substring(url)
        while let key = rest.firstIndex(where: { !$0.isWhitespace }) {
            rest = rest[key...]
            let name = rest.prefix { $0 != "=" && !$0.isWhitespace }
            rest = rest.dropFirst(name.count).drop { $0.isWhitespace }
            guard rest.first == "=" else { rest = rest.drop { !$0.isWhitespace }; continue }
            rest = rest.dropFirst().drop { $0.isWhitespace }
            var value = ""
            if rest.first == "'" {
                rest = rest.dropFirst()
                while let c = rest.first, c != "'" {
                    rest = rest.dropFirst()
                    if c == "\\", let escaped = rest.first { value.append(escaped); rest = rest.dropFirst() } else { value.append(c) }
                }
                rest = rest.dropFirst()
            } else {
                value = String(rest.prefix { !$0.isWhitespace })
                rest = rest.dropFirst(value.count)
            }
            if isSecret(String(name)) { found.append(value) }
        }
        return found
    }
}

import Foundation
import AS4Crypto
import HTTPServer

/// The credential of the operators' submission endpoint (`apiListener.path`, `as4gw send`): a
/// random token in the data directory (`submit.token`), sent as `Authorization: Bearer`.
/// Loopback alone is not enough: every local user, and every client of a reverse proxy on the
/// same host, is a loopback peer, and this endpoint makes the gateway sign whatever it is given
/// as its own. Reading the token needs the daemon user's rights to the data directory.
enum SubmitToken {
    static let fileName = "submit.token"

    /// The daemon's token, made on first start.
    static func load(dataDirectory: String) throws -> String {
        APICredentials.hex(try DataDirectorySecret.load(fileName, dataDirectory: dataDirectory))
    }

    /// The token in the file at `path` (for `as4gw send`), nil when missing or malformed.
    static func read(path: String) -> String? {
        DataDirectorySecret.read(path: path).map(APICredentials.hex)
    }

    /// Whether the request carries `token` (compared in constant time).
    static func admits(_ head: HTTPRequestHead, token: String) -> Bool {
        guard let value = head.headers["Authorization"], value.count > 7,
              value.prefix(7).lowercased() == "bearer " else { return false }
        let presented = value.dropFirst(7).trimmingCharacters(in: .whitespaces)
        return Digest.constantTimeEquals(Array(presented.utf8), Array(token.utf8))
    }
}

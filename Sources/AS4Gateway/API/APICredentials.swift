import AS4Crypto
import Foundation
import HTTPServer
import MessageStore

/// Backend credentials: a bearer token (256 random bits, shown once; only its SHA-256 is kept) or
/// a TLS client certificate (its SHA-256 fingerprint), matched in constant time.
enum APICredentials {
    static let tokenPrefix = "as4gw_"

    /// A new token and the digest to store.
    static func newToken() throws -> (token: String, sha256: String) {
        let token = tokenPrefix + hex(try SecureRandom.bytes(32))
        return (token, try digest(token))
    }

    static func digest(_ token: String) throws -> String { hex(try Digest.sha256(Array(token.utf8))) }

    static func fingerprint(_ certificate: Certificate) throws -> String { hex(try Digest.sha256(certificate.derBytes)) }

    static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    /// The active connection the request's credentials belong to. Every stored digest is
    /// compared (no early exit), so timing does not tell which connection came close.
    /// Credentials that could name two connections are refused (400), not resolved by order:
    /// a second Authorization field, or a token and a certificate of different connections.
    static func authenticate(_ head: HTTPRequestHead, among connections: [BackendConnection]) throws -> BackendConnection? {
        let fields = head.headers.values(for: "Authorization")
        guard fields.count <= 1 else {
            throw Problem(400, "ambiguous-credentials", "Credentials are ambiguous",
                          "the request has \(fields.count) Authorization fields; send one")
        }
        var presented: [UInt8]?
        if let auth = fields.first, auth.lowercased().hasPrefix("bearer ") {
            presented = try Digest.sha256(Array(auth.dropFirst(7).trimmingCharacters(in: .whitespaces).utf8))
        }
        let certificate = try head.clientCertificate.map { try Digest.sha256($0.derBytes) }
        var byToken: BackendConnection?
        var byCertificate: BackendConnection?
        for c in connections where c.revokedAt == nil {
            if let presented, let stored = c.tokenSHA256.flatMap(bytes(hex:)), Digest.constantTimeEquals(presented, stored), byToken == nil {
                byToken = c
            }
            if let certificate, let stored = c.certificateSHA256.flatMap(bytes(hex:)), Digest.constantTimeEquals(certificate, stored),
               byCertificate == nil {
                byCertificate = c
            }
        }
        if let byToken, let byCertificate, byToken.name != byCertificate.name {
            throw Problem(400, "ambiguous-credentials", "Credentials are ambiguous",
                          "the bearer token and the TLS client certificate belong to different connections; send the credentials of one")
        }
        return byToken ?? byCertificate
    }

    static func bytes(hex: String) -> [UInt8]? {
        let digits = Array(hex.utf8)
        guard digits.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(digits.count / 2)
        for i in stride(from: 0, to: digits.count, by: 2) {
            guard let byte = UInt8(String(decoding: digits[i...i + 1], as: UTF8.self), radix: 16) else { return nil }
            out.append(byte)
        }
        return out
    }
}

import Foundation
import Synchronization

/// A certificate's public key as libcurl's `CURLOPT_PINNEDPUBLICKEY` names it:
/// `sha256//` and the base64 SHA-256 of the DER SubjectPublicKeyInfo. Pinning the key, not the
/// certificate, lets a partner renew its TLS certificate with the same key unnoticed.
public enum PublicKeyPin {
    /// Pins of certificates seen before: each outbound attempt and inbound check asks for the
    /// pins of a partner's few certificates, and extracting and hashing the key every time showed
    /// as 5% of a sending gateway's CPU. Bounded: P-Mode sets hold few TLS certificates.
    private static let cache = Mutex<[Certificate: String]>([:])

    public static func sha256(of certificate: Certificate) throws -> String {
        if let known = cache.withLock({ $0[certificate] }) { return known }
        let spki = try certificate.publicKey.spkiDER
        let pin = "sha256//" + Data(try Digest.sha256(spki)).base64EncodedString()
        cache.withLock { cache in
            if cache.count >= 1024 { cache.removeAll() }
            cache[certificate] = pin
        }
        return pin
    }
}

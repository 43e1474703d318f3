import Foundation

/// A certificate's public key as libcurl's `CURLOPT_PINNEDPUBLICKEY` names it:
/// `sha256//` and the base64 SHA-256 of the DER SubjectPublicKeyInfo. Pinning the key, not the
/// certificate, lets a partner renew its TLS certificate with the same key unnoticed.
public enum PublicKeyPin {
    public static func sha256(of certificate: Certificate) throws -> String {
        let spki = try certificate.publicKey.spkiDER
        return "sha256//" + Data(try Digest.sha256(spki)).base64EncodedString()
    }
}

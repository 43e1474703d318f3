import AS4Crypto
import EnvelopeXML
import Routing

/// TLS client authentication binds a request to a party, not only to the truststore's CA, when
/// the P-Modes name the party's TLS certificates: another access point of the same CA cannot
/// post in its name. Judged by public key, as outbound pinning is: a certificate renewed with the
/// same key still matches. Only where the AS4 listener asks for client certificates; then a party
/// with listed TLS certificates must present one (else any access point could send none).
///
/// A user message is bound so beside its signature; an unsigned error signal (an agreement
/// without signing) has this binding alone to say that it comes from the party it is about.
struct TLSClientBinding {
    let context: GatewayContext

    /// Why `certificate` may not speak for `party`, or nil when it may (or nothing is listed or
    /// asked for). `sending`: what came, for the reason (`the message`, `the error signal`).
    func refusal(_ certificate: Certificate?, for party: Routing.Party, sending: String) -> EbmsError? {
        let listed = party.allCertificates(role: .tls)
        guard !listed.isEmpty, (context.config.as4Listener.tls?.clientAuthentication ?? .none) != .none else { return nil }
        guard let certificate else {
            return EbmsError(.failedAuthentication, "no TLS client certificate came with \(sending); the P-Modes list \(party.name)'s")
        }
        let keys = Set(listed.compactMap { try? PublicKeyPin.sha256(of: $0) })
        guard let key = try? PublicKeyPin.sha256(of: certificate), keys.contains(key) else {
            return EbmsError(.failedAuthentication, "the TLS client certificate (\(certificate.subjectName)) is not one the P-Modes list for \(party.name)")
        }
        return nil
    }
}

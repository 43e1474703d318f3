import AS4Crypto
import CGnuTLS
import Foundation

/// The verdict on a request's TLS client certificate.
///
/// libmicrohttpd's GnuTLS handshake only proves that the client holds the key of the certificate
/// it sent (CertificateVerify); it does not judge the certificate. This check does, per request,
/// with OpenSSL through ``CertificateValidator``.
enum ClientCertificateCheck {
    /// The request may proceed; the certificate is the validated leaf, or nil when none was
    /// requested or (optional authentication) none was sent.
    case accepted(Certificate?)
    /// The request must be refused with 403; the text says why.
    case refused(String)

    /// Evaluates the peer certificate chain of `session` (a `gnutls_session_t`, nil for plain HTTP).
    static func evaluate(session: UnsafeMutableRawPointer?,
                         policy: HTTPServerConfiguration.TLS.ClientAuthentication,
                         at time: Date = Date()) -> ClientCertificateCheck {
        guard let validator = policy.validator else { return .accepted(nil) }
        let isRequired: Bool
        if case .required = policy { isRequired = true } else { isRequired = false }

        let chain: [Certificate]
        do {
            chain = try Self.peerChain(session: session)
        } catch {
            return .refused(error.reason)
        }
        guard let leaf = chain.first else {
            return isRequired ? .refused("a TLS client certificate is required") : .accepted(nil)
        }
        // CRLs are consulted only when the trust store carries some: with them, revocation
        // checking fails closed (no current CRL from the leaf's issuer means refusal).
        let result = validator.validate(leaf: leaf, intermediates: Array(chain.dropFirst()), at: time,
                                        checkRevocation: !validator.trustStore.crls.isEmpty)
        guard result.isValid else {
            return .refused("the TLS client certificate was not accepted: \(result.message)")
        }
        return .accepted(leaf)
    }

    /// The DER certificates the peer sent, leaf first (empty when it sent none).
    private static func peerChain(session: UnsafeMutableRawPointer?) throws(Refusal) -> [Certificate] {
        guard let session else {
            throw Refusal(reason: "a TLS client certificate is required, but the connection is not TLS")
        }
        var count: UInt32 = 0
        guard let list = as4gw_gnutls_peer_certificates(session, &count), count > 0 else { return [] }
        var certificates: [Certificate] = []
        for index in 0..<Int(count) {
            let datum = list[index]
            guard let data = datum.data else { throw Refusal(reason: "the TLS client certificate chain is malformed") }
            let der = UnsafeRawBufferPointer(start: data, count: Int(datum.size))
            guard let certificate = try? CertificateCache.certificate(derEncoded: Array(der)) else {
                throw Refusal(reason: "the TLS client certificate (position \(index) in the chain) cannot be parsed")
            }
            certificates.append(certificate)
        }
        return certificates
    }

    private struct Refusal: Error {
        let reason: String
    }
}

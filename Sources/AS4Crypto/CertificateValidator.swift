import COpenSSL
import Foundation

/// The outcome of a certificate path validation.
public struct ValidationResult: Sendable, CustomStringConvertible {
    /// Why validation failed, in the terms a receiver reports.
    public enum Reason: Sendable, Equatable {
        /// A certificate in the path (see ``ValidationResult/failingCertificate``) had expired at the evaluation time.
        case expired
        /// A certificate in the path was not yet valid at the evaluation time.
        case notYetValid
        /// No path to a trust anchor (unknown CA, or a self-signed certificate that is not an anchor).
        case unknownIssuer
        /// A certificate in the path is revoked by a CRL.
        case revoked
        /// A signature in the path (certificate or CRL) does not verify.
        case badSignature
        /// Revocation was requested but no usable CRL covers the certificate (missing, expired, not yet valid).
        case revocationStatusUnknown
        /// The path is structurally unacceptable (issuer not a CA, key usage, path length, ...).
        case invalidPath
        /// Anything else; the OpenSSL code and message say more.
        case other
    }

    public let isValid: Bool
    /// nil when valid.
    public let reason: Reason?
    /// OpenSSL's verify result code (`X509_V_OK` = 0, e.g. 10 = `X509_V_ERR_CERT_HAS_EXPIRED`).
    public let openSSLCode: Int32
    /// Human-readable explanation, including OpenSSL's own text for the code.
    public let message: String
    /// Position in the path of the certificate that failed (0 = leaf).
    public let errorDepth: Int
    /// The certificate that failed, when OpenSSL names one.
    public let failingCertificate: Certificate?
    /// The path that was built, leaf first (complete up to the anchor when valid).
    public let chain: [Certificate]

    public var description: String { isValid ? "valid" : message }
}

/// Validates certificate paths against a ``TrustStore`` at a chosen evaluation time.
public struct CertificateValidator: Sendable {
    public let trustStore: TrustStore

    public init(trustStore: TrustStore) {
        self.trustStore = trustStore
    }

    /// Validates `leaf` at `time` (e.g. the receipt time or the message's `eb:Timestamp`).
    ///
    /// - Parameters:
    ///   - intermediates: untrusted certificates from the message (BST PkiPath, ...), used for chain building only.
    ///   - checkRevocation: check the *leaf* against the trust store's CRLs (`X509_V_FLAG_CRL_CHECK`).
    ///     Fails closed: without a current CRL from the leaf's issuer the result is
    ///     ``ValidationResult/Reason/revocationStatusUnknown``. Intermediate CAs are not CRL-checked.
    public func validate(leaf: Certificate, intermediates: [Certificate] = [], at time: Date = Date(),
                         checkRevocation: Bool = false) -> ValidationResult {
        let key = ValidationCache.Key(leaf: leaf.derBytes, intermediates: intermediates.map(\.derBytes),
                                      checkRevocation: checkRevocation)
        if let known = trustStore.validations.result(for: key, at: time) { return known }
        let result = validateWithOpenSSL(leaf: leaf, intermediates: intermediates, at: time, checkRevocation: checkRevocation)
        trustStore.validations.remember(result, for: key, crls: trustStore.crls)
        return result
    }

    private func validateWithOpenSSL(leaf: Certificate, intermediates: [Certificate], at time: Date,
                                     checkRevocation: Bool) -> ValidationResult {
        let untrustedCertificates = trustStore.intermediates + intermediates
        return withExtendedLifetime((leaf, untrustedCertificates, trustStore)) {
            guard let context = X509_STORE_CTX_new(), let untrusted = as4gw_sk_X509_new_null() else {
                return Self.setupFailure("cannot allocate a verification context")
            }
            defer {
                X509_STORE_CTX_free(context)
                as4gw_sk_X509_free(untrusted)  // the stack does not own the certificates
            }
            for certificate in untrustedCertificates where as4gw_sk_X509_push(untrusted, certificate.pointer) <= 0 {
                return Self.setupFailure("cannot build the untrusted certificate list")
            }
            guard X509_STORE_CTX_init(context, trustStore.store, leaf.pointer, untrusted) == 1,
                  let parameters = X509_STORE_CTX_get0_param(context) else {
                return Self.setupFailure("cannot initialise the verification context")
            }
            X509_VERIFY_PARAM_set_time(parameters, time_t(time.timeIntervalSince1970.rounded(.down)))
            var flags = UInt(X509_V_FLAG_PARTIAL_CHAIN)
            if checkRevocation { flags |= UInt(X509_V_FLAG_CRL_CHECK) }
            X509_VERIFY_PARAM_set_flags(parameters, flags)

            let verified = X509_verify_cert(context) == 1
            let code = X509_STORE_CTX_get_error(context)
            let depth = Int(X509_STORE_CTX_get_error_depth(context))
            let chain = Self.certificates(in: X509_STORE_CTX_get0_chain(context))
            if verified && code == X509_V_OK {
                OpenSSLErrorQueue.clear()
                return ValidationResult(isValid: true, reason: nil, openSSLCode: code, message: "valid",
                                        errorDepth: 0, failingCertificate: nil, chain: chain)
            }
            let failing = X509_STORE_CTX_get_current_cert(context).flatMap { try? Certificate(retaining: $0) }
            OpenSSLErrorQueue.clear()
            let reason = Self.reason(for: code)
            return ValidationResult(isValid: false, reason: reason, openSSLCode: code,
                                    message: Self.message(reason: reason, code: code, certificate: failing ?? leaf, time: time),
                                    errorDepth: depth, failingCertificate: failing, chain: chain)
        }
    }

    private static func certificates(in stack: OpaquePointer?) -> [Certificate] {
        guard let stack else { return [] }
        return (0..<as4gw_sk_X509_num(stack)).compactMap { index in
            as4gw_sk_X509_value(stack, index).flatMap { try? Certificate(retaining: $0) }
        }
    }

    private static func setupFailure(_ message: String) -> ValidationResult {
        ValidationResult(isValid: false, reason: .other, openSSLCode: -1,
                         message: "\(message): \(OpenSSLErrorQueue.drain())", errorDepth: 0, failingCertificate: nil, chain: [])
    }

    static func reason(for code: Int32) -> ValidationResult.Reason {
        switch code {
        case X509_V_ERR_CERT_HAS_EXPIRED: return .expired
        case X509_V_ERR_CERT_NOT_YET_VALID: return .notYetValid
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
             X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT, X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN,
             X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE, X509_V_ERR_CERT_UNTRUSTED:
            return .unknownIssuer
        case X509_V_ERR_CERT_REVOKED: return .revoked
        case X509_V_ERR_CERT_SIGNATURE_FAILURE, X509_V_ERR_CRL_SIGNATURE_FAILURE,
             X509_V_ERR_UNABLE_TO_DECRYPT_CERT_SIGNATURE, X509_V_ERR_UNABLE_TO_DECRYPT_CRL_SIGNATURE,
             X509_V_ERR_UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY:
            return .badSignature
        case X509_V_ERR_UNABLE_TO_GET_CRL, X509_V_ERR_CRL_HAS_EXPIRED, X509_V_ERR_CRL_NOT_YET_VALID,
             X509_V_ERR_UNABLE_TO_GET_CRL_ISSUER, X509_V_ERR_DIFFERENT_CRL_SCOPE:
            return .revocationStatusUnknown
        case X509_V_ERR_INVALID_CA, X509_V_ERR_PATH_LENGTH_EXCEEDED, X509_V_ERR_KEYUSAGE_NO_CERTSIGN,
             X509_V_ERR_KEYUSAGE_NO_CRL_SIGN, X509_V_ERR_INVALID_PURPOSE, X509_V_ERR_CERT_REJECTED,
             X509_V_ERR_INVALID_EXTENSION, X509_V_ERR_INVALID_NON_CA:
            return .invalidPath
        default: return .other
        }
    }

    private static func message(reason: ValidationResult.Reason, code: Int32, certificate: Certificate, time: Date) -> String {
        let formatter = ISO8601DateFormatter()
        let subject = certificate.subject
        let when = formatter.string(from: time)
        let words: String
        switch reason {
        case .expired: words = "certificate \(subject) expired on \(formatter.string(from: certificate.notAfter)) (evaluated at \(when))"
        case .notYetValid: words = "certificate \(subject) is not valid before \(formatter.string(from: certificate.notBefore)) (evaluated at \(when))"
        case .unknownIssuer: words = "certificate \(subject) does not chain to a trusted anchor (unknown issuer \(certificate.issuer))"
        case .revoked: words = "certificate \(subject) (serial \(certificate.serialNumber)) is revoked"
        case .badSignature: words = "a signature in the path of \(subject) does not verify"
        case .revocationStatusUnknown: words = "revocation status of \(subject) is unknown (no current CRL from its issuer)"
        case .invalidPath: words = "the certificate path of \(subject) is not acceptable"
        case .other: words = "certificate \(subject) was not accepted"
        }
        let openSSLText = X509_verify_cert_error_string(Int(code)).map { String(cString: $0) } ?? "unknown"
        return "\(words) [OpenSSL \(code): \(openSSLText)]"
    }
}

/// Whether a certificate's extensions let its key serve a role: one rule, used wherever a
/// partner's certificate is taken for a role (message signatures, P-Mode checks, self-service
/// registrations). AS4-WIRE §7.3 asks for suitable key usage.
///
/// The extended key usage is not judged: the certificates AS4 partners actually sign with carry
/// TLS purposes only (Peppol access points: clientAuth alone, critical; the eDelivery and
/// Holodeck samples: clientAuth and serverAuth, or clientAuth), so an EKU says nothing about
/// message signing, and requiring one fit for it would refuse them all.
public enum CertificatePurpose {
    /// Why `certificate` may not sign messages, receipts or signals, or nil when it may: a
    /// keyUsage, when present, must allow digitalSignature or nonRepudiation; and a key that
    /// certifies others (keyUsage keyCertSign, or CA:TRUE without a keyUsage, issued by another:
    /// what OpenSSL accepts as an issuer) does not sign messages. A self-signed certificate that says CA:TRUE without keyCertSign is
    /// accepted: that is what `openssl req -x509` and keytool make, and what the Holodeck and
    /// Domibus sample partners sign with.
    public static func signingRefusal(_ certificate: Certificate) -> String? {
        if let usage = certificate.keyUsage {
            if !usage.contains(.digitalSignature), !usage.contains(.nonRepudiation) {
                return "its keyUsage (\(describe(usage))) allows neither digitalSignature nor nonRepudiation"
            }
            if usage.contains(.keyCertSign) {
                return "it is a CA certificate (keyUsage keyCertSign): a key that certifies others does not sign messages"
            }
        }
        if certificate.isCA, !certificate.isSelfSigned {
            return "it is a CA certificate (basicConstraints CA:TRUE): a key that certifies others does not sign messages"
        }
        return nil
    }

    /// Why `certificate` may not receive encrypted content keys (RSA-OAEP key transport or
    /// X25519 / ECDH-ES key agreement), or nil when it may: a keyUsage, when present, must allow
    /// keyEncipherment or keyAgreement. An X25519 key (eDelivery 2.0) only ever agrees keys, and
    /// RFC 8410 §5 requires keyAgreement in its keyUsage: keyEncipherment alone names key
    /// transport, which it cannot do. (EC keys keep the lenient rule: partners' EC encryption
    /// certificates are seen with keyEncipherment.)
    public static func encryptionRefusal(_ certificate: Certificate) -> String? {
        guard let usage = certificate.keyUsage else { return nil }
        switch certificate.keyType {
        case .x25519:
            guard !usage.contains(.keyAgreement) else { return nil }
            return "its keyUsage (\(describe(usage))) does not allow keyAgreement, the only use of its \(certificate.keyType) key"
        default:
            guard !usage.contains(.keyEncipherment), !usage.contains(.keyAgreement) else { return nil }
            return "its keyUsage (\(describe(usage))) allows neither keyEncipherment nor keyAgreement"
        }
    }

    static func describe(_ usage: KeyUsage) -> String {
        let names = usage.configNames
        return names.isEmpty ? "empty" : names.joined(separator: ", ")
    }
}

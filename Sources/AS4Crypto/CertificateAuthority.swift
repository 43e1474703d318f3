import COpenSSL
import Foundation

/// Subject fields for certificates issued by ``CertificateAuthority``.
public struct CertificateSubject: Hashable, Sendable {
    public var commonName: String
    public var organization: String?
    public var organizationalUnit: String?
    /// Two-letter country code.
    public var country: String?
    /// organizationIdentifier (2.5.4.97, e.g. `NTRLV-40003032949`): the company's registration
    /// number in eIDAS-style certificates.
    public var organizationIdentifier: String?
    /// serialNumber (2.5.4.5) of the subject (not of the certificate).
    public var serialNumber: String?

    public init(commonName: String, organization: String? = nil, organizationalUnit: String? = nil, country: String? = nil,
                organizationIdentifier: String? = nil, serialNumber: String? = nil) {
        self.commonName = commonName
        self.organization = organization
        self.organizationalUnit = organizationalUnit
        self.country = country
        self.organizationIdentifier = organizationIdentifier
        self.serialNumber = serialNumber
    }

    /// A new `X509_NAME` in DER order C, O, OU, organizationIdentifier, serialNumber, CN (printed
    /// by RFC 2253 in reverse).
    func makeName() throws -> OpaquePointer {
        guard let name = X509_NAME_new() else { throw CryptoError.openSSL("X509_NAME_new") }
        let fields: [(String, String?)] = [("C", country), ("O", organization), ("OU", organizationalUnit),
                                           ("organizationIdentifier", organizationIdentifier), ("serialNumber", serialNumber),
                                           ("CN", commonName)]
        for case let (field, value?) in fields {
            let bytes = Array(value.utf8)
            guard X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8, bytes, Int32(bytes.count), -1, 0) == 1 else {
                X509_NAME_free(name)
                throw CryptoError.openSSL("subject \(field)=\(value)")
            }
        }
        return name
    }
}

/// A small certificate authority for tests and the daemon's development PKI: self-signed CA,
/// leaf certificates for any public key (including X25519 keys, which cannot sign themselves),
/// and CRLs. Not meant for production PKI.
///
/// Issued certificates are X.509 v3 with basicConstraints, keyUsage (both critical),
/// subjectKeyIdentifier and authorityKeyIdentifier. The subjectKeyIdentifier is the SHA-1 of the key
/// (RFC 5280 method 1) unless given (some CAs derive it otherwise, RFC 7093), and can be left out,
/// as some partner CAs do, to test what depends on it: WS-Security SKI references. Signature digest: SHA-256 for RSA and P-256,
/// SHA-384 for P-384, SHA-512 for P-521, none for Ed25519.
public final class CertificateAuthority: Sendable {
    public let key: PrivateKey
    public let certificate: Certificate

    /// Uses an existing CA certificate and its key.
    public init(key: PrivateKey, certificate: Certificate) throws {
        guard key.matches(try certificate.publicKey) else { throw CryptoError.keyMismatch("the key does not belong to the CA certificate") }
        self.key = key
        self.certificate = certificate
    }

    /// Creates a self-signed CA certificate for `key` (RSA, EC or Ed25519).
    public static func createSelfSigned(subject: CertificateSubject, key: PrivateKey, validFrom: Date = Date(),
                                        validUntil: Date, serialNumber: String? = nil) throws -> CertificateAuthority {
        let certificate = try selfSignedCertificate(subject: subject, key: key, validFrom: validFrom, validUntil: validUntil,
                                                    serialNumber: serialNumber, keyUsage: [.keyCertSign, .cRLSign, .digitalSignature],
                                                    isCA: true)
        return try CertificateAuthority(key: key, certificate: certificate)
    }

    /// A self-signed certificate, e.g. an AS4 partner's end-entity certificate that is its own trust anchor.
    public static func selfSignedCertificate(subject: CertificateSubject, key: PrivateKey, validFrom: Date = Date(),
                                             validUntil: Date, serialNumber: String? = nil,
                                             keyUsage: KeyUsage = [.digitalSignature, .keyEncipherment],
                                             isCA: Bool = false, subjectKeyIdentifier: Bool = true,
                                             subjectKeyIdentifierValue: [UInt8]? = nil) throws -> Certificate {
        let name = try subject.makeName()
        defer { X509_NAME_free(name) }
        return try build(subjectName: name, publicKey: key.publicKey, issuerName: name, issuer: nil, signingKey: key,
                         validFrom: validFrom, validUntil: validUntil, serialNumber: serialNumber, keyUsage: keyUsage, isCA: isCA,
                         subjectKeyIdentifier: subjectKeyIdentifier, subjectKeyIdentifierValue: subjectKeyIdentifierValue)
    }

    /// Issues a certificate for `publicKey`. The default key usage suits an AS4 signing/encryption
    /// certificate; use `[.keyAgreement]` for an X25519 key.
    public func issueCertificate(for publicKey: PublicKey, subject: CertificateSubject, validFrom: Date = Date(),
                                 validUntil: Date, serialNumber: String? = nil,
                                 keyUsage: KeyUsage = [.digitalSignature, .nonRepudiation, .keyEncipherment],
                                 isCA: Bool = false, subjectAlternativeNames: [String] = [],
                                 subjectKeyIdentifier: Bool = true, subjectKeyIdentifierValue: [UInt8]? = nil) throws -> Certificate {
        let name = try subject.makeName()
        defer { X509_NAME_free(name) }
        return try Self.build(subjectName: name, publicKey: publicKey, issuerName: X509_get_subject_name(certificate.pointer),
                              issuer: certificate, signingKey: key, validFrom: validFrom, validUntil: validUntil,
                              serialNumber: serialNumber, keyUsage: keyUsage, isCA: isCA,
                              subjectAlternativeNames: subjectAlternativeNames, subjectKeyIdentifier: subjectKeyIdentifier,
                              subjectKeyIdentifierValue: subjectKeyIdentifierValue)
    }

    /// Issues a CRL revoking the given serial numbers (decimal), all with `revocationDate`.
    public func issueCRL(revokedSerialNumbers: [String], thisUpdate: Date = Date(), nextUpdate: Date,
                         revocationDate: Date? = nil, crlNumber: Int = 1) throws -> CertificateRevocationList {
        guard let crl = X509_CRL_new() else { throw CryptoError.openSSL("X509_CRL_new") }
        do {
            guard X509_CRL_set_version(crl, 1) == 1,  // v2
                  X509_CRL_set_issuer_name(crl, X509_get_subject_name(certificate.pointer)) == 1 else {
                throw CryptoError.openSSL("CRL issuer")
            }
            try Self.withTime(thisUpdate) { X509_CRL_set1_lastUpdate(crl, $0) }
            try Self.withTime(nextUpdate) { X509_CRL_set1_nextUpdate(crl, $0) }
            for serial in revokedSerialNumbers {
                guard let entry = X509_REVOKED_new() else { throw CryptoError.openSSL("X509_REVOKED_new") }
                do {
                    try Self.withSerial(serial) { X509_REVOKED_set_serialNumber(entry, $0) }
                    try Self.withTime(revocationDate ?? thisUpdate) { X509_REVOKED_set_revocationDate(entry, $0) }
                } catch {
                    X509_REVOKED_free(entry)
                    throw error
                }
                guard X509_CRL_add0_revoked(crl, entry) == 1 else {
                    X509_REVOKED_free(entry)
                    throw CryptoError.openSSL("X509_CRL_add0_revoked")
                }
            }
            _ = X509_CRL_sort(crl)
            var context = X509V3_CTX()
            X509V3_set_ctx(&context, certificate.pointer, nil, nil, crl, 0)
            try Self.addExtension(NID_authority_key_identifier, "keyid:always", context: &context) { X509_CRL_add_ext(crl, $0, -1) }
            try Self.withSerial(String(crlNumber)) { X509_CRL_add1_ext_i2d(crl, NID_crl_number, $0, 0, 0) }
            guard X509_CRL_sign(crl, key.pointer, Self.signingDigest(for: key)) > 0 else { throw CryptoError.openSSL("X509_CRL_sign") }
        } catch {
            X509_CRL_free(crl)
            throw error
        }
        return try CertificateRevocationList(owning: crl)
    }

    // MARK: Building blocks

    private static func build(subjectName: OpaquePointer, publicKey: PublicKey, issuerName: OpaquePointer?, issuer: Certificate?,
                              signingKey: PrivateKey, validFrom: Date, validUntil: Date, serialNumber: String?,
                              keyUsage: KeyUsage, isCA: Bool, subjectAlternativeNames: [String] = [],
                              subjectKeyIdentifier: Bool = true, subjectKeyIdentifierValue: [UInt8]? = nil) throws -> Certificate {
        guard validFrom < validUntil else { throw CryptoError.invalidArgument("validity window is empty") }
        if let value = subjectKeyIdentifierValue {
            guard subjectKeyIdentifier, !value.isEmpty else {
                throw CryptoError.invalidArgument("a subjectKeyIdentifier value needs the extension and at least one octet")
            }
        }
        guard let x509 = X509_new() else { throw CryptoError.openSSL("X509_new") }
        do {
            guard X509_set_version(x509, 2) == 1,  // v3
                  X509_set_subject_name(x509, subjectName) == 1,
                  X509_set_issuer_name(x509, issuerName) == 1,
                  X509_set_pubkey(x509, publicKey.pointer) == 1 else {
                throw CryptoError.openSSL("certificate fields")
            }
            try withSerial(serialNumber ?? randomSerial()) { X509_set_serialNumber(x509, $0) }
            try withTime(validFrom) { X509_set1_notBefore(x509, $0) }
            try withTime(validUntil) { X509_set1_notAfter(x509, $0) }

            var context = X509V3_CTX()
            X509V3_set_ctx(&context, issuer?.pointer ?? x509, x509, nil, nil, 0)
            if issuer == nil { _ = X509V3_set_issuer_pkey(&context, signingKey.pointer) }
            let add: (OpaquePointer) -> Int32 = { X509_add_ext(x509, $0, -1) }
            try addExtension(NID_basic_constraints, isCA ? "critical,CA:TRUE" : "critical,CA:FALSE", context: &context, add)
            if !keyUsage.isEmpty {
                try addExtension(NID_key_usage, "critical," + keyUsage.configNames.joined(separator: ","), context: &context, add)
            }
            // TLS server certificates: "IP:127.0.0.1", "DNS:localhost" (OpenSSL's config syntax).
            if !subjectAlternativeNames.isEmpty {
                try addExtension(NID_subject_alt_name, subjectAlternativeNames.joined(separator: ","), context: &context, add)
            }
            if subjectKeyIdentifier {
                // OpenSSL's config syntax: "hash", or the octets in colon-separated hex.
                let value = subjectKeyIdentifierValue.map { $0.map { String(format: "%02X", $0) }.joined(separator: ":") } ?? "hash"
                try addExtension(NID_subject_key_identifier, value, context: &context, add)
            }
            // keyid:always needs the issuer's subjectKeyIdentifier; without one the issuer is named by name and serial.
            try addExtension(NID_authority_key_identifier, subjectKeyIdentifier || issuer != nil ? "keyid:always" : "issuer:always",
                             context: &context, add)
            guard X509_sign(x509, signingKey.pointer, signingDigest(for: signingKey)) > 0 else { throw CryptoError.openSSL("X509_sign") }
        } catch {
            X509_free(x509)
            throw error
        }
        return try Certificate(owning: x509)
    }

    private static func addExtension(_ nid: Int32, _ value: String, context: inout X509V3_CTX,
                                     _ add: (OpaquePointer) -> Int32) throws {
        guard let extensionObject = X509V3_EXT_conf_nid(nil, &context, nid, value) else {
            throw CryptoError.openSSL("extension \(value)")
        }
        defer { X509_EXTENSION_free(extensionObject) }
        guard add(extensionObject) == 1 else { throw CryptoError.openSSL("adding extension \(value)") }
    }

    private static func signingDigest(for key: PrivateKey) -> OpaquePointer? {
        switch key.keyType {
        case .ed25519: return nil
        case .ec(.p384): return EVP_sha384()
        case .ec(.p521): return EVP_sha512()
        default: return EVP_sha256()
        }
    }

    /// A positive random 127-bit serial in decimal.
    private static func randomSerial() throws -> String {
        var bytes = try SecureRandom.bytes(16)
        bytes[0] &= 0x7F
        bytes[0] |= 0x01  // never zero, never negative
        guard let bn = BN_bin2bn(bytes, Int32(bytes.count), nil) else { throw CryptoError.openSSL("BN_bin2bn") }
        defer { BN_free(bn) }
        guard let text = BN_bn2dec(bn) else { throw CryptoError.openSSL("BN_bn2dec") }
        defer { as4gw_OPENSSL_free(text) }
        return String(cString: text)
    }

    /// Runs `body` with a temporary `ASN1_INTEGER` for a decimal serial.
    private static func withSerial(_ decimal: String, _ body: (UnsafeMutablePointer<ASN1_INTEGER>) -> Int32) throws {
        var bn: OpaquePointer?
        guard !decimal.isEmpty, decimal.allSatisfy({ $0.isASCII && $0.isNumber }),
              BN_dec2bn(&bn, decimal) == Int32(decimal.utf8.count), let bn else {
            throw CryptoError.invalidArgument("serial number must be a non-negative decimal integer: \(decimal)")
        }
        defer { BN_free(bn) }
        guard let integer = BN_to_ASN1_INTEGER(bn, nil) else { throw CryptoError.openSSL("BN_to_ASN1_INTEGER") }
        defer { ASN1_INTEGER_free(integer) }
        guard body(integer) == 1 else { throw CryptoError.openSSL("setting serial number") }
    }

    /// Runs `body` with a temporary `ASN1_TIME`.
    private static func withTime(_ date: Date, _ body: (UnsafeMutablePointer<ASN1_TIME>) -> Int32) throws {
        let time = try makeASN1Time(date)
        defer { ASN1_TIME_free(time) }
        guard body(time) == 1 else { throw CryptoError.openSSL("setting time") }
    }
}

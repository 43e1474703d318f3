import COpenSSL
import Foundation

/// An X.509 certificate (owns an `X509 *`, freed in `deinit`).
///
/// Why the unchecked `Sendable` conformance is safe: the `X509` is never modified after `init` and only read afterwards.
/// OpenSSL 3 allows concurrent read-only use of one `X509` (openssl-threads(7)); the lazily cached
/// extension data inside `X509` is filled under OpenSSL's own per-object lock. The derived Swift
/// values (`derBytes`, dates, names, the key hash) are immutable `let`s computed in `init`.
public final class Certificate: @unchecked Sendable, Hashable, CustomStringConvertible {
    let pointer: OpaquePointer
    /// The DER encoding; also the basis of `==` and `hash(into:)`.
    public let derBytes: [UInt8]
    /// The hash of `derBytes`, taken once: certificate sets key caches looked up per message, and
    /// hashing a kilobyte of DER on every lookup showed in the daemon's profile.
    private let derHash: Int
    public let notBefore: Date
    public let notAfter: Date
    public let subjectName: DistinguishedName
    public let issuerName: DistinguishedName
    /// SHA-1 of the subjectPublicKey BIT STRING's value (the key bits, without tag, length and
    /// unused-bits octet): RFC 5280 §4.2.1.2 method (1), what OpenSSL's `hash` subjectKeyIdentifier
    /// holds, and what WS-Security peers compute for a certificate without that extension.
    /// Taken once here (a few hundred bytes), so that key lookups need no lock and no recomputing.
    public let subjectPublicKeySHA1: [UInt8]

    /// Takes ownership of `x509`.
    init(owning x509: OpaquePointer) throws {
        pointer = x509
        do {
            derBytes = try derEncode("certificate") { i2d_X509(x509, $0) }
            derHash = derBytes.hashValue
            notBefore = try date(from: X509_get0_notBefore(x509))
            notAfter = try date(from: X509_get0_notAfter(x509))
            subjectName = try DistinguishedName(copying: X509_get_subject_name(x509))
            issuerName = try DistinguishedName(copying: X509_get_issuer_name(x509))
            guard let keyBits = X509_get0_pubkey_bitstr(x509) else { throw CryptoError.openSSL("X509_get0_pubkey_bitstr") }
            subjectPublicKeySHA1 = try Digest.hash(asn1StringBytes(keyBits), algorithm: .sha1)
            // Fill OpenSSL's extension cache now, while the object is private to this thread.
            _ = X509_check_purpose(x509, -1, 0)
            OpenSSLErrorQueue.clear()
        } catch {
            X509_free(x509)
            throw error
        }
    }

    /// Shares `x509` with another owner by taking a new reference (`X509_up_ref`).
    convenience init(retaining x509: OpaquePointer) throws {
        guard X509_up_ref(x509) == 1 else { throw CryptoError.openSSL("X509_up_ref") }
        try self.init(owning: x509)
    }

    deinit { X509_free(pointer) }

    // MARK: Loading

    /// The first certificate of a PEM text.
    public convenience init(pemEncoded pem: String) throws {
        let x509 = try MemoryBIO.withReadOnly(Array(pem.utf8)) { PEM_read_bio_X509($0, nil, nil, nil) }
        guard let x509 else { throw CryptoError.decoding("PEM certificate") }
        try self.init(owning: x509)
    }

    /// Every certificate of a PEM text (a chain file, a bundle). Throws if there is none or a block is corrupt.
    public static func certificates(fromPEM pem: String) throws -> [Certificate] {
        try readAllPEM(pem, what: "certificate", read: { PEM_read_bio_X509($0, nil, nil, nil) }, wrap: Certificate.init(owning:))
    }

    /// A DER certificate.
    public convenience init(derEncoded der: some ContiguousBytes) throws {
        let x509 = try derDecode("certificate", der, { cursor, length in d2i_X509(nil, cursor, length) }, free: X509_free)
        try self.init(owning: x509)
    }

    /// Base64 DER, as in `wsse:BinarySecurityToken` or `ds:X509Certificate` (whitespace ignored).
    public convenience init(base64DER: String) throws {
        guard let der = Data(base64Encoded: base64DER, options: .ignoreUnknownCharacters) else {
            throw CryptoError.decodingFailed(what: "certificate", openSSLError: "invalid base64")
        }
        try self.init(derEncoded: der)
    }

    /// The certificates in a file: every certificate of a PEM file, or the one certificate of a DER file.
    public static func certificates(fromFile path: String) throws -> [Certificate] {
        try loadPEMOrDER(path: path, pem: certificates(fromPEM:), der: Certificate.init(derEncoded:))
    }

    // MARK: Properties

    /// Subject as an RFC 2253 string, most specific first (`CN=red_gw,O=eDelivery,C=BE`).
    public var subject: String { subjectName.rfc2253 }

    /// Issuer as an RFC 2253 string.
    public var issuer: String { issuerName.rfc2253 }

    /// Serial number in decimal, as `ds:X509SerialNumber` carries it (negative serials keep their sign).
    public var serialNumber: String {
        guard let bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(pointer), nil) else { return "" }
        defer { BN_free(bn) }
        guard let text = BN_bn2dec(bn) else { return "" }
        defer { as4gw_OPENSSL_free(text) }
        return String(cString: text)
    }

    /// The subjectKeyIdentifier extension value (the key identifier octets), nil if the extension is absent.
    public var subjectKeyIdentifier: [UInt8]? {
        guard let ski = X509_get0_subject_key_id(pointer) else { return nil }
        return asn1StringBytes(ski)
    }

    /// SHA-1 of the DER encoding (the WSS `ThumbprintSHA1` key identifier).
    public var sha1Thumbprint: [UInt8] {
        (try? Digest.hash(derBytes, algorithm: .sha1)) ?? []
    }

    /// Digest of the DER encoding with any algorithm.
    public func thumbprint(_ algorithm: DigestAlgorithm) throws -> [UInt8] {
        try Digest.hash(derBytes, algorithm: algorithm)
    }

    /// The subject public key. Throws for key algorithms this OpenSSL cannot load.
    public var publicKey: PublicKey {
        get throws {
            guard let pkey = X509_get_pubkey(pointer) else { throw CryptoError.openSSL("X509_get_pubkey") }
            return PublicKey(owning: pkey)
        }
    }

    /// The subject key type; `.other("unknown")` when the key cannot be loaded.
    public var keyType: KeyType {
        (try? publicKey.keyType) ?? .other("unknown")
    }

    /// keyUsage extension bits; nil when the extension is absent (meaning: no restriction).
    public var keyUsage: KeyUsage? {
        let bits = X509_get_key_usage(pointer)
        return bits == UInt32.max ? nil : KeyUsage(rawValue: bits)
    }

    /// Whether basicConstraints marks this certificate as a CA.
    public var isCA: Bool { X509_check_ca(pointer) != 0 }

    /// Whether the subject equals the issuer and the certificate's signature verifies with its own key.
    public var isSelfSigned: Bool {
        let result = X509_self_signed(pointer, 1) == 1
        OpenSSLErrorQueue.clear()
        return result
    }

    /// Whether `date` lies within notBefore...notAfter (inclusive). Chain and revocation checks are
    /// ``CertificateValidator``'s job.
    public func isValid(at date: Date = Date()) -> Bool {
        notBefore <= date && date <= notAfter
    }

    /// Whether this certificate is the one an `ds:X509IssuerSerial` names: issuer compared as a
    /// distinguished name (either RDN order, canonical spacing/case), serial compared as an integer.
    public func matches(issuerName: String, serialNumber: String) -> Bool {
        guard self.issuerName.matches(issuerName) else { return false }
        guard let own = ASN1_INTEGER_to_BN(X509_get0_serialNumber(pointer), nil) else { return false }
        defer { BN_free(own) }
        var given: OpaquePointer?
        let trimmed = serialNumber.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty, trimmed.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == "-") }),
              BN_dec2bn(&given, trimmed) == Int32(trimmed.utf8.count), let given else {
            OpenSSLErrorQueue.clear()
            return false
        }
        defer { BN_free(given) }
        return BN_cmp(own, given) == 0
    }

    /// PEM `-----BEGIN CERTIFICATE-----`.
    public func pemEncoded() throws -> String {
        let bio = try MemoryBIO()
        guard PEM_write_bio_X509(bio.pointer, pointer) == 1 else { throw CryptoError.openSSL("PEM_write_bio_X509") }
        return bio.string
    }

    /// Base64 of the DER, for a `wsse:BinarySecurityToken` (no line breaks).
    public var base64DER: String { Data(derBytes).base64EncodedString() }

    public static func == (lhs: Certificate, rhs: Certificate) -> Bool { lhs.derBytes == rhs.derBytes }

    public func hash(into hasher: inout Hasher) { hasher.combine(derHash) }

    public var description: String { "Certificate(\(subject), serial \(serialNumber))" }
}

/// The content octets of an `ASN1_STRING` (also `ASN1_OCTET_STRING`, `ASN1_INTEGER`).
func asn1StringBytes(_ string: UnsafePointer<ASN1_STRING>) -> [UInt8] {
    let length = Int(ASN1_STRING_length(string))
    guard length > 0, let data = ASN1_STRING_get0_data(string) else { return [] }
    return Array(UnsafeBufferPointer(start: data, count: length))
}

import COpenSSL
import Foundation

/// An X.509 CRL (owns an `X509_CRL *`, freed in `deinit`).
///
/// Why the unchecked `Sendable` conformance is safe: never modified after `init`. OpenSSL sorts a CRL's revoked list lazily
/// during lookups, but does so under the CRL's own lock, so concurrent verification is safe.
public final class CertificateRevocationList: @unchecked Sendable, CustomStringConvertible {
    let pointer: OpaquePointer
    public let issuerName: DistinguishedName
    public let thisUpdate: Date
    public let nextUpdate: Date?
    public let derBytes: [UInt8]

    init(owning crl: OpaquePointer) throws {
        pointer = crl
        do {
            issuerName = try DistinguishedName(copying: X509_CRL_get_issuer(crl))
            thisUpdate = try date(from: X509_CRL_get0_lastUpdate(crl))
            nextUpdate = try X509_CRL_get0_nextUpdate(crl).map { try date(from: $0) }
            derBytes = try derEncode("CRL") { i2d_X509_CRL(crl, $0) }
        } catch {
            X509_CRL_free(crl)
            throw error
        }
    }

    deinit { X509_CRL_free(pointer) }

    /// A PEM `-----BEGIN X509 CRL-----`.
    public convenience init(pemEncoded pem: String) throws {
        let crl = try MemoryBIO.withReadOnly(Array(pem.utf8)) { PEM_read_bio_X509_CRL($0, nil, nil, nil) }
        guard let crl else { throw CryptoError.decoding("PEM CRL") }
        try self.init(owning: crl)
    }

    /// A DER CRL.
    public convenience init(derEncoded der: some ContiguousBytes) throws {
        let crl = try derDecode("CRL", der, { cursor, length in d2i_X509_CRL(nil, cursor, length) }, free: X509_CRL_free)
        try self.init(owning: crl)
    }

    /// Every CRL of a PEM text. Throws if there is none or a block is corrupt.
    public static func crls(fromPEM pem: String) throws -> [CertificateRevocationList] {
        try readAllPEM(pem, what: "CRL", read: { PEM_read_bio_X509_CRL($0, nil, nil, nil) },
                       wrap: CertificateRevocationList.init(owning:))
    }

    /// The CRLs in a file: every CRL of a PEM file, or the one CRL of a DER file.
    public static func crls(fromFile path: String) throws -> [CertificateRevocationList] {
        try loadPEMOrDER(path: path, pem: crls(fromPEM:), der: CertificateRevocationList.init(derEncoded:))
    }

    /// Serial numbers of the revoked certificates, in decimal.
    public var revokedSerialNumbers: [String] {
        guard let revoked = X509_CRL_get_REVOKED(pointer) else { return [] }
        return (0..<as4gw_sk_X509_REVOKED_num(revoked)).compactMap { index in
            guard let entry = as4gw_sk_X509_REVOKED_value(revoked, index),
                  let bn = ASN1_INTEGER_to_BN(X509_REVOKED_get0_serialNumber(entry), nil) else { return nil }
            defer { BN_free(bn) }
            guard let text = BN_bn2dec(bn) else { return nil }
            defer { as4gw_OPENSSL_free(text) }
            return String(cString: text)
        }
    }

    /// Whether the CRL's signature verifies with `issuer`'s public key (and the issuer names match).
    public func isSigned(by issuer: Certificate) -> Bool {
        defer { OpenSSLErrorQueue.clear() }
        guard issuerName == issuer.subjectName, let key = try? issuer.publicKey else { return false }
        return X509_CRL_verify(pointer, key.pointer) == 1
    }

    /// PEM `-----BEGIN X509 CRL-----`.
    public func pemEncoded() throws -> String {
        let bio = try MemoryBIO()
        guard PEM_write_bio_X509_CRL(bio.pointer, pointer) == 1 else { throw CryptoError.openSSL("PEM_write_bio_X509_CRL") }
        return bio.string
    }

    public var description: String { "CRL(issuer \(issuerName), \(revokedSerialNumbers.count) revoked)" }
}

import COpenSSL
import Foundation

/// The WSS X.509 token profile's `X509PKIPathv1` form: a DER `SEQUENCE OF Certificate`.
///
/// Order: as encoded, which for a PkiPath runs from the certificate closest to the trust anchor
/// (first) to the target certificate (last). Domibus/WSS4J messages follow this (root, then
/// intermediate, then the signing leaf last). ``decode(_:)`` keeps that order; ``decodeLeafFirst(_:)``
/// gives the reverse, handy for chain building.
public enum PKIPath {
    public static let valueType =
        "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509PKIPathv1"

    /// Upper bound on the number of certificates accepted in one path (defence against oversized tokens).
    public static let maximumCertificateCount = 16

    /// Decodes a PkiPath; certificates in encoded order (anchor side first, target last).
    public static func decode(_ der: some ContiguousBytes) throws -> [Certificate] {
        let bytes = der.byteArray
        let (contentStart, contentLength) = try sequenceHeader(bytes)
        guard contentStart + contentLength == bytes.count else {
            throw failure("SEQUENCE length does not match the data (\(bytes.count - contentStart) content bytes, header says \(contentLength))")
        }
        var certificates: [Certificate] = []
        try bytes.withUnsafeBufferPointer { buffer in
            let end = buffer.baseAddress! + bytes.count
            var cursor: UnsafePointer<UInt8>? = buffer.baseAddress! + contentStart
            while let current = cursor, current < end {
                guard certificates.count < maximumCertificateCount else { throw failure("more than \(maximumCertificateCount) certificates") }
                guard let x509 = d2i_X509(nil, &cursor, end - current) else {
                    throw CryptoError.decoding("certificate \(certificates.count + 1) of a PkiPath")
                }
                certificates.append(try Certificate(owning: x509))
            }
        }
        guard !certificates.isEmpty else { throw failure("empty path") }
        return certificates
    }

    /// Decodes a PkiPath and returns the target (leaf) first.
    public static func decodeLeafFirst(_ der: some ContiguousBytes) throws -> [Certificate] {
        try decode(der).reversed()
    }

    /// Encodes certificates given in PkiPath order (anchor side first, target last).
    public static func encode(_ certificates: [Certificate]) -> [UInt8] {
        let content = certificates.flatMap(\.derBytes)
        return [0x30] + derLength(content.count) + content
    }

    private static func failure(_ reason: String) -> CryptoError {
        .decodingFailed(what: "PkiPath", openSSLError: reason)
    }

    /// Parses a DER SEQUENCE tag and definite length; returns (content offset, content length).
    private static func sequenceHeader(_ bytes: [UInt8]) throws -> (Int, Int) {
        guard bytes.count >= 2, bytes[0] == 0x30 else { throw failure("not a DER SEQUENCE") }
        let first = bytes[1]
        if first & 0x80 == 0 { return (2, Int(first)) }
        let count = Int(first & 0x7F)
        guard count >= 1, count <= 4, bytes.count >= 2 + count else { throw failure("unsupported length encoding") }
        let length = bytes[2..<(2 + count)].reduce(0) { $0 << 8 | Int($1) }
        return (2 + count, length)
    }

    private static func derLength(_ length: Int) -> [UInt8] {
        if length < 0x80 { return [UInt8(length)] }
        var octets: [UInt8] = []
        var value = length
        while value > 0 {
            octets.insert(UInt8(value & 0xFF), at: 0)
            value >>= 8
        }
        return [0x80 | UInt8(octets.count)] + octets
    }
}

import COpenSSL
import Foundation

/// XML Signature `ds:SignatureMethod` algorithms.
///
/// `rsaSHA1` exists so that a downgrade can be *recognised* and reported (EBMS:0103); ``Signer``
/// refuses it and ``Verifier`` accepts it only when explicitly allowed.
public enum SignatureAlgorithm: String, Sendable, CaseIterable {
    case rsaSHA1 = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
    case rsaSHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
    case rsaSHA384 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384"
    case rsaSHA512 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512"
    case ecdsaSHA256 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
    case ecdsaSHA384 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384"
    case ecdsaSHA512 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512"
    case ed25519 = "http://www.w3.org/2021/04/xmldsig-more#eddsa-ed25519"

    /// The `Algorithm` URI.
    public var uri: String { rawValue }

    /// Recognises a `ds:SignatureMethod/@Algorithm` URI; nil for anything unknown.
    public init?(uri: String) { self.init(rawValue: uri) }

    /// The digest applied before signing; nil for Ed25519 (it signs the message itself).
    public var digest: DigestAlgorithm? {
        switch self {
        case .rsaSHA1: return .sha1
        case .rsaSHA256, .ecdsaSHA256: return .sha256
        case .rsaSHA384, .ecdsaSHA384: return .sha384
        case .rsaSHA512, .ecdsaSHA512: return .sha512
        case .ed25519: return nil
        }
    }

    /// SHA-1 based: never produced, verified only on explicit request.
    public var isLegacy: Bool { self == .rsaSHA1 }

    /// Whether `keyType` can be used with this algorithm.
    public func accepts(_ keyType: KeyType) -> Bool {
        switch (self, keyType) {
        case (.rsaSHA1, .rsa), (.rsaSHA256, .rsa), (.rsaSHA384, .rsa), (.rsaSHA512, .rsa): return true
        case (.ecdsaSHA256, .ec), (.ecdsaSHA384, .ec), (.ecdsaSHA512, .ec): return true
        case (.ed25519, .ed25519): return true
        default: return false
        }
    }

    var isECDSA: Bool { self == .ecdsaSHA256 || self == .ecdsaSHA384 || self == .ecdsaSHA512 }

    /// The `EVP_MD` for `EVP_DigestSignInit`/`EVP_DigestVerifyInit` (NULL for Ed25519).
    var evpMD: OpaquePointer? { digest?.evpMD }

    /// After `EVP_DigestSignInit`/`EVP_DigestVerifyInit`: pins PKCS#1 v1.5 padding for RSA keys
    /// (the XMLDSig rsa-shaN algorithms; never PSS by accident).
    func configure(_ pkeyContext: OpaquePointer?, keyType: KeyType) throws {
        guard case .rsa = keyType else { return }
        guard let pkeyContext, EVP_PKEY_CTX_set_rsa_padding(pkeyContext, RSA_PKCS1_PADDING) == 1 else {
            throw CryptoError.openSSL("EVP_PKEY_CTX_set_rsa_padding")
        }
    }

    func checkKey(_ keyType: KeyType) throws {
        guard accepts(keyType) else { throw CryptoError.keyMismatch("\(keyType) key cannot be used with \(uri)") }
    }
}

/// Conversion between OpenSSL's DER `ECDSA-Sig-Value` and XML Signature's raw `r || s` form,
/// where each half is left-padded to the curve's coordinate length (32 for P-256, 66 for P-521).
public enum ECDSASignatureEncoding {
    /// DER `SEQUENCE { r INTEGER, s INTEGER }` → `r || s`.
    public static func rawFromDER(_ der: some ContiguousBytes, coordinateByteCount: Int) throws -> [UInt8] {
        let signature = try derDecode("ECDSA signature", der, { cursor, length in d2i_ECDSA_SIG(nil, cursor, length) }, free: ECDSA_SIG_free)
        defer { ECDSA_SIG_free(signature) }
        var r: OpaquePointer?
        var s: OpaquePointer?
        ECDSA_SIG_get0(signature, &r, &s)
        guard let r, let s else { throw CryptoError.decodingFailed(what: "ECDSA signature", openSSLError: "missing r or s") }
        var raw = [UInt8](repeating: 0, count: 2 * coordinateByteCount)
        let width = Int32(coordinateByteCount)
        let ok = raw.withUnsafeMutableBufferPointer { buffer in
            BN_bn2binpad(r, buffer.baseAddress, width) == width
                && BN_bn2binpad(s, buffer.baseAddress! + coordinateByteCount, width) == width
        }
        guard ok else { throw CryptoError.decodingFailed(what: "ECDSA signature", openSSLError: "r or s longer than the curve size") }
        return raw
    }

    /// `r || s` → DER. The input must be exactly twice the coordinate length.
    public static func derFromRaw(_ raw: some ContiguousBytes, coordinateByteCount: Int) throws -> [UInt8] {
        let bytes = raw.byteArray
        guard coordinateByteCount > 0, bytes.count == 2 * coordinateByteCount else {
            throw CryptoError.decodingFailed(what: "ECDSA signature", openSSLError: "expected \(2 * coordinateByteCount) bytes, got \(bytes.count)")
        }
        guard let signature = ECDSA_SIG_new() else { throw CryptoError.openSSL("ECDSA_SIG_new") }
        defer { ECDSA_SIG_free(signature) }
        let width = Int32(coordinateByteCount)
        let (r, s) = bytes.withUnsafeBufferPointer { buffer in
            (BN_bin2bn(buffer.baseAddress, width, nil), BN_bin2bn(buffer.baseAddress! + coordinateByteCount, width, nil))
        }
        guard let r, let s, ECDSA_SIG_set0(signature, r, s) == 1 else {
            BN_free(r)
            BN_free(s)
            throw CryptoError.openSSL("ECDSA_SIG_set0")
        }
        return try derEncode("ECDSA signature") { i2d_ECDSA_SIG(signature, $0) }
    }
}

/// Byte length of one ECDSA half for an EC key (from the group order size; 66 for P-521).
func ecdsaCoordinateByteCount(_ pkey: OpaquePointer) -> Int {
    (Int(EVP_PKEY_get_bits(pkey)) + 7) / 8
}

import COpenSSL
import Foundation

/// A public key (owns an `EVP_PKEY *`, freed in `deinit`).
///
/// Why the unchecked `Sendable` conformance is safe: the `EVP_PKEY` is never modified after `init`, and OpenSSL 3 documents
/// (openssl-threads(7)) that an `EVP_PKEY` may be used concurrently by several threads for read-only
/// operations (verify, encrypt, derive, export). The stored pointer is the only state.
public final class PublicKey: @unchecked Sendable, Equatable, CustomStringConvertible {
    let pointer: OpaquePointer

    /// Takes ownership of one reference to `pkey`.
    init(owning pkey: OpaquePointer) {
        pointer = pkey
    }

    deinit { EVP_PKEY_free(pointer) }

    /// Loads a PEM `-----BEGIN PUBLIC KEY-----` (SubjectPublicKeyInfo).
    public convenience init(pemEncoded pem: String) throws {
        let pkey = try MemoryBIO.withReadOnly(Array(pem.utf8)) { bio in
            PEM_read_bio_PUBKEY(bio, nil, nil, nil)
        }
        guard let pkey else { throw CryptoError.decoding("PEM public key") }
        self.init(owning: pkey)
    }

    /// Decodes a DER SubjectPublicKeyInfo (`d2i_PUBKEY`), e.g. `dsig11:DEREncodedKeyValue`.
    public convenience init(spkiDER der: some ContiguousBytes) throws {
        let bytes = der.byteArray
        if let (type, raw) = RawKeySPKI.split(bytes) {
            try self.init(rawBytes: raw, type: type)
            return
        }
        let pkey = try derDecode("SubjectPublicKeyInfo", bytes, { cursor, length in d2i_PUBKEY(nil, cursor, length) }, free: EVP_PKEY_free)
        self.init(owning: pkey)
    }

    /// Builds an X25519 or Ed25519 public key from its 32 raw bytes.
    public convenience init(rawBytes: some ContiguousBytes, type: KeyType) throws {
        guard let nid = type.rawKeyNID else {
            throw CryptoError.invalidArgument("raw public keys exist only for X25519 and Ed25519, not \(type)")
        }
        let pkey = rawBytes.withUnsafeBytes { raw in
            EVP_PKEY_new_raw_public_key(nid, nil, raw.baseAddress?.assumingMemoryBound(to: UInt8.self), raw.count)
        }
        guard let pkey else { throw CryptoError.decoding("raw \(type) public key") }
        self.init(owning: pkey)
    }

    /// Builds an EC public key from an uncompressed point `04 || X || Y` on `curve`
    /// (`dsig11:ECKeyValue/dsig11:PublicKey`). The point is checked to lie on the curve.
    public convenience init(ecUncompressedPoint point: some ContiguousBytes, curve: ECCurve) throws {
        let bytes = point.byteArray
        guard bytes.count == 1 + 2 * curve.coordinateByteCount, bytes.first == 0x04 else {
            throw CryptoError.decodingFailed(what: "EC point", openSSLError: "not an uncompressed point for \(curve.rawValue)")
        }
        guard let context = EVP_PKEY_CTX_new_from_name(nil, "EC", nil) else { throw CryptoError.openSSL("EVP_PKEY_CTX_new_from_name") }
        defer { EVP_PKEY_CTX_free(context) }
        let parameters = OSSLParameters()
        parameters.addUTF8String("group", curve.openSSLGroupName)
        parameters.addOctetString("pub", bytes)
        var pkey: OpaquePointer?
        let ok = parameters.withParameters { params in
            EVP_PKEY_fromdata_init(context) == 1
                && EVP_PKEY_fromdata(context, &pkey, as4gw_EVP_PKEY_PUBLIC_KEY(), params) == 1
        }
        guard ok, let pkey else { throw CryptoError.decoding("EC point") }
        self.init(owning: pkey)
        try checkPublicKey()
    }

    /// The key type (RSA, EC curve, Ed25519, X25519).
    public var keyType: KeyType { KeyType(of: pointer) }

    /// Key size in bits (RSA modulus, EC group order, 253/255 for Ed25519/X25519).
    public var bitCount: Int { Int(EVP_PKEY_get_bits(pointer)) }

    /// DER SubjectPublicKeyInfo (`i2d_PUBKEY`).
    public var spkiDER: [UInt8] {
        get throws {
            let type = keyType
            if let prefix = RawKeySPKI.prefix(for: type) { return prefix + (try rawPublicKeyBytes(pointer, type)) }
            return try derEncode("SubjectPublicKeyInfo") { i2d_PUBKEY(pointer, $0) }
        }
    }

    /// PEM `-----BEGIN PUBLIC KEY-----`.
    public func pemEncoded() throws -> String {
        let bio = try MemoryBIO()
        guard PEM_write_bio_PUBKEY(bio.pointer, pointer) == 1 else { throw CryptoError.openSSL("PEM_write_bio_PUBKEY") }
        return bio.string
    }

    /// The 32 raw bytes of an X25519 or Ed25519 public key.
    public func rawBytes() throws -> [UInt8] {
        try rawPublicKeyBytes(pointer, keyType)
    }

    /// The uncompressed point `04 || X || Y` of an EC public key, each coordinate padded to the curve size.
    public func ecUncompressedPoint() throws -> [UInt8] {
        guard case let .ec(curve) = keyType else { throw CryptoError.keyMismatch("not an EC key: \(keyType)") }
        var point: [UInt8] = [0x04]
        for name in ["qx", "qy"] {
            var bn: OpaquePointer?
            guard EVP_PKEY_get_bn_param(pointer, name, &bn) == 1, let bn else {
                throw CryptoError.openSSL("EVP_PKEY_get_bn_param(\(name))")
            }
            defer { BN_free(bn) }
            var coordinate = [UInt8](repeating: 0, count: curve.coordinateByteCount)
            guard BN_bn2binpad(bn, &coordinate, Int32(coordinate.count)) == Int32(coordinate.count) else {
                throw CryptoError.openSSL("BN_bn2binpad")
            }
            point += coordinate
        }
        return point
    }

    /// Runs OpenSSL's public key check (`EVP_PKEY_public_check`: on-curve, range, ...).
    func checkPublicKey() throws {
        guard let context = EVP_PKEY_CTX_new_from_pkey(nil, pointer, nil) else { throw CryptoError.openSSL("EVP_PKEY_CTX_new_from_pkey") }
        defer { EVP_PKEY_CTX_free(context) }
        guard EVP_PKEY_public_check(context) == 1 else { throw CryptoError.decoding("public key (failed key check)") }
    }

    /// Same key material (`EVP_PKEY_eq`).
    public static func == (lhs: PublicKey, rhs: PublicKey) -> Bool {
        let equal = EVP_PKEY_eq(lhs.pointer, rhs.pointer) == 1
        OpenSSLErrorQueue.clear()
        return equal
    }

    public var description: String { "PublicKey(\(keyType), \(bitCount) bits)" }
}

/// Raw public bytes of an X25519/Ed25519 `EVP_PKEY` (shared by public and private keys).
func rawPublicKeyBytes(_ pkey: OpaquePointer, _ type: KeyType) throws -> [UInt8] {
    guard type.rawKeyNID != nil else { throw CryptoError.keyMismatch("raw public key bytes exist only for X25519/Ed25519, not \(type)") }
    var length = 0
    guard EVP_PKEY_get_raw_public_key(pkey, nil, &length) == 1 else { throw CryptoError.openSSL("EVP_PKEY_get_raw_public_key") }
    var bytes = [UInt8](repeating: 0, count: length)
    guard EVP_PKEY_get_raw_public_key(pkey, &bytes, &length) == 1 else { throw CryptoError.openSSL("EVP_PKEY_get_raw_public_key") }
    return Array(bytes.prefix(length))
}

/// The SubjectPublicKeyInfo of the two raw 32-byte key types (RFC 8410 §4): a fixed 12-byte DER
/// prefix and the key. Why by hand: OpenSSL 3 builds a provider encoder or decoder chain for
/// every `i2d_PUBKEY`/`d2i_PUBKEY`, and profile 2.0 sends a fresh X25519 key with every message
/// (that chain was a tenth of both gateways' CPU). Any other encoding goes through OpenSSL.
enum RawKeySPKI {
    static let ed25519Prefix: [UInt8] = [0x30, 0x2A, 0x30, 0x05, 0x06, 0x03, 0x2B, 0x65, 0x70, 0x03, 0x21, 0x00]
    static let x25519Prefix: [UInt8] = [0x30, 0x2A, 0x30, 0x05, 0x06, 0x03, 0x2B, 0x65, 0x6E, 0x03, 0x21, 0x00]

    static func prefix(for type: KeyType) -> [UInt8]? {
        switch type {
        case .ed25519: return ed25519Prefix
        case .x25519: return x25519Prefix
        default: return nil
        }
    }

    /// The key type and raw key of an exact 44-byte Ed25519 or X25519 SubjectPublicKeyInfo.
    static func split(_ der: [UInt8]) -> (KeyType, [UInt8])? {
        guard der.count == 44 else { return nil }
        let head = der[0..<12], key = Array(der[12...])
        if head.elementsEqual(ed25519Prefix) { return (.ed25519, key) }
        if head.elementsEqual(x25519Prefix) { return (.x25519, key) }
        return nil
    }
}

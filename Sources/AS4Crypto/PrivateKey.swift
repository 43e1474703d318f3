import COpenSSL
import Foundation

/// PEM password callback used when no password is given: refuse instead of prompting on a terminal
/// (OpenSSL's default callback would read from the tty, which must never happen in a daemon).
/// A plain function (not a stored closure) so that passing it forms a C function pointer without global state.
private func refusePasswordCallback(_ buffer: UnsafeMutablePointer<CChar>?, _ size: Int32, _ rwflag: Int32,
                                    _ userData: UnsafeMutableRawPointer?) -> Int32 {
    -1
}

/// A private key (owns an `EVP_PKEY *`, freed in `deinit`), with its public half.
///
/// Why the unchecked `Sendable` conformance is safe: the `EVP_PKEY` is never modified after `init`; OpenSSL 3 allows concurrent
/// read-only use of one `EVP_PKEY` from several threads (openssl-threads(7)): each signing or decryption
/// creates its own `EVP_PKEY_CTX`/`EVP_MD_CTX`. `publicKey` is itself immutable and `Sendable`.
public final class PrivateKey: @unchecked Sendable, CustomStringConvertible {
    let pointer: OpaquePointer
    /// The public half, extracted once at load/generation time (a separate, public-only `EVP_PKEY`).
    public let publicKey: PublicKey

    /// Takes ownership of one reference to `pkey`, which must contain a private key.
    init(owning pkey: OpaquePointer) throws {
        pointer = pkey
        do {
            let type = KeyType(of: pkey)
            if type.rawKeyNID != nil {
                // Ephemeral X25519 keys are made per message: skip OpenSSL's encoder and decoder.
                publicKey = try PublicKey(rawBytes: rawPublicKeyBytes(pkey, type), type: type)
            } else {
                let spki = try derEncode("SubjectPublicKeyInfo") { i2d_PUBKEY(pkey, $0) }
                publicKey = try PublicKey(spkiDER: spki)
            }
        } catch {
            EVP_PKEY_free(pkey)
            throw error
        }
    }

    deinit { EVP_PKEY_free(pointer) }

    // MARK: Loading

    /// Loads a PEM private key: PKCS#8 (`BEGIN PRIVATE KEY` / `BEGIN ENCRYPTED PRIVATE KEY`) or
    /// traditional (`BEGIN RSA PRIVATE KEY`, `BEGIN EC PRIVATE KEY`). `password` decrypts an encrypted key.
    public convenience init(pemEncoded pem: String, password: String? = nil) throws {
        let pkey = try MemoryBIO.withReadOnly(Array(pem.utf8)) { bio -> OpaquePointer? in
            if let password {
                // With a NULL callback OpenSSL reads the passphrase from `u` as a NUL-terminated string.
                return password.withCString { PEM_read_bio_PrivateKey(bio, nil, nil, UnsafeMutableRawPointer(mutating: $0)) }
            }
            return PEM_read_bio_PrivateKey(bio, nil, refusePasswordCallback, nil)
        }
        guard let pkey else { throw CryptoError.decoding("PEM private key") }
        try self.init(owning: pkey)
    }

    /// Loads a DER private key: unencrypted PKCS#8 or a traditional RSA/EC structure.
    public convenience init(derEncoded der: some ContiguousBytes) throws {
        let pkey = try derDecode("private key", der, { cursor, length in d2i_AutoPrivateKey(nil, cursor, length) }, free: EVP_PKEY_free)
        try self.init(owning: pkey)
    }

    /// Builds an X25519 or Ed25519 private key from its 32 raw bytes (RFC 7748 scalar / RFC 8032 seed).
    public convenience init(rawPrivateKey: some ContiguousBytes, type: KeyType) throws {
        guard let nid = type.rawKeyNID else {
            throw CryptoError.invalidArgument("raw private keys exist only for X25519 and Ed25519, not \(type)")
        }
        let pkey = rawPrivateKey.withUnsafeBytes { raw in
            EVP_PKEY_new_raw_private_key(nid, nil, raw.baseAddress?.assumingMemoryBound(to: UInt8.self), raw.count)
        }
        guard let pkey else { throw CryptoError.decoding("raw \(type) private key") }
        try self.init(owning: pkey)
    }

    // MARK: Generation

    /// A new RSA key (2048 or more bits; eDelivery uses 2048 or 3072).
    public static func generateRSA(bits: Int = 2048) throws -> PrivateKey {
        guard bits >= 2048, bits <= 16384 else { throw CryptoError.invalidArgument("RSA key size \(bits) (allowed 2048...16384)") }
        guard let pkey = as4gw_EVP_RSA_gen(UInt32(bits)) else { throw CryptoError.openSSL("RSA key generation") }
        return try PrivateKey(owning: pkey)
    }

    /// A new EC key on `curve`.
    public static func generateEC(curve: ECCurve) throws -> PrivateKey {
        guard let pkey = as4gw_keygen_ec(curve.openSSLGroupName) else { throw CryptoError.openSSL("EC key generation") }
        return try PrivateKey(owning: pkey)
    }

    /// A new Ed25519 signing key.
    public static func generateEd25519() throws -> PrivateKey {
        guard let pkey = as4gw_keygen_named("ED25519") else { throw CryptoError.openSSL("Ed25519 key generation") }
        return try PrivateKey(owning: pkey)
    }

    /// A new X25519 key-agreement key (e.g. the sender's ephemeral key in eDelivery AS4 2.0).
    public static func generateX25519() throws -> PrivateKey {
        guard let pkey = as4gw_keygen_named("X25519") else { throw CryptoError.openSSL("X25519 key generation") }
        return try PrivateKey(owning: pkey)
    }

    // MARK: Properties and export

    public var keyType: KeyType { KeyType(of: pointer) }

    /// Key size in bits.
    public var bitCount: Int { Int(EVP_PKEY_get_bits(pointer)) }

    /// PEM PKCS#8. Without a password: `BEGIN PRIVATE KEY`; with one: `BEGIN ENCRYPTED PRIVATE KEY`
    /// (PBES2, AES-256-CBC).
    public func pemEncoded(password: String? = nil) throws -> String {
        let bio = try MemoryBIO()
        let ok: Int32
        if let password {
            let length = try int32Length(password.utf8.count, "password")
            ok = PEM_write_bio_PKCS8PrivateKey(bio.pointer, pointer, EVP_aes_256_cbc(), password, length, nil, nil)
        } else {
            ok = PEM_write_bio_PrivateKey(bio.pointer, pointer, nil, nil, 0, nil, nil)
        }
        guard ok == 1 else { throw CryptoError.openSSL("PEM private key export") }
        return bio.string
    }

    /// Unencrypted PKCS#8 DER.
    public func pkcs8DER() throws -> [UInt8] {
        let bio = try MemoryBIO()
        guard i2d_PKCS8PrivateKey_bio(bio.pointer, pointer, nil, nil, 0, nil, nil) == 1 else {
            throw CryptoError.openSSL("i2d_PKCS8PrivateKey_bio")
        }
        return bio.bytes
    }

    /// Whether `publicKey` (e.g. a certificate's `publicKey`) is the public half of this private key.
    public func matches(_ publicKey: PublicKey) -> Bool {
        self.publicKey == publicKey
    }

    public var description: String { "PrivateKey(\(keyType), \(bitCount) bits)" }
}

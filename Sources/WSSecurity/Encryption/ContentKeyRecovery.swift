import AS4Crypto
import EnvelopeXML

/// Selects our private key for an `xenc:EncryptedKey` and recovers the content-encryption key.
enum ContentKeyRecovery {
    /// Our key for `key`: the recipient SecurityTokenReference (SKI, issuer/serial, thumbprint, BST
    /// reference) must name the certificate of one of `keys`. A key without certificate is only
    /// tried when it is the only one (command-line use), since nothing else could be meant.
    /// An STR naming a certificate we do not hold is EBMS:0102 (AS4-WIRE §7.3).
    static func selectKey(for key: EncryptedKeyInfo, header: SecurityHeader, keys: [DecryptionKey]) throws(EbmsError) -> PrivateKey {
        let name = key.id.map { "xenc:EncryptedKey #\($0)" } ?? "xenc:EncryptedKey"
        guard let first = keys.first else { throw EbmsError(.failedDecryption, "no decryption key is configured for \(name)") }
        if keys.count == 1, first.certificate == nil { return first.privateKey }
        guard let reference = key.agreement?.recipient ?? key.recipient else {
            guard keys.count == 1 else {
                throw EbmsError(.failedDecryption, "\(name) does not name its recipient, and more than one decryption key is configured")
            }
            return first.privateKey
        }
        let unknown = EbmsError(.failedDecryption, "\(name) is addressed to \(describe(reference)), a certificate we hold no decryption key for")
        let resolved: Certificate
        do {
            // Only our own certificates are candidates; a BST reference resolves to the token's
            // certificate, which must then be one of ours as well.
            resolved = try KeyResolver(tokens: header.tokens, candidates: keys.compactMap(\.certificate)).resolve(reference).certificate
        } catch {
            throw unknown
        }
        guard let match = keys.first(where: { $0.certificate == resolved }) else { throw unknown }
        return match.privateKey
    }

    /// Checks that `privateKey` can perform `transport` at all (an RSA key for OAEP, an X25519 key
    /// for x25519, an EC key on the originator's curve for ECDH-ES).
    static func checkKeyType(_ privateKey: PrivateKey, for transport: KeyTransport, name: String) throws(EbmsError) {
        let fits: Bool
        let needed: String
        switch transport {
        case .rsaOAEP:
            fits = privateKey.keyType == .rsa
            needed = "an RSA key"
        case .agreement(.x25519, _, _):
            fits = privateKey.keyType == .x25519
            needed = "an X25519 key"
        case .agreement(.ecdhES(let curve), _, _):
            fits = privateKey.keyType == .ec(curve)
            needed = "an EC key on \(curve.rawValue)"
        }
        guard fits else {
            throw EbmsError(.failedDecryption, "\(name) needs \(needed), but our decryption key is \(privateKey.keyType)")
        }
    }

    /// The content-encryption key, or nil when the cryptography failed (OAEP decryption, HKDF,
    /// key unwrap). The caller then carries on with a random key, so such a failure surfaces only
    /// as the later GCM failure: same error text, same amount of work, no padding oracle.
    /// Problems with the originator's public key are public facts and get their own reasons.
    static func recover(_ key: EncryptedKeyInfo, transport: KeyTransport, privateKey: PrivateKey) throws(EbmsError) -> [UInt8]? {
        let name = key.id.map { "xenc:EncryptedKey #\($0)" } ?? "xenc:EncryptedKey"
        try checkKeyType(privateKey, for: transport, name: name)
        switch transport {
        case .rsaOAEP(let parameters):
            return try? RSAOAEP.decrypt(key.cipherValue, privateKey: privateKey, parameters: parameters)
        case .agreement(let kind, let hkdf, let originator):
            let peer = try originatorKey(kind, originator, name: name)
            let secret: [UInt8]
            do {
                secret = try KeyAgreement.derive(privateKey: privateKey, peerPublicKey: peer)
            } catch CryptoError.invalidSharedSecret {
                throw EbmsError(.failedDecryption, "the originator key of \(name) is a low-order point (all-zero shared secret)")
            } catch {
                throw EbmsError(.failedDecryption, "key agreement with the originator key of \(name) failed")
            }
            guard let kek = try? HKDF.deriveKey(inputKeyMaterial: secret, salt: hkdf.salt, info: hkdf.info,
                                                outputByteCount: hkdf.keyLength) else { return nil }
            return try? AESKeyWrap.unwrap(key.cipherValue, kek: kek)
        }
    }

    /// Decodes the sender's ephemeral public key; EC points are checked to lie on the curve.
    static func originatorKey(_ kind: KeyAgreementKind, _ originator: OriginatorKey, name: String) throws(EbmsError) -> PublicKey {
        switch (kind, originator) {
        case (.x25519, .subjectPublicKeyInfo(let der)):
            guard let key = try? PublicKey(spkiDER: der), key.keyType == .x25519 else {
                throw EbmsError(.failedDecryption, "the OriginatorKeyInfo of \(name) holds no valid X25519 public key")
            }
            return key
        case (.ecdhES(let curve), .ecPoint(_, let point)):
            guard let key = try? PublicKey(ecUncompressedPoint: point, curve: curve) else {
                throw EbmsError(.failedDecryption, "the originator key of \(name) is not a valid point on \(curve.rawValue)")
            }
            return key
        default:
            // KeyEncryptionCheck pairs kind and originator form; reaching here means a mismatch anyway.
            throw EbmsError(.failedDecryption, "the OriginatorKeyInfo of \(name) does not fit its key agreement algorithm")
        }
    }
}

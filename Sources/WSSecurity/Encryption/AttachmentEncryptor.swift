import AS4Crypto
import EnvelopeXML
import Foundation

/// Encrypts a message's attachments for one recipient (sender side of AS4-WIRE §3.6–§3.8):
/// one fresh 16-byte AES-128-GCM content key per message, a fresh IV per part.
public enum AttachmentEncryptor {
    /// Encrypts `attachments` for the holder of `recipient`.
    ///
    /// - `method` must fit the recipient key: RSA for `.rsaOAEP`, X25519 for `.x25519HKDF`, EC for
    ///   `.ecdhESHKDF` (else ``CryptoError/keyMismatch(_:)``).
    /// - File-backed parts are encrypted into new files in `spoolDirectory` (the caller deletes
    ///   them after sending); in-memory parts up to 8 MiB stay in memory. A larger part without a
    ///   spool directory is refused. On failure, every file this call created is deleted.
    /// - No attachments: nothing to do, empty header fragment.
    public static func encrypt(_ attachments: [MultipartWriter.Attachment], recipient: Certificate,
                               method: KeyEncryptionMethod, keyReference: KeyReferenceStyle,
                               spoolDirectory: String?) throws -> EncryptionOutput {
        guard !attachments.isEmpty else { return EncryptionOutput(securityHeaderXML: [], attachments: []) }
        let contentKey = try SecureRandom.bytes(16)
        let (cipherValue, agreement) = try protect(contentKey, for: try recipient.publicKey, method: method)

        var files = SpoolFiles()
        do {
            var encrypted: [MultipartWriter.Attachment] = []
            var entries: [EncryptionHeaderWriter.DataEntry] = []
            for attachment in attachments {
                let body = try PartCipher.seal(attachment.body, key: contentKey, spoolDirectory: spoolDirectory, files: &files)
                encrypted.append(MultipartWriter.Attachment(contentID: attachment.contentID, contentType: "application/octet-stream",
                                                            body: body, extraHeaders: attachment.extraHeaders))
                entries.append(.init(id: "ED-" + uuid(), contentID: attachment.contentID, mimeType: attachment.contentType))
            }

            let writer = EncryptionHeaderWriter(recipient: recipient, keyReference: keyReference, tokenId: "X509-" + uuid())
            let keyId = "EK-" + uuid()
            var w = XMLWriter()
            if keyReference == .binarySecurityToken { writer.writeToken(into: &w) }
            writer.writeEncryptedKey(id: keyId, cipherValue: cipherValue, agreement: agreement, dataIds: entries.map(\.id), into: &w)
            for entry in entries { writer.writeEncryptedData(entry, keyId: keyId, into: &w) }
            return EncryptionOutput(securityHeaderXML: w.bytes, attachments: encrypted)
        } catch {
            files.removeAll()
            throw error
        }
    }

    /// Protects the content key for the recipient: the CipherValue bytes and, for key agreement,
    /// what the AgreementMethod must tell the receiver.
    static func protect(_ contentKey: [UInt8], for recipientKey: PublicKey,
                        method: KeyEncryptionMethod) throws -> ([UInt8], EncryptionHeaderWriter.Agreement?) {
        switch (method, recipientKey.keyType) {
        case (.rsaOAEP, .rsa):
            return (try RSAOAEP.encrypt(contentKey, publicKey: recipientKey, parameters: .eDelivery), nil)
        case (.x25519HKDF, .x25519):
            let ephemeral = try PrivateKey.generateX25519()
            let originator = OriginatorKey.subjectPublicKeyInfo(try ephemeral.publicKey.spkiDER)
            return try wrap(contentKey, ephemeral: ephemeral, recipientKey: recipientKey, algorithm: Alg.x25519, originator: originator)
        case (.ecdhESHKDF, .ec(let curve)):
            let ephemeral = try PrivateKey.generateEC(curve: curve)
            let originator = OriginatorKey.ecPoint(curve: curve.urn, point: try ephemeral.publicKey.ecUncompressedPoint())
            return try wrap(contentKey, ephemeral: ephemeral, recipientKey: recipientKey, algorithm: Alg.ecdhES, originator: originator)
        case (_, let type):
            throw CryptoError.keyMismatch("key encryption method \(method.rawValue) cannot use a \(type) recipient certificate")
        }
    }

    /// eDelivery 2.0 steps: Z = agreement(ephemeral, recipient), KEK = HKDF-SHA256(salt, Z, L=16),
    /// CipherValue = AES-KW(KEK, CEK). The ephemeral key is dropped afterwards (forward secrecy
    /// for this message). A 32-byte random salt, no Info (both allowed, AS4-WIRE §3.8).
    private static func wrap(_ contentKey: [UInt8], ephemeral: PrivateKey, recipientKey: PublicKey, algorithm: String,
                             originator: OriginatorKey) throws -> ([UInt8], EncryptionHeaderWriter.Agreement?) {
        let secret = try KeyAgreement.derive(privateKey: ephemeral, peerPublicKey: recipientKey)
        let salt = try SecureRandom.bytes(32)
        let kek = try HKDF.deriveKey(inputKeyMaterial: secret, salt: salt, info: [UInt8](), outputByteCount: 16)
        let wrapped = try AESKeyWrap.wrap(key: contentKey, kek: kek)
        return (wrapped, EncryptionHeaderWriter.Agreement(algorithm: algorithm, salt: salt, keyLength: 16, originator: originator))
    }

    private static func uuid() -> String { Identifier.uuid() }
}

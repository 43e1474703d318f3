import EnvelopeXML

/// How the sender protects the content-encryption key for the recipient.
public enum KeyEncryptionMethod: String, Sendable, CaseIterable {
    /// xmlenc11 `rsa-oaep` with SHA-256 and MGF1-SHA256 (eDelivery AS4 1.15); RSA recipient certificate.
    case rsaOAEP = "rsa-oaep"
    /// X25519 + HKDF(HMAC-SHA256) + AES-128 key wrap (eDelivery AS4 2.0); X25519 recipient certificate.
    case x25519HKDF = "x25519"
    /// ECDH-ES + HKDF(HMAC-SHA256) + AES-128 key wrap (eDelivery AS4 2.0 EC option); EC recipient certificate.
    case ecdhESHKDF = "ecdh-es"
}

/// The result of encrypting a message's attachments.
public struct EncryptionOutput: Sendable {
    /// Children for the `wsse:Security` header, in order: a BinarySecurityToken of the recipient
    /// certificate (with the `.binarySecurityToken` reference style only), one `xenc:EncryptedKey`,
    /// one `xenc:EncryptedData` per attachment. Each top-level element declares every namespace its
    /// subtree uses, so the fragment is well-formed wherever it is inserted. Empty when there were
    /// no attachments.
    public var securityHeaderXML: [UInt8]
    /// The attachments as ciphertext (`IV || ciphertext || tag`), same order and Content-IDs,
    /// `Content-Type: application/octet-stream`, other headers kept. Ciphertext of file-backed
    /// parts lives in new files in the spool directory, which the caller deletes after sending.
    public var attachments: [MultipartWriter.Attachment]

    public init(securityHeaderXML: [UInt8], attachments: [MultipartWriter.Attachment]) {
        self.securityHeaderXML = securityHeaderXML
        self.attachments = attachments
    }
}

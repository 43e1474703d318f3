import AS4Crypto
import EnvelopeXML

/// Decrypts the encrypted MIME parts of a received message (SwA Attachment-Content-Only,
/// AES-GCM; the key by RSA-OAEP transport or X25519/ECDH-ES + HKDF + AES key wrap), AS4-WIRE
/// §3.6–§3.9 step 4.
public enum AttachmentDecryptor {
    /// The message's attachments, in order, with every encrypted part replaced by its plaintext:
    /// `Content-Type` restored from `EncryptedData/@MimeType`, all other headers kept. Parts that
    /// were not encrypted are returned unchanged.
    ///
    /// Plaintext is released only after its GCM tag verified. Decrypted parts that are file-backed
    /// or larger than 8 MiB are written to new files in `spoolDirectory`; those files belong to the
    /// caller afterwards (delete them when done). Without a spool directory, parts over 8 MiB are
    /// refused. On any error every file this call created is deleted.
    ///
    /// Errors: EBMS:0103 for structures or algorithms outside `policy` (RSA 1.5, AES-CBC, OAEP
    /// labels, wrong transforms, HKDF parameters); EBMS:0102 for a missing part, an unknown
    /// recipient certificate, an invalid originator key, and, with one generic text, every failure
    /// of OAEP, key unwrapping or GCM.
    public static func decrypt(_ message: AS4Message, header: SecurityHeader, keys: [DecryptionKey],
                               policy: SecurityPolicy, spoolDirectory: String?) throws(EbmsError) -> [MIMEPart] {
        let plan = try DecryptionPlan(message: message, header: header, policy: policy)
        guard !plan.items.isEmpty else { return message.attachments }

        // Keys are selected for every EncryptedKey in use before any decryption starts, so an
        // unknown recipient is reported before any work is done.
        var privateKeys: [Int: PrivateKey] = [:]
        for item in plan.items where privateKeys[item.keyIndex] == nil {
            privateKeys[item.keyIndex] = try ContentKeyRecovery.selectKey(for: header.encryptedKeys[item.keyIndex],
                                                                          header: header, keys: keys)
        }

        var files = SpoolFiles()
        do throws(EbmsError) {
            // Per EncryptedKey: the recovered CEK, or no bytes when its cryptography failed.
            var recovered: [Int: [UInt8]] = [:]
            var parts = message.attachments
            for item in plan.items {
                if recovered[item.keyIndex] == nil, let privateKey = privateKeys[item.keyIndex] {
                    recovered[item.keyIndex] = try ContentKeyRecovery.recover(
                        header.encryptedKeys[item.keyIndex], transport: plan.transports[item.keyIndex], privateKey: privateKey) ?? []
                }
                let key = try contentKey(recovered[item.keyIndex] ?? [], length: item.keyLength)
                let part = parts[item.partIndex]
                let plaintext = try PartCipher.open(part.body, key: key, contentID: item.contentID,
                                                    spoolDirectory: spoolDirectory, files: &files)
                parts[item.partIndex] = MIMEPart(headers: restoredHeaders(part.headers, mimeType: item.mimeType), body: plaintext)
            }
            return parts
        } catch {
            files.removeAll()
            throw error
        }
    }

    /// The recovered CEK if it has the length the data algorithm needs, otherwise a random key of
    /// that length: a failed or wrong-sized key then fails at the GCM tag like any tampered part,
    /// indistinguishable from outside (implicit rejection).
    static func contentKey(_ recovered: [UInt8], length: Int) throws(EbmsError) -> [UInt8] {
        if recovered.count == length { return recovered }
        do { return try SecureRandom.bytes(length) } catch { throw DecryptionFailure.generic }
    }

    /// The part's headers with `Content-Type` set back to the original media type. Without a
    /// MimeType the headers stay as they are (AS4.NET omits it on some parts).
    static func restoredHeaders(_ headers: MIMEHeaders, mimeType: String?) -> MIMEHeaders {
        guard let mimeType else { return headers }
        var fields: [MIMEHeaders.Field] = []
        var replaced = false
        for field in headers {
            if field.name.lowercased() == "content-type" {
                if !replaced { fields.append(MIMEHeaders.Field(name: field.name, value: mimeType)) }
                replaced = true
            } else {
                fields.append(field)
            }
        }
        if !replaced { fields.append(MIMEHeaders.Field(name: "Content-Type", value: mimeType)) }
        return MIMEHeaders(fields)
    }
}

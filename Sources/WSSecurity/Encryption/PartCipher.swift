import AS4Crypto
import EnvelopeXML
import Foundation

/// Temporary files created while encrypting or decrypting one message. If anything fails, every
/// one of them is removed, so a refused message leaves no plaintext (or half-written ciphertext)
/// behind in the spool directory.
struct SpoolFiles {
    private(set) var paths: [String] = []

    mutating func add(_ path: String) { paths.append(path) }

    func removeAll() {
        for path in paths { try? FileManager.default.removeItem(atPath: path) }
    }
}

/// AES-GCM over one MIME part body in the SwA layout `IV || ciphertext || tag`, streamed chunk by
/// chunk so a 200 MB attachment never sits in memory: file-backed or large bodies go to a file in
/// the spool directory, small in-memory bodies stay in memory.
enum PartCipher {
    /// Bodies up to this size may be processed in memory.
    static let memoryLimit: UInt64 = 8 << 20

    /// Whether a body of this kind and size should be written to a spool file.
    static func usesFile(_ body: PartBody, spoolDirectory: String?) -> Bool {
        guard spoolDirectory != nil else { return false }
        // A small part read from a file is worked on in memory: creating, writing and removing
        // a spool file per part cost more than the part (an inode per message on ext4: 4% of a
        // sending gateway's CPU for 10 KiB payloads in the e2e profile).
        if case .file = body { return body.count > smallFileLimit }
        return body.count > memoryLimit
    }

    /// File-backed parts up to this size are encrypted and decrypted in memory.
    static let smallFileLimit: UInt64 = 1 << 20

    // MARK: Encryption

    /// Encrypts `body` under `key` with a fresh random IV.
    static func seal(_ body: PartBody, key: [UInt8], spoolDirectory: String?, files: inout SpoolFiles) throws -> PartBody {
        let encryptor = try AESGCMEncryptor(key: key)
        if usesFile(body, spoolDirectory: spoolDirectory), let spoolDirectory {
            let sink = try FileSink.createTemporary(in: spoolDirectory, prefix: "as4gw-enc-", suffix: ".bin")
            files.add(sink.path)
            try body.forEachChunk { chunk in try sink.write(try encryptor.update(chunk)) }
            try sink.write(try encryptor.finish())
            try sink.close()
            return sink.body
        }
        guard body.count <= memoryLimit else {
            throw CryptoError.invalidArgument("an attachment of \(body.count) bytes needs a spool directory to be encrypted")
        }
        var sealed: [UInt8] = []
        sealed.reserveCapacity(Int(body.count) + AESGCM.ivByteCount + AESGCM.tagByteCount)
        try body.forEachChunk { chunk in sealed += try encryptor.update(chunk) }
        sealed += try encryptor.finish()
        return .bytes(sealed)
    }

    // MARK: Decryption

    /// Decrypts `body`; the result is returned only after the GCM tag verified. Until then the
    /// plaintext lives in a temporary file (or buffer) nobody else sees. Every cryptographic failure
    /// is the one generic EBMS:0102 (`DecryptionFailure.generic`): truncated input, bad tag, wrong key.
    static func open(_ body: PartBody, key: [UInt8], contentID: String, spoolDirectory: String?,
                     files: inout SpoolFiles) throws(EbmsError) -> PartBody {
        let decryptor: AESGCMDecryptor
        do { decryptor = try AESGCMDecryptor(key: key) } catch { throw DecryptionFailure.generic }

        if usesFile(body, spoolDirectory: spoolDirectory), let spoolDirectory {
            let sink: FileSink
            do {
                sink = try FileSink.createTemporary(in: spoolDirectory, prefix: "as4gw-dec-", suffix: ".part")
            } catch {
                throw DecryptionFailure.storage
            }
            files.add(sink.path)
            try stream(body, through: decryptor) { plain throws(EbmsError) in
                do { try sink.write(plain) } catch { throw DecryptionFailure.storage }
            }
            do { try sink.close() } catch { throw DecryptionFailure.storage }
            return sink.body
        }
        guard body.count <= memoryLimit else {
            throw EbmsError(.failedDecryption,
                            "encrypted attachment cid:\(contentID) of \(body.count) bytes is too large to decrypt without a spool directory",
                            detail: "cid:\(contentID)")
        }
        var plain: [UInt8] = []
        plain.reserveCapacity(Int(body.count))
        try stream(body, through: decryptor) { chunk throws(EbmsError) in plain += chunk }
        return .bytes(plain)
    }

    /// Feeds every chunk of `body` through `decryptor`, hands the (not yet authenticated) output to
    /// `emit`, then verifies the tag. Reading errors are storage failures; crypto errors generic.
    private static func stream(_ body: PartBody, through decryptor: AESGCMDecryptor,
                               emit: ([UInt8]) throws(EbmsError) -> Void) throws(EbmsError) {
        do {
            try body.forEachChunk { chunk in
                let plain: [UInt8]
                do { plain = try decryptor.update(chunk) } catch { throw DecryptionFailure.generic }
                try emit(plain)
            }
        } catch let e as EbmsError {
            throw e
        } catch {
            throw DecryptionFailure.storage
        }
        do { try decryptor.finish() } catch { throw DecryptionFailure.generic }
    }
}

/// The errors decryption reports when it must not say more.
enum DecryptionFailure {
    /// OAEP, key unwrap, GCM tag, wrong-length key: one text for all, so a peer probing with
    /// modified ciphertexts learns nothing about which step failed (no padding or tag oracle).
    static let generic = EbmsError(.failedDecryption, "an encrypted attachment could not be decrypted")

    /// Our own disk failed (spool full, unreadable input file): not the peer's fault, no details
    /// (paths are never sent to a peer).
    static let storage = EbmsError(.other, "local storage failure while decrypting an attachment")
}

import AS4Crypto
import EnvelopeXML
import Foundation

/// What the receiver will decrypt, worked out from the Security header and checked against the
/// policy before any key is touched (AS4-WIRE §3.9 step 4, §7.4). Every structural or algorithm
/// problem is found here, with a precise reason, so that the cryptographic steps afterwards can
/// only fail in the one generic way.
struct DecryptionPlan {
    /// One encrypted attachment.
    struct Item {
        /// Index into the message's attachments.
        var partIndex: Int
        var contentID: String
        /// Index into `SecurityHeader.encryptedKeys`.
        var keyIndex: Int
        /// The content-encryption key length the data algorithm needs (16 for AES-128-GCM).
        var keyLength: Int
        /// The part's media type before encryption (`EncryptedData/@MimeType`), when given.
        var mimeType: String?
    }

    var items: [Item]
    /// How to recover each EncryptedKey's CEK, in `SecurityHeader.encryptedKeys` order.
    var transports: [KeyTransport]

    /// EncryptedKeys one message may carry. eDelivery senders wrap one content key for all parts
    /// (WSS4J, phase4, AS4.NET, Harmony alike); a few more leave room for a sender that wraps one
    /// per part of a small message. Each key in use costs a private-key operation (RSA-OAEP or a
    /// key agreement), so the sender must not choose how many.
    static let maxEncryptedKeys = 4

    init(message: AS4Message, header: SecurityHeader, policy: SecurityPolicy) throws(EbmsError) {
        guard header.encryptedKeys.count <= Self.maxEncryptedKeys else {
            throw EbmsError(.policyNoncompliance, "the Security header carries \(header.encryptedKeys.count) xenc:EncryptedKey elements; "
                            + "at most \(Self.maxEncryptedKeys) are accepted (eDelivery uses one per message)")
        }
        let keysById = try Self.indexKeys(header.encryptedKeys)
        var claimed: [Int: String] = [:]  // part index → EncryptedData naming it
        var items: [Item] = []
        let dataIds = Set(header.encryptedData.compactMap(\.id))

        for data in header.encryptedData {
            let name = data.id.map { "xenc:EncryptedData #\($0)" } ?? "an xenc:EncryptedData without Id"
            try Self.checkDataStructure(data, name: name, policy: policy)
            let keyLength = try Self.contentKeyLength(data, name: name, policy: policy)
            let mimeType = try Self.checkedMimeType(data, name: name)

            let contentID = ContentID.normalize(data.cipherReference ?? "")
            guard let partIndex = message.attachments.firstIndex(where: { $0.contentID == contentID }) else {
                throw EbmsError(.failedDecryption, "\(name) points at cid:\(contentID), which is no MIME part of this message",
                                detail: data.cipherReference)
            }
            if let other = claimed[partIndex] {
                throw EbmsError(.policyNoncompliance, "MIME part cid:\(contentID) is claimed by both \(other) and \(name)",
                                detail: data.cipherReference)
            }
            claimed[partIndex] = name

            let keyIndex = try Self.encryptedKey(for: data, name: name, keys: header.encryptedKeys, keysById: keysById)
            items.append(Item(partIndex: partIndex, contentID: contentID, keyIndex: keyIndex, keyLength: keyLength, mimeType: mimeType))
        }

        // Every EncryptedKey is judged, used or not: a header offering RSA 1.5 is non-compliant
        // whichever part it claims to serve.
        var transports: [KeyTransport] = []
        for key in header.encryptedKeys {
            transports.append(try KeyEncryptionCheck.check(key, policy: policy))
            // A DataReference to anything but an attachment EncryptedData of this header would be an
            // encrypted SOAP element, which AS4 forbids (AS4-WIRE §3.1) and we could not process.
            for reference in key.dataReferences where !dataIds.contains(Self.fragment(reference)) {
                throw EbmsError(.policyNoncompliance,
                                "xenc:DataReference \(reference) names no attachment xenc:EncryptedData of the Security header",
                                detail: reference)
            }
        }

        if policy.requireEncryption {
            for (index, part) in message.attachments.enumerated() where claimed[index] == nil {
                throw EbmsError(.policyNoncompliance, "MIME part cid:\(part.contentID ?? "?") is not encrypted, but the policy requires encryption",
                                detail: part.contentID.map { "cid:" + $0 })
            }
        }
        self.items = items
        self.transports = transports
    }

    // MARK: EncryptedData checks

    /// SwA Attachment-Content-Only with exactly the Attachment-Ciphertext-Transform (AS4-WIRE §3.6/§3.7).
    static func checkDataStructure(_ data: EncryptedDataInfo, name: String, policy: SecurityPolicy) throws(EbmsError) {
        guard data.type == Alg.attachmentContentOnly else {
            throw EbmsError(.policyNoncompliance, "\(name) has Type \(data.type ?? "(none)"); only Attachment-Content-Only is accepted")
        }
        guard let uri = data.cipherReference, uri.lowercased().hasPrefix("cid:") else {
            throw EbmsError(.policyNoncompliance,
                            "\(name) does not reference a MIME part through a cid: CipherReference (\(data.cipherReference ?? "none"))")
        }
        guard data.cipherTransforms == [Alg.attachmentCiphertext] else {
            let list = data.cipherTransforms.isEmpty ? "none" : data.cipherTransforms.joined(separator: ", ")
            throw EbmsError(.policyNoncompliance,
                            "\(name) must have exactly the Attachment-Ciphertext-Transform, not \(list)", detail: uri)
        }
    }

    /// The CEK length of an allowed data encryption algorithm. AES-CBC and anything else outside
    /// the policy is EBMS:0103; so is an algorithm the policy lists but this gateway cannot do.
    static func contentKeyLength(_ data: EncryptedDataInfo, name: String, policy: SecurityPolicy) throws(EbmsError) -> Int {
        guard policy.dataEncryptionAlgorithms.contains(data.algorithm) else {
            throw EbmsError(.policyNoncompliance, "\(name) uses the data encryption algorithm \(data.algorithm), which the policy does not allow")
        }
        switch data.algorithm {
        case Alg.aes128GCM: return 16
        case Alg.aes256GCM: return 32
        default: throw EbmsError(.policyNoncompliance, "the data encryption algorithm \(data.algorithm) is not supported")
        }
    }

    /// `@MimeType` becomes a MIME header value: refuse anything that is not a media type, above
    /// all line breaks, which would let the sender inject headers downstream.
    static func checkedMimeType(_ data: EncryptedDataInfo, name: String) throws(EbmsError) -> String? {
        guard let raw = data.mimeType else { return nil }
        let value = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !value.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f }),
              (try? MediaType.parse(value)) != nil else {
            throw EbmsError(.policyNoncompliance, "\(name) has a MimeType that is not a valid media type")
        }
        return value
    }

    // MARK: EncryptedData → EncryptedKey

    /// EncryptedKeys by Id. Two with the same Id would make references ambiguous.
    static func indexKeys(_ keys: [EncryptedKeyInfo]) throws(EbmsError) -> [String: Int] {
        var byId: [String: Int] = [:]
        for (index, key) in keys.enumerated() {
            guard let id = key.id else { continue }
            guard byId[id] == nil else { throw EbmsError(.policyNoncompliance, "two xenc:EncryptedKey elements have the Id \(id)") }
            byId[id] = index
        }
        return byId
    }

    /// The EncryptedKey of an EncryptedData: named by its KeyInfo (WSS4J writes an STR with TokenType
    /// EncryptedKey; AS4.NET a plain `wsse:Reference`) or, without KeyInfo, by exactly one
    /// EncryptedKey's ReferenceList. Both present and disagreeing is refused: the two readings
    /// would decrypt the part with different keys.
    static func encryptedKey(for data: EncryptedDataInfo, name: String, keys: [EncryptedKeyInfo],
                             keysById: [String: Int]) throws(EbmsError) -> Int {
        let listing = data.id.map { id in keys.indices.filter { keys[$0].dataReferences.contains { fragment($0) == id } } } ?? []
        var named: Int?
        switch data.keyReference {
        case .encryptedKey(let id)?, .tokenReference(let id, _)?:
            guard let index = keysById[id] else {
                throw EbmsError(.failedDecryption, "the KeyInfo of \(name) references #\(id), which is no xenc:EncryptedKey of this header")
            }
            named = index
        case nil:
            named = nil
        case let other?:
            throw EbmsError(.policyNoncompliance, "the KeyInfo of \(name) names \(describe(other)) instead of an xenc:EncryptedKey")
        }
        if let named {
            guard listing.isEmpty || listing == [named] else {
                throw EbmsError(.policyNoncompliance, "\(name) is claimed by more than one xenc:EncryptedKey")
            }
            return named
        }
        switch listing.count {
        case 1: return listing[0]
        case 0: throw EbmsError(.failedDecryption, "no xenc:EncryptedKey carries the key of \(name)")
        default: throw EbmsError(.policyNoncompliance, "\(name) is listed by more than one xenc:EncryptedKey")
        }
    }

    /// `#id` → `id`. AS4.NET writes DataReference URIs without the `#`; both forms name the Id.
    static func fragment(_ uri: String) -> String { uri.hasPrefix("#") ? String(uri.dropFirst()) : uri }
}

/// A short description of a key reference for error reasons (no key material).
func describe(_ reference: KeyReference) -> String {
    switch reference {
    case .tokenReference(let id, _): return "the token #\(id)"
    case .subjectKeyIdentifier(let ski): return "the Subject Key Identifier \(hex(ski))"
    case .thumbprintSHA1(let thumb): return "the SHA-1 thumbprint \(hex(thumb))"
    case .issuerSerial(let issuer, let serial): return "issuer \(issuer) serial \(serial)"
    case .embeddedCertificate: return "an embedded certificate"
    case .encryptedKey(let id): return "the EncryptedKey #\(id)"
    }
}

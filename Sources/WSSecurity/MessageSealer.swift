import AS4Crypto
import EnvelopeXML
import Foundation

/// One document to send.
public struct Payload {
    /// Without `<>`; generated when nil.
    public var contentID: String?
    /// The document's own media type (what the recipient gets back).
    public var mimeType: String
    public var body: PartBody
    public var characterSet: String?
    /// Extra agreement-specific part properties.
    public var properties: [Property]

    public init(contentID: String? = nil, mimeType: String, body: PartBody, characterSet: String? = nil, properties: [Property] = []) {
        self.contentID = contentID
        self.mimeType = mimeType
        self.body = body
        self.characterSet = characterSet
        self.properties = properties
    }
}

/// A complete outbound AS4 message: envelope with its Security header and the attachments as
/// they travel (compressed, encrypted), plus what was signed, for checking the receipt.
public struct SealedMessage {
    public var messageId: String
    public var messaging: Messaging
    public var envelope: [UInt8]
    public var attachments: [MultipartWriter.Attachment]
    public var references: [SentReference]
    /// Temporary files holding compressed or encrypted parts; the caller removes them once the
    /// message is stored or sent.
    public var spoolFiles: [String]

    /// Writes the HTTP body (multipart/related, or SOAP only without attachments) and returns
    /// its Content-Type.
    @discardableResult
    public func write<S: ByteSink>(to sink: inout S) throws -> String {
        if attachments.isEmpty {
            try MultipartWriter.writeSOAPOnly(envelope: envelope, to: &sink)
            return MultipartWriter.soapContentType
        }
        return try MultipartWriter().write(envelope: envelope, attachments: attachments, to: &sink)
    }

    public func removeSpoolFiles() {
        for f in spoolFiles { unlink(f) }
    }
}

/// Builds outbound messages in the order AS4 prescribes: compress → sign → encrypt
/// (AS4-WIRE §4), then package as SOAP with attachments.
public struct MessageSealer {
    public var signer: SignatureBuilder?
    public var encryption: Encryption?
    /// Compress the payloads (those `CompressionChoice` finds worth it; the others travel as they are).
    public var compress: Bool
    /// Where compressed and encrypted copies of file-backed parts go; nil keeps them in memory.
    public var spoolDirectory: String?

    public struct Encryption {
        public var recipient: Certificate
        public var method: KeyEncryptionMethod
        public var keyReference: KeyReferenceStyle

        public init(recipient: Certificate, method: KeyEncryptionMethod, keyReference: KeyReferenceStyle = .subjectKeyIdentifier) {
            self.recipient = recipient
            self.method = method
            self.keyReference = keyReference
        }
    }

    public init(signer: SignatureBuilder?, encryption: Encryption? = nil, compress: Bool = true, spoolDirectory: String? = nil) {
        self.signer = signer
        self.encryption = encryption
        self.compress = compress
        self.spoolDirectory = spoolDirectory
    }

    /// Parts above this size are compressed into a spool file rather than memory.
    static let inMemoryLimit: UInt64 = 4 << 20

    /// - Parameter user: the message to send; its `payloads` are replaced by the PartInfo of
    ///   `payloads`.
    /// Throws `XMLPayloadError` for an XML-typed payload that would be signed uncompressed but
    /// cannot be read as XML (`XMLPayloadCheck`).
    public func seal(_ user: UserMessage, payloads: [Payload]) throws -> SealedMessage {
        var user = user
        var spool: [String] = []
        var attachments: [MultipartWriter.Attachment] = []
        var toSign: [SignatureBuilder.Attachment] = []
        user.payloads = []
        do {
            for (index, p) in payloads.enumerated() {
                let cid = p.contentID ?? ContentID.generate()
                var props = [Property(EbmsConstants.mimeType, p.mimeType)]
                if let cs = p.characterSet { props.append(Property(EbmsConstants.characterSet, cs)) }
                var body = p.body
                var wireType = p.mimeType
                if compress, try CompressionChoice.worthCompressing(mimeType: p.mimeType, body: p.body) {
                    body = try gzip(p.body, spool: &spool)
                    wireType = EbmsConstants.gzip
                    props.append(Property(EbmsConstants.compressionType, EbmsConstants.gzip))
                } else if signer != nil, let problem = try XMLPayloadCheck.problem(mimeType: p.mimeType, body: p.body, compress: false) {
                    // Signing would fail on it as an authentication error, which it is not.
                    throw XMLPayloadError(index: index, reason: problem)
                }
                props += p.properties
                user.payloads.append(PartInfo(href: "cid:\(cid)", properties: props))
                attachments.append(.init(contentID: cid, contentType: wireType, body: body))
                toSign.append(.init(contentID: cid, mediaType: try? MediaType.parse(wireType), body: body))
            }

            let messagingId = "_" + Identifier.uuid()
            let bodyId = "_" + Identifier.uuid()
            let messaging = Messaging(user, id: messagingId)
            let built = EnvelopeBuilder.build(messaging, bodyId: bodyId)
            var signature: SignatureBuilder.Output?
            if let signer {
                signature = try signer.sign(envelope: built, messagingId: messagingId, bodyId: bodyId, attachments: toSign)
            }
            var encryptionHeader: [UInt8]?
            if let encryption, !attachments.isEmpty {
                let out = try AttachmentEncryptor.encrypt(attachments, recipient: encryption.recipient, method: encryption.method,
                                                          keyReference: encryption.keyReference, spoolDirectory: spoolDirectory)
                for a in out.attachments {
                    if case .file(let path, _, _) = a.body, !attachments.contains(where: { $0.body == a.body }) { spool.append(path) }
                }
                attachments = out.attachments
                encryptionHeader = out.securityHeaderXML
            }
            let security: [UInt8]? = signature == nil && encryptionHeader == nil
                ? nil : SignatureBuilder.securityHeader(signature: signature, encryption: encryptionHeader)
            let envelope = security.map { built.inserting(securityHeader: $0) } ?? built.bytes
            return SealedMessage(messageId: user.messageInfo.messageId, messaging: messaging, envelope: envelope,
                                 attachments: attachments, references: signature?.references ?? [], spoolFiles: spool)
        } catch {
            for f in spool { unlink(f) }
            throw error
        }
    }

    /// A signal (receipt, error, pull request), signed when a signer is set: Body and
    /// `eb:Messaging` are covered. Signals never carry attachments.
    /// `fault`: a SOAP Fault for the Body (an Error signal going back with HTTP 500), signed with it.
    public func seal(signal: SignalMessage, fault: SOAPFault? = nil) throws -> SealedMessage {
        let messaging = Messaging(signal, id: "_" + Identifier.uuid())
        let bodyId = "_" + Identifier.uuid()
        let built = EnvelopeBuilder.build(messaging, bodyId: bodyId, fault: fault)
        var signature: SignatureBuilder.Output?
        if let signer {
            signature = try signer.sign(envelope: built, messagingId: messaging.id!, bodyId: bodyId, attachments: [])
        }
        let security = signature.map { SignatureBuilder.securityHeader(signature: $0, encryption: nil) }
        return SealedMessage(messageId: signal.messageInfo.messageId, messaging: messaging,
                             envelope: security.map { built.inserting(securityHeader: $0) } ?? built.bytes,
                             attachments: [], references: signature?.references ?? [], spoolFiles: [])
    }

    private func gzip(_ body: PartBody, spool: inout [String]) throws -> PartBody {
        if body.count <= Self.inMemoryLimit || spoolDirectory == nil {
            var sink = MemorySink()
            _ = try Gzip.compress(body, to: &sink)
            return .bytes(sink.bytes)
        }
        let file = try FileSink.createTemporary(in: spoolDirectory!, prefix: "as4gw-gz-")
        spool.append(file.path)
        var sink = file
        _ = try Gzip.compress(body, to: &sink)
        try file.close()
        return try .wholeFile(file.path)
    }
}

/// A whole AS4 message: the parsed envelope and its MIME attachments, with every
/// `eb:PartInfo` bound to the part it names.
public struct AS4Message {
    public let envelope: ParsedEnvelope
    public let attachments: [MIMEPart]
    public let isMultipart: Bool
    /// Findings of the envelope plus those about attachments (e.g. an envelope-only capture).
    public let profileFindings: [ProfileFinding]

    public var messaging: Messaging { envelope.messaging }

    public func attachment(contentID: String) -> MIMEPart? {
        attachments.first { $0.contentID == contentID }
    }

    /// Parses `raw` and checks the binding between PartInfo and MIME parts:
    /// - in a multipart message every `cid:` href must name a part and every attachment must be
    ///   named by a PartInfo (or be the ciphertext an `xenc:EncryptedData` points at), else EBMS:0007;
    /// - a SOAP-only message whose PartInfo names attachments is a capture of the envelope alone
    ///   (or a message that lost its parts): reported as a finding, refused by a receiver.
    /// Compression declarations are checked too (`CompressionCheck`).
    public static func read(_ raw: RawMessage, limits: XMLLimits = .envelope) throws(EbmsError) -> AS4Message {
        let envelope = try EnvelopeParser.parse(raw.envelope, limits: limits)
        var findings = envelope.profileFindings
        let byId = Dictionary(raw.attachments.compactMap { p in p.contentID.map { ($0, p) } }, uniquingKeysWith: { a, _ in a })
        let user = envelope.messaging.userMessage
        let referenced = Set(user?.payloads.compactMap(\.contentID) ?? [])

        if raw.isMultipart {
            for part in user?.payloads ?? [] {
                guard let cid = part.contentID else { continue }
                if byId[cid] == nil {
                    throw EbmsError(.mimeInconsistency, "eb:PartInfo href \(part.href ?? "") names no MIME part", detail: part.href)
                }
            }
            for (index, part) in raw.attachments.enumerated() {
                guard let cid = part.contentID else {
                    throw EbmsError(.mimeInconsistency, "MIME attachment \(index + 1) has no Content-ID")
                }
                if !referenced.contains(cid) {
                    throw EbmsError(.mimeInconsistency, "MIME part cid:\(cid) is not referenced by any eb:PartInfo", detail: "cid:\(cid)")
                }
            }
        } else {
            let missing = (user?.payloads ?? []).compactMap(\.href).filter { $0.hasPrefix("cid:") }
            if !missing.isEmpty {
                findings.append(ProfileFinding(.mimeInconsistency,
                    "SOAP-only message whose eb:PartInfo names MIME parts that are absent: \(missing.joined(separator: ", "))"))
            }
        }
        if let user { try CompressionCheck.declarations(of: user) }
        return AS4Message(envelope: envelope, attachments: raw.attachments, isMultipart: raw.isMultipart, profileFindings: findings)
    }
}

extension AS4Message {
    /// Parts that declare gzip and travel in clear are decompressed into a counter, so a part
    /// that is not what it claims is found before delivery (EBMS:0303). Encrypted parts are
    /// checked after decryption instead.
    public func verifyCompressedParts(limits: GzipLimits = .default) throws(EbmsError) {
        guard let user = messaging.userMessage else { return }
        let encrypted = envelope.encryptedContentIDs
        for info in user.payloads where info.isCompressed {
            guard let cid = info.contentID, !encrypted.contains(cid), let part = attachment(contentID: cid) else { continue }
            _ = try CompressionCheck.verifyStream(part.body, href: info.href, limits: limits)
        }
    }
}

/// AS4 §3.1 compression rules for the declarations in `eb:PartProperties`.
public enum CompressionCheck {
    /// `CompressionType` must be `application/gzip` and a compressed part must say its original
    /// `MimeType`; anything else is EBMS:0303 DecompressionFailure, the error AS4 assigns to it.
    public static func declarations(of user: UserMessage) throws(EbmsError) {
        for part in user.payloads {
            guard let type = part.properties[EbmsConstants.compressionType] else { continue }
            let ref = part.href ?? "(SOAP Body)"
            guard type.trimmingXMLWhitespace() == EbmsConstants.gzip else {
                throw EbmsError(.decompressionFailure, "\(ref): CompressionType \(type) is not application/gzip", detail: part.href)
            }
            guard let mime = part.mimeType, !mime.isEmpty else {
                throw EbmsError(.decompressionFailure, "\(ref) is compressed but declares no MimeType part property", detail: part.href)
            }
        }
    }

    /// Decompresses a part into a counting sink to prove it is a gzip stream within the limits.
    /// Returns the expanded size.
    public static func verifyStream(_ body: PartBody, href: String?, limits: GzipLimits = .default) throws(EbmsError) -> UInt64 {
        var sink = CountingSink()
        do {
            try Gzip.decompress(body, to: &sink, limits: limits)
        } catch let e as EbmsError {
            throw EbmsError(e.code, "\(href ?? "part"): \(e.reason)", detail: href)
        } catch {
            throw EbmsError(.decompressionFailure, "\(href ?? "part"): \(error)", detail: href)
        }
        return sink.count
    }
}

/// A sink that only counts: for dry-run decompression.
public struct CountingSink: ByteSink {
    public private(set) var count: UInt64 = 0
    public init() {}
    public mutating func write(_ bytes: UnsafeRawBufferPointer) throws { count += UInt64(bytes.count) }
}

/// Writes an AS4 message as SOAP with Attachments (AS4-WIRE §2): a `multipart/related` body whose
/// root is the SOAP 1.2 envelope, each attachment `binary`, file-backed bodies streamed in chunks.
///
/// The boundary is 128 random bits, so it cannot plausibly occur in a payload; payloads are not
/// scanned for it (that would mean reading every attachment twice).
public struct MultipartWriter: Sendable {
    public struct Attachment: Sendable, Equatable {
        /// Without `<>`; referenced from the envelope as `cid:` + this value.
        public var contentID: String
        public var contentType: String
        public var body: PartBody
        /// Extra headers, e.g. `Content-Disposition` (written after the standard three).
        public var extraHeaders: MIMEHeaders

        public init(contentID: String, contentType: String, body: PartBody, extraHeaders: MIMEHeaders = MIMEHeaders()) {
            self.contentID = contentID
            self.contentType = contentType
            self.body = body
            self.extraHeaders = extraHeaders
        }
    }

    /// Content-Type of a message without attachments (no multipart at all).
    public static let soapContentType = "application/soap+xml; charset=UTF-8"

    public let boundary: String
    public let rootContentID: String

    /// Both default to fresh random values; pass them to get reproducible output (tests).
    public init(boundary: String? = nil, rootContentID: String? = nil) throws {
        let b = boundary ?? Self.randomBoundary()
        try MultipartRelated.validateBoundary(b)
        // A quote or backslash would need escaping inside the quoted parameter; refuse instead.
        guard !b.contains("\""), !b.contains("\\") else {
            throw EbmsError(.mimeInconsistency, "boundary must not contain quotes or backslashes")
        }
        let root = rootContentID ?? ContentID.generate()
        try Self.checkContentID(root)
        self.boundary = b
        self.rootContentID = root
    }

    /// `MIMEBoundary_` + 32 random hex digits.
    public static func randomBoundary() -> String { "MIMEBoundary_" + randomHex(byteCount: 16) }

    /// The HTTP Content-Type header value for the message this writer produces.
    public var contentType: String {
        "multipart/related; type=\"application/soap+xml\"; boundary=\"\(boundary)\"; "
            + "start=\"<\(rootContentID)>\"; start-info=\"application/soap+xml\""
    }

    /// Writes the whole multipart body to `sink` and returns the Content-Type header value.
    @discardableResult
    public func write<S: ByteSink>(envelope: [UInt8], attachments: [Attachment], to sink: inout S) throws -> String {
        var seen: Set<String> = [rootContentID]
        for a in attachments {
            try Self.checkContentID(a.contentID)
            guard seen.insert(a.contentID).inserted else {
                throw EbmsError(.mimeInconsistency, "duplicate Content-ID <\(a.contentID)> in outgoing message")
            }
            try Self.checkHeaderValue(a.contentType, name: "Content-Type")
            for field in a.extraHeaders {
                guard !field.name.isEmpty, field.name.utf8.allSatisfy(MediaType.isTokenByte) else {
                    throw EbmsError(.mimeInconsistency, "invalid header name \"\(field.name)\"")
                }
                try Self.checkHeaderValue(field.value, name: field.name)
            }
        }

        try sink.write("--\(boundary)\r\n"
            + "Content-Type: \(Self.soapContentType)\r\n"
            + "Content-Transfer-Encoding: binary\r\n"
            + "Content-ID: <\(rootContentID)>\r\n\r\n")
        try sink.write(envelope)
        for a in attachments {
            var head = "\r\n--\(boundary)\r\n"
                + "Content-Type: \(a.contentType)\r\n"
                + "Content-Transfer-Encoding: binary\r\n"
                + "Content-ID: <\(a.contentID)>\r\n"
            for field in a.extraHeaders { head += "\(field.name): \(field.value)\r\n" }
            try sink.write(head + "\r\n")
            try sink.write(contentsOf: a.body)
        }
        try sink.write("\r\n--\(boundary)--\r\n")
        return contentType
    }

    /// A message without attachments: the envelope as is. Returns the Content-Type header value.
    @discardableResult
    public static func writeSOAPOnly<S: ByteSink>(envelope: [UInt8], to sink: inout S) throws -> String {
        try sink.write(envelope)
        return soapContentType
    }

    /// Content-IDs from elsewhere (e.g. a submitted payload) may use more than the safe set we
    /// generate from, but nothing that breaks the `<...>` header form or injects a header.
    static func checkContentID(_ id: String) throws {
        guard !id.isEmpty, id.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f && $0 != UInt8(ascii: "<")
                                                  && $0 != UInt8(ascii: ">") && $0 != UInt8(ascii: "\"") }) else {
            throw EbmsError(.mimeInconsistency, "Content-ID \"\(id)\" is empty or contains characters not allowed in a MIME header")
        }
    }

    private static func checkHeaderValue(_ value: String, name: String) throws {
        guard !value.utf8.contains(where: { $0 == 0x0d || $0 == 0x0a || $0 == 0 }) else {
            throw EbmsError(.mimeInconsistency, "\(name) value contains a line break")
        }
    }
}

import EnvelopeXML

/// An XML-typed payload is signed in its canonical form (`AttachmentDigest`) when it travels as
/// it is, not compressed: the leg does not compress, or `CompressionChoice` finds its bytes
/// compressed already. Such a payload must be well-formed XML, or no message can carry it. That
/// is the sender's part (a file labelled XML that is not), to be found before anything is kept,
/// and never a signature failure (`EBMS:0101`) of a message. A payload that is compressed
/// travels as gzip and is signed as bytes, so its content is the receiver's business.
public enum XMLPayloadCheck {
    /// Why a payload of type `mimeType` cannot be signed as it would travel, or nil when it can.
    /// `compress`: whether the leg compresses payloads (`MessageSealer.compress`).
    /// Throws only when the payload cannot be read.
    public static func problem(mimeType: String, body: PartBody, compress: Bool) throws -> String? {
        let type = try? MediaType.parse(mimeType)
        guard AttachmentDigest.Kind(type) == .xml else { return nil }
        if compress, try CompressionChoice.worthCompressing(mimeType: mimeType, body: body) { return nil }
        do {
            // The signature's own canonicalisation (AttachmentDigest), output dropped: what it
            // refuses is refused here, a relative namespace URI included, at a few buffers' cost.
            try StreamingCanonicalizer.exclusive(body, limits: .payload) { _ in }
            return nil
        } catch {
            // Not well-formed, or a DTD, or beyond the payload limits, or not canonicalisable.
            return "it is labelled \(type?.essence ?? mimeType) and would travel uncompressed, signed in its canonical XML form, "
                + "but it cannot be read as XML (\(error)); send it with its real type, or correct the file"
        }
    }
}

/// A payload the sealer cannot sign as it would travel (`XMLPayloadCheck`): the payload's fault,
/// the same whenever it is tried again.
public struct XMLPayloadError: Error, CustomStringConvertible {
    /// The payload's position among those given to `MessageSealer.seal`, from 0.
    public var index: Int
    public var reason: String

    public var description: String { "payload \(index + 1): \(reason)" }
}

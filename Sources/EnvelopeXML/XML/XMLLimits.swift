/// Bounds applied while parsing untrusted XML. Defaults fit a SOAP envelope with a large
/// Security header; XML payloads that must be canonicalised for signatures use `payload`.
public struct XMLLimits: Sendable, Equatable {
    public var maxBytes: Int
    public var maxDepth: Int
    public var maxNodes: Int
    /// Attributes (namespace declarations included) on one element.
    public var maxAttributes: Int
    /// Processing instructions have no place in a SOAP message (SOAP 1.2 Part 1 §5).
    public var allowProcessingInstructions: Bool

    public init(maxBytes: Int = 32 << 20, maxDepth: Int = 64, maxNodes: Int = 50_000, maxAttributes: Int = 256,
                allowProcessingInstructions: Bool = false) {
        self.maxBytes = maxBytes
        self.maxDepth = maxDepth
        self.maxNodes = maxNodes
        self.maxAttributes = maxAttributes
        self.allowProcessingInstructions = allowProcessingInstructions
    }

    public static let envelope = XMLLimits()
    /// XML attachments and configuration files: larger and deeper, processing instructions allowed.
    public static let payload = XMLLimits(maxBytes: 512 << 20, maxDepth: 256, maxNodes: 20_000_000, maxAttributes: 4096,
                                          allowProcessingInstructions: true)
    /// XML attachments of received messages, canonicalised as they stream through the parser to
    /// check their digests (`StreamingCanonicalizer`: no tree, so the node bound costs no memory).
    public static let attachment = payload

    /// `attachment`, for an agreement whose messages are at most `maxBytes` long.
    public static func attachment(maxBytes: Int) -> XMLLimits {
        var limits = attachment
        limits.maxBytes = min(limits.maxBytes, maxBytes)
        return limits
    }
}

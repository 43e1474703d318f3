import CLibXML2

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

    /// Whether `XMLDocument(parsing: canonical, limits: self)` would succeed, where `canonical`
    /// is the exclusive canonical form of `element` (which a parse already accepted): then the
    /// element can be read in place of parsing its canonical text again. Canonicalisation may
    /// add namespace declarations, so the bytes and the attributes per tag are checked on the
    /// text itself, as a parse would; an element with comments or CDATA inside is not admitted.
    public func admitCanonicalForm(_ canonical: String, of element: XMLElement) -> Bool {
        let text = canonical.utf8
        guard text.count <= maxBytes else { return false }
        var scan = MarkupPrescan(limits: self)
        let scanned = text.withContiguousStorageIfAvailable { raw -> Bool in
            do { try scan.feed(UnsafeRawBufferPointer(raw)); return true } catch { return false }
        }
        guard scanned == true else { return false }
        var count = 0
        var stack: [(xmlNodePtr, Int)] = [(element.node, 1)]
        while let (node, depth) = stack.popLast() {
            count += 1
            guard count <= maxNodes, depth <= maxDepth else { return false }
            switch node.pointee.type {
            // Comments and CDATA sections take the parse: canonicalisation drops the one and
            // turns the other into text, so texts they separated become one text node, which
            // may pass libxml2's text-node bound here and not in the canonical text.
            case XML_ELEMENT_NODE, XML_TEXT_NODE: break
            case XML_PI_NODE where allowProcessingInstructions: break
            default: return false
            }
            var child = node.pointee.children
            while let c = child { stack.append((c, depth + 1)); child = c.pointee.next }
        }
        return true
    }

    /// `attachment`, for an agreement whose messages are at most `maxBytes` long.
    public static func attachment(maxBytes: Int) -> XMLLimits {
        var limits = attachment
        limits.maxBytes = min(limits.maxBytes, maxBytes)
        return limits
    }
}

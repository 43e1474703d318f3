/// Bounds checked on the bytes before libxml2 sees them, fed piece by piece: the tree costs
/// about 40 times the input for a run of empty elements, and libxml2's duplicate-attribute check
/// grows with the square of an element's attributes (100,000 of them took 15 s of CPU). So:
/// - markup starts (`<`) beyond twice `maxNodes` mean more than `maxNodes` nodes (an element
///   with content has two tags), refused before the tree exists;
/// - a start tag with more than `maxAttributes` `=` outside quoted values is refused.
/// Quoted values, comments and CDATA sections may hold `<` and `=` as text; the scan follows
/// quotes inside tags, and counts only tags, so the check errs on the side of parsing.
struct MarkupPrescan {
    let limits: XMLLimits
    private var tags = 0
    private var inTag = false
    private var quote: UInt8 = 0
    private var attributes = 0

    init(limits: XMLLimits) {
        self.limits = limits
    }

    /// The next bytes of the document, in order; state carries across pieces.
    mutating func feed(_ buffer: UnsafeRawBufferPointer) throws(XMLError) {
        let lt = UInt8(ascii: "<"), gt = UInt8(ascii: ">"), eq = UInt8(ascii: "=")
        let dquote = UInt8(ascii: "\""), squote = UInt8(ascii: "'")
        for byte in buffer {
            if inTag {
                if quote != 0 {
                    if byte == quote { quote = 0 }
                } else if byte == dquote || byte == squote {
                    quote = byte
                } else if byte == eq {
                    attributes += 1
                    if attributes > limits.maxAttributes {
                        throw XMLError(.limitExceeded, "an element has more than \(limits.maxAttributes) attributes")
                    }
                } else if byte == gt {
                    inTag = false
                }
            } else if byte == lt {
                tags += 1
                if tags > 2 * limits.maxNodes {
                    throw XMLError(.limitExceeded, "document has more than \(limits.maxNodes) nodes")
                }
                inTag = true
                attributes = 0
            }
        }
    }
}

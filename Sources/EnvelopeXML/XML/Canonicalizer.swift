import CLibXML2
#if canImport(Glibc)
import Glibc
#endif

/// Exclusive XML Canonicalization 1.0 (without comments) of an element's subtree, as XMLDSig
/// same-document references and SignedInfo need it. The node set is the element, its descendants
/// and their attribute and namespace nodes: exactly what `URI="#id"` selects after the
/// exc-c14n transform. `inclusivePrefixes` is the InclusiveNamespaces PrefixList
/// (`#default` for the default namespace).
public enum Canonicalizer {
    public static func exclusive(_ element: XMLElement, inclusivePrefixes: [String] = [],
                                 withComments: Bool = false) throws(XMLError) -> [UInt8] {
        try run(document: element.document, subtree: element.node, mode: XML_C14N_EXCLUSIVE_1_0,
                inclusivePrefixes: inclusivePrefixes, withComments: withComments)
    }

    /// Canonical form of a whole document (the Attachment-Content-Signature-Transform applies
    /// exclusive c14n without comments to XML attachments).
    public static func exclusive(document: XMLDocument, withComments: Bool = false) throws(XMLError) -> [UInt8] {
        try run(document: document, subtree: nil, mode: XML_C14N_EXCLUSIVE_1_0,
                inclusivePrefixes: [], withComments: withComments)
    }

    /// Inclusive C14N 1.0 of a subtree, for peers whose P-Mode names it explicitly.
    public static func inclusive(_ element: XMLElement, withComments: Bool = false) throws(XMLError) -> [UInt8] {
        try run(document: element.document, subtree: element.node, mode: XML_C14N_1_0,
                inclusivePrefixes: [], withComments: withComments)
    }

    private static func run(document: XMLDocument, subtree: xmlNodePtr?, mode: xmlC14NMode,
                            inclusivePrefixes: [String], withComments: Bool) throws(XMLError) -> [UInt8] {
        // An output buffer without a write callback keeps everything in its own xmlBuf.
        guard let buffer = xmlAllocOutputBuffer(nil) else {
            throw XMLError(.canonicalization, "out of memory")
        }
        // Prefix list as a NULL-terminated xmlChar** that outlives the call.
        let prefixes: [UnsafeMutablePointer<xmlChar>?] = inclusivePrefixes.map { p in
            strdup(p).map { UnsafeMutableRawPointer($0).assumingMemoryBound(to: xmlChar.self) }
        } + [nil]
        defer { for p in prefixes { free(p) } }

        let written: Int32 = prefixes.withUnsafeBufferPointer { list in
            let listPtr = inclusivePrefixes.isEmpty ? nil : UnsafeMutablePointer(mutating: list.baseAddress)
            if let subtree {
                var root = subtree
                return withUnsafeMutablePointer(to: &root) { rootPtr in
                    xmlC14NExecute(document.doc, subtreeVisibility, UnsafeMutableRawPointer(rootPtr),
                                   Int32(mode.rawValue), listPtr, withComments ? 1 : 0, buffer)
                }
            }
            return xmlC14NExecute(document.doc, nil, nil, Int32(mode.rawValue), listPtr,
                                  withComments ? 1 : 0, buffer)
        }
        guard written >= 0 else {
            _ = xmlOutputBufferClose(buffer)
            throw XMLError(.canonicalization, "canonicalization failed")
        }
        let inner = buffer.pointee.buffer
        var out: [UInt8] = []
        if let inner, let content = xmlBufContent(inner) {
            out = Array(UnsafeBufferPointer(start: content, count: Int(xmlBufUse(inner))))
        }
        _ = xmlOutputBufferClose(buffer)
        return out
    }
}

/// Visibility callback: a node is in the set when it lies inside the subtree whose root the
/// context points at. For namespace nodes libxml2 passes the owning element as `parent`
/// (PLATFORM-NOTES G8). Must not capture anything (G3): state comes through `context`.
private let subtreeVisibility: xmlC14NIsVisibleCallback = { context, node, parent in
    guard let context, let node else { return 0 }
    let root = context.assumingMemoryBound(to: xmlNodePtr.self).pointee
    var cur: xmlNodePtr?
    if as4gw_nodeKind(UnsafeMutableRawPointer(node)) == Int32(XML_NAMESPACE_DECL.rawValue) {
        cur = parent
    } else {
        cur = node
    }
    while let n = cur {
        if n == root { return 1 }
        cur = n.pointee.parent
    }
    return 0
}

import CLibXML2
#if canImport(Glibc)
import Glibc
#endif

/// How a namespace URI is kept in our libxml2 trees, and the URI it stands for.
///
/// libxml2's writers (C14N and the serialiser) copy an `xmlNs` href into their output as it
/// stands, without escaping, and its parser, which we run without entity substitution, leaves an
/// `&` of a namespace declaration in the href as the text `&#38;` (other references it replaces
/// by their character). Read as it is, `xmlns:x="urn:a&amp;b"` would be the namespace
/// `urn:a&#38;b`; canonicalised, it would be written `urn:a&#38;b` where Canonical XML 1.0 wants
/// `urn:a&amp;b` (a namespace node is written like an attribute node), and with two `&` libxml2's
/// C14N refuses the href (two `#` are no URI) and nothing canonicalises.
///
/// So right after parsing each href is rewritten into the form Canonical XML gives an attribute
/// value (`&amp;` `&lt;` `&quot;` `&#x9;` `&#xA;` `&#xD;`): C14N and the serialiser then write
/// correct XML, and one URI has one stored form, which libxml2 compares when deciding whether a
/// declaration is new. Every reader of an href goes through `uri(_:)`, and every URI handed to
/// libxml2 for comparison (XPath bindings, namespaced attributes) through `stored(_:)`.
enum NamespaceHref {
    /// The stored form of a namespace URI.
    static func stored(_ uri: String) -> String {
        guard uri.utf8.contains(where: needsEscape) else { return uri }
        var out: [UInt8] = []
        out.reserveCapacity(uri.utf8.count + 16)
        for b in uri.utf8 { append(b, to: &out) }
        return String(decoding: out, as: UTF8.self)
    }

    /// The namespace URI a stored href stands for.
    static func uri(_ href: UnsafePointer<xmlChar>) -> String {
        guard strchr(UnsafeRawPointer(href).assumingMemoryBound(to: CChar.self), 0x26) != nil else {
            return String(cString: href)
        }
        let bytes = Array(UnsafeBufferPointer(start: href, count: Int(xmlStrlen(href))))
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            if bytes[i] == 0x26, let (char, length) = escapes.lazy.compactMap({ Self.match($0, in: bytes, at: i) }).first {
                out.append(char)
                i += length
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Rewrites the hrefs declared on `node` from the parser's form into the stored form: the
    /// parser's `&#38;` is an `&` (it writes no other reference, and a literal `&` cannot occur).
    static func normalizeDeclarations(of node: xmlNodePtr) {
        var ns = node.pointee.nsDef
        while let cur = ns {
            ns = cur.pointee.next
            guard let href = cur.pointee.href,
                  strpbrk(UnsafeRawPointer(href).assumingMemoryBound(to: CChar.self), "&<\"\t\n\r") != nil else { continue }
            let bytes = Array(UnsafeBufferPointer(start: href, count: Int(xmlStrlen(href))))
            let reference = Array("&#38;".utf8)
            var out: [UInt8] = []
            out.reserveCapacity(bytes.count + 16)
            var i = 0
            while i < bytes.count {
                if bytes[i] == 0x26, bytes[i...].starts(with: reference) {
                    append(0x26, to: &out)
                    i += reference.count
                } else {
                    append(bytes[i], to: &out)
                    i += 1
                }
            }
            out.append(0)
            guard let replacement = out.withUnsafeBufferPointer({ xmlStrdup($0.baseAddress) }) else { continue }
            as4gw_xmlFree(UnsafeMutableRawPointer(mutating: href))
            cur.pointee.href = UnsafePointer(replacement)
        }
    }

    private static let escapes: [(char: UInt8, text: [UInt8])] = [
        (0x26, Array("&amp;".utf8)), (0x3C, Array("&lt;".utf8)), (0x22, Array("&quot;".utf8)),
        (0x09, Array("&#x9;".utf8)), (0x0A, Array("&#xA;".utf8)), (0x0D, Array("&#xD;".utf8)),
    ]

    private static func needsEscape(_ b: UInt8) -> Bool {
        escapes.contains { $0.char == b }
    }

    private static func append(_ b: UInt8, to out: inout [UInt8]) {
        if let escape = escapes.first(where: { $0.char == b }) {
            out.append(contentsOf: escape.text)
        } else {
            out.append(b)
        }
    }

    private static func match(_ escape: (char: UInt8, text: [UInt8]), in bytes: [UInt8], at i: Int) -> (UInt8, Int)? {
        bytes[i...].starts(with: escape.text) ? (escape.char, escape.text.count) : nil
    }
}

import CLibXML2

/// An element of an `XMLDocument`. Holds its document strongly, so an element never outlives the
/// tree it points into. Identity (`===`-like comparison) is by node pointer: the signature code
/// relies on it to prove that the verified element is the very one that gets processed.
public struct XMLElement: Equatable, Hashable {
    let node: xmlNodePtr
    public let document: XMLDocument

    init(_ node: xmlNodePtr, in document: XMLDocument) {
        self.node = node
        self.document = document
    }

    public static func == (a: XMLElement, b: XMLElement) -> Bool { a.node == b.node }
    public func hash(into hasher: inout Hasher) { hasher.combine(node) }

    public var localName: String { String(cString: node.pointee.name) }
    public var namespaceURI: String? { node.pointee.ns?.pointee.href.map(NamespaceHref.uri) }
    public var prefix: String? { node.pointee.ns?.pointee.prefix.map { String(cString: $0) } }
    public var qualifiedName: String { prefix.map { "\($0):\(localName)" } ?? localName }
    public var line: Int { Int(xmlGetLineNo(node)) }

    public func isElement(_ localName: String, _ namespace: String?) -> Bool {
        xmlStrEqual(node.pointee.name, localName) != 0 && namespaceURI == namespace
    }

    public var parent: XMLElement? {
        guard let p = node.pointee.parent, p.pointee.type == XML_ELEMENT_NODE else { return nil }
        return XMLElement(p, in: document)
    }

    /// Child elements in document order (text, comments and PIs skipped).
    public var children: [XMLElement] {
        var out: [XMLElement] = []
        var c = node.pointee.children
        while let cur = c {
            if cur.pointee.type == XML_ELEMENT_NODE { out.append(XMLElement(cur, in: document)) }
            c = cur.pointee.next
        }
        return out
    }

    public func children(_ localName: String, _ namespace: String?) -> [XMLElement] {
        children.filter { $0.isElement(localName, namespace) }
    }

    public func firstChild(_ localName: String, _ namespace: String?) -> XMLElement? {
        var c = node.pointee.children
        while let cur = c {
            if cur.pointee.type == XML_ELEMENT_NODE {
                let e = XMLElement(cur, in: document)
                if e.isElement(localName, namespace) { return e }
            }
            c = cur.pointee.next
        }
        return nil
    }

    /// True when the element has text content other than whitespace, outside child elements.
    public var hasNonWhitespaceText: Bool {
        var c = node.pointee.children
        while let cur = c {
            if cur.pointee.type == XML_TEXT_NODE || cur.pointee.type == XML_CDATA_SECTION_NODE,
               let content = cur.pointee.content {
                var p = content
                while p.pointee != 0 {
                    switch p.pointee { case 0x20, 0x09, 0x0A, 0x0D: break; default: return true }
                    p += 1
                }
            }
            c = cur.pointee.next
        }
        return false
    }

    /// The concatenated text of the element and its descendants.
    public var text: String {
        guard let content = xmlNodeGetContent(node) else { return "" }
        defer { as4gw_xmlFree(content) }
        return String(cString: content)
    }

    /// `text` with leading and trailing XML whitespace removed (xsd:token-like values).
    public var trimmedText: String { text.trimmingXMLWhitespace() }

    public struct Attribute: Equatable, Sendable {
        public var localName: String
        public var namespaceURI: String?
        public var prefix: String?
        public var value: String
    }

    public var attributes: [Attribute] {
        var out: [Attribute] = []
        var a = node.pointee.properties
        while let attr = a {
            let name = String(cString: attr.pointee.name)
            let ns = attr.pointee.ns?.pointee.href.map(NamespaceHref.uri)
            let prefix = attr.pointee.ns?.pointee.prefix.map { String(cString: $0) }
            var value = ""
            if let v = xmlNodeListGetString(node.pointee.doc, attr.pointee.children, 1) {
                value = String(cString: v)
                as4gw_xmlFree(v)
            }
            out.append(Attribute(localName: name, namespaceURI: ns, prefix: prefix, value: value))
            a = attr.pointee.next
        }
        return out
    }

    /// An attribute by local name; `namespace == nil` means an unqualified attribute.
    public func attribute(_ localName: String, _ namespace: String? = nil) -> String? {
        let value: UnsafeMutablePointer<xmlChar>?
        if let namespace {
            value = xmlGetNsProp(node, localName, NamespaceHref.stored(namespace))
        } else {
            value = xmlGetNoNsProp(node, localName)
        }
        guard let value else { return nil }
        defer { as4gw_xmlFree(value) }
        return String(cString: value)
    }

    /// Namespace declarations made on this element itself: (prefix or nil for default, URI).
    public var namespaceDeclarations: [(prefix: String?, uri: String)] {
        var out: [(String?, String)] = []
        var ns = node.pointee.nsDef
        while let cur = ns {
            out.append((cur.pointee.prefix.map { String(cString: $0) }, cur.pointee.href.map(NamespaceHref.uri) ?? ""))
            ns = cur.pointee.next
        }
        return out
    }

    /// The namespace URI bound to `prefix` (nil = default namespace) in scope at this element.
    public func namespaceURI(forPrefix prefix: String?) -> String? {
        guard let ns = xmlSearchNs(node.pointee.doc, node, prefix) else { return nil }
        return ns.pointee.href.map(NamespaceHref.uri)
    }

    /// Elements of this subtree (self first, then descendants in document order).
    public func descendantsAndSelf() -> [XMLElement] {
        var out: [XMLElement] = []
        func walk(_ n: xmlNodePtr) {
            out.append(XMLElement(n, in: document))
            var c = n.pointee.children
            while let cur = c {
                if cur.pointee.type == XML_ELEMENT_NODE { walk(cur) }
                c = cur.pointee.next
            }
        }
        walk(node)
        return out
    }

    /// True when `self` is `other` or one of its descendants.
    public func isInSubtree(of other: XMLElement) -> Bool {
        var n: xmlNodePtr? = node
        while let cur = n {
            if cur == other.node { return true }
            n = cur.pointee.parent
        }
        return false
    }
}

extension String {
    func trimmingXMLWhitespace() -> String {
        let ws: (Unicode.Scalar) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
        let scalars = unicodeScalars
        guard let start = scalars.firstIndex(where: { !ws($0) }) else { return "" }
        let end = scalars.lastIndex(where: { !ws($0) })!
        return String(scalars[start...end])
    }
}

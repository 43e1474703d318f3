import CLibXML2

extension XMLDocument {
    /// Evaluates an XPath 1.0 expression with the given prefix bindings and returns the elements
    /// it selects (non-element nodes are dropped). `context` defaults to the document.
    public func elements(matching expression: String, namespaces: [String: String],
                         context: XMLElement? = nil) throws(XMLError) -> [XMLElement] {
        guard let xpath = xmlXPathNewContext(doc) else { throw XMLError(.xpath, "out of memory") }
        defer { xmlXPathFreeContext(xpath) }
        for (prefix, uri) in namespaces where xmlXPathRegisterNs(xpath, prefix, NamespaceHref.stored(uri)) != 0 {
            throw XMLError(.xpath, "cannot register prefix \(prefix)")
        }
        if let context { xpath.pointee.node = context.node }
        guard let result = xmlXPathEvalExpression(expression, xpath) else {
            throw XMLError(.xpath, "invalid XPath expression: \(expression)")
        }
        defer { xmlXPathFreeObject(result) }
        guard result.pointee.type == XPATH_NODESET, let set = result.pointee.nodesetval else { return [] }
        var out: [XMLElement] = []
        for i in 0..<as4gw_nodeSetCount(set) {
            if let n = as4gw_nodeSetItem(set, Int32(i)), n.pointee.type == XML_ELEMENT_NODE {
                out.append(XMLElement(n, in: self))
            }
        }
        return out
    }
}

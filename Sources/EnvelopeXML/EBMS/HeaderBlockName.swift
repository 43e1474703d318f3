/// The expanded name of a SOAP header block, with the prefix it was written with: what an
/// env:NotUnderstood block names (SOAP 1.2 Part 1 §5.4.8).
public struct HeaderBlockName: Sendable, Equatable, CustomStringConvertible {
    /// nil for a block in no namespace.
    public var namespaceURI: String?
    public var localName: String
    /// nil when the block was in the default namespace (or in none).
    public var prefix: String?

    public init(namespaceURI: String?, localName: String, prefix: String? = nil) {
        self.namespaceURI = namespaceURI
        self.localName = localName
        self.prefix = prefix
    }

    init(_ element: XMLElement) {
        self.init(namespaceURI: element.namespaceURI, localName: element.localName, prefix: element.prefix)
    }

    /// The name as the sender wrote it.
    public var description: String { prefix.map { "\($0):\(localName)" } ?? localName }

    /// The prefix and declaration an element of our own fault uses to name this block in a
    /// QName: the sender's prefix where declaring it cannot change our element's own name (not
    /// `soapPrefix`, nothing reserved for `xml`), else `fallback`. A block in no namespace needs
    /// no prefix, as long as no default namespace is in scope where the QName is written.
    func qualifiedName(avoiding soapPrefix: String, fallback: String) -> (qname: String, declaration: (String, String)?) {
        guard let namespaceURI, !namespaceURI.isEmpty else { return (localName, nil) }
        // The xml prefix is bound already and may not be declared again, nor its namespace to another prefix.
        if namespaceURI == NS.xml { return ("xml:\(localName)", nil) }
        let own = prefix.flatMap { $0.isEmpty || $0 == soapPrefix || $0.lowercased().hasPrefix("xml") ? nil : $0 }
        let chosen = own ?? fallback
        return ("\(chosen):\(localName)", ("xmlns:\(chosen)", namespaceURI))
    }
}

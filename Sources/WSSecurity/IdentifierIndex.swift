import EnvelopeXML

/// Every ID-like attribute of an envelope (`wsu:Id`, `Id`, `id`, `xml:id`), indexed once.
///
/// Signature wrapping works by making a `#ref` resolve to a different element than the one the
/// receiver processes. Two defences live here: a value that occurs twice anywhere (under any of
/// the attribute names) makes the whole message invalid, and lookups return the one element
/// that carries the value, which the verifier then compares by identity with the header it uses.
public struct IdentifierIndex {
    private var elements: [String: XMLElement] = [:]

    public init(document: XMLDocument) throws(EbmsError) {
        guard let root = document.root else { return }
        for element in root.descendantsAndSelf() {
            var seenHere: Set<String> = []
            for attr in element.attributes {
                let isId: Bool
                switch (attr.namespaceURI, attr.localName) {
                case (NS.wsu, "Id"), (nil, "Id"), (nil, "id"), (NS.xml, "id"): isId = true
                default: isId = false
                }
                guard isId else { continue }
                // The same value twice on one element (e.g. id and wsu:Id alike) names one element.
                guard seenHere.insert(attr.value).inserted else { continue }
                if elements[attr.value] != nil {
                    throw EbmsError(.failedAuthentication, "the identifier \"\(attr.value)\" occurs more than once in the envelope")
                }
                elements[attr.value] = element
            }
        }
    }

    public func element(for id: String) -> XMLElement? { elements[id] }
}

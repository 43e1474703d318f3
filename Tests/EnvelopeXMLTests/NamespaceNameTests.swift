import XCTest
@testable import EnvelopeXML

/// Namespace URIs that hold characters XML must escape (`&` above all: a query string in a
/// namespace URI is legal) read back as the URI the document declares, and are written
/// escaped again: in canonical form (Canonical XML 1.0 processes a namespace node like an
/// attribute node) and when a tree is serialised.
final class NamespaceNameTests: XCTestCase {
    let document = """
        <r xmlns="urn:d&#38;e&#x26;f" xmlns:x="urn:x?a=1&amp;b=2&amp;c=3"><x:c plain="p&amp;q" x:at="v"/></r>
        """

    func testAccessorsGiveTheDeclaredURI() throws {
        let doc = try XMLDocument(parsing: document)
        let root = try XCTUnwrap(doc.root)
        let child = try XCTUnwrap(root.children.first)
        XCTAssertEqual(root.namespaceURI, "urn:d&e&f")
        XCTAssertEqual(child.namespaceURI, "urn:x?a=1&b=2&c=3")
        XCTAssertTrue(child.isElement("c", "urn:x?a=1&b=2&c=3"))
        XCTAssertEqual(root.firstChild("c", "urn:x?a=1&b=2&c=3"), child)
        XCTAssertEqual(root.namespaceDeclarations.map(\.uri), ["urn:d&e&f", "urn:x?a=1&b=2&c=3"])
        XCTAssertEqual(child.namespaceURI(forPrefix: "x"), "urn:x?a=1&b=2&c=3")
        XCTAssertEqual(child.namespaceURI(forPrefix: nil), "urn:d&e&f")
        let qualified = try XCTUnwrap(child.attributes.first { $0.localName == "at" })
        XCTAssertEqual(qualified.namespaceURI, "urn:x?a=1&b=2&c=3")
        XCTAssertEqual(child.attribute("at", "urn:x?a=1&b=2&c=3"), "v")
        XCTAssertEqual(child.attribute("plain"), "p&q")
        XCTAssertEqual(try doc.elements(matching: "//x:c", namespaces: ["x": "urn:x?a=1&b=2&c=3"]), [child])
    }

    /// Every character Canonical XML escapes in an attribute value, in a namespace URI: `&`
    /// (which libxml2's parser leaves as `&#38;`), `<` and `"`; `'` stays as it is.
    func testCanonicalFormEscapesNamespaceURIsLikeAttributeValues() throws {
        let doc = try XMLDocument(parsing: document)
        let child = try XCTUnwrap(doc.root?.children.first)
        XCTAssertEqual(String(decoding: try Canonicalizer.exclusive(child), as: UTF8.self),
                       #"<x:c xmlns:x="urn:x?a=1&amp;b=2&amp;c=3" plain="p&amp;q" x:at="v"></x:c>"#)
        XCTAssertEqual(String(decoding: try Canonicalizer.exclusive(document: doc), as: UTF8.self),
                       #"<r xmlns="urn:d&amp;e&amp;f"><x:c xmlns:x="urn:x?a=1&amp;b=2&amp;c=3" plain="p&amp;q" x:at="v"></x:c></r>"#)
        let root = try XCTUnwrap(doc.root)
        XCTAssertEqual(String(decoding: try Canonicalizer.inclusive(root), as: UTF8.self),
                       #"<r xmlns="urn:d&amp;e&amp;f" xmlns:x="urn:x?a=1&amp;b=2&amp;c=3"><x:c plain="p&amp;q" x:at="v"></x:c></r>"#)

        let marks = try XMLDocument(parsing: #"<m:r xmlns:m="urn:a&lt;b&quot;c&apos;d"/>"#)
        XCTAssertEqual(marks.root?.namespaceURI, #"urn:a<b"c'd"#)
        XCTAssertEqual(String(decoding: try Canonicalizer.exclusive(document: marks), as: UTF8.self),
                       #"<m:r xmlns:m="urn:a&lt;b&quot;c'd"></m:r>"#)
    }

    /// The same namespace URI written either way is one namespace for exclusive C14N: a child
    /// redeclaring it with another spelling declares nothing new.
    func testSpellingsOfOneURIAreOneNamespace() throws {
        let doc = try XMLDocument(parsing: #"<x:r xmlns:x="urn:a&amp;b"><x:c xmlns:x="urn:a&#38;b"/></x:r>"#)
        XCTAssertEqual(String(decoding: try Canonicalizer.exclusive(document: doc), as: UTF8.self),
                       #"<x:r xmlns:x="urn:a&amp;b"><x:c></x:c></x:r>"#)
    }

    func testSerialisedTreeReadsBackTheSameURIs() throws {
        let doc = try XMLDocument(parsing: document)
        let again = try XMLDocument(parsing: try doc.serialized())
        XCTAssertEqual(again.root?.namespaceURI, "urn:d&e&f")
        XCTAssertEqual(again.root?.children.first?.namespaceURI, "urn:x?a=1&b=2&c=3")
    }

    /// What we write from a URI we read (the qname of an env:NotUnderstood block) names the
    /// namespace the peer declared, not its escaped spelling.
    func testNotUnderstoodBlockNamesTheNamespaceItRead() throws {
        let incoming = try XMLDocument(parsing: #"<p:Ext xmlns:p="urn:ext?v=1&amp;w=2"/>"#)
        let block = HeaderBlockName(try XCTUnwrap(incoming.root))
        XCTAssertEqual(block.namespaceURI, "urn:ext?v=1&w=2")
        let signal = SignalMessage(messageInfo: MessageInfo(messageId: "err@x", refToMessageId: "m@x"),
                                   kind: .errors([ErrorDetail(EbmsError(.invalidHeader, "not understood"))]))
        let built = EnvelopeBuilder.build(Messaging(signal, id: "_m"), bodyId: "_b",
                                          fault: SOAPFault(code: .mustUnderstand, reason: "EBMS:0009", notUnderstood: [block]))
        XCTAssertTrue(String(decoding: built.bytes, as: UTF8.self).contains(#"xmlns:p="urn:ext?v=1&amp;w=2""#),
                      String(decoding: built.bytes, as: UTF8.self))
        let header = try XCTUnwrap(try XMLDocument(parsing: built.bytes).root?.firstChild("Header", NS.soap12))
        let named = try XCTUnwrap(header.firstChild("NotUnderstood", NS.soap12))
        XCTAssertEqual(named.attribute("qname"), "p:Ext")
        XCTAssertEqual(named.namespaceURI(forPrefix: "p"), "urn:ext?v=1&w=2")
    }
}

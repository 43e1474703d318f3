import XCTest
@testable import EnvelopeXML

final class SafeXMLTests: XCTestCase {
    func testParsesNamespacesAndAttributes() throws {
        let doc = try XMLDocument(parsing: """
        <a:root xmlns:a="urn:a" xmlns:b="urn:b" b:id="x1" plain="p"><a:child>  hi  </a:child><b:other/></a:root>
        """)
        let root = try XCTUnwrap(doc.root)
        XCTAssertEqual(root.localName, "root")
        XCTAssertEqual(root.namespaceURI, "urn:a")
        XCTAssertEqual(root.attribute("id", "urn:b"), "x1")
        XCTAssertEqual(root.attribute("plain"), "p")
        XCTAssertNil(root.attribute("id"))
        XCTAssertEqual(root.children.count, 2)
        XCTAssertEqual(root.firstChild("child", "urn:a")?.trimmedText, "hi")
        let found = try doc.elements(matching: "//b:other", namespaces: ["b": "urn:b"])
        XCTAssertEqual(found.count, 1)
        XCTAssertEqual(found.first?.parent, root)
    }

    func testRefusesExternalEntity() {
        let xxe = """
        <?xml version="1.0"?>
        <!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
        <r>&xxe;</r>
        """
        assertRefused(xxe, kind: .forbiddenConstruct)
    }

    func testRefusesBillionLaughs() {
        var s = "<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n<!ENTITY lol \"lol\">\n"
        for i in 1...9 {
            let prev = i == 1 ? "lol" : "lol\(i - 1)"
            s += "<!ENTITY lol\(i) \"" + String(repeating: "&\(prev);", count: 10) + "\">\n"
        }
        s += "]>\n<lolz>&lol9;</lolz>"
        assertRefused(s, kind: .forbiddenConstruct)
    }

    func testRefusesQuadraticBlowup() {
        let big = String(repeating: "A", count: 50_000)
        let refs = String(repeating: "&a;", count: 50_000)
        assertRefused("<!DOCTYPE r [<!ENTITY a \"\(big)\">]><r>\(refs)</r>", kind: .forbiddenConstruct)
    }

    func testRefusesDoctypeAfterCommentAndBOM() {
        let s = "\u{FEFF}<!-- c --><!DOCTYPE r SYSTEM \"http://127.0.0.1/x.dtd\"><r/>"
        assertRefused(s, kind: .forbiddenConstruct)
    }

    func testRefusesProcessingInstructionInEnvelope() {
        assertRefused("<r><?evil data?></r>", kind: .forbiddenConstruct)
        XCTAssertNoThrow(try XMLDocument(parsing: "<r><?ok data?></r>", limits: .payload))
    }

    func testEnforcesDepthNodeAndSizeLimits() {
        let deep = String(repeating: "<a>", count: 100) + String(repeating: "</a>", count: 100)
        assertRefused(deep, kind: .limitExceeded)
        let wide = "<r>" + String(repeating: "<a/>", count: 300) + "</r>"
        XCTAssertThrowsError(try XMLDocument(parsing: wide, limits: XMLLimits(maxNodes: 100))) { error in
            XCTAssertEqual((error as? XMLError)?.kind, .limitExceeded)
        }
        XCTAssertThrowsError(try XMLDocument(parsing: wide, limits: XMLLimits(maxBytes: 64))) { error in
            XCTAssertEqual((error as? XMLError)?.kind, .limitExceeded)
        }
    }

    /// Refused from the bytes, before libxml2 builds a tree: a run of empty elements (the tree
    /// costs ~40 times the input) and an element with very many attributes (libxml2's duplicate
    /// check is quadratic). Quoted values and text may hold `<` and `=` freely.
    func testHostileShapesAreRefusedBeforeParsing() {
        let many = "<r>" + String(repeating: "<a/>", count: 120_000) + "</r>"
        XCTAssertThrowsError(try XMLDocument(parsing: many, limits: .envelope)) { error in
            XCTAssertEqual((error as? XMLError)?.kind, .limitExceeded)
            XCTAssertTrue("\(error)".contains("more than 50000 nodes"), "\(error)")
        }
        let attributes = "<r " + (0..<300).map { "a\($0)=\"1\"" }.joined(separator: " ") + "/>"
        XCTAssertThrowsError(try XMLDocument(parsing: attributes, limits: .envelope)) { error in
            XCTAssertTrue("\(error)".contains("more than 256 attributes"), "\(error)")
        }
        XCTAssertNoThrow(try XMLDocument(parsing: attributes, limits: .payload))
        let quoted = "<r a=\"" + String(repeating: "x=y> ", count: 2000) + "\">" + String(repeating: "k=v ", count: 5000) + "</r>"
        XCTAssertNoThrow(try XMLDocument(parsing: quoted, limits: .envelope))
        let nested = "<r>" + String(repeating: "<a>t</a>", count: 24_000) + "</r>"
        XCTAssertNoThrow(try XMLDocument(parsing: nested, limits: .envelope), "48,000 nodes fit")
    }

    func testRefusesInvalidUTF8AndMalformedXML() {
        var bytes = Array("<r>".utf8)
        bytes += [0xC3, 0x28, 0xFF]
        bytes += Array("</r>".utf8)
        XCTAssertThrowsError(try XMLDocument(parsing: bytes)) { error in
            XCTAssertEqual((error as? XMLError)?.kind, .notWellFormed)
        }
        assertRefused("<r><unclosed></r>", kind: .notWellFormed)
        assertRefused("", kind: .notWellFormed)
        assertRefused("<?xmlversion=\"1.0\"?><r/>", kind: .notWellFormed)
    }

    /// libxml2 reports namespace errors and goes on, naming such a node by its QName in no
    /// namespace; Xerces (phase4, Domibus) and lxml refuse these documents, and so do we. A
    /// `wsu:Id` whose prefix is bound nowhere is no `wsu:Id` a verifier can find.
    func testRefusesNamespaceErrors() {
        let cases = [
            #"<r xmlns:a="urn:a" wsu:Id="x"/>"#,                                  // attribute prefix bound nowhere
            #"<r><s p:k="1"/></r>"#,
            #"<r xmlns:a="urn:a" xmlns:b="urn:a" a:x="1" b:x="2"/>"#,             // one expanded name twice
            #"<r xmlns:e=""/>"#,                                                  // empty prefix binding (Namespaces 1.0)
            #"<r xmlns:xmlns="urn:x"/>"#,                                          // reserved prefix declared
            #"<r xmlns:xml="urn:not-xml"/>"#,                                      // xml bound to another name
            #"<r xmlns:x="http://www.w3.org/XML/1998/namespace"/>"#,               // the xml name bound to another prefix
            #"<p:r/>"#,                                                           // element prefix bound nowhere
        ]
        for document in cases {
            XCTAssertThrowsError(try XMLDocument(parsing: document), document) { error in
                XCTAssertEqual((error as? XMLError)?.kind, .notWellFormed, "\(document): \(error)")
                XCTAssertTrue("\(error)".contains("amespace"), "\(document): \(error)")
                XCTAssertEqual((error as? XMLError)?.ebmsError.code, .invalidHeader, document)
            }
        }
        // What namespaces allow stays readable: undeclaring the default, rebinding a prefix,
        // two prefixes for one URI on different names, the xml prefix declared as itself, and
        // a relative URI (deprecated, refused only by canonicalisation), and values libxml2 2.9's
        // URI parser cannot read (it reports them as namespace errors too).
        for document in [#"<r xmlns="urn:d"><s xmlns=""/></r>"#, #"<a:r xmlns:a="urn:a"><a:s xmlns:a="urn:b"/></a:r>"#,
                         #"<x:r xmlns:x="urn:x?a=1&amp;b=2"/>"#, #"<q:r xmlns:q="urn:a&quot;&lt;b&gt;"/>"#, #"<r xmlns:s="a b"/>"#,
                         #"<r xmlns:a="urn:a" xmlns:b="urn:a" a:x="1" b:y="2"/>"#,
                         #"<r xmlns:xml="http://www.w3.org/XML/1998/namespace" xml:lang="lv"/>"#, #"<r xmlns="relative"/>"#] {
            XCTAssertNoThrow(try XMLDocument(parsing: document), document)
        }
    }

    /// libxml2 reading from memory would end the document at a NUL character after the root
    /// element and drop what follows: bytes stored with the document that nothing read or signed.
    func testRefusesANULCharacterAfterTheRootElement() {
        for document in ["<r>signed</r>\u{0}<evil>unsigned</evil>", "<r/>\u{0}", "<r/>\n<!-- c -->\u{0}\u{0}"] {
            assertRefused(document, kind: .notWellFormed)
        }
        var utf16: [UInt8] = [0xFF, 0xFE]
        for unit in "<r>signed</r>\u{0}<evil/>".utf16 { utf16 += [UInt8(unit & 0xFF), UInt8(unit >> 8)] }
        XCTAssertThrowsError(try XMLDocument(parsing: utf16)) { XCTAssertEqual(($0 as? XMLError)?.kind, .notWellFormed) }
        XCTAssertNoThrow(try XMLDocument(parsing: "<r/>\n<!-- c -->\n"))
    }

    /// libxml2's tree builder stops at a text node past 10 MB that it builds from pieces (text
    /// and CDATA, say) without marking the document malformed: the tree held the document up to
    /// there, and its canonical form (a signature's digest) left out everything after it.
    func testRefusesADocumentWhoseTreeWasCutShort() {
        let piece = String(repeating: "QUJD", count: 1000) + "<![CDATA[xyz]]>"
        let document = "<r><b>" + String(repeating: piece, count: 3000) + "</b><after>unsigned</after></r>"
        XCTAssertThrowsError(try XMLDocument(parsing: document, limits: .payload)) { error in
            XCTAssertEqual((error as? XMLError)?.kind, .notWellFormed, "\(error)")
        }
        // Under the bound the same shape is read whole.
        let small = "<r><b>" + String(repeating: piece, count: 2000) + "</b><after>kept</after></r>"
        XCTAssertEqual(try XMLDocument(parsing: small, limits: .payload).root?.children.last?.localName, "after")
    }

    func testNotWellFormedMapsToInvalidHeader() {
        do {
            _ = try XMLDocument(parsing: "<r>")
            XCTFail("accepted")
        } catch {
            XCTAssertEqual(error.ebmsError.code, .invalidHeader)
        }
    }

    // Expected forms derived by hand from the Exclusive XML Canonicalization 1.0 rules:
    // only visibly used namespaces are rendered, on the apex element, attributes sorted by
    // namespace URI then local name, empty elements expanded, whitespace text kept.
    func testExclusiveCanonicalizationOfSubtree() throws {
        let doc = try XMLDocument(parsing: """
        <env:Envelope xmlns:env="urn:env" xmlns:unused="urn:unused" xmlns:x="urn:x"><env:Header>\
        <x:M xmlns:y="urn:y" z="2" x:a="1" y:b="3"  ><x:E/> <!-- gone --></x:M></env:Header></env:Envelope>
        """)
        let m = try XCTUnwrap(doc.elements(matching: "//x:M", namespaces: ["x": "urn:x"]).first)
        let c14n = String(decoding: try Canonicalizer.exclusive(m), as: UTF8.self)
        XCTAssertEqual(c14n, #"<x:M xmlns:x="urn:x" xmlns:y="urn:y" z="2" x:a="1" y:b="3"><x:E></x:E> </x:M>"#)
        let withEnv = String(decoding: try Canonicalizer.exclusive(m, inclusivePrefixes: ["env"]), as: UTF8.self)
        XCTAssertEqual(withEnv, #"<x:M xmlns:env="urn:env" xmlns:x="urn:x" xmlns:y="urn:y" z="2" x:a="1" y:b="3"><x:E></x:E> </x:M>"#)
    }

    func testCanonicalizationEscapesAndNormalises() throws {
        let doc = try XMLDocument(parsing: "<r a='&lt;&quot;&#9;'>&gt;&amp;<![CDATA[<x>]]>\r\n</r>")
        let out = String(decoding: try Canonicalizer.exclusive(try XCTUnwrap(doc.root)), as: UTF8.self)
        XCTAssertEqual(out, "<r a=\"&lt;&quot;&#x9;\">&gt;&amp;&lt;x&gt;\n</r>")
    }

    private func assertRefused(_ xml: String, kind: XMLError.Kind, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try XMLDocument(parsing: xml), file: file, line: line) { error in
            XCTAssertEqual((error as? XMLError)?.kind, kind, "\(error)", file: file, line: line)
        }
    }
}

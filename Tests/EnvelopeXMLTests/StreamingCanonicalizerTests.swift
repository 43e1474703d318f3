import Foundation
import XCTest
@testable import EnvelopeXML

/// The streaming canonical form of a whole document is the tree canonicaliser's, byte for byte,
/// and it refuses what the tree parse refuses: checked on hand-picked documents, on a few
/// thousand generated ones, cut into pieces of every size, in memory and from a file.
final class StreamingCanonicalizerTests: XCTestCase {
    /// Refusals are compared as such: libxml2's own depth limit and ours may name the same
    /// document's fault differently.
    enum Outcome: Equatable {
        case canonical([UInt8])
        case refused
    }

    func tree(_ document: [UInt8], limits: XMLLimits = .payload) -> Outcome {
        do {
            return .canonical(try Canonicalizer.exclusive(document: try XMLDocument(parsing: document, limits: limits)))
        } catch {
            return .refused
        }
    }

    func streamed(_ body: PartBody, limits: XMLLimits = .payload, chunkSize: Int = PartBody.defaultChunkSize) -> Outcome {
        var out: [UInt8] = []
        do {
            try StreamingCanonicalizer.exclusive(body, limits: limits, chunkSize: chunkSize) { out += $0 }
            return .canonical(out)
        } catch {
            return .refused
        }
    }

    func assertSame(_ document: [UInt8], limits: XMLLimits = .payload, chunkSizes: [Int] = [1, 3, 7, 64, 4096],
                    file: StaticString = #filePath, line: UInt = #line) {
        let expected = tree(document, limits: limits)
        for size in chunkSizes {
            let got = streamed(.bytes(document), limits: limits, chunkSize: size)
            XCTAssertEqual(got, expected, "\(size)-byte pieces of \(String(decoding: document, as: UTF8.self).prefix(400))",
                           file: file, line: line)
        }
    }

    func assertSame(_ document: String, limits: XMLLimits = .payload, file: StaticString = #filePath, line: UInt = #line) {
        assertSame(Array(document.utf8), limits: limits, file: file, line: line)
    }

    func testNamespacesAsExclusiveCanonicalisationRendersThem() {
        // Declared where unused, used deeper, redeclared, undeclared, shadowed, on attributes only.
        assertSame(#"<r xmlns="urn:d" xmlns:a="urn:a" xmlns:b="urn:b"><x a:k="1"><a:y/></x><z xmlns=""><w xmlns="urn:d"/></z></r>"#)
        assertSame(#"<a:r xmlns:a="urn:a"><a:s xmlns:a="urn:a2"><a:t xmlns:a="urn:a"/></a:s><u xmlns:a="urn:a"/></a:r>"#)
        assertSame(#"<r><s xmlns=""><t xmlns="urn:t"><u xmlns=""/></t></s></r>"#)
        assertSame(#"<r xmlns:z="urn:z" xmlns:a="urn:a" z:q="1" a:p="2" b="3" a="4"/>"#)
        assertSame(#"<r xmlns:p="urn:same" xmlns:q="urn:same" p:b="1" q:a="2"/>"#)
        // Namespace errors, which libxml2 reports and reads on (prefixes bound nowhere, found by
        // the envelope fuzz target; one expanded name twice; an empty prefix binding): refused
        // by both, however the document is cut.
        for bad in [#"<wsse:S xmlns:ds="urn:ds" EncodingType="1" wsu:Id="2" ValueType="3" a:z="4" ds:a="5"><u:t wsu:a="1" b="2"/></wsse:S>"#,
                    #"<r xmlns:a="urn:a" xmlns:b="urn:a" a:x="1" b:x="2"/>"#, #"<r xmlns:e=""/>"#,
                    "<r>" + String(repeating: "<a>text</a>", count: 20_000) + #"<b z:k="1"/></r>"#] {
            assertSame(bad)
            XCTAssertEqual(streamed(.bytes(Array(bad.utf8))), .refused, String(bad.prefix(80)))
        }
        // An unqualified attribute on a prefixed element below a rendered default namespace.
        assertSame(#"<r xmlns="urn:d"><p:x xmlns:p="urn:p" a="1"><y b="2"/></p:x></r>"#)
        assertSame(#"<r xml:lang="lv" xml:space="preserve" xmlns:xml="http://www.w3.org/XML/1998/namespace"><s xml:lang="en"/></r>"#)
        assertSame(#"<r xmlns="http://example.com/a&amp;b" xmlns:u="urn:x?y=&quot;1&quot;"><u:s/></r>"#)
        // Relative namespace URIs: refused by both.
        assertSame(#"<r xmlns="relative/ns"/>"#)
        assertSame(#"<r xmlns:m="mailto:someone@example.com" xmlns:t="tag:example.com,2024:x"><m:s/><t:u/></r>"#)
    }

    func testTextAttributesAndReferences() {
        assertSame("<r a=\"x&amp;y&#38;z&lt;&gt;&quot;&apos;&#x9;t\ttab\nnl\r\ncr&#xD;&#xA;\">a&amp;b&#38;c&lt;d&gt;e\"f'g\r\nh\ri&#xD;j&#65;é</r>")
        assertSame("<r a='single \"double\" &apos;'>&#x10FFFF;&#xE9;\u{1F600}</r>")
        assertSame("<r a=\"&amp;#38;\">&amp;#38;</r>")
        assertSame("<r><![CDATA[<not> & markup]]>after<![CDATA[]]></r>")
        // Line ends in CDATA, in PI data and in attribute values, however the pieces fall.
        assertSame("<r a=\"x\r\ny\rz\">a\r\nb\rc<![CDATA[c\r\nd\re\r\r\nf\r]]>\r\n<![CDATA[\n]]><?p x\r\ny\rz?></r>")
        assertSame("<r><![CDATA[" + String(repeating: "0123456789\r\n", count: 500) + "]]></r>")
        assertSame("<r>  <s>\n\t</s>  </r>")
    }

    func testProcessingInstructionsCommentsAndTheProlog() {
        assertSame("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<?before  some data ?>\n<!-- c -->\n<r><?inside x?><!-- c --><?bare?></r>\n<?after?>\n<!-- c -->\n")
        assertSame("\u{FEFF}<r/>")
        // A NUL character is an error wherever it stands, after the root element too (where
        // libxml2 reading from memory would stop and ignore what follows; found by the envelope
        // fuzz target).
        for document in ["<r/>\u{0}", "<r>t</r>\n\u{0}garbage<", "<r/><!-- c -->\u{0}\u{0}", "<r/>x\u{0}", "\u{0}<r/>", "<r>\u{0}</r>",
                         "<r/><!-- c\u{0} -->", "<r><?p \u{0}?></r>", "<r a=\"\u{0}\"/>"] {
            assertSame(document)
            XCTAssertEqual(streamed(.bytes(Array(document.utf8))), .refused, document)
        }
        assertSame("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><r a=\"caf\u{E9}\">\u{E9}</r>".unicodeScalars.map { UInt8($0.value) })
        var utf16: [UInt8] = [0xFF, 0xFE]
        for unit in "<r a=\"\u{E9}\"><s>\u{1F600}</s></r>".utf16 { utf16 += [UInt8(unit & 0xFF), UInt8(unit >> 8)] }
        assertSame(utf16)
        // In UTF-16 and UCS-4 every ASCII character has a NUL byte: what follows the root element
        // is read as such, kept (a PI) or refused (anything else), never cut off unread.
        func utf16LE(_ text: String) -> [UInt8] {
            [0xFF, 0xFE] + text.utf16.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }
        }
        for document in ["<r/><?p x?>\n<!-- c -->", "<r>signed</r><evil>unsigned</evil>", "<r>signed</r>junk", "<r>signed</r>\u{0}<evil/>"] {
            assertSame(utf16LE(document))
        }
        XCTAssertEqual(streamed(.bytes(utf16LE("<r/><?p x?>"))), .canonical(Array("<r></r>\n<?p x?>".utf8)))
        XCTAssertEqual(streamed(.bytes(utf16LE("<r>signed</r><evil>unsigned</evil>"))), .refused)
        var ucs4: [UInt8] = []
        for scalar in "<?xml version=\"1.0\" encoding=\"UCS-4\"?><r>x</r><?p?>".unicodeScalars {
            ucs4 += [0, UInt8(scalar.value >> 16), UInt8((scalar.value >> 8) & 0xFF), UInt8(scalar.value & 0xFF)]
        }
        // The first bytes are held back until the encoding check has decided, so libxml2 learns
        // the encoding from whole characters and converts pieces cut anywhere after that.
        assertSame(ucs4, chunkSizes: [1, 3, 4, 7, 64, 4096])
        XCTAssertEqual(streamed(.bytes(ucs4)), .canonical(Array("<r>x</r>\n<?p?>".utf8)))
        // Processing instructions where the limits forbid them.
        assertSame("<r><?pi?></r>", limits: .envelope)
    }

    func testWhatTheTreeParseRefusesIsRefused() {
        for bad in ["", "<r>", "<r></s>", "text", "<r a=\"1\" a=\"2\"/>", "<p:r/>", "<r>&undefined;</r>", "<r/><s/>",
                    "<!DOCTYPE r [<!ENTITY e \"x\">]><r>&e;</r>", "<!DOCTYPE r SYSTEM \"http://127.0.0.1/x.dtd\"><r/>",
                    "<r>\u{0}</r>",
                    // Bytes its declared encoding cannot convert (found by the envelope fuzz target).
                    "<?xml version=\"1.0\" encoding=\"utf-7\"?><s12\u{1}\u{1A}:Envelope xsis-open.org/ebxml-msg<eb:UserMessage></eb:Meope>",
                    "<?xml version=\"1.0\" encoding=\"bogus\"?><r/>"] {
            assertSame(bad)
            XCTAssertNotEqual(tree(Array(bad.utf8)), .canonical([]), bad)
        }
        let deep = String(repeating: "<a>", count: 300) + String(repeating: "</a>", count: 300)
        assertSame(deep)
        let small = XMLLimits(maxBytes: 1 << 20, maxDepth: 64, maxNodes: 50, maxAttributes: 4, allowProcessingInstructions: true)
        assertSame("<r>" + String(repeating: "<a/>", count: 60) + "</r>", limits: small)
        assertSame("<r a=\"1\" b=\"2\" c=\"3\" d=\"4\" e=\"5\"/>", limits: small)
        assertSame("<r>" + String(repeating: "x", count: 2 << 20) + "</r>", limits: small)
        for (document, kind) in [("<r>" + String(repeating: "<a/>", count: 60) + "</r>", XMLError.Kind.limitExceeded),
                                 ("<r>" + String(repeating: "<a>", count: 65) + String(repeating: "</a>", count: 65) + "</r>", .limitExceeded),
                                 ("<r a=\"1\" b=\"2\" c=\"3\" d=\"4\" e=\"5\"/>", .limitExceeded),
                                 ("<!DOCTYPE r><r/>", .forbiddenConstruct), ("<r><s></r>", .notWellFormed)] {
            XCTAssertThrowsError(try StreamingCanonicalizer.exclusive(.bytes(Array(document.utf8)), limits: small) { _ in }, document) {
                XCTAssertEqual(($0 as? XMLError)?.kind, kind, document)
            }
        }
        XCTAssertThrowsError(try StreamingCanonicalizer.exclusive(.bytes(Array("<r><?pi?></r>".utf8)), limits: .envelope) { _ in }) {
            XCTAssertEqual($0 as? XMLError, XMLError(.forbiddenConstruct, "processing instructions are not allowed"))
        }
    }

    func testGeneratedDocuments() {
        var generator = DocumentGenerator(seed: 20261128)
        for _ in 0..<3000 {
            let document = generator.document()
            assertSame(Array(document.utf8), chunkSizes: [5, 4096])
        }
    }

    /// What makes it cheap: the canonical form leaves in pieces as the document is read, never
    /// held whole (nor is the document, nor a tree of it).
    func testTheCanonicalFormLeavesInPiecesAsItIsRead() throws {
        let document = Array(("<r>" + String(repeating: "<a/>", count: 2 << 20) + "</r>").utf8)  // 8 MiB, 2 M elements
        var pieces = 0, largest = 0, total = 0
        try StreamingCanonicalizer.exclusive(.bytes(document), limits: .payload) { piece in
            pieces += 1
            largest = max(largest, piece.count)
            total += piece.count
        }
        XCTAssertEqual(total, 7 + 7 * (2 << 20))  // <r></r> and <a></a> each
        XCTAssertGreaterThanOrEqual(pieces, document.count / PartBody.defaultChunkSize)
        XCTAssertLessThan(largest, 4 << 20, "a piece per chunk read, not the whole")
    }

    /// Exclusive C14N writes a namespace declaration again on every element that uses it below
    /// an element that does not: a URI declared once on the root comes out once per child. The
    /// output still leaves in pieces, however much one piece of input makes.
    func testAmplifiedOutputLeavesInPiecesToo() throws {
        let uri = "urn:" + String(repeating: "x", count: 300)
        let children = 10_000
        let document = Array(("<r xmlns:p=\"\(uri)\">" + String(repeating: "<p:a/>", count: children) + "</r>").utf8)
        XCTAssertLessThan(document.count, PartBody.defaultChunkSize, "one piece of input")
        var largest = 0, total = 0
        try StreamingCanonicalizer.exclusive(.bytes(document), limits: .payload) { piece in
            largest = max(largest, piece.count)
            total += piece.count
        }
        XCTAssertEqual(total, 7 + children * (#"<p:a xmlns:p=""></p:a>"#.utf8.count + uri.utf8.count))
        XCTAssertLessThan(largest, 256 << 10, "a piece, not the \(total) bytes one chunk of input makes")
    }

    /// That repetition has no bound of its own (a 5 KB URI and 400 children make 2 MB of a 2 KB
    /// document; 32 MB of them would make terabytes to digest), so the canonical form may be at
    /// most `maxExpansion` times the document, or 1 MiB; the refusal comes as the bound is
    /// passed, not after the work.
    func testOutputBeyondTheExpansionBoundIsRefused() throws {
        let uri = "urn:" + String(repeating: "x", count: 5_000)
        let document = Array(("<r xmlns:p=\"\(uri)\">" + String(repeating: "<p:a/>", count: 400) + "</r>").utf8)
        var total = 0
        XCTAssertThrowsError(try StreamingCanonicalizer.exclusive(.bytes(document), limits: .payload) { total += $0.count }) {
            XCTAssertEqual(($0 as? XMLError)?.kind, .limitExceeded, "\($0)")
        }
        XCTAssertLessThanOrEqual(total, 1 << 20)
        // A large document may expand as much as the bound allows.
        XCTAssertEqual(StreamingCanonicalizer.maxExpansion, 64)
        XCTAssertEqual(StreamingCanonicalizer.outputBound(documentBytes: 100), 1 << 20)
        XCTAssertEqual(StreamingCanonicalizer.outputBound(documentBytes: 32 << 20), 64 * (32 << 20))
    }

    /// A text node past the 10 MB libxml2 allows one (without XML_PARSE_HUGE) when it reads a
    /// file in pieces: from memory the tree takes it, and so does the stream (a large base64
    /// document inside an invoice, say).
    func testALargeTextNodeIsCanonicalisedAsTheTreeDoes() {
        let text = String(repeating: "QUJD", count: 2_800_000)
        let document = Array("<r><b>\(text)</b></r>".utf8)
        XCTAssertEqual(streamed(.bytes(document)), .canonical(document))
        XCTAssertEqual(streamed(.bytes(document)), tree(document))
        // Built from text and CDATA pieces, such a node stops libxml2's tree builder, so the tree
        // parse refuses the document (it used to keep the tree up to there); the stream, which
        // builds nothing, canonicalises all of it.
        let piece = String(repeating: "QUJD", count: 1000) + "<![CDATA[xyz]]>"
        let mixed = Array(("<r><b>" + String(repeating: piece, count: 3000) + "</b><after>signed</after></r>").utf8)
        XCTAssertEqual(tree(mixed), .refused)
        XCTAssertEqual(streamed(.bytes(mixed)),
                       .canonical(Array(("<r><b>" + String(repeating: String(repeating: "QUJD", count: 1000) + "xyz", count: 3000)
                                         + "</b><after>signed</after></r>").utf8)))
    }

    func testAFileRangeStreamsLikeBytes() throws {
        let document = Array(("<r xmlns=\"urn:r\">" + String(repeating: "<a b=\"&amp;\">t&lt;</a>", count: 50_000) + "</r>").utf8)
        let path = NSTemporaryDirectory() + "as4gw-c14n-\(UUID().uuidString)"
        defer { unlink(path) }
        let padded = Array("garbage before".utf8) + document + Array("garbage after".utf8)
        try Data(padded).write(to: URL(fileURLWithPath: path))
        let body = PartBody.file(path: path, offset: UInt64("garbage before".utf8.count), length: UInt64(document.count))
        XCTAssertEqual(streamed(body), tree(document))
        if case .canonical(let bytes) = streamed(body) { XCTAssertGreaterThan(bytes.count, 1_000_000) } else { XCTFail("refused") }
    }
}

/// Random well-formed (mostly) documents that exercise what exclusive C14N decides: namespace
/// declarations and their scope, prefixed and unprefixed attributes, escapes and references,
/// CDATA, comments, processing instructions, whitespace and line ends.
struct DocumentGenerator {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next(_ bound: Int) -> Int {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Int((state >> 33) % UInt64(bound))
    }

    mutating func pick<T>(_ choices: [T]) -> T { choices[next(choices.count)] }

    static let uris = ["urn:a", "urn:b", "http://example.com/ns", "urn:a", "http://www.w3.org/2000/09/xmldsig#", ""]
    static let textPieces = ["a", " ", "&amp;", "&lt;", ">", "&gt;", "\"", "'", "\r\n", "\n", "\r", "&#xD;", "&#38;", "é", "\t", "x y", "&#x20AC;"]
    static let valuePieces = ["v", " ", "&amp;", "&lt;", ">", "&quot;", "'", "&#38;", "\t", "\n", "\r\n", "&#x9;", "&#xA;", "&#xD;", "é", "&apos;"]

    mutating func document() -> String {
        var out = ""
        if next(3) == 0 { out += "<?xml version=\"1.0\"?>" }
        for _ in 0..<next(3) { out += pick(["<?p d?>", "<!-- c -->", "\n", "<?q?>"]) }
        out += element(depth: 0, scope: ["": ""])
        for _ in 0..<next(3) { out += pick(["<?p d?>", "<!-- c -->", "\n"]) }
        return out
    }

    mutating func element(depth: Int, scope: [String: String]) -> String {
        var scope = scope
        var declarations: [String] = []
        for _ in 0..<next(3) {
            let prefix = pick(["", "a", "b", "c"])
            let uri = pick(Self.uris)
            if prefix.isEmpty {
                declarations.append("xmlns=\"\(uri)\"")
            } else {
                guard !uri.isEmpty else { continue }
                declarations.append("xmlns:\(prefix)=\"\(uri)\"")
            }
            scope[prefix] = uri
        }
        // Declarations of one prefix twice on an element are not well-formed: keep the last.
        var seen: Set<String> = []
        declarations = declarations.reversed().filter { seen.insert(String($0.prefix { $0 != "=" })).inserted }.reversed()
        let bound = scope.filter { !$0.key.isEmpty && !$0.value.isEmpty }.map(\.key).sorted()
        let prefix = next(16) == 0 ? "zz" : bound.isEmpty || next(2) == 0 ? "" : pick(bound)
        let name = (prefix.isEmpty ? "" : prefix + ":") + pick(["e", "f", "g"])
        var attributes: [String] = []
        var local = 0
        for _ in 0..<next(4) {
            local += 1
            var value = ""
            for _ in 0..<next(4) { value += pick(Self.valuePieces) }
            let attributePrefix = next(12) == 0 ? "zz" : bound.isEmpty || next(2) == 0 ? "" : pick(bound)
            if next(8) == 0 {
                attributes.append("xml:lang=\"\(value)\"")
                continue
            }
            attributes.append((attributePrefix.isEmpty ? "" : attributePrefix + ":") + "k\(local)=\"\(value)\"")
        }
        // Two prefixes bound to one URI would make their attributes clash: keep the first of each URI.
        var uris: Set<String> = []
        var xmlLang = false
        attributes = attributes.filter { attribute in
            if attribute.hasPrefix("xml:lang") { defer { xmlLang = true }; return !xmlLang }
            guard let colon = attribute.firstIndex(of: ":"), attribute.firstIndex(of: "=")! > colon else { return true }
            let local = attribute[attribute.index(after: colon)...].prefix { $0 != "=" }
            return uris.insert((scope[String(attribute[..<colon])] ?? String(attribute[..<colon])) + "|" + local).inserted
        }
        var out = "<" + name + ([""] + declarations + attributes).joined(separator: " ")
        if depth > 5 || next(4) == 0 { return out + "/>" }
        out += ">"
        for _ in 0..<next(5) {
            switch next(7) {
            case 0, 1: out += element(depth: depth + 1, scope: scope)
            case 2: out += "<![CDATA[" + pick(["<x>&amp;", "]]", "\r\n", ""]) + "]]>"
            case 3: out += pick(["<!-- c -->", "<?pi data?>", "<?pi?>"])
            default:
                for _ in 0..<next(4) { out += pick(Self.textPieces) }
            }
        }
        return out + "</" + name + ">"
    }
}

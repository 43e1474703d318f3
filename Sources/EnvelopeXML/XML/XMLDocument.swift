import CLibXML2

/// An XML document parsed from untrusted bytes, owning its libxml2 tree.
///
/// Parsing never loads a DTD, never substitutes entities and never touches the network: any
/// document type declaration is refused before libxml2 sees it, an external entity loader that
/// always fails is installed process-wide, and size, depth and node count are bounded. XXE,
/// billion laughs and quadratic blowup therefore fail with a clear error instead of expanding.
///
/// Not Sendable: a libxml2 tree must be used by one thread at a time.
public final class XMLDocument {
    let doc: xmlDocPtr

    public convenience init(parsing bytes: [UInt8], limits: XMLLimits = .envelope) throws(XMLError) {
        let result: Result<xmlDocPtr, XMLError> = bytes.withUnsafeBytes { raw in
            do throws(XMLError) { return .success(try XMLDocument.parse(raw, limits: limits)) } catch { return .failure(error) }
        }
        self.init(owning: try result.get())
    }

    public convenience init(parsing buffer: UnsafeRawBufferPointer, limits: XMLLimits = .envelope) throws(XMLError) {
        self.init(owning: try XMLDocument.parse(buffer, limits: limits))
    }

    public convenience init(parsing string: String, limits: XMLLimits = .envelope) throws(XMLError) {
        try self.init(parsing: Array(string.utf8), limits: limits)
    }

    init(owning doc: xmlDocPtr) {
        self.doc = doc
    }

    deinit { xmlFreeDoc(doc) }

    public var root: XMLElement? {
        guard let node = xmlDocGetRootElement(doc) else { return nil }
        return XMLElement(node, in: self)
    }

    /// The document serialised as UTF-8 (no XML declaration), as libxml2 writes it. Used after
    /// mutating a tree (e.g. inserting a Security header); signatures never depend on this form.
    public func serialized() throws(XMLError) -> [UInt8] {
        guard let buffer = xmlBufferCreate() else { throw XMLError(.serialization, "out of memory") }
        defer { xmlBufferFree(buffer) }
        let options = Int32(XML_SAVE_NO_DECL.rawValue | XML_SAVE_AS_XML.rawValue)
        guard let save = xmlSaveToBuffer(buffer, "UTF-8", options) else {
            throw XMLError(.serialization, "cannot create serialiser")
        }
        if xmlSaveDoc(save, doc) < 0 {
            xmlSaveClose(save)
            throw XMLError(.serialization, "cannot serialise document")
        }
        xmlSaveClose(save)
        guard let content = xmlBufferContent(buffer) else { return [] }
        let length = Int(xmlBufferLength(buffer))
        var out = Array(UnsafeBufferPointer(start: content, count: length))
        if out.last == 0x0A { out.removeLast() }
        return out
    }

    // MARK: - Safe parsing

    static func parse(_ buffer: UnsafeRawBufferPointer, limits: XMLLimits) throws(XMLError) -> xmlDocPtr {
        LibXML.initialize()
        guard buffer.count <= limits.maxBytes else {
            throw XMLError(.limitExceeded, "document of \(buffer.count) bytes exceeds the limit of \(limits.maxBytes)")
        }
        try refuseDocumentType(buffer)
        try prescan(buffer, limits: limits)
        try EncodingDeclarationCheck.check(Array(buffer.prefix(EncodingDeclarationCheck.window)))
        guard buffer.count <= Int(Int32.max), let base = buffer.baseAddress else {
            throw XMLError(.notWellFormed, "empty document")
        }
        guard let ctxt = xmlNewParserCtxt() else { throw XMLError(.notWellFormed, "out of memory") }
        defer { xmlFreeParserCtxt(ctxt) }
        // NOENT, DTDLOAD, DTDATTR, DTDVALID, XINCLUDE, HUGE, RECOVER, NOBLANKS and NSCLEAN are never
        // set: the first ones expand or fetch, the last two would change signed bytes.
        let options = Int32(XML_PARSE_NONET.rawValue | XML_PARSE_NOERROR.rawValue
                            | XML_PARSE_NOWARNING.rawValue | XML_PARSE_NOCDATA.rawValue)
        // The parse's namespace errors come to `recordNamespaceError` through the context's
        // `_private` (the tree builder needs `userData` to be the context itself).
        var namespaceError: XMLError?
        let doc = withUnsafeMutablePointer(to: &namespaceError) { record in
            ctxt.pointee._private = UnsafeMutableRawPointer(record)
            ctxt.pointee.sax.pointee.serror = recordTreeNamespaceError
            defer {
                ctxt.pointee.sax.pointee.serror = nil
                ctxt.pointee._private = nil
            }
            return xmlCtxtReadMemory(ctxt, base.assumingMemoryBound(to: CChar.self), Int32(buffer.count), nil, nil, options)
        }
        // A parse stopped half-way can leave wellFormed set: libxml2's tree builder halts at a
        // text node past 10 MB made of pieces (text and CDATA) and returns the tree up to there.
        // Every fatal error and every halt disables SAX.
        guard let doc, ctxt.pointee.wellFormed != 0, ctxt.pointee.disableSAX == 0 else {
            if let doc { xmlFreeDoc(doc) }
            let err = ctxt.pointee.lastError
            let message = err.message.map { String(cString: $0).trimmingTrailingNewlines() } ?? "not well-formed"
            throw XMLError(.notWellFormed, message, line: err.line > 0 ? Int(err.line) : nil)
        }
        // libxml2 reports a namespace error (a prefix bound nowhere, one expanded attribute name
        // twice, `xmlns:p=""`) and goes on: the tree it builds names such a node by its QName in
        // no namespace, which the sender's and other verifiers' parsers (Xerces, lxml) refuse.
        // A document they cannot read is not well-formed here either.
        if let namespaceError {
            xmlFreeDoc(doc)
            throw namespaceError
        }
        // Reading from memory, libxml2 takes a NUL character after the root element for the end
        // of the document and ignores whatever follows it, so bytes nobody parsed (and no
        // signature covers) would pass along with the document. Its push parser, newer libxml2
        // and XML itself call the NUL an error; so do we.
        if let input = ctxt.pointee.input, let cur = input.pointee.cur, let end = input.pointee.end, cur < end {
            xmlFreeDoc(doc)
            throw XMLError(.notWellFormed, "a NUL character after the root element")
        }
        if doc.pointee.intSubset != nil || doc.pointee.extSubset != nil {
            xmlFreeDoc(doc)
            throw XMLError(.forbiddenConstruct, "document type declarations are not allowed")
        }
        do {
            try checkAndNormalizeTree(doc, limits: limits)
        } catch {
            xmlFreeDoc(doc)
            throw error
        }
        return doc
    }

    /// `MarkupPrescan` over the whole document, before libxml2 builds anything.
    static func prescan(_ buffer: UnsafeRawBufferPointer, limits: XMLLimits) throws(XMLError) {
        var scan = MarkupPrescan(limits: limits)
        try scan.feed(buffer)
    }

    /// A DOCTYPE may only appear in the prolog, so scanning up to the first element start is
    /// enough to refuse every entity trick before the parser allocates anything for it.
    static func refuseDocumentType(_ buffer: UnsafeRawBufferPointer) throws(XMLError) {
        var i = 0
        let n = buffer.count
        if n >= 3, buffer[0] == 0xEF, buffer[1] == 0xBB, buffer[2] == 0xBF { i = 3 }
        while i < n {
            let c = buffer[i]
            if c == 0x3C /* < */ {
                guard i + 1 < n else { return }
                let next = buffer[i + 1]
                if next == 0x3F /* ? */ {
                    // XML declaration or PI: skip to "?>"
                    i += 2
                    while i + 1 < n, !(buffer[i] == 0x3F && buffer[i + 1] == 0x3E) { i += 1 }
                    i += 2
                    continue
                }
                if next == 0x21 /* ! */ {
                    if i + 3 < n, buffer[i + 2] == 0x2D, buffer[i + 3] == 0x2D {
                        i += 4
                        while i + 2 < n, !(buffer[i] == 0x2D && buffer[i + 1] == 0x2D && buffer[i + 2] == 0x3E) { i += 1 }
                        i += 3
                        continue
                    }
                    throw XMLError(.forbiddenConstruct, "document type declarations are not allowed (DTDs and entities are refused)")
                }
                return
            }
            i += 1
        }
    }

    /// Bounds and forbidden nodes checked on the tree, and namespace hrefs put in the form every
    /// reader of them expects (`NamespaceHref`), in one walk.
    private static func checkAndNormalizeTree(_ doc: xmlDocPtr, limits: XMLLimits) throws(XMLError) {
        var count = 0
        var stack: [(xmlNodePtr, Int)] = []
        var child = doc.pointee.children
        while let c = child { stack.append((c, 1)); child = c.pointee.next }
        while let (node, depth) = stack.popLast() {
            count += 1
            if count > limits.maxNodes {
                throw XMLError(.limitExceeded, "document has more than \(limits.maxNodes) nodes")
            }
            if depth > limits.maxDepth {
                throw XMLError(.limitExceeded, "document is nested deeper than \(limits.maxDepth) levels")
            }
            switch node.pointee.type {
            case XML_ENTITY_REF_NODE, XML_ENTITY_NODE, XML_ENTITY_DECL, XML_DTD_NODE:
                throw XMLError(.forbiddenConstruct, "entity references are not allowed")
            case XML_PI_NODE where !limits.allowProcessingInstructions:
                throw XMLError(.forbiddenConstruct, "processing instructions are not allowed")
            case XML_ELEMENT_NODE where node.pointee.nsDef != nil:
                NamespaceHref.normalizeDeclarations(of: node)
            default: break
            }
            var c = node.pointee.children
            while let cc = c { stack.append((cc, depth + 1)); c = cc.pointee.next }
        }
    }
}

enum LibXML {
    /// libxml2 must be initialised once before several threads use it (PLATFORM-NOTES G8); the
    /// external entity loader is replaced by one that refuses every load, so even a code path
    /// that forgets the parse options cannot fetch a URL or a file.
    ///
    /// Some failures (input decoding, C14N, the push parser's conversion errors) libxml2 reports
    /// through its process-wide handlers, which print them to stderr, so untrusted input could
    /// fill the daemon's log. Every caller learns of a failure from a return value or the parser
    /// context instead, so those reports are dropped: for this thread, and as the default of
    /// threads that start using libxml2 later.
    private static let once: Void = {
        xmlInitParser()
        xmlSetExternalEntityLoader(refusingEntityLoader)
        xmlThrDefSetStructuredErrorFunc(nil, discardingErrorHandler)
        xmlSetStructuredErrorFunc(nil, discardingErrorHandler)
        as4gw_discardGenericErrors()
    }()

    static func initialize() { _ = once }

    /// The refusal `error` makes when it is a namespace well-formedness error, or nil.
    ///
    /// Not `nsWellFormed`: libxml2 2.9 clears it also for a prefixed declaration whose value its
    /// URI parser cannot read (`XML_WAR_NS_URI`, a warning in later versions), and it cannot read
    /// `urn:x?a=1&amp;b=2`, which it hands over as `urn:x?a=1&#38;b=2`. Namespaces in XML asks a
    /// URI reference there but does not make another value a well-formedness error, and Xerces
    /// and lxml accept one; the codes 200-205 are what they refuse.
    static func namespaceError(_ error: xmlErrorPtr?) -> XMLError? {
        guard let e = error?.pointee, e.domain == Int32(XML_FROM_NAMESPACE.rawValue),
              (Int32(XML_NS_ERR_XML_NAMESPACE.rawValue)...Int32(XML_NS_ERR_COLON.rawValue)).contains(e.code) else { return nil }
        let message = e.message.map { String(cString: $0).trimmingTrailingNewlines() } ?? ""
        return XMLError(.notWellFormed, "namespace error: " + (message.isEmpty ? "code \(e.code)" : message), line: e.line > 0 ? Int(e.line) : nil)
    }
}

/// `serror` of the tree parse: keeps its first namespace error where `_private` points.
private let recordTreeNamespaceError: xmlStructuredErrorFunc = { userData, error in
    guard let error = LibXML.namespaceError(error),
          let record = userData?.assumingMemoryBound(to: xmlParserCtxt.self).pointee._private?.assumingMemoryBound(to: XMLError?.self),
          record.pointee == nil else { return }
    record.pointee = error
}

private let refusingEntityLoader: xmlExternalEntityLoader = { _, _, _ in nil }
private let discardingErrorHandler: xmlStructuredErrorFunc = { _, _ in }

extension String {
    func trimmingTrailingNewlines() -> String {
        var s = Substring(self)
        while let last = s.last, last == "\n" || last == "\r" { s = s.dropLast() }
        return String(s)
    }
}

import CLibXML2

/// Exclusive XML Canonicalization 1.0 (without comments, no InclusiveNamespaces) of a whole
/// document, written while the document streams through libxml2's SAX2 push parser: no tree is
/// built, so canonicalising costs a few buffers and libxml2's name dictionary instead of about
/// 50 bytes of tree per input byte. It is what the Attachment-Content-Signature-Transform does to
/// an XML attachment, byte for byte what `Canonicalizer.exclusive(document:)` gives for the same
/// document (the tests compare the two), with the same parse: no DTD, no entities but the
/// predefined ones, no network, and the bounds of `limits`. One difference: a text node past
/// 10 MB that libxml2's tree builder assembles from pieces (text and CDATA) stops the tree parse,
/// which refuses the document; the stream, building nothing, canonicalises it.
public enum StreamingCanonicalizer {
    /// Exclusive C14N writes a namespace declaration again on each element that uses it below one
    /// that does not, without bound: a long URI declared on the root and millions of short
    /// children would make terabytes to digest out of megabytes. Text, attributes and tags grow
    /// at most six times (an escaped `"`); real documents' repeated declarations about three
    /// (a UBL invoice without whitespace), so the canonical form may be this many times the
    /// document, or 1 MiB if that is more.
    public static let maxExpansion = 64

    /// The most canonical bytes a document of `documentBytes` may make.
    public static func outputBound(documentBytes: UInt64) -> UInt64 {
        max(documentBytes * UInt64(maxExpansion), 1 << 20)
    }

    /// Calls `output` with the canonical form of `body`, in order, piece by piece; `body` is
    /// read `chunkSize` bytes at a time.
    public static func exclusive(_ body: PartBody, limits: XMLLimits, chunkSize: Int = PartBody.defaultChunkSize,
                                 output: @escaping ([UInt8]) throws -> Void) throws(XMLError) {
        LibXML.initialize()
        guard body.count <= UInt64(limits.maxBytes) else {
            throw XMLError(.limitExceeded, "document of \(body.count) bytes exceeds the limit of \(limits.maxBytes)")
        }
        let state = CanonicalStream(limits: limits, maxOutput: outputBound(documentBytes: body.count), output: output)
        var handler = xmlSAXHandler()
        handler.initialized = UInt32(XML_SAX2_MAGIC)
        handler.startElementNs = canonicalStartElement
        handler.endElementNs = canonicalEndElement
        handler.characters = canonicalText
        handler.ignorableWhitespace = canonicalText
        handler.cdataBlock = canonicalCDATA
        handler.processingInstruction = canonicalProcessingInstruction
        handler.comment = canonicalComment
        handler.internalSubset = canonicalDocumentType
        handler.serror = canonicalNamespaceError
        let context = Unmanaged.passRetained(state)
        defer { context.release() }
        guard let parser = xmlCreatePushParserCtxt(&handler, context.toOpaque(), nil, 0, nil) else {
            throw XMLError(.notWellFormed, "out of memory")
        }
        defer { xmlFreeParserCtxt(parser) }
        state.parser = parser
        // As XMLDocument parses: NOENT, DTDLOAD, HUGE and the like are never set. NOCDATA is not
        // set either: CDATA content comes to canonicalCDATA, which ends its lines as the tree
        // parse does (libxml2 2.9's push parser hands it over with CR LF as written).
        _ = xmlCtxtUseOptions(parser, Int32(XML_PARSE_NONET.rawValue | XML_PARSE_NOERROR.rawValue | XML_PARSE_NOWARNING.rawValue))
        // A DOCTYPE stops the parse at its start (canonicalDocumentType), before libxml2 reads
        // any declaration it holds.
        var prescan = MarkupPrescan(limits: limits)
        // The first bytes wait until the encoding check has decided, so libxml2 never reads a
        // document it refuses in the encoding its declaration names.
        var encoding = EncodingDeclarationCheck()
        var held: [UInt8] = []
        func parse(_ piece: UnsafeRawBufferPointer) throws {
            guard let base = piece.baseAddress, !piece.isEmpty else { return }
            // A NUL character anywhere (after the root element too) is an error of the push
            // parser's own; XMLDocument refuses it likewise. Never cut the bytes at a NUL byte
            // here: in UTF-16 or UCS-4 every ASCII character holds one.
            _ = xmlParseChunk(parser, base.assumingMemoryBound(to: CChar.self), Int32(piece.count), 0)
            try state.check(parser)
        }
        do {
            try body.forEachChunk(size: chunkSize) { chunk in
                try prescan.feed(chunk)
                guard !encoding.decided else { return try parse(chunk) }
                held.append(contentsOf: chunk)
                try encoding.feed(chunk)
                if encoding.decided {
                    try held.withUnsafeBytes { try parse($0) }
                    held = []
                }
            }
            try encoding.finish()
            try held.withUnsafeBytes { try parse($0) }
            _ = xmlParseChunk(parser, nil, 0, 1)
            try state.check(parser)
            try state.flush()
        } catch let error as XMLError {
            throw error
        } catch {
            throw XMLError(.canonicalization, "\(error)")
        }
    }
}

/// What the SAX callbacks share while one document streams through.
final class CanonicalStream {
    enum Position { case beforeRoot, insideRoot, afterRoot }

    let limits: XMLLimits
    let output: ([UInt8]) throws -> Void
    /// The most canonical bytes this document may make (`StreamingCanonicalizer.maxExpansion`).
    let maxOutput: UInt64
    var written: UInt64 = 0
    var parser: xmlParserCtxtPtr?
    var position = Position.beforeRoot
    /// Canonical bytes not yet handed to `output`.
    var pending: [UInt8] = []
    /// The first failure: parsing stops there.
    var failure: Error?
    /// The first namespace well-formedness error libxml2 reported (`LibXML.namespaceError`).
    var namespaceError: XMLError?
    var depth = 0
    var nodes = 0
    /// Within a run of character data (one text node, however libxml2 splits it).
    var inText = false
    /// The last CDATA piece ended in CR, which became LF: an LF that follows belongs to it.
    var cdataEndedInCR = false
    /// Namespaces in effect in the output: the URI each prefix ("" for the default) was last
    /// rendered with by an output ancestor, or utilised with and already in effect.
    var rendered: [[UInt8]: [UInt8]] = [:]
    /// Per open element: its qualified name, what its start tag changed in `rendered`, and the
    /// default namespace declared in scope within it ("" for xmlns="", nil for none).
    var open: [(name: [UInt8], restore: [([UInt8], [UInt8]?)], inScopeDefault: [UInt8]?)] = []

    init(limits: XMLLimits, maxOutput: UInt64, output: @escaping ([UInt8]) throws -> Void) {
        self.limits = limits
        self.maxOutput = maxOutput
        self.output = output
        pending.reserveCapacity(Self.flushSize + 4096)
    }

    static let flushSize = 64 << 10
    static let xmlNamespace = Array("http://www.w3.org/XML/1998/namespace".utf8)

    func fail(_ error: Error) {
        if failure == nil { failure = error }
        if let parser { xmlStopParser(parser) }
    }

    /// The failure so far, a callback's or the parser's own.
    func check(_ parser: xmlParserCtxtPtr) throws {
        if let failure { throw failure }
        // A fatal error stops the push parser with SAX disabled; some (input that its declared
        // encoding cannot convert) leave wellFormed set.
        if parser.pointee.wellFormed == 0 || parser.pointee.disableSAX != 0 {
            let err = parser.pointee.lastError
            let message = err.message.map { String(cString: $0).trimmingTrailingNewlines() }.flatMap { $0.isEmpty ? nil : $0 }
                ?? "not well-formed"
            throw XMLError(.notWellFormed, message, line: err.line > 0 ? Int(err.line) : nil)
        }
        // What the tree parse refuses (`XMLDocument.parse`): the document's namespace errors.
        if let namespaceError { throw namespaceError }
        if pending.count >= Self.flushSize { try flush() }
    }

    func flush() throws {
        guard !pending.isEmpty else { return }
        written += UInt64(pending.count)
        guard written <= maxOutput else {
            throw XMLError(.limitExceeded, "canonical form exceeds \(maxOutput) bytes, \(StreamingCanonicalizer.maxExpansion) times the document "
                           + "(namespace declarations repeated on many elements)")
        }
        try output(pending)
        pending.removeAll(keepingCapacity: true)
    }

    /// Called by the callbacks: one piece of input can make far more output than itself (exclusive
    /// C14N repeats a namespace declaration on every element that uses it), so the output leaves
    /// as it is made, not once the parser has consumed a piece.
    func flushIfFull() {
        guard pending.count >= Self.flushSize else { return }
        do { try flush() } catch { fail(error) }
    }

    /// One more node of the document, within the bounds.
    func count(depth: Int) -> Bool {
        nodes += 1
        if nodes > limits.maxNodes {
            fail(XMLError(.limitExceeded, "document has more than \(limits.maxNodes) nodes"))
            return false
        }
        if depth > limits.maxDepth {
            fail(XMLError(.limitExceeded, "document is nested deeper than \(limits.maxDepth) levels"))
            return false
        }
        return true
    }

    func startElement(prefix: [UInt8]?, localName: [UInt8], uri parsedURI: [UInt8]?, declarations parsedDeclarations: [([UInt8], [UInt8])],
                      attributes parsedAttributes: [(prefix: [UInt8]?, localName: [UInt8], uri: [UInt8]?, value: [UInt8])]) {
        // Namespace URIs in the form the tree keeps them (NamespaceHref): compared, checked and
        // written as Canonical XML writes an attribute value.
        let uri = parsedURI.map(Self.storedNamespace)
        let declarations = parsedDeclarations.map { ($0.0, Self.storedNamespace($0.1)) }
        let attributes = parsedAttributes.map { (prefix: $0.prefix, localName: $0.localName, uri: $0.uri.map(Self.storedNamespace), value: $0.value) }
        inText = false
        cdataEndedInCR = false
        guard count(depth: depth + 1) else { return }
        depth += 1
        position = .insideRoot
        // Canonical XML forbids relative namespace URIs; libxml2's canonicaliser refuses them so.
        for (_, value) in declarations where !value.isEmpty && !Self.isAbsolute(value) {
            return fail(XMLError(.canonicalization, "canonicalization failed"))
        }
        var name = prefix.map { $0 + [0x3A] } ?? []
        name += localName
        pending.append(0x3C)
        pending += name

        // Exclusive C14N renders the namespaces the element and its attributes visibly use,
        // unless an output ancestor already rendered the same binding.
        var restore: [([UInt8], [UInt8]?)] = []
        var render: [([UInt8], [UInt8])] = []
        func utilise(_ prefix: [UInt8], _ uri: [UInt8]) {
            let inEffect = rendered[prefix] ?? (prefix.isEmpty ? [] : nil)
            guard inEffect != uri else { return }
            render.append((prefix, uri))
            restore.append((prefix, rendered[prefix]))
            rendered[prefix] = uri
        }
        var inScopeDefault = open.last?.inScopeDefault
        for (prefix, uri) in declarations where prefix.isEmpty { inScopeDefault = uri }
        if let uri {
            if !(prefix == Array("xml".utf8) && uri == Self.xmlNamespace) { utilise(prefix ?? [], uri) }
        } else if let inScopeDefault {
            // In no namespace, the element uses the default declared in scope, as libxml2 looks
            // it up: xmlns="" (an inherited default undone), or, for a prefix bound nowhere,
            // whatever default is in scope.
            utilise([], inScopeDefault)
        }
        for attribute in attributes {
            guard let uri = attribute.uri, let prefix = attribute.prefix else { continue }
            if prefix == Array("xml".utf8) && uri == Self.xmlNamespace { continue }
            utilise(prefix, uri)
        }
        for (prefix, uri) in render.sorted(by: { $0.0.lexicographicallyPrecedes($1.0) }) {
            pending += prefix.isEmpty ? Array(" xmlns=\"".utf8) : Array(" xmlns:".utf8) + prefix + Array("=\"".utf8)
            pending += uri
            pending.append(0x22)
        }
        // Attributes in no namespace first, then by namespace URI, each by local name; two with
        // one expanded name (prefixes bound to one URI, which libxml2 lets pass) in the reverse
        // of their order, as libxml2's sorted list inserts them.
        let sorted = attributes.enumerated().sorted { a, b in
            let (x, y) = (a.element, b.element)
            if x.uri != y.uri {
                guard let u = x.uri else { return true }
                guard let v = y.uri else { return false }
                return u.lexicographicallyPrecedes(v)
            }
            return x.localName == y.localName ? a.offset > b.offset : x.localName.lexicographicallyPrecedes(y.localName)
        }.map(\.element)
        for attribute in sorted {
            pending.append(0x20)
            if let prefix = attribute.prefix, !prefix.isEmpty { pending += prefix; pending.append(0x3A) }
            pending += attribute.localName
            pending += Array("=\"".utf8)
            Self.escapeAttribute(Self.decodingAmpersands(attribute.value), into: &pending)
            pending.append(0x22)
        }
        pending.append(0x3E)
        open.append((name, restore, inScopeDefault))
        flushIfFull()
    }

    func endElement() {
        inText = false
        cdataEndedInCR = false
        guard let (name, restore, _) = open.popLast() else { return }
        pending += [0x3C, 0x2F]
        pending += name
        pending.append(0x3E)
        for (prefix, previous) in restore.reversed() { rendered[prefix] = previous }
        depth -= 1
        if depth == 0 { position = .afterRoot }
        flushIfFull()
    }

    /// CDATA content with its line ends made LF (XML 1.0 §2.11: CR LF and lone CR), across pieces.
    func cdata(_ bytes: UnsafeBufferPointer<UInt8>) {
        var normalized: [UInt8] = []
        normalized.reserveCapacity(bytes.count)
        for b in bytes {
            if b == 0x0A, cdataEndedInCR {
                cdataEndedInCR = false
                continue
            }
            cdataEndedInCR = b == 0x0D
            normalized.append(b == 0x0D ? 0x0A : b)
        }
        normalized.withUnsafeBufferPointer { text($0, fromCDATA: true) }
    }

    func text(_ bytes: UnsafeBufferPointer<UInt8>, fromCDATA: Bool = false) {
        if !fromCDATA { cdataEndedInCR = false }
        if !inText {
            guard count(depth: depth + 1) else { return }
            inText = true
        }
        guard position == .insideRoot else { return }
        for b in bytes {
            switch b {
            case 0x26: pending += Array("&amp;".utf8)
            case 0x3C: pending += Array("&lt;".utf8)
            case 0x3E: pending += Array("&gt;".utf8)
            case 0x0D: pending += Array("&#xD;".utf8)
            default: pending.append(b)
            }
        }
        flushIfFull()
    }

    func processingInstruction(target: [UInt8], data: [UInt8]) {
        inText = false
        cdataEndedInCR = false
        guard limits.allowProcessingInstructions else {
            return fail(XMLError(.forbiddenConstruct, "processing instructions are not allowed"))
        }
        guard count(depth: depth + 1) else { return }
        if position == .afterRoot { pending.append(0x0A) }
        pending += [0x3C, 0x3F]
        pending += target
        if !data.isEmpty {
            pending.append(0x20)
            for b in data {
                if b == 0x0D { pending += Array("&#xD;".utf8) } else { pending.append(b) }
            }
        }
        pending += [0x3F, 0x3E]
        if position == .beforeRoot { pending.append(0x0A) }
        flushIfFull()
    }

    /// Comments are left out of the canonical form, but are nodes of the document all the same.
    func comment() {
        inText = false
        cdataEndedInCR = false
        _ = count(depth: depth + 1)
    }

    /// A namespace URI as parsed, in its stored form: `NamespaceHref.normalizeDeclarations`'s.
    static func storedNamespace(_ parsed: [UInt8]) -> [UInt8] {
        guard parsed.contains(where: { [0x26, 0x3C, 0x22, 0x09, 0x0A, 0x0D].contains($0) }) else { return parsed }
        var out: [UInt8] = []
        escapeAttribute(decodingAmpersands(parsed), into: &out)
        return out
    }

    /// A parsed attribute value holds `&#38;` for each `&` (libxml2 keeps it escaped for the tree
    /// builder, which decodes it); nothing else there is escaped.
    static func decodingAmpersands(_ value: [UInt8]) -> [UInt8] {
        let reference = Array("&#38;".utf8)
        guard value.contains(0x26) else { return value }
        var out: [UInt8] = []
        out.reserveCapacity(value.count)
        var i = 0
        while i < value.count {
            if value[i] == 0x26, i + 5 <= value.count, Array(value[i..<i + 5]) == reference {
                out.append(0x26)
                i += 5
            } else {
                out.append(value[i])
                i += 1
            }
        }
        return out
    }

    static func escapeAttribute(_ value: [UInt8], into out: inout [UInt8]) {
        for b in value {
            switch b {
            case 0x26: out += Array("&amp;".utf8)
            case 0x3C: out += Array("&lt;".utf8)
            case 0x22: out += Array("&quot;".utf8)
            case 0x09: out += Array("&#x9;".utf8)
            case 0x0A: out += Array("&#xA;".utf8)
            case 0x0D: out += Array("&#xD;".utf8)
            default: out.append(b)
            }
        }
    }

    /// Whether libxml2 parses `uri` as a URI with a scheme (its canonicaliser's test).
    static func isAbsolute(_ uri: [UInt8]) -> Bool {
        guard let parsed = (uri + [0]).withUnsafeBufferPointer({ buffer in
            buffer.baseAddress!.withMemoryRebound(to: CChar.self, capacity: buffer.count) { xmlParseURI($0) }
        }) else { return false }
        defer { xmlFreeURI(parsed) }
        guard let scheme = parsed.pointee.scheme else { return false }
        return scheme.pointee != 0
    }

    static func state(_ context: UnsafeMutableRawPointer?) -> CanonicalStream? {
        guard let context else { return nil }
        let state = Unmanaged<CanonicalStream>.fromOpaque(context).takeUnretainedValue()
        return state.failure == nil ? state : nil
    }
}

private func bytes(_ string: UnsafePointer<xmlChar>?) -> [UInt8]? {
    guard let string else { return nil }
    return Array(UnsafeBufferPointer(start: string, count: Int(xmlStrlen(string))))
}

// The SAX2 callbacks: capture-free (PLATFORM-NOTES G3), state through the context pointer.

private let canonicalStartElement: startElementNsSAX2Func = { context, localName, prefix, uri, namespaceCount, namespaces,
                                                              attributeCount, _, attributes in
    guard let state = CanonicalStream.state(context), let localName = bytes(localName) else { return }
    var declarations: [([UInt8], [UInt8])] = []
    if let namespaces {
        for i in 0..<Int(namespaceCount) {
            declarations.append((bytes(namespaces[2 * i]) ?? [], bytes(namespaces[2 * i + 1]) ?? []))
        }
    }
    var list: [(prefix: [UInt8]?, localName: [UInt8], uri: [UInt8]?, value: [UInt8])] = []
    if let attributes {
        for i in 0..<Int(attributeCount) {
            let fields = attributes + 5 * i
            guard let name = bytes(fields[0]), let start = fields[3], let end = fields[4] else { continue }
            let value = Array(UnsafeBufferPointer(start: start, count: end - start))
            let prefix = bytes(fields[1]), uri = bytes(fields[2])
            if let prefix, uri == nil {
                // A prefix bound nowhere (a namespace error libxml2 reports and goes on): the
                // next `check` refuses the document; until then, name it by its whole QName.
                list.append((nil, prefix + [0x3A] + name, nil, value))
            } else {
                list.append((prefix, name, uri, value))
            }
        }
    }
    state.startElement(prefix: bytes(prefix), localName: localName, uri: bytes(uri), declarations: declarations, attributes: list)
}

private let canonicalNamespaceError: xmlStructuredErrorFunc = { context, error in
    guard let state = CanonicalStream.state(context), state.namespaceError == nil else { return }
    state.namespaceError = LibXML.namespaceError(error)
}

private let canonicalEndElement: endElementNsSAX2Func = { context, _, _, _ in
    CanonicalStream.state(context)?.endElement()
}

private let canonicalText: charactersSAXFunc = { context, characters, length in
    guard let state = CanonicalStream.state(context), let characters, length > 0 else { return }
    state.text(UnsafeBufferPointer(start: characters, count: Int(length)))
}

private let canonicalCDATA: cdataBlockSAXFunc = { context, characters, length in
    guard let state = CanonicalStream.state(context), let characters, length > 0 else { return }
    state.cdata(UnsafeBufferPointer(start: characters, count: Int(length)))
}

private let canonicalProcessingInstruction: processingInstructionSAXFunc = { context, target, data in
    guard let state = CanonicalStream.state(context), let target = bytes(target) else { return }
    state.processingInstruction(target: target, data: bytes(data) ?? [])
}

private let canonicalComment: commentSAXFunc = { context, _ in
    CanonicalStream.state(context)?.comment()
}

private let canonicalDocumentType: internalSubsetSAXFunc = { context, _, _, _ in
    CanonicalStream.state(context)?.fail(XMLError(.forbiddenConstruct, "document type declarations are not allowed"))
}

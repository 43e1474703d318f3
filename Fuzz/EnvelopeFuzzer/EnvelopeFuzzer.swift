import EnvelopeXML

/// libFuzzer entry point: the envelope layer on one input. The input goes through
/// `MessageInput` first, so both bare XML seeds and whole MIME messages reach the XML parser with
/// a realistic envelope; input no loader accepts still goes to the XML parser as it is.
///
/// Besides not crashing, what the gateway writes about an accepted message must read back the
/// same: rebuilding its `eb:Messaging` with `EnvelopeBuilder` and parsing that again gives an
/// equal model, and the builder's Messaging bytes are the exclusive canonical form a verifier
/// computes (receipts and signals echo values a peer chose, so any string the parser accepts
/// must survive the trip). And the XML it reads canonicalises alike streamed and as a tree.
@_cdecl("LLVMFuzzerTestOneInput")
public func envelopeFuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let raw = try? MessageInput.load(bytes: bytes) else {
        checkStreamingCanonicalForm(bytes)
        _ = try? EnvelopeParser.parse(bytes)
        return 0
    }
    checkStreamingCanonicalForm(raw.envelope)
    guard let message = try? AS4Message.read(raw) else { return 0 }
    _ = try? message.verifyCompressedParts()
    _ = message.envelope.hasSignature
    _ = message.envelope.hasEncryptedParts
    _ = message.envelope.bodyHasContent
    checkRebuild(message.messaging, soapVersion: message.envelope.soapVersion)
    return 0
}

func checkRebuild(_ messaging: Messaging, soapVersion: SOAPVersion) {
    let built = EnvelopeBuilder.build(messaging, soapVersion: soapVersion)
    let reparsed: ParsedEnvelope
    do {
        reparsed = try EnvelopeParser.parse(built.bytes)
    } catch {
        fatalError("the envelope built from an accepted message is refused: \(error)\n"
                   + String(decoding: built.bytes, as: UTF8.self))
    }
    guard reparsed.messaging == messaging else {
        fatalError("the rebuilt envelope reads back differently:\n was \(messaging)\n now \(reparsed.messaging)")
    }
    guard built.messagingIsCanonical else { return }
    let canonical: [UInt8]
    do {
        canonical = try Canonicalizer.exclusive(reparsed.messagingElement)
    } catch {
        fatalError("exclusive C14N of a built eb:Messaging failed: \(error)")
    }
    guard canonical == Array(built.bytes[built.messagingRange]) else {
        fatalError("built eb:Messaging is not in canonical form:\n built \(String(decoding: built.bytes[built.messagingRange], as: UTF8.self))\n c14n  \(String(decoding: canonical, as: UTF8.self))")
    }
}

/// `StreamingCanonicalizer` (XML attachments' digests) and the tree canonicaliser agree on every
/// document: the same bytes, or both refuse it (or the stream refuses a canonical form beyond its
/// expansion bound). Read in small pieces, so that every construct
/// also meets a piece boundary; and, when it is UTF-8 text, once more in UTF-16, where every
/// ASCII character carries a NUL byte and a piece may end within a character.
func checkStreamingCanonicalForm(_ document: [UInt8]) {
    checkStreamingCanonicalForm(document, chunkSize: 7)
    if let text = String(validating: document, as: UTF8.self) {
        let utf16: [UInt8] = [0xFF, 0xFE] + text.utf16.flatMap { unit -> [UInt8] in [UInt8(unit & 0xFF), UInt8(unit >> 8)] }
        checkStreamingCanonicalForm(utf16, chunkSize: 3 + document.count % 11)
    }
}

func checkStreamingCanonicalForm(_ document: [UInt8], chunkSize: Int) {
    let tree = try? Canonicalizer.exclusive(document: try XMLDocument(parsing: document, limits: .payload))
    var out: [UInt8] = []
    let streamed: [UInt8]? = (try? StreamingCanonicalizer.exclusive(.bytes(document), limits: .payload, chunkSize: chunkSize) { out += $0 }) != nil ? out : nil
    // The stream alone bounds how far the canonical form may outgrow the document.
    if streamed == nil, let tree, UInt64(tree.count) > StreamingCanonicalizer.outputBound(documentBytes: UInt64(document.count)) { return }
    guard tree == streamed else {
        fatalError("streamed (\(chunkSize)-byte pieces) and tree canonical forms differ:\n tree     \(tree.map { String(decoding: $0, as: UTF8.self) } ?? "refused")"
                   + "\n streamed \(streamed.map { String(decoding: $0, as: UTF8.self) } ?? "refused")")
    }
}

/// An envelope as built, with where its signed elements lie.
public struct BuiltEnvelope: Sendable {
    public var bytes: [UInt8]
    /// Byte ranges of `eb:Messaging` and the Body. Each is written in its exclusive-canonical
    /// form, so these bytes are what a verifier's exc-c14n of the element produces (only for
    /// user messages and signals without foreign content; see `messagingIsCanonical`).
    public var messagingRange: Range<Int>
    public var bodyRange: Range<Int>
    /// False when the header holds foreign XML (receipt content) whose canonical form in context
    /// could differ from the standalone form we embed: canonicalise by parsing instead.
    public var messagingIsCanonical: Bool
    /// Where a Security header block goes (right after the Header start tag).
    public var headerInsertionOffset: Int

    /// The same envelope with a `wsse:Security` header block as first header child.
    public func inserting(securityHeader: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + securityHeader.count)
        out.append(contentsOf: bytes[..<headerInsertionOffset])
        out.append(contentsOf: securityHeader)
        out.append(contentsOf: bytes[headerInsertionOffset...])
        return out
    }
}

/// Writes an `eb:Messaging` header into a SOAP envelope, deterministically, with `eb:Messaging`
/// and the Body in exclusive-canonical form (namespace declarations and attributes sorted, no
/// empty-element shorthand, canonical escaping). The signer can then digest those bytes as they
/// stand instead of parsing the envelope back.
public enum EnvelopeBuilder {
    /// A full envelope. `securityHeader` is inserted verbatim as the first header block (where
    /// WSS4J-based peers put it); `bodyId` becomes the Body's `wsu:Id`.
    public static func envelope(_ messaging: Messaging, bodyId: String? = nil, securityHeader: [UInt8]? = nil,
                                soapVersion: SOAPVersion = .soap12, fault: SOAPFault? = nil) -> [UInt8] {
        let built = build(messaging, bodyId: bodyId, soapVersion: soapVersion, fault: fault)
        return securityHeader.map { built.inserting(securityHeader: $0) } ?? built.bytes
    }

    /// `fault` goes into the Body (written in canonical form like the rest, so still digested as
    /// built); its header blocks (env:NotUnderstood, Upgrade) follow eb:Messaging in the Header, outside what is signed.
    public static func build(_ messaging: Messaging, bodyId: String? = nil, soapVersion: SOAPVersion = .soap12,
                             fault: SOAPFault? = nil) -> BuiltEnvelope {
        let env = soapVersion == .soap12 ? "env" : "S11"
        var w = XMLWriter()
        w.open("\(env):Envelope", [("xmlns:\(env)", soapVersion.namespace)])
        w.open("\(env):Header")
        let insertion = w.bytes.count
        let mStart = w.bytes.count
        writeMessaging(messaging, soapPrefix: env, soapVersion: soapVersion, into: &w)
        let mEnd = w.bytes.count
        fault?.writeHeaderBlocks(soapPrefix: env, soapVersion: soapVersion, into: &w)
        w.close("\(env):Header")
        let bStart = w.bytes.count
        // Canonical order: xmlns declarations by prefix, then wsu:Id.
        var bodyAttributes: [(String, String?)] = [("xmlns:\(env)", soapVersion.namespace)]
        if let bodyId { bodyAttributes += [("xmlns:wsu", NS.wsu), ("wsu:Id", bodyId)] }
        w.open("\(env):Body", bodyAttributes)
        fault?.write(soapPrefix: env, soapVersion: soapVersion, into: &w)
        w.close("\(env):Body")
        let bEnd = w.bytes.count
        w.close("\(env):Envelope")
        let foreign = messaging.units.contains { if case .signal(let s) = $0, case .receipt = s.kind { return true } else { return false } }
        return BuiltEnvelope(bytes: w.bytes, messagingRange: mStart..<mEnd, bodyRange: bStart..<bEnd,
                             messagingIsCanonical: !foreign, headerInsertionOffset: insertion)
    }

    static func writeMessaging(_ m: Messaging, soapPrefix env: String, soapVersion: SOAPVersion, into w: inout XMLWriter) {
        // Namespace declarations sorted by prefix (code point order: "S11" < "eb" < "env" < "wsu"),
        // then attributes by namespace URI: wsu's (docs.oasis-open.org) before SOAP's (w3.org /
        // xmlsoap.org both sort after "http://docs.").
        var decls: [(String, String)] = [("eb", NS.eb), (env, soapVersion.namespace)]
        if m.id != nil { decls.append(("wsu", NS.wsu)) }
        decls.sort { Array($0.0.utf8).lexicographicallyPrecedes(Array($1.0.utf8)) }
        var attrs: [(String, String?)] = decls.map { ("xmlns:\($0.0)", $0.1) }
        attrs.append(("wsu:Id", m.id))
        attrs.append(("\(env):mustUnderstand", soapVersion == .soap12 ? "true" : "1"))
        w.open("eb:Messaging", attrs)
        // Schema order: signals before the user message (ebMS3 §5.2).
        for case .signal(let s) in m.units { writeSignal(s, into: &w) }
        for case .user(let u) in m.units { writeUser(u, into: &w) }
        w.close("eb:Messaging")
    }

    static func empty(_ name: String, _ attributes: [(String, String?)], into w: inout XMLWriter) {
        w.open(name, attributes)
        w.close(name)
    }

    static func writeMessageInfo(_ info: MessageInfo, into w: inout XMLWriter) {
        w.open("eb:MessageInfo")
        w.element("eb:Timestamp", text: info.timestamp.lexical)
        w.element("eb:MessageId", text: info.messageId)
        if let ref = info.refToMessageId { w.element("eb:RefToMessageId", text: ref) }
        w.close("eb:MessageInfo")
    }

    static func writeParty(_ tag: String, _ party: Party, into w: inout XMLWriter) {
        w.open(tag)
        for id in party.ids { w.element("eb:PartyId", [("type", id.type)], text: id.value) }
        w.element("eb:Role", text: party.role)
        w.close(tag)
    }

    static func writeProperties(_ tag: String, _ props: [Property], into w: inout XMLWriter) {
        guard !props.isEmpty else { return }
        w.open(tag)
        for p in props { w.element("eb:Property", [("name", p.name), ("type", p.type)], text: p.value) }
        w.close(tag)
    }

    /// A copy of `u` for the receipt of a message received without a signature (AS4 §5.1.8: a
    /// reception-awareness receipt holds a copy of the eb:UserMessage). The eb:Receipt schema
    /// admits only foreign content (AS4-WIRE §5.2), and phase4 validates against it, so the copy
    /// is an element of our own namespace with eb:UserMessage's attributes and children: Domibus,
    /// when its agreement asks for no non-repudiation, reads the receipt's one element as an
    /// eb:UserMessage whatever its name (JAXB by declared type) and requires it to equal the
    /// message it sent, which a wrapper around an eb:UserMessage never did.
    public static func userMessageCopy(_ u: UserMessage) -> String {
        var w = XMLWriter()
        writeUser(u, element: "as4gw:UserMessage", declarations: [("xmlns:as4gw", "urn:as4gw:receipt"), ("xmlns:eb", NS.eb)], into: &w)
        return String(decoding: w.bytes, as: UTF8.self)
    }

    static func writeUser(_ u: UserMessage, element: String = "eb:UserMessage", declarations: [(String, String?)] = [],
                          into w: inout XMLWriter) {
        w.open(element, declarations + [("mpc", u.mpc)])
        writeMessageInfo(u.messageInfo, into: &w)
        w.open("eb:PartyInfo")
        writeParty("eb:From", u.from, into: &w)
        writeParty("eb:To", u.to, into: &w)
        w.close("eb:PartyInfo")
        let c = u.collaboration
        w.open("eb:CollaborationInfo")
        if let a = c.agreementRef { w.element("eb:AgreementRef", [("pmode", a.pmode), ("type", a.type)], text: a.value) }
        w.element("eb:Service", [("type", c.service.type)], text: c.service.value)
        w.element("eb:Action", text: c.action)
        w.element("eb:ConversationId", text: c.conversationId)
        w.close("eb:CollaborationInfo")
        writeProperties("eb:MessageProperties", u.properties, into: &w)
        if !u.payloads.isEmpty {
            w.open("eb:PayloadInfo")
            for p in u.payloads {
                w.open("eb:PartInfo", [("href", p.href)])
                for s in p.schemas {
                    empty("eb:Schema", [("location", s.location), ("namespace", s.namespace), ("version", s.version)], into: &w)
                }
                if let d = p.description { w.element("eb:Description", [("xml:lang", d.lang)], text: d.text) }
                writeProperties("eb:PartProperties", p.properties, into: &w)
                w.close("eb:PartInfo")
            }
            w.close("eb:PayloadInfo")
        }
        w.close(element)
    }

    static func writeSignal(_ s: SignalMessage, into w: inout XMLWriter) {
        w.open("eb:SignalMessage")
        writeMessageInfo(s.messageInfo, into: &w)
        switch s.kind {
        case .pullRequest(let p):
            empty("eb:PullRequest", [("mpc", p.mpc)], into: &w)
        case .receipt(let r):
            w.open("eb:Receipt")
            for c in r.content { w.raw(c) }
            w.close("eb:Receipt")
        case .errors(let errors):
            for e in errors {
                w.open("eb:Error", [("category", e.category), ("errorCode", e.errorCode), ("origin", e.origin),
                                    ("refToMessageInError", e.refToMessageInError), ("severity", e.severity),
                                    ("shortDescription", e.shortDescription)])
                if let d = e.description { w.element("eb:Description", [("xml:lang", d.lang)], text: d.text) }
                if let detail = e.detail { w.element("eb:ErrorDetail", text: detail) }
                w.close("eb:Error")
            }
        }
        w.close("eb:SignalMessage")
    }
}

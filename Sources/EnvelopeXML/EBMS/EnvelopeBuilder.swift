/// Writes an `eb:Messaging` header into a SOAP envelope. The output is deterministic for a given
/// input, so the signer can build once to compute digests and again with the Security header
/// in place, and get the same bytes for every signed element.
public enum EnvelopeBuilder {
    /// A full envelope. `securityHeader` is inserted verbatim as the first header block (where
    /// WSS4J-based peers put it); `bodyId` becomes the Body's `wsu:Id`.
    public static func envelope(_ messaging: Messaging, bodyId: String? = nil, securityHeader: [UInt8]? = nil,
                                soapVersion: SOAPVersion = .soap12) -> [UInt8] {
        let env = soapVersion == .soap12 ? "env" : "S11"
        var w = XMLWriter()
        w.open("\(env):Envelope", [("xmlns:\(env)", soapVersion.namespace)])
        w.open("\(env):Header")
        if let securityHeader { w.raw(securityHeader) }
        writeMessaging(messaging, soapPrefix: env, soapVersion: soapVersion, into: &w)
        w.close("\(env):Header")
        if let bodyId {
            w.open("\(env):Body", [("xmlns:wsu", NS.wsu), ("wsu:Id", bodyId)], selfClosing: true)
        } else {
            w.open("\(env):Body", selfClosing: true)
        }
        w.close("\(env):Envelope")
        return w.bytes
    }

    static func writeMessaging(_ m: Messaging, soapPrefix env: String, soapVersion: SOAPVersion, into w: inout XMLWriter) {
        var attrs: [(String, String?)] = [("xmlns:eb", NS.eb)]
        if m.id != nil { attrs.append(("xmlns:wsu", NS.wsu)) }
        attrs.append(("\(env):mustUnderstand", soapVersion == .soap12 ? "true" : "1"))
        attrs.append(("wsu:Id", m.id))
        w.open("eb:Messaging", attrs)
        // Schema order: signals before the user message (ebMS3 §5.2).
        for case .signal(let s) in m.units { writeSignal(s, into: &w) }
        for case .user(let u) in m.units { writeUser(u, into: &w) }
        w.close("eb:Messaging")
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

    static func writeUser(_ u: UserMessage, into w: inout XMLWriter) {
        w.open("eb:UserMessage", [("mpc", u.mpc)])
        writeMessageInfo(u.messageInfo, into: &w)
        w.open("eb:PartyInfo")
        writeParty("eb:From", u.from, into: &w)
        writeParty("eb:To", u.to, into: &w)
        w.close("eb:PartyInfo")
        let c = u.collaboration
        w.open("eb:CollaborationInfo")
        if let a = c.agreementRef { w.element("eb:AgreementRef", [("type", a.type), ("pmode", a.pmode)], text: a.value) }
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
                    w.open("eb:Schema", [("location", s.location), ("version", s.version), ("namespace", s.namespace)], selfClosing: true)
                }
                if let d = p.description { w.element("eb:Description", [("xml:lang", d.lang)], text: d.text) }
                writeProperties("eb:PartProperties", p.properties, into: &w)
                w.close("eb:PartInfo")
            }
            w.close("eb:PayloadInfo")
        }
        w.close("eb:UserMessage")
    }

    static func writeSignal(_ s: SignalMessage, into w: inout XMLWriter) {
        w.open("eb:SignalMessage")
        writeMessageInfo(s.messageInfo, into: &w)
        switch s.kind {
        case .pullRequest(let p):
            w.open("eb:PullRequest", [("mpc", p.mpc)], selfClosing: true)
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

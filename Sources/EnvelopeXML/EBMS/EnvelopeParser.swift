/// Reads an `eb:Messaging` header out of a SOAP 1.2 or 1.1 envelope and validates it against
/// ebMS 3.0 Core §5.2. Missing or malformed required elements are EBMS:0009 InvalidHeader;
/// inconsistent values are EBMS:0003; unknown enumerated values are EBMS:0001. Nothing is
/// defaulted silently: optional values stay nil.
public enum EnvelopeParser {
    public static func parse(_ bytes: [UInt8], limits: XMLLimits = .envelope) throws(EbmsError) -> ParsedEnvelope {
        let document: XMLDocument
        do {
            document = try XMLDocument(parsing: bytes, limits: limits)
        } catch {
            throw error.ebmsError
        }
        return try parse(document)
    }

    public static func parse(_ document: XMLDocument) throws(EbmsError) -> ParsedEnvelope {
        guard let root = document.root else { throw invalid("document has no root element") }
        guard root.localName == "Envelope", let ns = root.namespaceURI, let version = SOAPVersion(namespace: ns) else {
            throw invalid("root element {\(root.namespaceURI ?? "")}\(root.localName) is not a SOAP 1.2 or 1.1 Envelope")
        }
        var findings: [ProfileFinding] = []
        if version == .soap11 {
            // PMode[].Protocol.SOAPVersion is 1.2 in eDelivery: a P-Mode mismatch, not a security one.
            findings.append(ProfileFinding(.processingModeMismatch, "SOAP 1.1 envelope: the eDelivery AS4 profile requires SOAP 1.2"))
        }
        let soapChildren = root.children
        let headers = soapChildren.filter { $0.isElement("Header", version.namespace) }
        var bodies = soapChildren.filter { $0.isElement("Body", version.namespace) }
        guard headers.count == 1 else {
            throw invalid(headers.isEmpty ? "SOAP Header is missing" : "envelope has \(headers.count) SOAP Header elements")
        }
        let other: SOAPVersion = version == .soap12 ? .soap11 : .soap12
        if bodies.isEmpty {
            // Seen from a BizTalk setup: a SOAP 1.1 Body inside a SOAP 1.2 envelope.
            bodies = soapChildren.filter { $0.isElement("Body", other.namespace) }
            if bodies.count == 1 {
                findings.append(ProfileFinding(.invalidHeader, "the SOAP Body is in the SOAP \(other.rawValue) namespace inside a SOAP \(version.rawValue) envelope"))
            }
        }
        guard bodies.count == 1 else {
            throw invalid(bodies.isEmpty ? "SOAP Body is missing" : "envelope has \(bodies.count) SOAP Body elements")
        }
        if let stray = soapChildren.first(where: { !headers.contains($0) && !bodies.contains($0) }) {
            throw invalid("unexpected element \(stray.qualifiedName) in the SOAP Envelope")
        }
        let header = headers[0]
        let blocks = header.children
        let messagingBlocks = blocks.filter { $0.isElement("Messaging", NS.eb) }
        guard messagingBlocks.count == 1 else {
            throw invalid(messagingBlocks.isEmpty ? "eb:Messaging header is missing"
                                                   : "envelope has \(messagingBlocks.count) eb:Messaging headers")
        }
        let messagingElement = messagingBlocks[0]
        let mustUnderstand = messagingElement.attribute("mustUnderstand", version.namespace)
        switch mustUnderstand?.trimmingXMLWhitespace() {
        case "true", "1": break
        case nil: findings.append(ProfileFinding(.invalidHeader, "eb:Messaging lacks mustUnderstand=\"true\""))
        case "false", "0": findings.append(ProfileFinding(.invalidHeader, "eb:Messaging has mustUnderstand set to false"))
        case let other?: throw invalid("eb:Messaging mustUnderstand has the invalid value \"\(other)\"")
        }
        let messaging = try readMessaging(messagingElement, findings: &findings)
        // A Security block aimed at another role (SOAP 1.2 Part 1 §2.2) is not ours to process or
        // to count: for us it is as if absent, in every path that reads the header.
        let security = blocks.filter { $0.isElement("Security", NS.wsse) && SOAPRole.targetsUltimateReceiver($0, version) }

        let body = bodies[0]
        let envelope = ParsedEnvelope(document: document, soapVersion: version, messaging: messaging,
                                      envelopeElement: root, headerElement: header, messagingElement: messagingElement,
                                      bodyElement: body, securityHeaders: security, profileFindings: [])
        if envelope.bodyHasContent, messaging.userMessage != nil {
            findings.append(ProfileFinding(.featureNotSupportedUnpackaging,
                                           "payload in the SOAP Body: eDelivery AS4 carries payloads only as MIME attachments"))
        }
        var parsed = ParsedEnvelope(document: document, soapVersion: version, messaging: messaging,
                                    envelopeElement: root, headerElement: header, messagingElement: messagingElement,
                                    bodyElement: body, securityHeaders: security, profileFindings: findings)
        // eb:Messaging and wsse:Security are ours to process; any other mandatory block aimed at
        // us is one we do not understand.
        parsed.notUnderstood = blocks.filter {
            !$0.isElement("Messaging", NS.eb) && !$0.isElement("Security", NS.wsse)
                && SOAPRole.mustUnderstand($0, version) && SOAPRole.targetsUltimateReceiver($0, version)
        }.map(HeaderBlockName.init)
        return parsed
    }

    // MARK: - eb:Messaging

    static func readMessaging(_ e: XMLElement, findings: inout [ProfileFinding]) throws(EbmsError) -> Messaging {
        var units: [MessageUnit] = []
        var seenUser = false
        var signalKinds: Set<String> = []
        for child in e.children {
            guard child.namespaceURI == NS.eb else { continue }  // ##other extensions are allowed
            switch child.localName {
            case "SignalMessage":
                if seenUser { throw invalid("eb:SignalMessage after eb:UserMessage (the schema puts signals first)") }
                let signal = try readSignal(child)
                guard signalKinds.insert(signal.kind.name).inserted else {
                    throw invalid("two \(signal.kind.name) signals in one eb:Messaging (ebMS3 §5.2.4)")
                }
                units.append(.signal(signal))
            case "UserMessage":
                if seenUser { throw invalid("more than one eb:UserMessage in eb:Messaging") }
                seenUser = true
                units.append(.user(try readUser(child, findings: &findings)))
            default:
                throw invalid("unexpected element eb:\(child.localName) in eb:Messaging")
            }
        }
        guard !units.isEmpty else { throw invalid("eb:Messaging contains no message unit") }
        if units.count > 1 {
            findings.append(ProfileFinding(.featureNotSupportedUnpackaging,
                                           "bundled message units (\(units.count)): the AS4 profile sends one unit per message"))
        }
        let id = e.attribute("Id", NS.wsu) ?? e.attribute("id")
        return Messaging(units: units, id: id)
    }

    static func readMessageInfo(_ parent: XMLElement, unit: String) throws(EbmsError) -> MessageInfo {
        let info = try required(parent, "MessageInfo", in: unit)
        let tsText = try requiredText(info, "Timestamp", in: "\(unit)/MessageInfo")
        guard let ts = Timestamp(lexical: tsText) else {
            throw invalid("eb:Timestamp \"\(tsText)\" is not a valid xsd:dateTime")
        }
        let id = try requiredText(info, "MessageId", in: "\(unit)/MessageInfo")
        try checkMessageId(id, "MessageId")
        var ref: String?
        if let r = info.firstChild("RefToMessageId", NS.eb) {
            let value = r.trimmedText
            try checkMessageId(value, "RefToMessageId")
            ref = value
        }
        return MessageInfo(timestamp: ts, messageId: id, refToMessageId: ref)
    }

    /// The longest eb:MessageId or eb:RefToMessageId accepted, in characters (Unicode scalars).
    /// ebMS3 sets no bound, but every id is stored, logged, echoed in receipts and errors and
    /// shown to operators; 255 is what Domibus accepts, so no partner id that interoperates
    /// today is refused, and ids we make (a UUID and our party) stay far below it.
    public static let maxMessageIdLength = 255

    /// What a receiver accepts as eb:MessageId or eb:RefToMessageId; senders check their ids
    /// with it before anything is sealed (the operators' `/submit`, `as4gw send --message-id`).
    public static func checkMessageId(_ id: String, _ name: String) throws(EbmsError) {
        guard !id.isEmpty else { throw invalid("eb:\(name) is empty") }
        // Nearly every id is printable ASCII: no angle bracket at either end, and neither white
        // space nor a control or format character, which need Unicode's property tables (those
        // lookups, per character, were 6 % of checking a receipt).
        let utf8 = id.utf8
        if utf8.count <= maxMessageIdLength, utf8.first != UInt8(ascii: "<"), utf8.last != UInt8(ascii: ">"),
           utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) {
            return
        }
        let length = id.unicodeScalars.count
        guard length <= maxMessageIdLength else {
            // Not echoed: the id is what is too long for a reason, a log line or a receipt.
            throw invalid("eb:\(name) is \(length) characters long; at most \(maxMessageIdLength) are accepted")
        }
        if id.hasPrefix("<") || id.hasSuffix(">") {
            throw invalid("eb:\(name) \"\(id)\" must not be enclosed in angle brackets")
        }
        // An RFC 5322 msg-id has neither; both would reach log lines, terminals and the DMS raw
        // (a line separator splits a log line, a bidi override reorders what an operator reads).
        if id.unicodeScalars.contains(where: \.properties.isWhitespace) {
            throw invalid("eb:\(name) contains white space")
        }
        if let c = id.unicodeScalars.first(where: { [.control, .format].contains($0.properties.generalCategory) }) {
            throw invalid("eb:\(name) contains the control or format character U+\(String(c.value, radix: 16, uppercase: true))")
        }
    }

    // MARK: - UserMessage

    static func readUser(_ u: XMLElement, findings: inout [ProfileFinding]) throws(EbmsError) -> UserMessage {
        let info = try readMessageInfo(u, unit: "UserMessage")
        let partyInfo = try required(u, "PartyInfo", in: "UserMessage")
        let from = try readParty(try required(partyInfo, "From", in: "PartyInfo"), "From", findings: &findings)
        let to = try readParty(try required(partyInfo, "To", in: "PartyInfo"), "To", findings: &findings)
        let ci = try required(u, "CollaborationInfo", in: "UserMessage")
        var agreement: AgreementRef?
        if let a = ci.firstChild("AgreementRef", NS.eb) {
            let value = a.trimmedText
            guard !value.isEmpty else { throw invalid("eb:AgreementRef is empty") }
            agreement = AgreementRef(value, type: a.attribute("type"), pmode: a.attribute("pmode"))
            if agreement?.type == nil, !isURI(value) {
                findings.append(ProfileFinding(.valueInconsistent, "eb:AgreementRef \"\(value)\" has no type and is not a URI"))
            }
        }
        let serviceElement = try required(ci, "Service", in: "CollaborationInfo")
        let service = Service(serviceElement.trimmedText, type: serviceElement.attribute("type"))
        guard !service.value.isEmpty else { throw invalid("eb:Service is empty") }
        if service.type == nil, !isURI(service.value) {
            findings.append(ProfileFinding(.valueInconsistent, "eb:Service \"\(service.value)\" has no type and is not a URI"))
        }
        // Action and ConversationId are xsd:token: the schema admits an empty value, so absence
        // is an error and emptiness is not. An empty Action names no leg (a finding); an empty
        // ConversationId (white space collapses to it) is taken as it is: ENTSOG's AS4 profile,
        // which eDelivery AS4 is a subset of, prescribes it, and RSSBus sends it. It is kept as
        // "": a Two-Way reply to such a request carries "" too (AS4-WIRE §1.3).
        let action = try required(ci, "Action", in: "CollaborationInfo").trimmedText
        if action.isEmpty { findings.append(ProfileFinding(.invalidHeader, "eb:Action is empty")) }
        let conversation = try required(ci, "ConversationId", in: "CollaborationInfo").trimmedText
        let props = try readProperties(u.firstChild("MessageProperties", NS.eb), "MessageProperties")
        var parts: [PartInfo] = []
        if let payloadInfo = u.firstChild("PayloadInfo", NS.eb) {
            let infos = payloadInfo.children("PartInfo", NS.eb)
            guard !infos.isEmpty else { throw invalid("eb:PayloadInfo has no eb:PartInfo") }
            var hrefs: Set<String> = []
            for p in infos {
                let part = try readPartInfo(p, findings: &findings)
                // Compared as the part they name: `cid:a@b` and `cid:a%40b` are one MIME part,
                // which would otherwise be delivered twice, perhaps once as compressed and once not.
                let key = part.contentID.map { "cid:" + $0 } ?? part.href ?? ""
                guard hrefs.insert(key).inserted else {
                    throw invalid(part.href.map { "two eb:PartInfo elements reference \($0)" } ?? "two eb:PartInfo elements reference the SOAP Body")
                }
                parts.append(part)
            }
        }
        return UserMessage(mpc: u.attribute("mpc"), messageInfo: info, from: from, to: to,
                           collaboration: CollaborationInfo(agreementRef: agreement, service: service,
                                                            action: action, conversationId: conversation),
                           properties: props, payloads: parts)
    }

    static func readParty(_ e: XMLElement, _ name: String, findings: inout [ProfileFinding]) throws(EbmsError) -> Party {
        let idElements = e.children("PartyId", NS.eb)
        guard !idElements.isEmpty else { throw invalid("eb:\(name) has no eb:PartyId") }
        var ids: [PartyId] = []
        for i in idElements {
            let value = i.trimmedText
            guard !value.isEmpty else { throw invalid("eb:\(name)/eb:PartyId is empty") }
            let id = PartyId(value, type: i.attribute("type"))
            if id.type == nil, !isURI(value) {
                findings.append(ProfileFinding(.valueInconsistent, "eb:\(name)/eb:PartyId \"\(value)\" has no type and is not a URI (ebMS3 §5.2.2.4)"))
            }
            ids.append(id)
        }
        // Several PartyIds (ebMS3 §5.2.2.4 allows them; Holodeck B2B sends them) are read all:
        // P-Mode selection takes them only when every one names the same party (PModeMatcher).
        let role = try requiredText(e, "Role", in: name)
        return Party(ids: ids, role: role)
    }

    static func readProperties(_ container: XMLElement?, _ name: String) throws(EbmsError) -> [Property] {
        guard let container else { return [] }
        var out: [Property] = []
        for p in container.children("Property", NS.eb) {
            guard let propName = p.attribute("name"), !propName.isEmpty else {
                throw invalid("eb:\(name)/eb:Property has no name attribute")
            }
            out.append(Property(propName, p.text, type: p.attribute("type")))
        }
        return out
    }

    /// The part properties AS4 gives a meaning (AS4 §5.1.6: MimeType, CharacterSet,
    /// CompressionType), named as the profile spells them whatever case a sender used: phase4
    /// reads them regardless of case, and a `compressionType` read as an ordinary property would
    /// leave a compressed payload compressed, handed over as if it were the document. One of
    /// them given twice is refused: which one holds would be a guess.
    static func reservedPartPropertiesNamed(_ properties: [Property]) throws(EbmsError) -> [Property] {
        let reserved = [EbmsConstants.mimeType, EbmsConstants.characterSet, EbmsConstants.compressionType]
        var seen: Set<String> = []
        var out: [Property] = []
        for var property in properties {
            if let canonical = reserved.first(where: { $0.caseInsensitiveCompare(property.name) == .orderedSame }) {
                guard seen.insert(canonical).inserted else {
                    throw invalid("eb:PartProperties names \(canonical) more than once")
                }
                property.name = canonical
            }
            out.append(property)
        }
        return out
    }

    static func readPartInfo(_ p: XMLElement, findings: inout [ProfileFinding]) throws(EbmsError) -> PartInfo {
        let href = p.attribute("href")
        if let href {
            if !href.hasPrefix("cid:") {
                findings.append(ProfileFinding(.externalPayloadError,
                                               "eb:PartInfo href \"\(href)\" is not a cid: reference to a MIME part"))
            }
        } else {
            findings.append(ProfileFinding(.featureNotSupportedUnpackaging, "eb:PartInfo without href refers to the SOAP Body"))
        }
        var schemas: [PartSchema] = []
        for s in p.children("Schema", NS.eb) {
            guard let location = s.attribute("location") else { throw invalid("eb:Schema has no location") }
            schemas.append(PartSchema(location: location, version: s.attribute("version"), namespace: s.attribute("namespace")))
        }
        var description: PartDescription?
        if let d = p.firstChild("Description", NS.eb) {
            description = PartDescription(d.text, lang: d.attribute("lang", NS.xml))
        }
        let propsElement = p.firstChild("PartProperties", NS.eb)
        let props = try reservedPartPropertiesNamed(try readProperties(propsElement, "PartProperties"))
        if propsElement != nil, props.isEmpty {
            findings.append(ProfileFinding(.invalidHeader, "empty eb:PartProperties (the schema requires at least one eb:Property)"))
        }
        return PartInfo(href: href, schemas: schemas, description: description, properties: props)
    }

    // MARK: - SignalMessage

    static func readSignal(_ s: XMLElement) throws(EbmsError) -> SignalMessage {
        let info = try readMessageInfo(s, unit: "SignalMessage")
        let pulls = s.children("PullRequest", NS.eb)
        let receipts = s.children("Receipt", NS.eb)
        let errors = s.children("Error", NS.eb)
        let kinds = (pulls.isEmpty ? 0 : 1) + (receipts.isEmpty ? 0 : 1) + (errors.isEmpty ? 0 : 1)
        guard kinds == 1, pulls.count <= 1, receipts.count <= 1 else {
            throw invalid("eb:SignalMessage must carry exactly one PullRequest, one Receipt, or Errors")
        }
        if let p = pulls.first {
            return SignalMessage(messageInfo: info, kind: .pullRequest(PullRequest(mpc: p.attribute("mpc"))))
        }
        if let r = receipts.first {
            guard info.refToMessageId != nil else { throw invalid("a Receipt signal needs eb:RefToMessageId") }
            var content: [String] = []
            for child in r.children {
                // The schema admits foreign content only, but AS4 §5.1.8 asks reception-awareness
                // receipts for "a copy of the eb:UserMessage", which some senders put there as is.
                if child.namespaceURI == NS.eb && !child.isElement("UserMessage", NS.eb) {
                    throw invalid("eb:Receipt content must be in a foreign namespace (or be a copy of eb:UserMessage)")
                }
                do {
                    content.append(String(decoding: try Canonicalizer.exclusive(child), as: UTF8.self))
                } catch {
                    throw invalid("eb:Receipt content cannot be canonicalised: \(error)")
                }
            }
            // An empty eb:Receipt (phase4 before 3.0 answers an unsigned message so) is read as
            // one: it acknowledges nothing more than its RefToMessageId, which is all a
            // reception-awareness receipt of an unsigned agreement does; where we signed, the
            // ReceiptValidator still wants the NonRepudiationInformation (EBMS:0302).
            return SignalMessage(messageInfo: info, kind: .receipt(Receipt(content: content)))
        }
        var details: [ErrorDetail] = []
        for e in errors {
            details.append(try readError(e))
        }
        return SignalMessage(messageInfo: info, kind: .errors(details))
    }

    /// One `eb:Error`, in an error signal or in a SOAP Fault's Detail (`SOAPFault.read`).
    static func readError(_ e: XMLElement) throws(EbmsError) -> ErrorDetail {
        guard let code = e.attribute("errorCode"), !code.isEmpty else { throw invalid("eb:Error has no errorCode") }
        guard let severity = e.attribute("severity") else { throw invalid("eb:Error has no severity") }
        guard ["warning", "failure"].contains(severity.lowercased()) else {
            throw EbmsError(.valueNotRecognized, "eb:Error severity \"\(severity)\" is neither warning nor failure")
        }
        var description: PartDescription?
        if let d = e.firstChild("Description", NS.eb) { description = PartDescription(d.text, lang: d.attribute("lang", NS.xml)) }
        return ErrorDetail(errorCode: code, severity: severity, origin: e.attribute("origin"),
                           category: e.attribute("category"), refToMessageInError: e.attribute("refToMessageInError"),
                           shortDescription: e.attribute("shortDescription"), description: description,
                           detail: e.firstChild("ErrorDetail", NS.eb)?.text)
    }

    // MARK: - helpers

    static func invalid(_ reason: String) -> EbmsError { EbmsError(.invalidHeader, reason) }

    static func required(_ parent: XMLElement, _ name: String, in context: String) throws(EbmsError) -> XMLElement {
        let found = parent.children(name, NS.eb)
        guard found.count == 1 else {
            throw invalid(found.isEmpty ? "eb:\(context) has no eb:\(name)" : "eb:\(context) has \(found.count) eb:\(name) elements")
        }
        return found[0]
    }

    static func requiredText(_ parent: XMLElement, _ name: String, in context: String) throws(EbmsError) -> String {
        let value = try required(parent, name, in: context).trimmedText
        guard !value.isEmpty else { throw invalid("eb:\(context)/eb:\(name) is empty") }
        return value
    }

    /// An absolute URI: a scheme followed by ':' (RFC 3986 §3.1), e.g. `urn:...`, `http://...`.
    static func isURI(_ s: String) -> Bool {
        var sawScheme = false
        for (i, c) in s.unicodeScalars.enumerated() {
            if c == ":" { return sawScheme && i > 0 }
            let ok = (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (i > 0 && ((c >= "0" && c <= "9") || c == "+" || c == "-" || c == "."))
            guard ok else { return false }
            sawScheme = true
        }
        return false
    }
}

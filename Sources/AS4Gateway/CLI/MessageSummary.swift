import EnvelopeXML

/// The JSON summary `inspect` prints for a message.
enum MessageSummary {
    static func json(of message: AS4Message) -> JSON {
        let env = message.envelope
        let m = message.messaging
        var fields: [(String, JSON)] = []
        let primary = m.primary
        fields.append(("kind", .string(kindName(primary))))
        if m.units.count > 1 { fields.append(("units", .array(m.units.map { .string(kindName($0)) }))) }
        fields.append(("soapVersion", .string(env.soapVersion.rawValue)))
        fields.append(("multipart", .bool(message.isMultipart)))
        if let info = primary?.messageInfo {
            fields.append(("messageId", .string(info.messageId)))
            fields.append(("refToMessageId", .string(info.refToMessageId)))
            fields.append(("timestamp", .string(info.timestamp.lexical)))
        }
        if let user = m.userMessage {
            fields.append(("mpc", .string(user.mpc)))
            fields.append(("from", party(user.from)))
            fields.append(("to", party(user.to)))
            let c = user.collaboration
            if let a = c.agreementRef {
                fields.append(("agreementRef", .object([("value", .string(a.value)), ("type", .string(a.type)), ("pmode", .string(a.pmode))])))
            } else {
                fields.append(("agreementRef", .null))
            }
            fields.append(("service", .object([("value", .string(c.service.value)), ("type", .string(c.service.type))])))
            fields.append(("action", .string(c.action)))
            fields.append(("conversationId", .string(c.conversationId)))
            fields.append(("properties", properties(user.properties)))
            fields.append(("parts", .array(user.payloads.map { part($0, message) })))
        }
        for signal in m.signals {
            switch signal.kind {
            case .receipt(let r):
                fields.append(("receipt", .object([("refToMessageId", .string(signal.messageInfo.refToMessageId)),
                                                   ("elements", .int(r.content.count)),
                                                   ("nonRepudiation", .bool(r.content.contains { $0.contains("NonRepudiationInformation") }))])))
            case .errors(let errors):
                fields.append(("errors", .array(errors.map { e in
                    .object([("errorCode", .string(e.errorCode)), ("severity", .string(e.severity)),
                             ("shortDescription", .string(e.shortDescription)), ("category", .string(e.category)),
                             ("origin", .string(e.origin)), ("refToMessageInError", .string(e.refToMessageInError)),
                             ("description", .string(e.description?.text)), ("detail", .string(e.detail))])
                })))
            case .pullRequest(let p):
                fields.append(("pullRequest", .object([("mpc", .string(p.mpc ?? EbmsConstants.defaultMPC))])))
            }
        }
        fields.append(("signed", .bool(env.hasSignature)))
        fields.append(("encrypted", .bool(env.hasEncryptedParts)))
        fields.append(("soapBodyContent", .bool(env.bodyHasContent)))
        fields.append(("profileFindings", .array(message.profileFindings.map {
            .object([("code", .string($0.code.rawValue)), ("message", .string($0.message))])
        })))
        return .object(fields)
    }

    static func kindName(_ unit: MessageUnit?) -> String {
        switch unit {
        case .user?: return "UserMessage"
        case .signal(let s)?: return s.kind.name
        case nil: return "none"
        }
    }

    static func party(_ p: Party) -> JSON {
        .object([("partyIds", .array(p.ids.map { .object([("value", .string($0.value)), ("type", .string($0.type))]) })),
                 ("role", .string(p.role))])
    }

    static func properties(_ props: [Property]) -> JSON {
        .array(props.map { .object([("name", .string($0.name)), ("value", .string($0.value)), ("type", .string($0.type))]) })
    }

    static func part(_ info: PartInfo, _ message: AS4Message) -> JSON {
        let cid = info.contentID
        let mime = cid.flatMap { message.attachment(contentID: $0) }
        let encrypted = cid.map { message.envelope.encryptedContentIDs.contains($0) } ?? false
        let mimeType = info.mimeType
            ?? cid.flatMap { message.envelope.encryptedMimeType(contentID: $0) }
            ?? mime?.contentType?.essence
        return .object([
            ("href", .string(info.href)),
            ("contentId", .string(cid)),
            ("mimeType", .string(mimeType)),
            ("contentType", .string(mime?.contentType?.essence)),
            ("size", mime.map { .uint($0.body.count) } ?? .null),
            ("present", .bool(mime != nil || info.href == nil)),
            ("compressed", .bool(info.isCompressed)),
            ("encrypted", .bool(encrypted)),
            ("properties", properties(info.properties)),
        ])
    }
}

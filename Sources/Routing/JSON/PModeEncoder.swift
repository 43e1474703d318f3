import EnvelopeXML

/// Writes parties and P-Modes in the file format `PModeLoader` reads (docs/PMODES.md). Settings are
/// written out in full, defaults included, so a generated file shows every decision taken.
enum PModeEncoder {
    static func partiesFile(_ parties: [Party], description: String?) -> String {
        var top: [(String, JSONOutput)] = []
        if let description { top.append(("description", .string(description))) }
        top.append(("parties", .array(parties.map(encode))))
        return JSONWriter.render(.object(top))
    }

    /// One P-Mode as a file of its own, or several under `pmodes`.
    static func pmodeFile(_ pmodes: [PMode], description: String?) -> String {
        if pmodes.count == 1 && description == nil { return JSONWriter.render(encode(pmodes[0])) }
        var top: [(String, JSONOutput)] = []
        if let description { top.append(("description", .string(description))) }
        top.append(("pmodes", .array(pmodes.map(encode))))
        return JSONWriter.render(.object(top))
    }

    static func encode(_ party: Party) -> JSONOutput {
        var o: [(String, JSONOutput)] = [("name", .string(party.name))]
        if let d = party.description { o.append(("description", .string(d))) }
        o.append(("partyIds", .array(party.partyIds.map(encode))))
        if let e = party.endpoint { o.append(("endpoint", .string(e.absoluteString))) }
        o.append(("certificates", .object(CertificateRole.allCases.map { role in
            (role.rawValue, .array((party.certificateFiles[role] ?? []).map(JSONOutput.string)))
        })))
        if !party.mpcs.isEmpty { o.append(("mpcs", .array(party.mpcs.map(JSONOutput.string)))) }
        return .object(o)
    }

    static func encode(_ id: PartyId) -> JSONOutput {
        var o: [(String, JSONOutput)] = [("value", .string(id.value))]
        if let t = id.type { o.append(("type", .string(t))) }
        return .object(o)
    }

    static func encode(_ pmode: PMode) -> JSONOutput {
        var o: [(String, JSONOutput)] = [("id", .string(pmode.id))]
        if let d = pmode.description { o.append(("description", .string(d))) }
        if let a = pmode.agreement {
            var agreement: [(String, JSONOutput)] = [("value", .string(a.value))]
            if let t = a.type { agreement.append(("type", .string(t))) }
            o.append(("agreement", .object(agreement)))
        }
        o.append(("mep", .string(pmode.mep.rawValue)))
        o.append(("binding", .string(pmode.binding.rawValue)))
        o.append(("initiator", .object([("party", .string(pmode.initiator.party)), ("role", .string(pmode.initiator.role))])))
        o.append(("responder", .object([("party", .string(pmode.responder.party)), ("role", .string(pmode.responder.role))])))
        o.append(("legs", .array(pmode.legs.map(encode))))
        return .object(o)
    }

    static func encode(_ leg: Leg) -> JSONOutput {
        var service: [(String, JSONOutput)] = [("value", .string(leg.service.value))]
        if let t = leg.service.type { service.append(("type", .string(t))) }
        var security: [(String, JSONOutput)] = [
            ("profile", .string(leg.security.profile.rawValue)), ("sign", .bool(leg.security.sign)),
            ("encrypt", .bool(leg.security.encrypt)), ("keyReference", .string(leg.security.keyReference.rawValue)),
            ("encryptionKeyReference", .string(leg.security.encryptionKeyReference.rawValue)),
        ]
        let a = leg.security.algorithms
        if !a.isEmpty {
            var algorithms: [(String, JSONOutput)] = []
            for (key, list) in [("signature", a.signature), ("digest", a.digest), ("keyEncryption", a.keyEncryption),
                                ("dataEncryption", a.dataEncryption)] {
                if let list { algorithms.append((key, .array(list.map(JSONOutput.string)))) }
            }
            security.append(("algorithms", .object(algorithms)))
        }
        let ra = leg.receptionAwareness
        var o: [(String, JSONOutput)] = [
            ("service", .object(service)),
            ("action", .string(leg.action)),
            ("mpc", .string(leg.mpc)),
            ("security", .object(security)),
            ("payload", .object([("compress", .bool(leg.payload.compress)), ("maxMessageBytes", .integer(leg.payload.maxMessageBytes))])),
            ("receptionAwareness", .object([
                ("retries", .integer(ra.retries)),
                ("initialIntervalSeconds", seconds(ra.initialInterval)),
                ("backoffFactor", .number(ra.backoffFactor)),
                ("maxIntervalSeconds", seconds(ra.maxInterval)),
                ("jitterFraction", .number(ra.jitterFraction)),
                ("duplicateDetectionWindowSeconds", seconds(ra.duplicateDetectionWindow)),
            ])),
            ("errorHandling", .object([
                ("reportAsResponse", .bool(leg.errorHandling.reportAsResponse)),
                ("notifyProducer", .bool(leg.errorHandling.notifyProducer)),
                ("notifyConsumer", .bool(leg.errorHandling.notifyConsumer)),
            ])),
        ]
        if let p = leg.pullAuthorization { o.append(("pullAuthorization", .object([("parties", .array(p.parties.map(JSONOutput.string)))]))) }
        return .object(o)
    }

    /// Whole seconds as integers, anything else as a number.
    private static func seconds(_ value: Double) -> JSONOutput {
        value == value.rounded() && abs(value) < 1e15 ? .integer(Int(value)) : .number(value)
    }
}

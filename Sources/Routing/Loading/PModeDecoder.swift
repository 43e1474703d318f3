import EnvelopeXML

/// A P-Mode as read, with the positions cross-file checks point at.
struct DecodedPMode {
    var pmode: PMode
    var file: String
    var path: String
    var idLocation: JSONLocation
    /// Positions of `initiator.party` and `responder.party`.
    var initiatorLocation: JSONLocation
    var responderLocation: JSONLocation
    var legs: [DecodedLeg]

    /// `legs[0]` or `pmodes[2].legs[0]`.
    func legPath(_ index: Int) -> String { legs[index].path }
}

/// Decodes one `*.pmode.json` file: a single P-Mode object, or `{"pmodes": [...]}` holding
/// several (what the Domibus importer writes, one file per Domibus process).
struct PModeDecoder {
    let file: String
    let log: DiagnosticLog

    static let keys = ["id", "description", "agreement", "mep", "binding", "initiator", "responder", "legs"]

    func decode(_ root: JSONValue) -> [DecodedPMode] {
        if let members = root.members, members.contains(where: { $0.key == "pmodes" }) {
            guard let top = ObjectReader(root, path: "", file: file, log: log, known: ["description", "pmodes"]) else { return [] }
            _ = top.string("description")
            guard let elements = top.array("pmodes", required: true, nonEmpty: true) else { return [] }
            return elements.compactMap { decodePMode($0.value, path: $0.path) }
        }
        return decodePMode(root, path: "").map { [$0] } ?? []
    }

    private func decodePMode(_ value: JSONValue, path: String) -> DecodedPMode? {
        guard let o = ObjectReader(value, path: path, file: file, log: log, known: Self.keys) else { return nil }
        let id = o.string("id", required: true)
        if let id, id.contains(where: { $0.isWhitespace || $0.unicodeScalars.contains { $0.properties.generalCategory == .control } }) {
            o.report("id", "must not contain whitespace or control characters (it travels in AgreementRef/@pmode)")
        }
        let description = o.string("description")
        let agreement = decodeAgreement(o)
        let mep: MEP? = o.has("mep") ? o.enumeration("mep") : .oneWay
        let binding: MEPBinding? = o.has("binding") ? o.enumeration("binding") : .push
        let initiatorRead = decodeParticipant(o, "initiator")
        let responderRead = decodeParticipant(o, "responder")
        var legs: [DecodedLeg] = []
        var legsOK = true
        if let elements = o.array("legs", required: true, nonEmpty: true) {
            let decoder = LegDecoder(file: file, log: log)
            for element in elements {
                if let leg = decoder.decode(element.value, path: element.path) { legs.append(leg) } else { legsOK = false }
            }
            if let mep, elements.count != mep.legCount {
                o.report("legs", "must have \(mep.legCount) \(mep.legCount == 1 ? "leg" : "legs") for mep \"\(mep.rawValue)\", not \(elements.count)")
                legsOK = false
            }
        } else {
            legsOK = false
        }
        if let mep, let binding, !binding.isAllowed(with: mep) {
            let allowed = MEPBinding.allCases.filter { $0.isAllowed(with: mep) }.map { "\"\($0.rawValue)\"" }.joined(separator: " or ")
            o.report("binding", "must be \(allowed) for mep \"\(mep.rawValue)\", not \"\(binding.rawValue)\"")
            return nil
        }
        if let binding, binding != .pull {
            for leg in legs where leg.pullAuthorizationLocation != nil {
                log.error(file, leg.pullAuthorizationLocation!, "\(leg.path).pullAuthorization is only for binding \"pull\"")
                legsOK = false
            }
        }
        guard let id, let agreement, let mep, let binding, let (initiator, initiatorLocation) = initiatorRead,
              let (responder, responderLocation) = responderRead, legsOK else { return nil }
        var finalLegs = legs
        if binding == .pull {
            for i in finalLegs.indices where finalLegs[i].leg.pullAuthorization == nil {
                finalLegs[i].leg.pullAuthorization = PullAuthorization(parties: [initiator.party])
            }
        }
        let pmode = PMode(id: id, description: description, agreement: agreement, mep: mep, binding: binding,
                          initiator: initiator, responder: responder, legs: finalLegs.map(\.leg),
                          source: SourceLocation(file: file, line: value.location.line, column: value.location.column))
        return DecodedPMode(pmode: pmode, file: file, path: path, idLocation: o.location(of: "id"),
                            initiatorLocation: initiatorLocation, responderLocation: responderLocation, legs: finalLegs)
    }

    /// nil = invalid; `.some(nil)` = no agreement.
    private func decodeAgreement(_ o: ObjectReader) -> Agreement?? {
        guard o.has("agreement") else { return .some(nil) }
        guard let a = o.object("agreement", known: ["value", "type"]) else { return nil }
        guard let value = a.string("value", required: true) else { return nil }
        let type = a.string("type")
        if a.has("type") && type == nil { return nil }
        if type == nil && !URISyntax.isAbsolute(value) {
            a.report("value", "\"\(value)\" has no type, so it must be an absolute URI (ebMS 3.0 §5.2.2.7)")
            return nil
        }
        return .some(Agreement(value, type: type))
    }

    /// The participant and the position of its `party` member (where unknown names are reported).
    private func decodeParticipant(_ o: ObjectReader, _ key: String) -> (PModeParticipant, JSONLocation)? {
        guard let p = o.object(key, known: ["party", "role"], required: true) else { return nil }
        let party = p.string("party", required: true)
        let role = p.string("role", required: true)
        guard let party, let role else { return nil }
        return (PModeParticipant(party: party, role: role), p.location(of: "party"))
    }
}

import EnvelopeXML

/// The checks that span files: P-Mode ids unique across the directory, party names that exist,
/// endpoints where messages must be sent, and no two legs that a receiver could not tell apart.
struct PModeCrossChecks {
    let parties: [DecodedParty]
    let declaredParties: Set<String>
    let log: DiagnosticLog

    func check(_ pmodes: [DecodedPMode]) {
        let partyByName = Dictionary(parties.map { ($0.party.name, $0) }, uniquingKeysWith: { a, _ in a })
        var firstById: [String: DecodedPMode] = [:]
        var firstBySelection: [SelectionKey: (DecodedPMode, Int)] = [:]

        for decoded in pmodes {
            let pmode = decoded.pmode
            if let first = firstById[pmode.id] {
                log.error(decoded.file, decoded.idLocation,
                          "\(ObjectReader.join(decoded.path, "id")) \"\(pmode.id)\" is already the id of the P-Mode at \(first.file):\(first.idLocation)")
            } else {
                firstById[pmode.id] = decoded
            }

            let initiatorOK = checkReference(pmode.initiator.party, decoded, decoded.initiatorLocation, "initiator.party")
            let responderOK = checkReference(pmode.responder.party, decoded, decoded.responderLocation, "responder.party")
            for leg in decoded.legs {
                for entry in leg.pullParties where !declaredParties.contains(entry.name) {
                    log.error(decoded.file, entry.location, "\(leg.path).pullAuthorization names \"\(entry.name)\", which is not a party in parties.json")
                }
            }
            guard initiatorOK && responderOK else { continue }

            for (index, leg) in decoded.legs.enumerated() {
                checkEndpoint(decoded, leg: index, partyByName: partyByName)
                guard let key = SelectionKey(pmode, leg: index) else { continue }
                if let (other, otherLeg) = firstBySelection[key] {
                    log.error(decoded.file, leg.location,
                              "\(leg.path) has the same parties, roles, service, action and agreement as \(other.legPath(otherLeg)) of P-Mode \"\(other.pmode.id)\" (\(other.file):\(other.legs[otherLeg].location)): a received message could not be told apart")
                } else {
                    firstBySelection[key] = (decoded, index)
                }
            }
        }
    }

    private func checkReference(_ name: String, _ decoded: DecodedPMode, _ location: JSONLocation, _ key: String) -> Bool {
        if declaredParties.contains(name) { return true }
        log.error(decoded.file, location, "\(ObjectReader.join(decoded.path, key)) \"\(name)\" is not a party in parties.json")
        return false
    }

    /// A pushed message needs the receiver's endpoint; a pulled one needs the sender's (the puller
    /// sends its PullRequest there). The reply of Two-Way/Sync rides on the HTTP response.
    private func checkEndpoint(_ decoded: DecodedPMode, leg index: Int, partyByName: [String: DecodedParty]) {
        let pmode = decoded.pmode
        let side: PModeSide
        switch pmode.delivery(ofLeg: index) {
        case .push: side = pmode.receivingSide(ofLeg: index)
        case .pull: side = pmode.sendingSide(ofLeg: index)
        case .backChannel: return
        }
        let name = pmode.participant(side).party
        guard let party = partyByName[name], party.party.endpoint == nil, !party.endpointWritten else { return }
        let why = pmode.delivery(ofLeg: index) == .push ? "receives it by push" : "is pulled from"
        log.error(decoded.file, decoded.legs[index].location,
                  "\(decoded.legPath(index)) needs an endpoint for party \"\(name)\" (the \(side.rawValue), which \(why)), but parties.json gives it none")
    }
}

/// What a receiver selects a P-Mode leg by (AS4-WIRE §1.3): sender and receiver by party name and
/// role, service, action and agreement.
struct SelectionKey: Hashable {
    var sender: String
    var senderRole: String
    var receiver: String
    var receiverRole: String
    var service: String
    var serviceType: String
    var action: String
    var agreement: String?
    var agreementType: String?

    init?(_ pmode: PMode, leg index: Int) {
        guard pmode.legs.indices.contains(index) else { return nil }
        let from = pmode.participant(pmode.sendingSide(ofLeg: index))
        let to = pmode.participant(pmode.receivingSide(ofLeg: index))
        let leg = pmode.legs[index]
        sender = from.party
        senderRole = from.role
        receiver = to.party
        receiverRole = to.role
        service = leg.service.value
        serviceType = leg.service.type ?? ""
        action = leg.action
        agreement = pmode.agreement?.value
        agreementType = pmode.agreement.map { $0.type ?? "" }
    }
}

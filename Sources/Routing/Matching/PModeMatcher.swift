import EnvelopeXML

/// P-Mode selection (AS4-WIRE §1.3, eDelivery AS4 §1.4.2.2): by `AgreementRef/@pmode` when the
/// message names one of ours, else by From PartyId + Role, To PartyId + Role, Service, Action and
/// AgreementRef. A P-Mode named by @pmode must still fit the message in all of these, so a peer
/// cannot pick a weaker P-Mode by naming it. An id we do not know is treated as absent: a
/// receiver must work with and without @pmode, and peers often put their own P-Mode's id there.
///
/// Errors go back to the peer, so they name what in the *message* does not fit and never the
/// values a P-Mode expects (which would tell a stranger who our partners are):
/// - no P-Mode for the service and action at all → EBMS:0001 ValueNotRecognized;
/// - parties, roles or agreement do not fit → EBMS:0010 ProcessingModeMismatch;
/// - more than one leg fits → EBMS:0010 (ambiguous).
/// Several PartyIds in eb:From or eb:To fit a leg only when every one is its party's
/// (`Party.isIdentified(by:)`): ids of two parties, or one we do not know, fit no leg.
/// The MPC is not a selection criterion; the caller compares `match.leg.mpc` when it matters.
extension PModeSet {
    public func match(_ user: UserMessage) -> Result<Match, EbmsError> {
        let messageId = user.messageInfo.messageId
        let collaboration = user.collaboration
        let what = Self.describe(collaboration.service, collaboration.action)
        func failure(_ code: EbmsError.Code, _ reason: String) -> Result<Match, EbmsError> {
            .failure(EbmsError(code, reason, refToMessageId: messageId))
        }

        var candidates: [(pmode: PMode, leg: Int)]
        // The P-Mode of that id and any made from it for a self-service party (same @pmode).
        let id = collaboration.agreementRef?.pmode ?? ""
        let named = id.isEmpty ? [] : (pmode(id: id).map { [$0] } ?? []) + pmodes.filter { $0.agreementRefId == id }
        if !named.isEmpty {
            candidates = named.flatMap { pmode in
                pmode.legs.indices.filter { pmode.legs[$0].handles(collaboration.service, collaboration.action) }.map { (pmode, $0) }
            }
            if candidates.isEmpty {
                return failure(.processingModeMismatch, "P-Mode \"\(id)\" named by AgreementRef/@pmode is not for \(what)")
            }
        } else {
            candidates = legs(handling: collaboration.service, collaboration.action)
            if candidates.isEmpty {
                return failure(.valueNotRecognized, "no P-Mode for \(what)")
            }
        }

        let evaluated = candidates.map { (candidate: $0, differences: Self.differences(user, candidate: $0, in: self)) }
        let fitting = evaluated.filter { $0.differences.isEmpty }.map(\.candidate)
        if fitting.count > 1 {
            let names = fitting.map { "\"\($0.pmode.id)\" legs[\($0.leg)]" }.joined(separator: ", ")
            return failure(.processingModeMismatch, "ambiguous: \(fitting.count) P-Mode legs fit this message (\(names))")
        }
        if let only = fitting.first {
            guard let match = resolved(only.pmode, leg: only.leg) else {
                return failure(.processingModeMismatch, "P-Mode \"\(only.pmode.id)\" names a party that is not configured")
            }
            return .success(match)
        }
        let fewest = evaluated.map(\.differences.count).min() ?? 0
        let closest = evaluated.first { $0.differences.count == fewest }!.differences
        let verb = closest.count == 1 ? "does" : "do"
        let several = closest.contains { $0.contains("/PartyIds ") } ? " (several PartyIds must all name one party)" : ""
        return failure(.processingModeMismatch, "no P-Mode for \(what) fits this message: \(Self.list(closest)) \(verb) not fit\(several)")
    }

    /// The leg we send for a submission from `from` to `to` (party names). Without `agreement`,
    /// P-Modes that differ only in their agreement are ambiguous.
    public func outboundLeg(from: String, to: String, service: Service, action: String,
                            agreement: Agreement? = nil) -> Result<Match, EbmsError> {
        let what = Self.describe(service, action)
        for name in [from, to] where party(named: name) == nil {
            return .failure(EbmsError(.valueNotRecognized, "party \"\(name)\" is not in parties.json"))
        }
        let candidates = legs(handling: service, action)
        if candidates.isEmpty {
            return .failure(EbmsError(.valueNotRecognized, "no P-Mode for \(what)"))
        }
        let fitting = candidates.filter { c in
            c.pmode.participant(c.pmode.sendingSide(ofLeg: c.leg)).party == from
                && c.pmode.participant(c.pmode.receivingSide(ofLeg: c.leg)).party == to
                && (agreement == nil || c.pmode.agreement.map { Self.same($0, agreement!) } == true)
        }
        guard let first = fitting.first else {
            let also = agreement.map { " under agreement \"\($0)\"" } ?? ""
            return .failure(EbmsError(.processingModeMismatch, "no P-Mode for \(what) from \"\(from)\" to \"\(to)\"\(also)"))
        }
        guard fitting.count == 1 else {
            let names = fitting.map { "\"\($0.pmode.id)\" legs[\($0.leg)]" }.joined(separator: ", ")
            return .failure(EbmsError(.processingModeMismatch, "ambiguous: \(fitting.count) P-Mode legs fit (\(names)); name the agreement"))
        }
        guard let match = resolved(first.pmode, leg: first.leg) else {
            return .failure(EbmsError(.processingModeMismatch, "P-Mode \"\(first.pmode.id)\" names a party that is not configured"))
        }
        return .success(match)
    }

    // MARK: Helpers

    /// What in the message does not fit the candidate leg, in the message's own terms.
    static func differences(_ user: UserMessage, candidate: (pmode: PMode, leg: Int), in set: PModeSet) -> [String] {
        let pmode = candidate.pmode
        let from = pmode.participant(pmode.sendingSide(ofLeg: candidate.leg))
        let to = pmode.participant(pmode.receivingSide(ofLeg: candidate.leg))
        var out: [String] = []
        if !(set.party(named: from.party)?.isIdentified(by: user.from.ids) ?? false) {
            out.append(partyIds("From", user.from.ids))
        }
        if user.from.role != from.role { out.append("From/Role \"\(user.from.role)\"") }
        if !(set.party(named: to.party)?.isIdentified(by: user.to.ids) ?? false) {
            out.append(partyIds("To", user.to.ids))
        }
        if user.to.role != to.role { out.append("To/Role \"\(user.to.role)\"") }
        let sent = user.collaboration.agreementRef.flatMap { $0.value.isEmpty ? nil : Agreement($0.value, type: $0.type) }
        switch (pmode.agreement, sent) {
        case (nil, nil): break
        case (_, nil): out.append("the missing AgreementRef")
        case (let expected, let sent?):
            if expected.map({ same($0, sent) }) != true { out.append("AgreementRef \"\(sent)\"") }
        }
        return out
    }

    static func same(_ a: Agreement, _ b: Agreement) -> Bool {
        a.value == b.value && (a.type ?? "") == (b.type ?? "")
    }

    private static func describe(_ service: Service, _ action: String) -> String {
        let type = service.type.map { " (type \"\($0)\")" } ?? ""
        return "service \"\(service.value)\"\(type) and action \"\(action)\""
    }

    private static func quoted(_ ids: [PartyId]) -> String {
        ids.map { "\"\($0)\"" }.joined(separator: ", ")
    }

    /// Several PartyIds fit a leg only when all are its party's: the reason says so, naming
    /// only what the message holds (not which of them we know, nor whose they are).
    private static func partyIds(_ side: String, _ ids: [PartyId]) -> String {
        ids.count > 1 ? "\(side)/PartyIds \(quoted(ids))" : "\(side)/PartyId \(quoted(ids))"
    }

    private static func list(_ items: [String]) -> String {
        switch items.count {
        case 0: return "nothing"
        case 1: return items[0]
        default: return items.dropLast().joined(separator: ", ") + " and " + items.last!
        }
    }
}

extension Leg {
    /// Same service value, same type (absent = empty), same action.
    func handles(_ service: Service, _ action: String) -> Bool {
        self.service.value == service.value && (self.service.type ?? "") == (service.type ?? "") && self.action == action
    }
}

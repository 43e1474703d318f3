import EnvelopeXML

/// The ebMS3 test service (ebMS3 Core §5.2.2.9, §5.2.2.10): a user message a partner sends to
/// check its connection, processed as any of its messages but never delivered to a consumer.
///
/// eDelivery asks for a test-service P-Mode per party pair with the security of the pair's
/// business agreements (AS4-WIRE §6.1), and the Domibus importer converts one where the Domibus
/// file has it. A partner whose test messages no such P-Mode fits is held to the agreements it
/// has with us instead: a test message proves nothing about a connection if it may be weaker
/// than the partner's messages, and it is refused when those agreements disagree on security,
/// which only a test-service P-Mode can settle.
extension CollaborationInfo {
    /// The test service, whatever the action: such a message is never delivered (§5.2.2.9).
    public var isTestService: Bool { service.value == EbmsConstants.testService }

    /// The test action outside the test service, which §5.2.2.10 forbids.
    public var misusesTestAction: Bool { action == EbmsConstants.testAction && !isTestService }
}

extension PModeSet {
    /// The leg a received test message is processed under: the test-service leg that fits it
    /// (as `match` selects any leg), else one of the agreements its sender has with its
    /// receiver. Refusals are `match`'s when the sender has no agreement with the receiver.
    ///
    /// A test message pulled from MPC `pulledFrom` came by a pull leg of that MPC, whatever
    /// else the two parties agreed: the AS4 profile asks for no test-service P-Mode, so without
    /// a pulled one of those it goes under that pull leg, never under a push agreement that
    /// happens to be listed first (which the pulled message would then not fit).
    public func matchTestMessage(_ user: UserMessage, pulledFrom mpc: String? = nil) -> Result<Match, EbmsError> {
        func came(_ pmode: PMode, _ leg: Int) -> Bool {
            mpc.map { pmode.delivery(ofLeg: leg) == .pull && pmode.legs[leg].mpc == $0 } ?? true
        }
        let explicit = match(user)
        let refusal: EbmsError
        switch explicit {
        case .success(let m) where came(m.pmode, m.legIndex): return explicit
        case .success(let m):
            refusal = EbmsError(.processingModeMismatch, "the pulled message fits P-Mode \(m.pmode.id), whose leg is not pulled",
                                refToMessageId: user.messageInfo.messageId)
        case .failure(let e): refusal = e
        }
        let collaboration = user.collaboration
        // A test leg that fits the parties but was not chosen (the message named another
        // P-Mode by AgreementRef/@pmode): still the pair's own test agreement.
        let fitting = legs(handling: collaboration.service, collaboration.action).filter {
            Self.differences(user, candidate: $0, in: self).isEmpty && came($0.pmode, $0.leg)
        }
        if fitting.count > 1 { return .failure(refusal) }
        if let only = fitting.first, let match = resolved(only.pmode, leg: only.leg) { return .success(match) }
        let agreements = pmodes.flatMap { pmode in pmode.legs.indices.map { (pmode: pmode, leg: $0) } }.filter { candidate in
            let (pmode, leg) = candidate
            return party(named: pmode.participant(pmode.sendingSide(ofLeg: leg)).party)?.isIdentified(by: user.from.ids) == true
                && party(named: pmode.participant(pmode.receivingSide(ofLeg: leg)).party)?.isIdentified(by: user.to.ids) == true
                && came(pmode, leg)
        }
        guard !agreements.isEmpty else { return .failure(refusal) }
        // Legs whose roles and agreement the message also names say best which one it follows.
        let named = agreements.filter { Self.differences(user, candidate: $0, in: self).isEmpty }
        return governing(named.isEmpty ? agreements : named, refusal: refusal, what: "the test message")
    }

    /// The leg our test message to `to` goes under: our test-service leg to that party, else
    /// one of the agreements we send it messages under (their roles, agreement and security).
    public func outboundTestLeg(from: String, to: String) -> Result<Match, EbmsError> {
        let explicit = outboundLeg(from: from, to: to, service: Service(EbmsConstants.testService), action: EbmsConstants.testAction)
        guard case .failure(let refusal) = explicit, party(named: from) != nil, party(named: to) != nil else { return explicit }
        if !legs(handling: Service(EbmsConstants.testService), EbmsConstants.testAction).filter({ c in
            c.pmode.participant(c.pmode.sendingSide(ofLeg: c.leg)).party == from && c.pmode.participant(c.pmode.receivingSide(ofLeg: c.leg)).party == to
        }).isEmpty {
            return explicit  // test legs to that party exist but are ambiguous: theirs to settle
        }
        let agreements = pmodes.flatMap { pmode in pmode.legs.indices.map { (pmode: pmode, leg: $0) } }.filter { c in
            c.pmode.participant(c.pmode.sendingSide(ofLeg: c.leg)).party == from && c.pmode.participant(c.pmode.receivingSide(ofLeg: c.leg)).party == to
        }
        guard !agreements.isEmpty else {
            return .failure(EbmsError(.processingModeMismatch, "no P-Mode for the test service from \"\(from)\" to \"\(to)\", and no agreement to send \"\(to)\" anything"))
        }
        return governing(agreements, refusal: refusal, what: "a test message to \"\(to)\"")
    }

    /// The first of `candidates` when they all ask the same of a message's security (what a
    /// receiver verifies: profile, signing, encryption, algorithms); a refusal when they differ.
    private func governing(_ candidates: [(pmode: PMode, leg: Int)], refusal: EbmsError, what: String) -> Result<Match, EbmsError> {
        func verified(_ s: LegSecurity) -> LegSecurity {
            var s = s
            s.keyReference = .bst  // how the sender references its certificate is not judged
            return s
        }
        let first = verified(candidates[0].pmode.legs[candidates[0].leg].security)
        guard candidates.allSatisfy({ verified($0.pmode.legs[$0.leg].security) == first }) else {
            return .failure(EbmsError(.processingModeMismatch, "\(what) fits no test-service P-Mode, and the agreements between its parties "
                                      + "differ in security; a test-service P-Mode must say which applies", refToMessageId: refusal.refToMessageId))
        }
        guard let match = resolved(candidates[0].pmode, leg: candidates[0].leg) else { return .failure(refusal) }
        return .success(match)
    }
}

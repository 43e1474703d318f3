import EnvelopeXML
import Foundation
import HTTPClient
import Routing
import WSSecurity

/// Our test message to a partner (`as4gw ping PARTY`): a user message of the ebMS3 test service
/// (never delivered to the partner's consumer, ebMS3 §5.2.2.9), sealed under our test-service
/// P-Mode to that party or else the agreement we send it messages under
/// (`PModeSet.outboundTestLeg`), POSTed once to its endpoint, and its answer judged as a
/// delivery worker judges one: a receipt counts only when it is signed by that party and
/// acknowledges what we signed. Nothing is stored or queued; the result goes to the operator
/// and one `event=ping-sent` line.
struct PingSender {
    let context: GatewayContext

    struct Outcome {
        var messageId: String?
        var party: String
        var pmode: String?
        var endpoint: String?
        /// A valid receipt came back.
        var receipt = false
        /// The HTTP status of the answer, when there was one.
        var httpStatus: Int?
        /// Why no valid receipt: an ebMS code, `HTTP nnn`, or a local reason's code.
        var errorCode: String?
        var reason: String?
        var elapsedMilliseconds = 0
        /// The ping could not be sent at all (no such party, no agreement): nothing went out.
        var refused = false
    }

    func ping(_ partyName: String) -> Outcome {
        let started = Date()
        var outcome = Outcome(party: partyName)
        defer {
            context.log.log(outcome.receipt ? .info : .warning, "ping-sent", [
                "message_id": outcome.messageId, "to": outcome.party, "pmode": outcome.pmode,
                "status": outcome.receipt ? "receipt" : outcome.refused ? "not-sent" : "no-receipt",
                "http_status": outcome.httpStatus.map(String.init), "error_code": outcome.errorCode, "reason": outcome.reason,
                "elapsed_ms": ms(started)])
        }
        func refuse(_ code: String, _ reason: String) -> Outcome {
            outcome.refused = true
            outcome.errorCode = code
            outcome.reason = reason
            outcome.elapsedMilliseconds = Int(Date().timeIntervalSince(started) * 1000)
            return outcome
        }
        let set = context.pmodes
        guard let us = set.party(named: context.party) else { return refuse("EBMS:0010", "this gateway (\(context.party)) is not in the P-Mode set") }
        guard let them = set.party(named: partyName) ?? set.parties.first(where: { $0.partyIds.contains { $0.value == partyName } }) else {
            return refuse("EBMS:0001", "unknown party \(partyName)")
        }
        outcome.party = them.name
        let match: Match
        switch set.outboundTestLeg(from: us.name, to: them.name) {
        case .success(let m): match = m
        case .failure(let e): return refuse(e.code.rawValue, e.reason)
        }
        outcome.pmode = match.pmode.id
        guard let endpoint = them.endpoint?.absoluteString else { return refuse("EBMS:0005", "\(them.name) has no endpoint in parties.json") }
        outcome.endpoint = endpoint
        let id = Identifier.messageId(domain: context.messageIdDomain)
        outcome.messageId = id
        let user = UserMessage(
            mpc: match.delivery == .pull || match.leg.mpc == EbmsConstants.defaultMPC ? nil : match.leg.mpc,
            messageInfo: MessageInfo(messageId: id),
            from: EnvelopeXML.Party(ids: us.sentPartyIds, role: match.senderRole),
            to: EnvelopeXML.Party(ids: them.sentPartyIds, role: match.receiverRole),
            collaboration: CollaborationInfo(agreementRef: match.pmode.agreement.map {
                AgreementRef($0.value, type: $0.type, pmode: match.pmode.agreementRefId ?? match.pmode.id)
            }, service: Service(EbmsConstants.testService), action: EbmsConstants.testAction, conversationId: Identifier.uuid()))
        let sealed: SealedMessage
        var sink = MemorySink()
        let contentType: String
        do {
            sealed = try Outbound(context: context).seal(user, payloads: [], leg: match.leg, to: them)
            defer { sealed.removeSpoolFiles() }
            contentType = try sealed.write(to: &sink)
        } catch let e as SubmissionError {
            return refuse("EBMS:0004", e.reason)
        } catch {
            return refuse("EBMS:0004", "the test message could not be sealed: \(error)")
        }
        let workers = OutboundWorkers(context: context)
        let answer: Result<[UInt8], AttemptFailure>
        do {
            let client = try HTTPClient(configuration: context.outboundClientConfiguration())
            let response = try client.post(url: endpoint, headers: [("Content-Type", contentType)], body: .bytes(sink.bytes),
                                           pinnedPublicKeys: workers.tlsPins(forParty: them.partyIds.map(\.description).first ?? ""))
            outcome.httpStatus = response.status
            answer = workers.judge(response, messageId: id, sent: sealed.references, receiver: them, leg: match.leg)
        } catch {
            answer = .failure(AttemptFailure(EbmsError(.connectionFailure, "\(error)")))
        }
        switch answer {
        case .success: outcome.receipt = true
        case .failure(let f):
            outcome.errorCode = f.code
            outcome.reason = f.reason
        }
        outcome.elapsedMilliseconds = Int(Date().timeIntervalSince(started) * 1000)
        return outcome
    }
}

import Routing
import EnvelopeXML

/// Finds e-address document legs whose receiver has no status leg back to the sender. Such a
/// receiver gives its receipt for every document and then cannot say what became of it: not that
/// it was read or answered, nor that it was refused (unknown address, policy, a document id
/// taken), so the sender's DMS keeps "Accepted" for a document in no mailbox. The receiver marks
/// such a document's message `Failed` (`document-intake-unanswered`), but the sender never learns.
///
/// A warning rather than a load error: one partner's incomplete agreement must not stop a start
/// or a SIGHUP reload of a set that serves every other partner (and self-service access points,
/// whose P-Modes are copies of the template's, would all inherit the refusal). `pmode check
/// --strict` makes it fail a CI run.
enum EAddressAgreementCheck {
    struct Finding: Sendable, Equatable, CustomStringConvertible {
        var documentPMode: String
        var sender: String
        var receiver: String
        /// Status agreements between the two in the other direction only, named to show what is there.
        var oppositeStatusPModes: [String]

        var description: String {
            "P-Mode \"\(documentPMode)\" sends \(EAddressMessages.documentAction) from \(sender) to \(receiver), but no P-Mode lets \(receiver) send "
                + "\(EAddressMessages.statusAction) back to \(sender)"
                + (oppositeStatusPModes.isEmpty ? "" : " (\(oppositeStatusPModes.map { "\"\($0)\"" }.joined(separator: ", ")) carries status reports \(sender) → \(receiver) only)")
                + ": \(receiver) cannot report reading, answers or refusals of these documents, so their senders see them Accepted for good"
        }
    }

    /// Every such leg of `set`; only those `party` sends or receives when it is given.
    static func findings(in set: PModeSet, party: String? = nil) -> [Finding] {
        let service = Service(EAddressMessages.service)
        var findings: [Finding] = []
        for pmode in set.pmodes {
            for (index, leg) in pmode.legs.enumerated() where leg.service.value == EAddressMessages.service && leg.action == EAddressMessages.documentAction {
                let sender = pmode.participant(pmode.sendingSide(ofLeg: index)).party
                let receiver = pmode.participant(pmode.receivingSide(ofLeg: index)).party
                if let party, party != sender, party != receiver { continue }
                if case .success = set.outboundLeg(from: receiver, to: sender, service: service, action: EAddressMessages.statusAction) { continue }
                let opposite = set.pmodes.filter { p in
                    p.legs.indices.contains { i in
                        p.legs[i].service.value == EAddressMessages.service && p.legs[i].action == EAddressMessages.statusAction
                            && p.participant(p.sendingSide(ofLeg: i)).party == sender && p.participant(p.receivingSide(ofLeg: i)).party == receiver
                    }
                }.map(\.id)
                let finding = Finding(documentPMode: pmode.id, sender: sender, receiver: receiver, oppositeStatusPModes: opposite)
                if !findings.contains(finding) { findings.append(finding) }
            }
        }
        return findings
    }
}

import AS4Crypto
import EnvelopeXML
import Foundation
import HTTPServer
import MessageStore
import Routing
import WSSecurity

/// One-Way/Pull (AS4-WIRE §1.7): a signed PullRequest on an MPC, from a party the P-Mode allows,
/// gets the oldest message waiting there (leased: never receipted → back in the queue after the
/// lease), or the EBMS:0006 EmptyMessagePartitionChannel warning. The puller's receipt arrives
/// later as a signal of its own and completes the message; its error goes to
/// `ErrorSignalResponder`, as every error signal posted to us does.
struct PullResponder {
    let context: GatewayContext
    /// Where the request came from, for the lines that refuse it (`InboundProcessor.client`).
    var client: String? = nil

    func respond(to signal: SignalMessage, _ message: AS4Message, started: Date) -> HTTPResponse {
        guard case .pullRequest(let pull) = signal.kind else { return processor.errorResponse(EbmsError(.other, "not a pull request"), refTo: nil, started: started) }
        let mpc = pull.mpc ?? EbmsConstants.defaultMPC
        let ref = signal.messageInfo.messageId
        // Our answers are signed as the agreement the pull is authorised under says, like a
        // receipt: a 2.0 partner may not accept an RSA signature. Unknown until authorised.
        var security: LegSecurity?
        do {
            let (puller, signer) = try authenticate(message)
            try context.pullReplays.admit(signal.messageInfo)
            guard context.registry.current.mayPull(party: puller.name, mpc: mpc) else {
                throw EbmsError(.processingModeMismatch, "party \(puller.name) may not pull from \(mpc)")
            }
            security = agreementSecurity(puller: puller, mpc: mpc, signer: signer)
            // Only messages for the puller itself: others may be allowed to pull the same MPC.
            guard let job = try context.store.nextForPull(mpc: mpc, receivers: puller.partyIds.map(\.description), now: Date(),
                                                          owner: "pull:\(puller.name)", lease: context.config.leaseSeconds) else {
                return processor.errorResponse(EbmsError(.emptyMessagePartitionChannel, "no message waits on \(mpc)"), refTo: ref, started: started,
                                               fields: ["to": puller.name, "mpc": mpc], security: security)
            }
            context.log.log(.info, "pulled", ["message_id": job.metadata.messageId, "to": puller.name, "mpc": mpc, "status": "Sending",
                                              "attempt": String(job.attempt), "elapsed_ms": ms(started)])
            if let bytes = job.messageBytes { return .bytes(200, contentType: job.contentType, [UInt8](bytes)) }
            return .file(200, contentType: job.contentType, path: job.messagePath)
        } catch {
            return processor.errorResponse(error, refTo: ref, started: started, security: security)
        }
    }

    /// The security of the pull leg that authorises `puller` on `mpc`. A puller with legs of both
    /// profiles on one MPC pulls under each with the key that profile suits, so the leg whose
    /// profile suits the PullRequest's signing key is the one it pulled under. Nil when only the
    /// party's `mpcs` authorise it: no agreement names a profile, the primary key signs.
    func agreementSecurity(puller: Routing.Party, mpc: String, signer: Certificate) -> LegSecurity? {
        let legs = context.registry.current.pullLegs(for: puller.name, mpc: mpc).map(\.leg.security)
        return legs.first { $0.profile.suits(signer.keyType) } ?? legs.first
    }

    /// How long the answer to a puller's receipt may wait for a store that cannot record it.
    static let receiptRecordingBudget: TimeInterval = 2

    /// A receipt for a message that was pulled from us: checked like a pushed message's receipt,
    /// and answered 200 only once recorded (503 with Retry-After while the store cannot).
    func acceptReceipt(_ signal: SignalMessage, _ message: AS4Message, rawEnvelope: [UInt8], started: Date) -> HTTPResponse {
        let ref = signal.messageInfo.refToMessageId ?? ""
        do {
            guard let stored = try context.store.findMessage(id: ref, direction: .outbound), let out = stored.outbound, out.pullMPC != nil else {
                throw EbmsError(.valueInconsistent, "the receipt refers to no message pulled from this gateway")
            }
            func validate(by puller: Routing.Party?) throws {
                let certs = puller?.certificates(role: .signing) ?? []
                guard !certs.isEmpty, let sent = SentReferenceCoding.decode(out.sentReferences) else {
                    throw EbmsError(.invalidReceipt, "the receipt cannot be checked: no signing certificate of the puller, or no stored references")
                }
                let verifier = SignatureVerifier(policy: .receiving, trust: try context.validator(pinned: certs), candidates: certs,
                                                 expectedSigners: certs, checkRevocation: !context.crls.isEmpty)
                _ = try ReceiptValidator(verifier: verifier).validate(message, sentMessageId: ref, sentReferences: sent)
            }
            let receiver = context.registry.current.parties.first { $0.partyIds.map(\.description).contains(stored.metadata.toParty) }
            if stored.status == .delivered {
                // The puller sending its receipt again (our 200 was lost): answered alike, once
                // the receipt proves to come from the party the message was for.
                try validate(by: receiver)
                context.log.log(.info, "duplicate-receipt", ["message_id": ref, "to": receiver?.name, "status": "Delivered", "elapsed_ms": ms(started)])
                return .empty(200)
            }
            let owner: String
            let puller: Routing.Party?
            if let holder = out.leaseOwner, holder.hasPrefix("pull:") {
                owner = holder
                puller = context.registry.current.party(named: String(holder.dropFirst(5)))
            } else if out.leaseOwner == nil, out.attempts >= 1, let receiver {
                // Pulled, but the lease lapsed before the receipt came (the message is queued
                // again, or Failed after its last attempt). Only the party the message is for
                // can have pulled it, so its signature proves the receipt, which the store then
                // records as late: a valid receipt always makes the message Delivered.
                owner = "pull:\(receiver.name)"
                puller = receiver
            } else {
                // Never pulled (no attempt made), or leased otherwise: no receipt of ours can exist.
                throw EbmsError(.valueInconsistent, "the receipt refers to no message pulled from this gateway")
            }
            try validate(by: puller)
            // The puller waits for our answer: a short while of trying again, then 503 (with
            // Retry-After) so that it sends the receipt again; never 200 for a receipt not recorded.
            let recording = ReceiptRecording().run(until: Date().addingTimeInterval(Self.receiptRecordingBudget)) {
                try context.store.markDelivered(messageId: ref, owner: owner, receipt: Data(rawEnvelope), at: Date())
            }
            switch recording {
            case .recorded(let retries), .alreadyDelivered(let retries):
                context.log.log(.info, "delivered", ["message_id": ref, "to": puller?.name, "status": "Delivered",
                                                     "store_retries": retries > 0 ? String(retries) : nil, "elapsed_ms": ms(started)])
                context.metrics.endToEndLatency.observe(since: stored.createdAt)
                return .empty(200)
            case .refused(let error), .unavailable(let error, _):
                throw error
            }
        } catch {
            context.metrics.noteReceiptOutcome(error)
            return processor.errorResponse(error, refTo: ref, started: started)
        }
    }

    /// The party whose signing certificate signed the signal (a pull request, a receipt or an
    /// error), and that certificate.
    func authenticate(_ message: AS4Message) throws -> (party: Routing.Party, signer: Certificate) {
        let set = context.registry.current
        let all = set.parties.flatMap { $0.allCertificates(role: .signing) }
        let verifier = SignatureVerifier(policy: .receiving, trust: try context.validator(pinned: all), candidates: all,
                                         expectedSigners: all, checkRevocation: !context.crls.isEmpty)
        let report = verifier.verify(message, attachments: [])
        if let error = report.error { throw error }
        guard let signer = report.signer, let party = set.parties.first(where: { $0.allCertificates(role: .signing).contains(signer) }) else {
            throw EbmsError(.failedAuthentication, "the signal is not signed by a known party")
        }
        return (party, signer)
    }

    var processor: InboundProcessor { InboundProcessor(context: context, client: client) }
}

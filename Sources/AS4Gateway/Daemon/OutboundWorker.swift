import AS4Crypto
import EnvelopeXML
import Foundation
import HTTPClient
import MessageStore
import Routing
import Synchronization
import WSSecurity

/// Delivery workers: each thread claims due messages from the store's queue (with a lease, so a
/// crashed worker's messages return to the queue), POSTs the stored bytes over its own libcurl
/// handle (keep-alive, mTLS), and checks the receipt against what was signed. A message is
/// Delivered only with a valid receipt; otherwise it is retried per the P-Mode's reception
/// awareness and finally Failed with EBMS:0301 MissingReceipt or the peer's own error (at once
/// with ReceiptLost when the receiver reports it holds the message already, `ReceiverAnswer`).
final class OutboundWorkers: Sendable {
    let context: GatewayContext
    private let running = Atomic<Bool>(true)
    /// The worker threads still running, by owner, with what each is doing: a stop that runs out
    /// of time names the deliveries it leaves behind.
    private let busy = Mutex<[String: String]>([:])

    init(context: GatewayContext) {
        self.context = context
    }

    /// Worker names are stable across restarts of this node (`<node>/w<n>`), so at start the
    /// leases a killed predecessor held can be released at once instead of after they expire;
    /// the node name keeps that release away from other nodes sharing a PostgreSQL store.
    var ownerPrefix: String { "\(context.nodeName)/w" }

    func start(count: Int) {
        if let released = try? context.store.releaseLeases(ownerPrefix: ownerPrefix, now: Date()), !released.isEmpty {
            context.log.log(.warning, "leases-released", ["reason": "\(released.count) message(s) held at the last stop go back to the queue",
                                                          "message_ids": Self.listed(released)])
        }
        for i in 0..<max(count, 1) {
            let owner = "\(ownerPrefix)\(i)"
            busy.withLock { $0[owner] = "starting" }
            let thread = Thread { [self] in
                self.loop(owner: owner)
                self.busy.withLock { _ = $0.removeValue(forKey: owner) }
            }
            thread.name = owner
            thread.start()
        }
    }

    /// Message ids for one log line: the first `shownIds`, then how many more (a crash under a
    /// large queue must not make a line of thousands).
    static func listed(_ ids: [String], shown: Int = shownIds) -> String {
        let more = ids.count > shown ? " … and \(ids.count - shown) more" : ""
        return ids.prefix(shown).joined(separator: " ") + more
    }

    static let shownIds = 20

    /// Stops claiming; waits until every worker has finished its current delivery or the deadline
    /// passes. Returns the workers still running then, each with what it is doing.
    func stop(deadline: Date) -> [String] {
        running.store(false, ordering: .sequentiallyConsistent)
        context.workerHandoff.wakeAll()
        while Date() < deadline, !busy.withLock({ $0.isEmpty }) {
            Thread.sleep(forTimeInterval: 0.05)
        }
        return busy.withLock { $0.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" } }
    }

    private func note(_ owner: String, _ activity: String) {
        busy.withLock { $0[owner] = activity }
    }

    /// One message per claim: a claim no longer waits for an fsync of its own, and a batch made
    /// the later messages of it wait behind the earlier deliveries while other workers sat idle
    /// (the tail of the latency at a steady rate).
    static let claimBatch = 1

    private func loop(owner: String) {
        var client: HTTPClient?
        let slot = WorkerHandoff.Slot(owner: owner)
        // After a job taken from the queue, the queue may hold more; after a handed one, it holds
        // only what was queued while nobody was parked, and those wake-ups wait in the handoff.
        var lookAtQueue = true
        var lastLook = Date.distantPast
        var failures = RepeatedFailureLog()
        let poll = context.config.pollIntervalSeconds
        while running.load(ordering: .sequentiallyConsistent) {
            var jobs: [OutboundJob] = []
            // However busy with handed jobs, the queue is read every poll interval: retries fall
            // due there, and leases other workers or nodes let expire are taken over there.
            if lookAtQueue || Date().timeIntervalSince(lastLook) >= poll {
                lastLook = Date()
                note(owner, "reading the queue")
                do {
                    jobs = try context.store.claimDue(now: Date(), limit: Self.claimBatch, owner: owner, lease: context.config.leaseSeconds)
                    if let fields = failures.succeeded() { context.log.log(.info, "queue-available", fields) }
                } catch {
                    if let fields = failures.failed("\(error)", key: FailureKey.of(error)) { context.log.log(.error, "queue-unavailable", fields) }
                    Thread.sleep(forTimeInterval: 1)
                    continue
                }
            }
            lookAtQueue = !jobs.isEmpty
            if jobs.isEmpty {
                note(owner, "waiting for work")
                switch context.workerHandoff.park(slot, timeout: poll) {
                case .handed(let job): jobs = [job]
                case .lookAtQueue, .timedOut:
                    lookAtQueue = true
                    continue
                }
            }
            if client == nil {
                client = try? HTTPClient(configuration: clientConfiguration())
            }
            // Leased jobs are finished even when a stop is requested meanwhile (within the grace period).
            for job in jobs {
                note(owner, "delivering \(job.metadata.messageId)")
                deliver(job, client: client)
            }
        }
    }

    func clientConfiguration() -> HTTPClientConfiguration { context.outboundClientConfiguration() }

    func deliver(_ job: OutboundJob, client: HTTPClient?) {
        let started = Date()
        var fields: [String: String?] = ["message_id": job.metadata.messageId, "conversation_id": job.metadata.conversationId,
                                         "from": partyValue(job.metadata.fromParty), "to": partyValue(job.metadata.toParty),
                                         "service": job.metadata.service,
                                         "action": job.metadata.action, "pmode": job.metadata.pmodeId, "attempt": String(job.attempt)]
        // Otherwise nothing tells the operator the daemon took it up until it is delivered or
        // retried: one line, once per `as4gw messages retry`.
        if job.afterOperatorRetry {
            context.log.log(.info, "retry-taken-up", fields.merging(["reason": "sent again as an operator asked (as4gw messages retry)"]) { $1 })
        }
        let outcome: Result<[UInt8], AttemptFailure>
        var retryAfter: TimeInterval?
        if let client, let endpoint = job.endpoint {
            do {
                (outcome, retryAfter) = try attempt(job, client: client, endpoint: endpoint)
            } catch {
                // Our own file, not the peer: no attempt spent, no peer error recorded.
                releaseUnreadable(job, error, fields: fields)
                return
            }
        } else {
            outcome = .failure(AttemptFailure(EbmsError(.connectionFailure, job.endpoint == nil ? "no endpoint for the receiving party" : "HTTP client unavailable")))
        }
        fields["elapsed_ms"] = ms(started)
        settle(job, outcome, retryAfter: retryAfter, fields: fields)
    }

    /// Records how one attempt ended: its receipt, a retry, or the message's failure.
    func settle(_ job: OutboundJob, _ outcome: Result<[UInt8], AttemptFailure>, retryAfter: TimeInterval?, fields: [String: String?]) {
        switch outcome {
        case .success(let receipt):
            record(receipt, of: job, fields: fields)
        case .failure(let error):
            context.metrics.noteReceiptOutcome(error.ebms.map { $0 as Error } ?? error)
            let code = error.code
            // An attempt the receiving side did not answer keeps its last answer in view.
            let previous = error.isPeerAnswer ? nil : (try? context.store.findMessage(id: job.metadata.messageId, direction: .outbound))??.outbound?.lastError
            // A peer that asked us to wait (503/429 with Retry-After) gets at least that long.
            let retry = reception(for: job).delay(beforeRetry: job.attempt).map { max($0, retryAfter ?? 0) }
            do {
                if let retry, !job.isLastAttempt, !error.endsDelivery {
                    let reached = try context.store.markRetry(messageId: job.metadata.messageId, owner: job.owner,
                                                              error: error.retryError(after: previous),
                                                              nextAttemptAt: Date().addingTimeInterval(retry), at: Date())
                    // Withdrawn meanwhile (its document's deadline): the store failed it instead,
                    // with the withdrawal's reason followed by this attempt's; logged as recorded,
                    // so the line gives why it failed and not only how the attempt went.
                    guard reached == .submitted else {
                        let recorded = (try? context.store.findMessage(id: job.metadata.messageId, direction: .outbound))??.outbound?.lastError
                        let reason = recorded?.reason ?? "withdrawn meanwhile (its reason could not be read back); this attempt: \(code): \(error.reason)"
                        context.log.log(.error, "failed", fields.merging(["status": reached.rawValue, "error_code": recorded?.code ?? code, "reason": reason]) { $1 })
                        return
                    }
                    context.metrics.noteRetry()
                    context.log.log(.warning, "retry", fields.merging(["status": "Submitted", "error_code": code, "reason": error.reason,
                                                                      "next_attempt_s": String(Int(retry.rounded()))]) { $1 })
                } else {
                    // No receipt after the last attempt: the peer's answer, or MissingReceipt with the last one it gave
                    // (or, at once, the receiver's report that it holds the message already: ReceiptLost).
                    let final = error.finalError(attempts: job.attempt, after: previous)
                    try context.store.markFailed(messageId: job.metadata.messageId, owner: job.owner, error: final, at: Date())
                    context.log.log(.error, "failed", fields.merging(["status": "Failed", "error_code": final.code, "reason": final.reason]) { $1 })
                }
            } catch StoreError.illegalTransition(_, let from, _) where from == .failed {
                // Failed while this attempt was in flight, by the receiver's own error signal
                // (ErrorSignalResponder) or an expired lease: that stays the outcome.
                let recorded = (try? context.store.findMessage(id: job.metadata.messageId, direction: .outbound))??.outbound?.lastError
                let meanwhile = recorded.map { "\($0.code): \($0.reason)" } ?? "its reason could not be read back"
                context.log.log(.warning, "attempt-superseded", fields.merging([
                    "status": "Failed", "error_code": recorded?.code ?? code,
                    "reason": "the message was failed meanwhile (\(meanwhile)); this attempt: \(code): \(error.reason)"]) { $1 })
            } catch {
                context.log.log(.error, "store-failed", fields.merging(["reason": "\(error)"]) { $1 })
            }
        }
    }

    /// How long before its lease runs out a worker stops trying to record a receipt (at most a
    /// tenth of `leaseSeconds`, so short leases keep some time to try): after that, another
    /// worker may take the message over and send it again. Recording past it would still be
    /// safe (only the lease holder may), just pointless once the message is on its way again.
    static let receiptLeaseMargin: TimeInterval = 2

    /// Records a valid receipt, trying again while the store cannot answer, until the job's lease
    /// is about to run out (`ReceiptRecording`). Not recorded by then, the message is sent again
    /// after the lease, and the receiver answers that duplicate with the receipt it gave.
    func record(_ receipt: [UInt8], of job: OutboundJob, fields: [String: String?]) {
        let deadline = job.leaseUntil.addingTimeInterval(-min(Self.receiptLeaseMargin, context.config.leaseSeconds / 10))
        let outcome = ReceiptRecording().run(until: deadline, retrying: { error, failures in
            if failures == 1 {
                context.log.log(.warning, "receipt-retrying", fields.merging([
                    "reason": "the store cannot record the valid receipt now, trying again until the lease ends: \(error)"]) { $1 })
            }
        }) {
            try context.store.markDelivered(messageId: job.metadata.messageId, owner: job.owner, receipt: Data(receipt), at: Date())
        }
        switch outcome {
        case .recorded(let retries), .alreadyDelivered(let retries):
            context.log.log(.info, "delivered", fields.merging(["status": "Delivered", "store_retries": retries > 0 ? String(retries) : nil]) { $1 })
            context.metrics.endToEndLatency.observe(since: job.createdAt)
        case .refused(let error):
            context.log.log(.error, "store-failed", fields.merging(["reason": "the store refused the valid receipt: \(error)"]) { $1 })
        case .unavailable(let error, let tries):
            context.log.log(.error, "receipt-unrecorded", fields.merging([
                "reason": "the store did not answer before the lease ends (\(tries) tries), the valid receipt is given up: the message will "
                    + "be sent again and the receiver answers the duplicate with its receipt: \(error)"]) { $1 })
        }
    }

    /// The public keys of the TLS certificates the P-Modes list for the receiving party: its
    /// endpoint must present one of them (pinning). None listed: the truststore alone decides.
    func tlsPins(forParty partyId: String) -> [String] {
        guard let party = context.registry.current.parties.first(where: { $0.partyIds.map(\.description).contains(partyId) }) else { return [] }
        return party.allCertificates(role: .tls).compactMap { try? PublicKeyPin.sha256(of: $0) }
    }

    /// One POST of the stored message; the receipt bytes when it validates, and how long the peer
    /// asked us to wait before the next attempt, if it did. Throws when the message's own file
    /// could not be read: then the peer was not at fault (and may not have been reached at all).
    func attempt(_ job: OutboundJob, client: HTTPClient,
                 endpoint: String) throws(MessageFileUnreadable) -> (Result<[UInt8], AttemptFailure>, retryAfter: TimeInterval?) {
        let response: HTTPClientResponse
        do {
            let body: HTTPRequestBodySource = job.messageBytes.map { .bytes([UInt8]($0)) } ?? .file(path: job.messagePath)
            response = try client.post(url: endpoint, headers: [("Content-Type", job.contentType)], body: body,
                                       pinnedPublicKeys: tlsPins(forParty: job.metadata.toParty))
        } catch .requestBodyUnreadable(let path, let reason) {
            throw MessageFileUnreadable(path: path, reason: reason)
        } catch {
            return (.failure(AttemptFailure(EbmsError(.connectionFailure, Self.connectionReason(error, toParty: job.metadata.toParty)))), nil)
        }
        let retryAfter = [429, 503].contains(response.status) ? RetryAfter.seconds(response.header("Retry-After"), now: Date()) : nil
        return (judge(response, job), retryAfter)
    }

    /// Why a POST got no answer. curl's words for a TLS certificate that is none of the pinned
    /// ones do not say where the pins come from, which is what the operator has to look at
    /// (often the partner renewed its certificate and parties.json still lists the old one).
    static func connectionReason(_ error: Error, toParty party: String) -> String {
        guard case HTTPClientError.tls(let detail) = error, detail.hasPrefix("curl 90 ") /* CURLE_SSL_PINNEDPUBKEYNOTMATCH */ else {
            return "\(error)"
        }
        return "\(error): the endpoint's TLS certificate is none of those the P-Modes list for \(partyValue(party)) "
            + "(certificates.tls in parties.json); if the partner renewed it, add its new certificate there"
    }

    /// The peer's answer to one POST: the receipt's SOAP envelope when it validates.
    func judge(_ response: HTTPClientResponse, _ job: OutboundJob) -> Result<[UInt8], AttemptFailure> {
        let set = context.pmodes
        let pmode = set.pmode(id: job.metadata.pmodeId ?? "")
        let receiver = pmode.flatMap { pm -> Routing.Party? in
            set.party(named: pm.responder.party == context.party ? pm.initiator.party : pm.responder.party)
        }
        let leg = pmode?.legs.first { $0.action == job.metadata.action }
        return judge(response, messageId: job.metadata.messageId, sent: SentReferenceCoding.decode(job.sentReferences), receiver: receiver,
                     leg: leg, sentBefore: { self.sentBefore(job) })
    }

    /// The answer to message `messageId`, sent under `leg` to `receiver`, whose signature
    /// covered `sent` (nil: not known): the receipt's SOAP envelope when it validates. Only what
    /// the receiver said (its ebMS errors, a Fault, a definite HTTP status) is recorded as its
    /// answer; an answer we cannot read or accept is an invalid receipt, retried like a missing one.
    /// `sentBefore` says whether the message went out before this attempt (read only when an
    /// answer depends on it).
    func judge(_ response: HTTPClientResponse, messageId id: String, sent: [SentReference]?, receiver: Routing.Party?,
               leg: Leg?, sentBefore: () -> Bool = { false }) -> Result<[UInt8], AttemptFailure> {
        let contentType = response.header("Content-Type") ?? ""
        guard !response.body.isEmpty, contentType.contains("soap+xml") || contentType.contains("multipart/related") || contentType.contains("text/xml") else {
            // A definite HTTP answer (413 to a body over the peer's limit) is what the peer said.
            return .failure(AttemptFailure(httpStatus: response.status,
                                           answer: AttemptFailure.describe(contentType: response.header("Content-Type"), body: response.body)))
        }
        let raw: RawMessage
        let reply: AS4Message
        do {
            raw = try MessageInput.load(bytes: response.body, contentType: contentType)
            do {
                reply = try AS4Message.read(raw)
            } catch {
                // A bare SOAP Fault (no eb:Messaging) is the peer's answer, not our parser's complaint;
                // the eb:Error in its Detail, if any, says what the answer is.
                guard let fault = SOAPFault.read(envelope: raw.envelope) else { throw error }
                let how = " (in a SOAP Fault with HTTP \(response.status): \(fault.reason))"
                guard let answer = ReceiverAnswer.of(fault.errors, signalRef: nil, sentMessageId: id) else {
                    return .failure(AttemptFailure(EbmsError(.other, "the receiver answered HTTP \(response.status) with a SOAP Fault and no ebMS signal: \(fault.reason)")))
                }
                return .failure(AttemptFailure(answer, sentMessageId: id, where: how, sentBefore: answer.needsHistory && sentBefore()))
            }
        } catch {
            // Our parser's complaint (EBMS:0009 for a receipt without RefToMessageId, 0007 for
            // broken MIME) is about the answer, not the receiver's word on our message.
            let why = (error as? EbmsError).map { "\($0.code.rawValue) \($0.code.shortDescription): \($0.reason)" } ?? "\(error)"
            return .failure(AttemptFailure(EbmsError(.invalidReceipt, "the answer cannot be read as an AS4 signal: \(why)")))
        }
        let isReceipt = { (s: SignalMessage) -> Bool in if case .receipt = s.kind { return true } else { return false } }
        if !reply.messaging.signals.contains(where: isReceipt) {
            for signal in reply.messaging.signals {
                guard case .errors(let errors) = signal.kind,
                      let answer = ReceiverAnswer.of(errors, signalRef: signal.messageInfo.refToMessageId, sentMessageId: id) else { continue }
                return .failure(AttemptFailure(answer, sentMessageId: id, sentBefore: answer.needsHistory && sentBefore()))
            }
        }
        do {
            try checkReceipt(reply, messageId: id, sent: sent, receiver: receiver, leg: leg)
            // The evidence is the SOAP envelope alone, whatever framing (multipart or not) it came
            // in: the status, receipt and evidence routes read it back as application/soap+xml.
            return .success(raw.envelope)
        } catch let e as EbmsError where e.code == .invalidReceipt {
            return .failure(AttemptFailure(e))
        } catch let e as EbmsError {
            return .failure(AttemptFailure(EbmsError(.invalidReceipt, "\(e.code.rawValue): \(e.reason)")))
        } catch {
            return .failure(AttemptFailure(EbmsError(.invalidReceipt, "\(error)")))
        }
    }

    /// The receipt must be signed by the responding party itself, with the leg's algorithms,
    /// and acknowledge exactly what we signed; any gap fails closed (EBMS:0302). The party's
    /// certificate is needed where there is a signature to check: on a leg that signs, or on a
    /// signed answer to a leg that does not.
    ///
    /// Its certificates are those the P-Mode lists now, and a receipt's signer must be valid now
    /// (checked by the verifier, which says so of one expired or not valid yet), also for a
    /// receipt signed before a renewal (a partner answers a resent duplicate with the receipt
    /// it stored). The receipt becomes our evidence of delivery now, and its timestamps are the
    /// signer's own word: a certificate withdrawn from the P-Mode, the only revocation a pinned
    /// partner certificate has, could otherwise sign "old" receipts for ever. The operator keeps
    /// the old certificate listed until such messages are settled (docs/PMODES.md, Certificates
    /// and renewals); a refused one is retried, and taken once it is listed again.
    func checkReceipt(_ reply: AS4Message, messageId: String, sent: [SentReference]?, receiver: Routing.Party?, leg: Leg?) throws {
        guard let sent else {
            throw EbmsError(.invalidReceipt, "the references signed at submission are missing from the store")
        }
        var policy = leg?.security.policy ?? .receiving
        policy.requireEncryption = false
        // Every listed certificate, valid now or not, as for an inbound message: a receipt signed
        // with one that expired is refused as such, not as another party's.
        let certs = receiver?.allCertificates(role: .signing) ?? []
        if certs.isEmpty, policy.requireSignature || !sent.isEmpty || reply.envelope.hasSignature {
            throw EbmsError(.invalidReceipt, "no signing certificate of the responding party to check its receipt with")
        }
        let verifier = SignatureVerifier(policy: policy, trust: try context.validator(pinned: certs), candidates: certs,
                                         expectedSigners: certs, checkRevocation: !context.crls.isEmpty)
        _ = try ReceiptValidator(verifier: verifier).validate(reply, sentMessageId: messageId, sentReferences: sent)
    }

    /// Whether this message went out before this attempt: an earlier attempt of its budget, or
    /// one before a restart or an operator's retry gave the budget back (every lease is a
    /// `Sending` event). Read only for an answer that depends on it.
    func sentBefore(_ job: OutboundJob) -> Bool {
        if job.attempt > 1 { return true }
        let leases = (try? context.store.events(for: job.rowId))?.filter { $0.status == .sending }.count ?? 0
        return leases > 1
    }

    func reception(for job: OutboundJob) -> ReceptionAwareness {
        let set = context.pmodes
        guard let pm = set.pmode(id: job.metadata.pmodeId ?? "") else { return ReceptionAwareness() }
        return pm.legs.first { $0.action == job.metadata.action && $0.service.value == job.metadata.service }?.receptionAwareness
            ?? pm.legs[0].receptionAwareness
    }
}

/// The party id value of a stored `type::value` party, as the log shows it.
func partyValue(_ stored: String) -> String {
    guard let r = stored.range(of: "::", options: .backwards) else { return stored }
    return String(stored[r.upperBound...])
}

extension GatewayContext {
    /// Outbound HTTP: our trust bundle, our TLS client certificate, the configured timeouts.
    /// Shared by the delivery workers and the pull worker.
    func outboundClientConfiguration() -> HTTPClientConfiguration {
        var c = HTTPClientConfiguration(trustedCAFile: outboundTrustFile,
                                        clientCertificateFile: tlsClientCertificateFile,
                                        clientKeyFile: tlsClientKeyFile)
        c.connectTimeout = config.connectTimeoutSeconds
        c.totalTimeout = config.requestTimeoutSeconds
        return c
    }
}

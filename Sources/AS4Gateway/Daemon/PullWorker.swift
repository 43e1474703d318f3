import AS4Crypto
import EnvelopeXML
import Foundation
import HTTPClient
import MessageStore
import Routing
import Synchronization
import WSSecurity

/// The pulling side of One-Way/Pull (AS4-WIRE §1.7). One thread: every `pullIntervalSeconds` it
/// sends a signed PullRequest for each MPC on which a P-Mode leg keeps messages for us, to the
/// endpoint of the party that keeps them. A user message in the response goes through the same
/// receive path as a pushed one (`InboundProcessor.processUserMessage`); the signed receipt, or
/// the ebMS error when processing failed, is then pushed to that endpoint as a request of its own.
/// An MPC is pulled again at once after a message, so a queue drains without waiting a round.
final class PullWorker: Sendable {
    let context: GatewayContext
    private let running = Atomic<Bool>(true)
    private let finished = Atomic<Bool>(false)
    /// At most this many messages per MPC per round, so one busy MPC cannot starve the others.
    static let maxPerRound = 100

    init(context: GatewayContext) {
        self.context = context
    }

    /// Where we pull from: an MPC and the endpoint of the party that keeps its messages for us.
    struct Target: Hashable {
        var mpc: String
        var endpoint: String
        var party: String
        /// The pull leg's security: the PullRequest is signed as the leg says.
        var security = LegSecurity()
    }

    /// Every pull leg whose user message is addressed to us and which we are authorised to pull,
    /// from the current P-Mode set (so a SIGHUP reload takes effect at the next round).
    func targets() -> [Target] {
        let set = context.registry.current
        var seen = Set<Target>()
        var out: [Target] = []
        let mpcs = Set(set.pmodes.filter { $0.binding == .pull }.flatMap { $0.legs.map(\.mpc) })
        for mpc in mpcs.sorted() {
            for match in set.pullLegs(for: context.party, mpc: mpc) where match.receiver.name == context.party {
                guard let endpoint = match.sender.endpoint?.absoluteString else { continue }
                let t = Target(mpc: mpc, endpoint: endpoint, party: match.sender.name, security: match.leg.security)
                if seen.insert(t).inserted { out.append(t) }
            }
        }
        return out
    }

    /// What goes back to the holder for a user message pulled from `target`, and the event that
    /// logs it: the signed receipt, or the ebMS error when the message was not accepted. There is
    /// no back-channel for a fault about a pulled message, so the fault SOAP 1.2 requires for
    /// mandatory header blocks we do not process (env:MustUnderstand, an env:NotUnderstood block
    /// naming each: Part 1 §2.6, §5.4.8) travels in that pushed error, as the error signal we
    /// answer a pushed message with carries it.
    func answer(to reply: AS4Message, target: Target, started: Date) -> (envelope: [UInt8], event: String) {
        let processor = InboundProcessor(context: context)
        switch processor.processUserMessage(reply, started: started, pulled: true, pulledMPC: target.mpc) {
        case .success(let receipt):
            return (receipt, "receipt-sent")
        case .failure(let f):
            return (processor.errorSignal(f.error, refTo: f.refTo, started: started, fields: f.fields, notUnderstood: f.notUnderstood,
                                          security: f.security ?? target.security).envelope,
                    "error-sent")
        }
    }

    /// The holder's TLS keys from the P-Modes, pinned as for pushed messages (`OutboundWorkers.tlsPins`).
    func pins(_ target: Target) -> [String] {
        (context.registry.current.party(named: target.party)?.allCertificates(role: .tls) ?? []).compactMap { try? PublicKeyPin.sha256(of: $0) }
    }

    func start() {
        let thread = Thread { [self] in
            self.loop()
            self.finished.store(true, ordering: .sequentiallyConsistent)
        }
        thread.name = "\(context.party)/pull"
        thread.start()
    }

    /// Stops pulling; waits for the current exchange to finish or the deadline to pass. False
    /// when the exchange was still running at the deadline.
    func stop(deadline: Date) -> Bool {
        running.store(false, ordering: .sequentiallyConsistent)
        while Date() < deadline, !finished.load(ordering: .sequentiallyConsistent) {
            Thread.sleep(forTimeInterval: 0.05)
        }
        return finished.load(ordering: .sequentiallyConsistent)
    }

    private var isRunning: Bool { running.load(ordering: .sequentiallyConsistent) }

    private func loop() {
        var client: HTTPClient?
        // Per target: a partner down fails every round the same way, logged once a minute.
        var failures: [Target: RepeatedFailureLog] = [:]
        while isRunning {
            let round = targets()
            if !round.isEmpty, client == nil {
                do {
                    client = try HTTPClient(configuration: context.outboundClientConfiguration())
                } catch {
                    context.log.log(.error, "pull-failed", ["reason": "HTTP client unavailable: \(error)"])
                }
            }
            if let client {
                for target in round {
                    var pulled = 0
                    while isRunning, pulled < Self.maxPerRound, pullOnce(target, client: client, failures: &failures[target, default: RepeatedFailureLog()]) {
                        pulled += 1
                    }
                }
            }
            // Sleep in short steps so a stop is not held up by a long interval.
            let wake = Date().addingTimeInterval(context.config.pullIntervalSeconds)
            while isRunning, Date() < wake { Thread.sleep(forTimeInterval: min(0.1, max(0, wake.timeIntervalSinceNow))) }
        }
    }

    /// The PullRequest signal for `target`. Its `mpc` is written even for the default MPC,
    /// which ebMS3 §5.2.3.1 lets a puller leave out: phase4 looks the attribute up without that
    /// default and refuses a PullRequest without one (EBMS:0001, "Failed to resolve the
    /// PullRequest MPC"). Naming the default is the same request for every other reader.
    static func pullRequest(_ target: Target, id: String) -> SignalMessage {
        SignalMessage(messageInfo: MessageInfo(messageId: id), kind: .pullRequest(PullRequest(mpc: target.mpc)))
    }

    /// One PullRequest and what follows it. True when a user message came back (pull again).
    /// A failed or refused pull is logged through `failures` (the same failure once a minute),
    /// and the first answer after failures as a recovery.
    func pullOnce(_ target: Target, client: HTTPClient, failures: inout RepeatedFailureLog) -> Bool {
        let started = Date()
        var fields: [String: String?] = ["mpc": target.mpc, "from": target.party]
        let requestId = Identifier.messageId(domain: context.messageIdDomain)
        let signal = Self.pullRequest(target, id: requestId)
        let response: HTTPClientResponse
        do {
            let envelope = try MessageSealer(signer: try context.signatureBuilder(for: target.security)).seal(signal: signal).envelope
            response = try client.post(url: target.endpoint, headers: [("Content-Type", MultipartWriter.soapContentType)], body: .bytes(envelope),
                                       pinnedPublicKeys: pins(target))
        } catch {
            if let line = failures.failed("\(error)", key: FailureKey.of(error)) {
                context.log.log(.warning, "pull-failed", fields.merging(line) { $1 }.merging(["elapsed_ms": ms(started)]) { $1 })
            }
            return false
        }
        let contentType = response.header("Content-Type") ?? ""
        let reply: AS4Message
        do {
            guard !response.body.isEmpty else { throw EbmsError(.other, "HTTP \(response.status) without an AS4 message") }
            reply = try AS4Message.read(try MessageInput.load(bytes: response.body, contentType: contentType,
                                                              spoolDirectory: context.spoolDirectory))
        } catch {
            // A bare SOAP Fault (no eb:Messaging, often no Header) is the peer's answer: say what it said.
            let fault = SOAPFault.read(envelope: response.body)
            let reason = fault.map { "SOAP Fault (HTTP \(response.status)): \($0.reason)" } ?? "unreadable response (HTTP \(response.status)): \(error)"
            if let line = failures.failed(reason, key: "\(fault == nil ? "unreadable" : "SOAP Fault") HTTP \(response.status)") {
                context.log.log(.warning, "pull-failed", fields.merging(line) { $1 }.merging(["elapsed_ms": ms(started)]) { $1 })
            }
            return false
        }
        defer { InboundProcessor.removeSpoolFiles(of: reply.attachments, keeping: nil, spool: context.spoolDirectory) }
        if reply.messaging.userMessage == nil {
            let errors = reply.messaging.signals.flatMap { s -> [ErrorDetail] in if case .errors(let e) = s.kind { return e } else { return [] } }
            if !errors.isEmpty, errors.allSatisfy({ $0.errorCode == EbmsError.Code.emptyMessagePartitionChannel.rawValue }) {
                noteAnswered(&failures, fields)
                context.log.log(.debug, "pull-empty", fields.merging(["elapsed_ms": ms(started)]) { $1 })
            } else {
                // A partner refusing every round (not authorised, its own outage) is one refusal too.
                let first = errors.first
                let code = first?.errorCode ?? "none"
                let reason = first?.detail ?? first?.shortDescription ?? "HTTP \(response.status) without a user message"
                if let line = failures.failed(reason, key: "refused \(code)") {
                    context.log.log(.warning, "pull-refused", fields.merging(line) { $1 }.merging(["error_code": code, "elapsed_ms": ms(started)]) { $1 })
                }
            }
            return false
        }
        noteAnswered(&failures, fields)
        let user = reply.messaging.userMessage!
        fields = InboundProcessor.fields(user).merging(fields) { a, _ in a }
        fields["mpc"] = user.mpc ?? EbmsConstants.defaultMPC
        context.log.log(.info, "pulled", fields.merging(["status": "Received", "bytes": String(response.body.count), "elapsed_ms": ms(started)]) { $1 })
        let (answer, event) = self.answer(to: reply, target: target, started: started)
        do {
            let r = try client.post(url: target.endpoint, headers: [("Content-Type", MultipartWriter.soapContentType)], body: .bytes(answer),
                                    pinnedPublicKeys: pins(target))
            let level: EventLog.Level = (200..<300).contains(r.status) ? .info : .warning
            context.log.log(level, event, fields.merging(["http_status": String(r.status), "elapsed_ms": ms(started)]) { $1 })
        } catch {
            // The sender puts the message back after its lease and we get it again; a duplicate
            // then gets the stored receipt.
            context.log.log(.warning, event, fields.merging(["http_status": "none", "reason": "\(error)", "elapsed_ms": ms(started)]) { $1 })
        }
        return true
    }

    /// The partner answered a pull as it should (a message, or none waiting): after failures,
    /// one line says so.
    private func noteAnswered(_ failures: inout RepeatedFailureLog, _ fields: [String: String?]) {
        if let line = failures.succeeded() { context.log.log(.info, "pull-recovered", fields.merging(line) { $1 }) }
    }
}

import AS4Crypto
import Dispatch
import EnvelopeXML
import Foundation
import HTTPServer
import MessageStore
import Routing
import Synchronization
import WSSecurity
#if canImport(Glibc)
import Glibc
#endif

/// The running daemon: wires the P-Mode registry, the store, the AS4 and submission listeners
/// and the delivery workers, and owns their lifecycle (SIGHUP reloads P-Modes, SIGTERM stops
/// gracefully: no new connections, in-flight work finishes within the grace period, exit 0).
final class Gateway {
    let context: GatewayContext
    private var as4Server: HTTPServer?
    private var submissionServer: HTTPServer?
    private var workers: OutboundWorkers?
    private var puller: PullWorker?
    private var adminServer: HTTPServer?
    private var mailboxWorker: MailboxWorker?
    private var webhookPusher: WebhookPusher?
    private var noticeMailer: NoticeMailer?
    private var expiryWatch: CertificateExpiryWatch?

    /// The data directory's lock, held while this process runs (`DataDirectoryLock`).
    private let dataLock: DataDirectoryLock

    init(config: GatewayConfiguration) throws {
        let fm = FileManager.default
        try fm.createDirectory(atPath: config.dataDirectory, withIntermediateDirectories: true)
        dataLock = try DataDirectoryLock(directory: config.dataDirectory)
        let log = EventLog(format: EventLog.Format(rawValue: config.logFormat) ?? .logfmt,
                           minimum: EventLog.Level(name: config.logLevel) ?? .info,
                           pseudonymKey: try LogPseudonymKey.load(dataDirectory: config.dataDirectory))

        // P-Modes; in development mode, certificates for every party are created first.
        var devCA: String?
        if config.developmentPKI {
            let preliminary: PModeSet
            do {
                preliminary = try PModeLoader.load(directory: config.pmodeDirectory, options: .init(requireCertificates: false))
            } catch {
                throw GatewayError.pmodes(error.description)
            }
            var wanted: [String: [String: String]] = [:]
            for party in preliminary.parties {
                for (role, files) in party.certificateFiles {
                    if let first = files.first { wanted[party.name, default: [:]][role.rawValue] = Self.resolve(first, in: config.pmodeDirectory) }
                }
            }
            let generated = try DevelopmentPKI.ensure(pmodeDirectory: config.pmodeDirectory, parties: wanted)
            devCA = generated.caCertificate
            log.log(.warning, "development-pki", ["reason": generated.files.isEmpty
                ? "using the development PKI under \(config.pmodeDirectory)/certs (not for production)"
                : "generated a development PKI under \(config.pmodeDirectory)/certs: \(generated.files.count) files (not for production)"])
        }
        // Loaded first to find our party and, without configured keys, our key files; loaded
        // again below with the certificates we sign with, which the key references are checked
        // against at this start and at every reload.
        let unchecked: PModeSet
        do {
            unchecked = try PModeLoader.load(directory: config.pmodeDirectory)
        } catch {
            throw GatewayError.pmodes(error.description)
        }
        guard let us = unchecked.party(named: config.party) else {
            throw GatewayError.configuration("party \(config.party) is not defined in \(config.pmodeDirectory)/parties.json")
        }

        // Our keys: configured, or the development PKI's files for our party.
        func ours(_ role: CertificateRole) throws -> (String, String) {
            guard let cert = us.certificateFiles[role]?.first.map({ Self.resolve($0, in: config.pmodeDirectory) }) else {
                throw GatewayError.configuration("party \(us.name) has no \(role.rawValue) certificate in parties.json")
            }
            return (DevelopmentPKI.keyPathFor(certificate: cert), cert)
        }
        let keys = try config.keys ?? {
            let s = try ours(.signing), e = try ours(.encryption), t = try ours(.tls)
            var keys = GatewayConfiguration.Keys(signingKey: s.0, signingCertificate: s.1, encryptionKey: e.0, encryptionCertificate: e.1,
                                                 tlsClientCertificate: t.1, tlsClientKey: t.0)
            keys.additional = try Self.developmentIdentities(of: us, in: config.pmodeDirectory)
            return keys
        }()
        var signing = [SigningIdentity(privateKey: try KeyMaterial.privateKey(keys.signingKey),
                                       certificate: try KeyMaterial.certificate(keys.signingCertificate))]
        var decryption = [DecryptionKey(privateKey: try KeyMaterial.privateKey(keys.encryptionKey),
                                        certificate: try KeyMaterial.certificate(keys.encryptionCertificate))]
        for identity in keys.additional {
            signing.append(SigningIdentity(privateKey: try KeyMaterial.privateKey(identity.signingKey),
                                           certificate: try KeyMaterial.certificate(identity.signingCertificate)))
            decryption.append(DecryptionKey(privateKey: try KeyMaterial.privateKey(identity.encryptionKey),
                                            certificate: try KeyMaterial.certificate(identity.encryptionCertificate)))
        }
        let options = PModeLoader.Options(signer: .init(party: config.party,
                                                        certificates: Self.signerCertificates(keys, signing, pmodeDirectory: config.pmodeDirectory)))
        let set: PModeSet
        do {
            set = try PModeLoader.load(directory: config.pmodeDirectory, options: options)
        } catch {
            throw GatewayError.pmodes(error.description)
        }
        let registry = PModeRegistry(set, options: options)
        Self.warnOfMissingStatusLegs(set, party: config.party, log: log)
        var anchors = try config.truststore.flatMap(KeyMaterial.certificateDirectory)
        if let devCA { anchors += try KeyMaterial.certificates(devCA) }
        let crls = try KeyMaterial.crls(config.crls)
        Self.warnOfCertificates(set, crls: crls, log: log)

        // One PEM bundle of the trust anchors for libcurl's server verification.
        let bundle = config.dataDirectory + "/outbound-trust.pem"
        try Data(try anchors.map { try $0.pemEncoded() }.joined().utf8).write(to: URL(fileURLWithPath: bundle), options: .atomic)

        let store = try config.storeLocation().open(payloadDirectory: config.payloadDirectoryPath, schema: .migrate)
        context = try GatewayContext(config: config, log: log, registry: registry, store: store, signing: signing,
                                     decryptionKeys: decryption, trustAnchors: anchors, crls: crls,
                                     outboundTrustFile: anchors.isEmpty ? nil : bundle,
                                     tlsClientCertificateFile: keys.tlsClientCertificate, tlsClientKeyFile: keys.tlsClientKey)
        self.keys = keys
        try Self.checkPayloadDirectory(context)
    }

    /// Before anything is accepted: on PostgreSQL this node's payload directory must be the one
    /// every other node of the store uses (`PayloadDirectoryIdentity`), or messages it accepted
    /// would have files the others cannot send. The first start records it.
    static func checkPayloadDirectory(_ context: GatewayContext) throws {
        let config = context.config
        let outcome: PayloadDirectoryIdentity.Outcome
        do {
            outcome = try config.storeLocation().verifyPayloadDirectory(config.payloadDirectoryPath, node: context.nodeName, record: true)
        } catch let mismatch as PayloadDirectoryIdentity.Mismatch {
            throw GatewayError.configuration(mismatch.description)
        } catch let unreadable as PayloadDirectoryIdentity.UnreadableMarker {
            throw GatewayError.configuration(unreadable.description)
        }
        if case let .recorded(recorded, written) = outcome {
            context.log.log(.info, "payload-directory", ["reason": "recorded \(recorded.firstPath) as the store's payload directory "
                + "(\(written ? "wrote" : "found") its marker \(PayloadDirectoryIdentity.markerName) \(recorded.id)); "
                + "every node of this store must see it"])
        }
    }

    private let keys: GatewayConfiguration.Keys

    /// With the development PKI, our party's further signing and encryption certificates in
    /// parties.json (the second, third, … of each role, with their keys beside them) are further
    /// identities, paired in order: a party listed with an RSA and an Ed25519 signing certificate
    /// signs under both profiles.
    static func developmentIdentities(of us: Routing.Party, in pmodeDirectory: String) throws -> [GatewayConfiguration.Keys.Identity] {
        let signing = (us.certificateFiles[.signing] ?? []).dropFirst().map { resolve($0, in: pmodeDirectory) }
        let encryption = (us.certificateFiles[.encryption] ?? []).dropFirst().map { resolve($0, in: pmodeDirectory) }
        return zip(signing, encryption).compactMap { s, e in
            let sk = DevelopmentPKI.keyPathFor(certificate: s), ek = DevelopmentPKI.keyPathFor(certificate: e)
            // A partner's renewed certificate listed beside the old one has no key here: not ours.
            guard FileManager.default.fileExists(atPath: sk), FileManager.default.fileExists(atPath: ek) else { return nil }
            return .init(signingKey: sk, signingCertificate: s, encryptionKey: ek, encryptionCertificate: e)
        }
    }

    /// Our signing certificates as the P-Mode load checks them (`KeyReferenceCheck`), named by
    /// their files (those of the P-Mode directory as parties.json names them): `identities` are
    /// those of `keys`, in the same order.
    static func signerCertificates(_ keys: GatewayConfiguration.Keys, _ identities: [SigningIdentity],
                                   pmodeDirectory: String) -> [PartyCertificate] {
        let files = [keys.signingCertificate] + keys.additional.map(\.signingCertificate)
        let base = pmodeDirectory.hasSuffix("/") ? pmodeDirectory : pmodeDirectory + "/"
        return zip(identities, files).map { identity, file in
            PartyCertificate(certificate: identity.certificate, file: file.hasPrefix(base) ? String(file.dropFirst(base.count)) : file)
        }
    }

    static func resolve(_ path: String, in directory: String) -> String {
        path.hasPrefix("/") ? path : directory + "/" + path
    }

    enum GatewayError: Error, CustomStringConvertible {
        case pmodes(String)
        case configuration(String)
        var description: String {
            switch self {
            case .pmodes(let s): return "P-Modes refused:\n\(s)"
            case .configuration(let s): return s
            }
        }
    }

    func start() throws {
        let config = context.config
        if let problems = config.notices?.problems, !problems.isEmpty {
            throw GatewayError.configuration(problems.joined(separator: "; "))
        }
        // Before anything is received: what is in the spool folder now was left by a crash or kill
        // (bodies, decoded parts, de-chunked copies) and belongs to no request any more.
        let swept = Self.sweepSpool(context.spoolDirectory)
        if swept > 0 {
            context.log.log(.info, "spool-swept", ["reason": "removed \(swept) leftover file(s) from \(context.spoolDirectory)"])
        }
        DiskSpace(config: config).warnIfShort(context.log)
        let validator = CertificateValidator(trustStore: try TrustStore(anchors: context.trustAnchors, crls: context.crls))
        var as4 = HTTPServerConfiguration()
        as4.bindAddress = config.as4Listener.address
        as4.port = config.as4Listener.port
        as4.maxBodyBytes = config.maxMessageBytes
        as4.spoolDirectory = context.spoolDirectory
        let log = context.log
        as4.logger = { message in log.log(.debug, "http", ["reason": message]) }
        Self.applyLimits(config.as4Listener, name: "as4", to: &as4, log: log)
        var tlsFiles: (String, String)? = config.as4Listener.tls.map { ($0.certificate, $0.key) }
        if tlsFiles == nil, config.developmentPKI { tlsFiles = devTLS() }
        if let (cert, key) = tlsFiles {
            let auth = Self.clientAuthentication(config.as4Listener.tls?.clientAuthentication ?? GatewayConfiguration.ClientAuthentication.none, validator)
            as4.tls = .init(certificateChainPEM: try String(contentsOfFile: cert, encoding: .utf8),
                            privateKeyPEM: try String(contentsOfFile: key, encoding: .utf8), clientAuthentication: auth)
        }
        let server = try HTTPServer(configuration: as4, handler: InboundProcessor(context: context))
        try server.start()
        as4Server = server

        // The backend API; the operators' JSON submission endpoint shares its listener.
        var api = HTTPServerConfiguration()
        api.bindAddress = config.apiListener.address
        api.port = config.apiListener.port
        api.maxBodyBytes = config.maxMessageBytes
        api.spoolDirectory = context.spoolDirectory
        api.logger = as4.logger
        Self.applyLimits(config.apiListener, name: "api", to: &api, log: log)
        if let tls = config.apiListener.tls {
            let auth = Self.clientAuthentication(tls.clientAuthentication, validator)
            api.tls = .init(certificateChainPEM: try String(contentsOfFile: tls.certificate, encoding: .utf8),
                            privateKeyPEM: try String(contentsOfFile: tls.key, encoding: .utf8), clientAuthentication: auth)
        }
        // Before the API and the mailbox worker add arrivals, so that every arrival of this run is
        // announced; a failure here is tried again by the mailer's thread before its first round.
        let mailer = config.notices.map { NoticeMailer(context: context, settings: $0, notices: context.notices) }
        do {
            try mailer?.takePosition()
        } catch {
            context.log.log(.error, "notice", ["reason": "no position for the notices yet: \(error)"])
        }
        let mailbox = MailboxWorker(context: context)
        do {
            try mailbox.queueUnsent()
        } catch {
            context.log.log(.error, "mailbox-worker", ["reason": "unsent documents not requeued: \(error)"])
        }
        let submission = try HTTPServer(configuration: api, handler: APIHandler(context: context))
        try submission.start()
        submissionServer = submission
        mailbox.start()
        mailboxWorker = mailbox
        let pusher = WebhookPusher(context: context)
        pusher.start()
        webhookPusher = pusher
        if let mailer {
            mailer.start()
            noticeMailer = mailer
        } else {
            context.log.log(.warning, "notices-off", ["reason": "no notices block in the configuration: no e-mail notices of mailbox arrivals are sent"])
        }

        let w = OutboundWorkers(context: context)
        w.start(count: config.outboundWorkers)
        workers = w
        let pull = PullWorker(context: context)
        pull.start()
        puller = pull
        let certificates = try CertificateInventory(party: context.party, keys: keys, listenerCertificate: tlsFiles?.0,
                                                    apiListenerCertificate: config.apiListener.tls?.certificate)
        adminServer = try config.adminListener.map { try AdminEndpoint.start($0, context: context, certificates: certificates) }
        // Ahead of a certificate's end, at start and then daily: a line an operator can act on.
        let expiry = CertificateExpiryWatch(context: context, inventory: certificates)
        expiry.round()
        expiry.start()
        expiryWatch = expiry
        context.log.log(.info, "started", ["party": context.party, "admin": config.adminListener.map { "http://\($0.address):\(adminPort)" },
                                           "as4": "\(as4.tls == nil ? "http" : "https")://\(config.as4Listener.address):\(server.port)\(config.as4Listener.path)",
                                           "api": "\(api.tls == nil ? "http" : "https")://\(config.apiListener.address):\(submission.port)/api/v1",
                                           "store": (try? config.storeLocation().description) ?? config.storeDirectory, "pmodes": String(context.registry.current.pmodes.count)])
    }

    /// Exhaustive on purpose: no setting may end up as "no client-certificate check" by default.
    static func clientAuthentication(_ setting: GatewayConfiguration.ClientAuthentication,
                                     _ validator: CertificateValidator) -> HTTPServerConfiguration.TLS.ClientAuthentication {
        switch setting {
        case .none: return .none
        case .optional: return .optional(validator)
        case .required: return .required(validator)
        }
    }

    /// Removes the regular files directly in `directory` (the daemon's own spool folder only);
    /// returns how many.
    static func sweepSpool(_ directory: String) -> Int {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        var removed = 0
        for name in names {
            let path = directory + "/" + name
            var info = stat()
            guard lstat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG, unlink(path) == 0 else { continue }
            removed += 1
        }
        return removed
    }

    /// A listener's connection limits and threads, and where its (rate-limited) refusal reports go.
    private static func applyLimits(_ listener: GatewayConfiguration.Listener, name: String, to server: inout HTTPServerConfiguration,
                                    log: EventLog) {
        if let v = listener.maxConnections { server.maxConnections = v }
        if let v = listener.maxConnectionsPerClient { server.maxConnectionsPerClient = v }
        if let v = listener.idleTimeoutSeconds { server.connectionTimeout = UInt32(v) }
        if let v = listener.requestHeadTimeoutSeconds { server.requestHeadTimeout = v }
        if let v = listener.minimumBodyBytesPerSecond { server.minimumBodyBytesPerSecond = UInt64(v) }
        if let v = listener.bodyGraceSeconds { server.bodyGracePeriod = v }
        if let v = listener.threads { server.threads = v }
        server.warningLogger = { message in log.log(.warning, "connections-refused", ["listener": name, "reason": message]) }
        // A 500 the server makes itself (a response file gone, …): the client sees only
        // "internal server error", so the reason must reach the log at a level that is kept.
        server.errorLogger = { message in log.log(.error, "http-internal-error", ["listener": name, "reason": message]) }
    }

    /// The development TLS certificate and key of our party.
    private func devTLS() -> (String, String)? {
        guard let cert = keys.tlsClientCertificate, let key = keys.tlsClientKey else { return nil }
        return (cert, key)
    }

    var as4Port: UInt16 { as4Server?.port ?? 0 }
    var submissionPort: UInt16 { submissionServer?.port ?? 0 }
    var adminPort: UInt16 { adminServer?.port ?? 0 }

    func reloadPModes() { Self.reloadPModes(context, expiryWatch: expiryWatch) }

    /// The daily certificate expiry check, once started; a SIGHUP reload runs it for what it loaded.
    var certificateExpiryWatch: CertificateExpiryWatch? { expiryWatch }

    /// SIGHUP: called on the signal queue, so it takes only Sendable parts of the gateway.
    static func reloadPModes(_ context: GatewayContext, expiryWatch: CertificateExpiryWatch? = nil) {
        let problems = context.registry.reload(from: context.config.pmodeDirectory, requiredParties: [context.party])
        context.metrics.notePModeReload(succeeded: problems.isEmpty)
        if problems.isEmpty {
            context.log.log(.info, "pmodes-reloaded", ["pmodes": String(context.registry.current.pmodes.count)])
            warnOfMissingStatusLegs(context.registry.current, party: context.party, log: context.log)
            warnOfCertificates(context.registry.current, crls: context.crls, log: context.log)
            expiryWatch?.reloaded(context.registry.current)
        } else {
            context.log.log(.error, "pmodes-refused", ["reason": "kept the previous P-Modes: " + problems.map(\.description).joined(separator: "; ")])
        }
    }

    /// Each e-address document leg of ours without a status leg back, at every load: loud, not
    /// fatal (`EAddressAgreementCheck` says why).
    static func warnOfMissingStatusLegs(_ set: PModeSet, party: String, log: EventLog) {
        for finding in EAddressAgreementCheck.findings(in: set, party: party) {
            log.log(.warning, "pmode-status-leg-missing", ["pmode": finding.documentPMode, "from": finding.sender, "to": finding.receiver,
                                                          "reason": finding.description])
        }
    }

    /// Each P-Mode certificate that will not serve its role, at every load (`PModeCertificateCheck`).
    static func warnOfCertificates(_ set: PModeSet, crls: [CertificateRevocationList], log: EventLog) {
        for finding in PModeCertificateCheck.findings(in: set, crls: crls) {
            log.log(.warning, "pmode-certificate", ["party": finding.party, "role": finding.role.rawValue, "file": finding.file,
                                                    "reason": finding.problem])
        }
    }

    /// Returns false when anything was still running at the deadline (a request handler, a
    /// delivery, a background job, each perhaps waiting on a stalled database or peer): the
    /// caller must then leave with `_exit`, not `exit`, which would run library clean-ups
    /// (OpenSSL's, libxml2's) under those threads' feet. The stores are then left open too:
    /// closing one waits for the calls in it.
    @discardableResult
    func stop() -> Bool {
        let grace = context.config.shutdownGraceSeconds
        context.log.log(.info, "stopping", ["reason": "finishing in-flight work (up to \(Int(grace)) s)"])
        let deadline = Date().addingTimeInterval(grace)
        context.stopping.store(true, ordering: .sequentiallyConsistent)
        // Everything stops taking new work at once and finishes what it holds side by side: one
        // slow request on one listener must not leave the other open to new work, nor the
        // workers claiming deliveries that the end of the grace period would cut off.
        let group = DispatchGroup()
        // By the order the parts are listed in, so the log line reads the same every time.
        let abandoned = Mutex<[Int: [String]]>([:])
        var parts = 0
        // A thread each, since each may block until the deadline: the global dispatch queues start
        // blocking work only a few blocks at a time (eight 1 s sleeps took 3 s on two cores), which
        // would let some parts go on taking work well into the grace period.
        func stopping(_ stop: @escaping @Sendable () -> [String]) {
            let part = parts
            parts += 1
            group.enter()
            let thread = Thread {
                let left = stop()
                abandoned.withLock { $0[part] = left }
                group.leave()
            }
            thread.name = "as4gw/stop-\(part)"
            thread.start()
        }
        for (name, server) in [("api", submissionServer), ("as4", as4Server)] {
            guard let server else { continue }
            stopping { server.stop(gracePeriod: grace) ? [] : ["requests on the \(name) listener"] }
        }
        if let workers { stopping { workers.stop(deadline: deadline).map { "delivery worker \($0)" } } }
        if let puller { stopping { puller.stop(deadline: deadline) ? [] : ["the pull worker"] } }
        if let mailboxWorker { stopping { mailboxWorker.stop(deadline: deadline) ? [] : ["the mailbox worker"] } }
        if let webhookPusher { stopping { webhookPusher.stop(deadline: deadline) ? [] : ["the webhook pusher"] } }
        if let noticeMailer { stopping { noticeMailer.stop(deadline: deadline) ? [] : ["the e-mail notice mailer"] } }
        if let expiryWatch { stopping { expiryWatch.stop(deadline: deadline) ? [] : ["the certificate expiry check"] } }
        group.wait()
        // /readyz kept saying "stopping" during the drain; a scrape still running now is cut off.
        if let adminServer, !adminServer.stop(gracePeriod: 0) { abandoned.withLock { $0[parts] = ["requests on the admin listener"] } }
        let left = abandoned.withLock { $0 }.sorted { $0.key < $1.key }.flatMap(\.value)
        guard left.isEmpty else {
            // A thread blocked in a C library (libpq waiting on a database that stopped
            // answering, libcurl on a peer) cannot be interrupted from here, and the grace
            // period holds: the process leaves without it. Nothing it held was accepted: an
            // answer not sent promised nothing, and the database keeps only what committed.
            context.log.log(.warning, "stop-abandoned", ["reason": "still running after \(Int(grace)) s, exiting without: "
                + left.joined(separator: ", ") + ". Requests cut off get no answer (their senders retry), open database transactions "
                + "roll back, and deliveries cut off go back to the queue (at this node's next start, or to another node when their lease ends)"])
            context.log.log(.info, "stopped", [:])
            return false
        }
        context.store.close()
        context.mailbox.close()
        context.addresses.close()
        context.notices.close()
        context.retention.close()
        context.log.log(.info, "stopped", [:])
        return true
    }
}

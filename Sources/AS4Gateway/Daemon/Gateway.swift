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
        let set: PModeSet
        do {
            set = try PModeLoader.load(directory: config.pmodeDirectory)
        } catch {
            throw GatewayError.pmodes(error.description)
        }
        let registry = PModeRegistry(set)
        guard let us = set.party(named: config.party) else {
            throw GatewayError.configuration("party \(config.party) is not defined in \(config.pmodeDirectory)/parties.json")
        }
        Self.warnOfMissingStatusLegs(set, party: config.party, log: log)

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
        if let settings = config.notices {
            let mailer = NoticeMailer(context: context, settings: settings, notices: context.notices)
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
        adminServer = try config.adminListener.map { try AdminEndpoint.start($0, context: context, keys: keys, listenerCertificate: tlsFiles?.0) }
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

    /// A listener's connection limits, and where its (rate-limited) refusal reports go.
    private static func applyLimits(_ listener: GatewayConfiguration.Listener, name: String, to server: inout HTTPServerConfiguration,
                                    log: EventLog) {
        if let v = listener.maxConnections { server.maxConnections = v }
        if let v = listener.maxConnectionsPerClient { server.maxConnectionsPerClient = v }
        if let v = listener.idleTimeoutSeconds { server.connectionTimeout = UInt32(v) }
        if let v = listener.requestHeadTimeoutSeconds { server.requestHeadTimeout = v }
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

    func reloadPModes() { Self.reloadPModes(context) }

    /// SIGHUP: called on the signal queue, so it takes only the (Sendable) context.
    static func reloadPModes(_ context: GatewayContext) {
        let problems = context.registry.reload(from: context.config.pmodeDirectory, requiredParties: [context.party])
        context.metrics.notePModeReload(succeeded: problems.isEmpty)
        if problems.isEmpty {
            context.log.log(.info, "pmodes-reloaded", ["pmodes": String(context.registry.current.pmodes.count)])
            warnOfMissingStatusLegs(context.registry.current, party: context.party, log: context.log)
            warnOfCertificates(context.registry.current, crls: context.crls, log: context.log)
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

    /// Returns false when request handlers were still running at the deadline: the caller must
    /// then leave with `_exit`, not `exit`, which would run library clean-ups (OpenSSL's,
    /// libxml2's) under those threads' feet.
    @discardableResult
    func stop() -> Bool {
        let grace = context.config.shutdownGraceSeconds
        context.log.log(.info, "stopping", ["reason": "finishing in-flight work (up to \(Int(grace)) s)"])
        let deadline = Date().addingTimeInterval(grace)
        context.stopping.store(true, ordering: .sequentiallyConsistent)
        // Both work listeners stop taking connections at once and drain side by side: one slow
        // request on one of them must not leave the other open to new work.
        let group = DispatchGroup()
        let unfinished = Atomic<Int>(0)
        for server in [submissionServer, as4Server].compactMap({ $0 }) {
            DispatchQueue.global().async(group: group) {
                if !server.stop(gracePeriod: grace) { unfinished.add(1, ordering: .relaxed) }
            }
        }
        group.wait()
        // A handler still running cannot be interrupted and the grace period holds, so the daemon
        // exits under it: its client gets no answer (an AS4 sender retries; the store's
        // transactions keep it consistent), and the stores it uses are left open, not closed.
        let handlersRunning = unfinished.load(ordering: .relaxed) > 0
        if handlersRunning {
            context.log.log(.warning, "stopping", ["reason": "requests still being handled after \(Int(grace)) s: exiting without their answers"])
        }
        workers?.stop(count: context.config.outboundWorkers, deadline: deadline)
        puller?.stop(deadline: deadline)
        mailboxWorker?.stop(deadline: deadline)
        webhookPusher?.stop(deadline: Date())
        noticeMailer?.stop(deadline: Date().addingTimeInterval(1))
        adminServer?.stop(gracePeriod: 0)
        guard !handlersRunning else {
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

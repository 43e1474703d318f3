import AS4Crypto
import EnvelopeXML
import Foundation
import MessageStore
import Routing
import Synchronization
import WSSecurity

/// What every part of the running daemon shares: configuration, our keys, the truststore, the
/// P-Mode registry, the store and the log. Immutable after start (the registry and the store
/// guard their own state), so it is handed to server and worker threads as is.
final class GatewayContext: Sendable {
    let config: GatewayConfiguration
    let log: EventLog
    let registry: PModeRegistry
    let store: any MessageStore
    /// The backend API's connections, documents, mailboxes and notifications.
    let mailbox: any MailboxStore
    /// The e-address directory the router reads.
    let addresses: any AddressDirectoryStore
    /// E-mail notices of mailbox arrivals and where owners want them.
    let notices: any NoticeStore
    /// Legal holds, purges and mailbox sizes (docs/RETENTION.md).
    let retention: any RetentionStore
    /// Self-service registrations of companies' DMSs and access points (docs/SELF-SERVICE.md).
    let registrations: any RegistrationStore
    /// `selfService.registrationTrust`: the CAs a registering company's certificate must chain to.
    let registrationTrust: CertificateValidator?
    /// Non-digital persons, channel lookups, opt-ins and the company register (RecipientRules).
    let registers: any RecipientRegisters
    /// Our party name in the P-Mode set.
    let party: String
    /// This node among those sharing a store: party, host and data directory, which stay the same
    /// across restarts of the node and differ between nodes (each has its own data directory).
    let nodeName: String
    /// Our primary signing identity (`keys`): errors, evidence seals, and whatever no other
    /// identity suits.
    let signing: SigningIdentity
    /// Every signing identity, the primary first (`keys.additional`): one per security profile
    /// when partners use both 1.15 (RSA) and 2.0 (Ed25519/ECDSA).
    let signingIdentities: [SigningIdentity]
    let decryptionKeys: [DecryptionKey]
    let trustAnchors: [Certificate]
    let crls: [CertificateRevocationList]
    let spoolDirectory: String
    /// CA bundle for outbound TLS (development CA or configured truststore files).
    let outboundTrustFile: String?
    /// Our TLS client certificate and key for outbound mTLS (configured, or the development PKI's).
    let tlsClientCertificateFile: String?
    let tlsClientKeyFile: String?
    let messageIdDomain: String
    /// The real paths of our data, P-Mode and store folders, which no submitted payload may come
    /// from (resolved once: they do not move while the daemon runs).
    let ownFolders: [String]
    /// Files no submitted payload may be either: the configured private keys and secrets, which
    /// may lie outside the folders above.
    let ownSecretFiles: Set<String>
    /// What `as4gw send` must present to the operators' submission endpoint (`SubmitToken`).
    let submitToken: String
    let workerHandoff = WorkerHandoff()
    /// Signed PullRequests already answered, kept in the store so every node refuses a replay.
    var pullReplays: ReplayGuard { ReplayGuard(store: store) }
    /// Stored payload files are checked against their recorded size and SHA-256 before they are
    /// served as the document (each file hashed once while unchanged: `PayloadIntegrity`).
    let payloadIntegrity = PayloadIntegrity()
    let metrics = GatewayMetrics()
    /// Whether other nodes may run the background jobs too (a PostgreSQL store), so that a node
    /// failing at one may leave it to them (`JobStandAside`).
    let sharesJobs: Bool
    /// Full disk and store outages met by requests, logged once a minute per listener.
    let requestFailures = RequestFailureLog()
    /// Status reports owed to documents' origins that could not be queued, logged once a minute per kind.
    let originReportFailures = OriginReportFailureLog()
    /// Whether `MailboxWorker` keeps failing, for `/readyz`.
    let mailboxWorkerHealth = LoopHealth()
    /// Set when a stop begins: `/readyz` then answers 503 so load balancers send nothing new.
    let stopping = Atomic<Bool>(false)
    /// Working days for deemed notification dates: the rules plus `holidayCalendar` (start, SIGHUP).
    let calendars: HolidayCalendarSource
    var calendar: WorkingDayCalendar { calendars.current }

    init(config: GatewayConfiguration, log: EventLog, registry: PModeRegistry, store: any MessageStore, signing: [SigningIdentity],
         decryptionKeys: [DecryptionKey], trustAnchors: [Certificate], crls: [CertificateRevocationList], outboundTrustFile: String?,
         tlsClientCertificateFile: String?, tlsClientKeyFile: String?) throws {
        self.config = config
        self.log = log
        self.registry = registry
        self.store = store
        // Beside the message store: with PostgreSQL, every node serves from the same state.
        // Each store is a connection pool of its own; docs/CONFIG.md (PostgreSQL) adds them up.
        let location = try config.storeLocation()
        if case .postgres = location { sharesJobs = true } else { sharesJobs = false }
        self.mailbox = try location.openMailbox(schema: .migrate)
        self.addresses = try location.openAddressDirectory(schema: .migrate)
        self.notices = try location.openNotices(schema: .migrate)
        self.retention = try location.openRetention(schema: .migrate)
        self.registrations = try location.openRegistrations(schema: .migrate)
        self.registrationTrust = try config.selfService?.registrationTrust.map {
            CertificateValidator(trustStore: try TrustStore(anchors: try $0.flatMap(KeyMaterial.certificateDirectory), crls: crls))
        }
        self.registers = try location.openRecipientRegisters(schema: .migrate)
        self.party = config.party
        try FileManager.default.createDirectory(atPath: config.dataDirectory, withIntermediateDirectories: true)
        self.nodeName = "\(config.party)@\(ProcessInfo.processInfo.hostName):\(try NodeIdentity.load(dataDirectory: config.dataDirectory))"
        guard let primary = signing.first else { throw Gateway.GatewayError.configuration("no signing key") }
        self.signing = primary
        self.signingIdentities = signing
        self.decryptionKeys = decryptionKeys
        self.trustAnchors = trustAnchors
        self.crls = crls
        self.spoolDirectory = config.dataDirectory + "/spool"
        self.outboundTrustFile = outboundTrustFile
        self.tlsClientCertificateFile = tlsClientCertificateFile
        self.tlsClientKeyFile = tlsClientKeyFile
        self.calendars = try HolidayCalendarSource(path: config.holidayCalendar)
        // Bounded so that a UUID, "@" and the domain stay within what receivers accept as an id
        // (EnvelopeParser.maxMessageIdLength), and in the form every receiver takes, whatever the party's name.
        self.messageIdDomain = MessageIdForm.domain(from: config.party, maxLength: EnvelopeParser.maxMessageIdLength - 37)
        try FileManager.default.createDirectory(atPath: spoolDirectory, withIntermediateDirectories: true)
        ownFolders = [config.dataDirectory, config.pmodeDirectory, config.storeDirectory].map(Outbound.realPath)
        ownSecretFiles = Set(config.secretFiles.map(Outbound.realPath))
        submitToken = try SubmitToken.load(dataDirectory: config.dataDirectory)
    }

    /// Validator for a partner's signatures: the truststore plus the partner's own P-Mode
    /// certificates as anchors (partners often use self-signed certificates), with CRLs.
    func validator(pinned: [Certificate]) throws -> CertificateValidator {
        let key = Set(pinned)
        if let cached = validators.withLock({ $0[key] }) { return cached }
        let validator = CertificateValidator(trustStore: try TrustStore(anchors: trustAnchors + pinned, crls: crls))
        validators.withLock { cache in
            // Keyed by the partner's certificate set, so a P-Mode reload with new certificates
            // gets a fresh store; bounded, since sets change only on reloads.
            if cache.count >= 256 { cache.removeAll() }
            cache[key] = validator
        }
        return validator
    }

    /// Trust stores per set of pinned partner certificates: building one (anchors, CRLs) for every
    /// message showed in the daemon's profile.
    private let validators = Mutex<[Set<Certificate>: CertificateValidator]>([:])

    var router: Router { Router(directory: StoreAddressLookup(store: addresses)) }

    /// The P-Modes in force for messages: the configured set with the approved self-service
    /// access points added (`SelfServicePModes`).
    var pmodes: PModeSet {
        selfServicePModes.set(base: registry.current, generation: registry.generation, template: config.selfService?.template,
                              us: party, store: registrations, directory: addresses, log: log)
    }

    private let selfServicePModes = SelfServicePModes()

    /// The signer of a signal we send under an agreement (a receipt, an error signal, a
    /// PullRequest or the answer to one): the identity its profile suits, its certificate named
    /// as its leg's `keyReference` says, as in that leg's user messages. Without an agreement
    /// (nil: the message matched none) the primary identity in a BinarySecurityToken, which a
    /// receiver resolves without knowing us.
    ///
    /// The algorithm is one the leg's policy allows, so that its peer, judging by the same
    /// agreement, accepts it (`SigningIdentity.algorithm(allowedBy:)`): the key's usual one when
    /// allowed (rsa-sha256 under 1.15's own list), else the first allowed one the key can make
    /// (ecdsa-sha256 for any EC key under 2.0; rsa-sha512 where a 1.15 leg's `algorithms`
    /// lists only that).
    func signatureBuilder(for security: LegSecurity?) throws -> SignatureBuilder {
        let identity = signing(for: security?.profile)
        let algorithm = security.flatMap { identity.algorithm(allowedBy: $0.policy.signatureAlgorithms) }
        return try SignatureBuilder(identity: identity, algorithm: algorithm, keyReference: security?.keyReference.style ?? .binarySecurityToken)
    }

    /// The identity that signs under `profile`: the first whose key suits it, else the primary
    /// (the rule the P-Mode load checks key references by, `KeyReferenceCheck`).
    func signing(for profile: SecurityProfile?) -> SigningIdentity {
        guard let profile else { return signing }
        return profile.signer(among: signingIdentities) { $0.privateKey.keyType } ?? signing
    }
}

extension LegSecurity {
    /// The algorithms this leg allows: the profile's own, narrowed or replaced by the P-Mode's
    /// overrides; signature and encryption required as the leg says.
    var policy: SecurityPolicy {
        var p: SecurityPolicy = profile == .v2_0 ? .eDelivery20 : .eDelivery115
        if let s = algorithms.signature { p.signatureAlgorithms = Set(s) }
        if let d = algorithms.digest { p.digestAlgorithms = Set(d) }
        if let k = algorithms.keyEncryption { p.keyEncryptionAlgorithms = Set(k) }
        if let e = algorithms.dataEncryption { p.dataEncryptionAlgorithms = Set(e) }
        p.requireSignature = sign
        p.requireEncryption = encrypt
        return p
    }
}

extension Routing.KeyReference {
    /// The SecurityTokenReference style that names a certificate this way.
    var style: KeyReferenceStyle {
        switch self {
        case .bst: return .binarySecurityToken
        case .ski: return .subjectKeyIdentifier
        case .issuerSerial: return .issuerSerial
        }
    }
}

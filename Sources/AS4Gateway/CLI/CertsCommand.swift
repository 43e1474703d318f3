import AS4Crypto
import Foundation
import Routing

/// `as4gw certs`: when the certificates named in the P-Modes run out.
enum CertsCommand {
    static let help = """
    Usage: as4gw certs [--pmode DIR | --config FILE] [--days N] [--json]
           as4gw certs --registrations [--data DIR | --config FILE] [--days N] [--json]

    Lists every certificate file named in parties.json of the P-Mode directory (--pmode DIR, or
    the pmodeDirectory of --config FILE, default ./pmode) with its party, role, subject, notAfter
    and whole days left (negative once expired), oldest expiry first. With --config it also lists
    the certificates the daemon itself uses: the keys block's (source keys) and the AS4 and API
    listeners' TLS certificates (source listener, api-listener). A certificate already expired is marked EXPIRED; one that
    expires within N days (default 30) is marked EXPIRING. A file named but absent is listed as
    MISSING (the development PKI writes its files on first start). Chain certificates inside a
    file are not listed. --json prints {"certificates": [...]}.

    With --registrations it lists instead the certificates of self-service registrations
    (docs/SELF-SERVICE.md) in the store (SQLite in --data DIR, or that of --config FILE) that
    end within N days: registration, company, SHA-256 fingerprint, notAfter (or the end of a
    roll-over's overlap), days left. Revoked certificates, rejected registrations and
    certificates retired by a roll-over are left out.

    Exit status: 0 nothing expired (certificates expiring soon are reported, not failed, so a
    scheduled check can warn ahead of time without breaking); 1 at least one certificate has
    already expired; 2 usage error, or the P-Modes cannot be loaded. With --registrations: 1 also
    when the store cannot be read.
    """

    struct Entry {
        var party: String
        var role: CertificateRole
        var file: String
        var certificate: Certificate?
        /// `pmode` (parties.json), `keys`, `listener` or `api-listener` (the configuration's own).
        var source = "pmode"
    }

    /// The certificates a configuration names for the daemon's own use; a file that cannot be
    /// read is listed as MISSING, as one named in parties.json is.
    static func configured(_ config: GatewayConfiguration) -> [Entry] {
        var files: [(CertificateRole, String, String)] = []
        if let keys = config.keys {
            files += [(.signing, keys.signingCertificate, "keys"), (.encryption, keys.encryptionCertificate, "keys")]
            for identity in keys.additional {
                files += [(.signing, identity.signingCertificate, "keys"), (.encryption, identity.encryptionCertificate, "keys")]
            }
            if let tls = keys.tlsClientCertificate { files.append((.tls, tls, "keys")) }
        }
        if let tls = config.as4Listener.tls { files.append((.tls, tls.certificate, "listener")) }
        if let tls = config.apiListener.tls { files.append((.tls, tls.certificate, "api-listener")) }
        return files.map { role, file, source in
            Entry(party: config.party, role: role, file: file, certificate: try? KeyMaterial.certificate(file), source: source)
        }
    }

    static func run(_ args: [String]) -> Int32 {
        let a: Arguments
        do {
            a = try Arguments(args, valued: ["pmode", "config", "days", "data"], flags: ["json", "registrations"])
        } catch {
            return CLI.usageError("\(error)", help: help)
        }
        if a.has("help") { print(help); return 0 }
        guard a.positionals.isEmpty else { return CLI.usageError("certs takes no arguments", help: help) }
        var days = 30
        if let s = a.value("days") {
            guard let n = Int(s), n >= 0 else { return CLI.usageError("--days takes a number of days (0 or more)", help: help) }
            days = n
        }
        if a.has("registrations") { return RegistrationCertificatesReport.run(a, days: days, help: help) }
        if a.value("data") != nil { return CLI.usageError("--data goes with --registrations", help: help) }
        if a.value("pmode") != nil && a.value("config") != nil { return CLI.usageError("give --pmode or --config, not both", help: help) }
        let directory: String
        var own: [Entry] = []
        if let d = a.value("pmode") {
            directory = d
        } else {
            do {
                let config = try GatewayConfiguration.load(path: a.value("config"))
                directory = config.pmodeDirectory
                if a.value("config") != nil { own = configured(config) }
            } catch {
                return CLI.ioError("\(error)")
            }
        }
        let set: PModeSet
        do {
            // Missing files are reported below rather than failing the whole load.
            set = try PModeLoader.load(directory: directory, options: .init(requireCertificates: false, allowInsecureEndpoints: true))
        } catch {
            CLI.printError("as4gw: cannot load the P-Modes in \(directory):\n"
                + error.diagnostics.map { PModeCommand.located($0, in: directory).description }.joined(separator: "\n"))
            return 2
        }
        var entries = own
        for party in set.parties {
            for role in CertificateRole.allCases {
                let loaded = party.certificates[role] ?? []
                for file in party.certificateFiles[role] ?? [] {
                    entries.append(Entry(party: party.name, role: role, file: file,
                                         certificate: loaded.first { $0.file == file }?.certificate))
                }
            }
        }
        entries.sort { ($0.certificate?.notAfter ?? .distantPast) < ($1.certificate?.notAfter ?? .distantPast) }

        let now = Date()
        let horizon = now.addingTimeInterval(Double(days) * 86_400)
        func state(_ e: Entry) -> String {
            guard let c = e.certificate else { return "MISSING" }
            if c.notAfter < now { return "EXPIRED" }
            if c.notAfter <= horizon { return "EXPIRING" }
            return "OK"
        }
        func daysLeft(_ c: Certificate) -> Int { Int((c.notAfter.timeIntervalSince(now) / 86_400).rounded(.towardZero)) }

        if a.has("json") {
            let items: [JSON] = entries.map { e in
                .object([("party", .string(e.party)), ("role", .string(e.role.rawValue)), ("source", .string(e.source)), ("file", .string(e.file)),
                         ("subject", .string(e.certificate?.subject)),
                         ("notAfter", .string(e.certificate.map { MessagesCommand.timestamp($0.notAfter) })),
                         ("daysLeft", e.certificate.map { .int(daysLeft($0)) } ?? .null),
                         ("state", .string(state(e)))])
            }
            print(JSON.object([("days", .int(days)), ("certificates", .array(items))]).serialized())
        } else {
            for e in entries {
                let expiry = e.certificate.map { "\(MessagesCommand.timestamp($0.notAfter))  \(daysLeft($0)) day(s) left" } ?? "-"
                let role = e.source == "pmode" ? e.role.rawValue : "\(e.role.rawValue) (\(e.source))"
                print([state(e), e.party, role, e.certificate?.subject ?? e.file, expiry].joined(separator: "  "))
            }
        }
        return entries.contains { state($0) == "EXPIRED" } ? 1 : 0
    }
}

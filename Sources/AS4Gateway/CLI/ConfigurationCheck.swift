import AS4Crypto
import Foundation
import MessageStore
import Routing

/// Everything `serve` would refuse at start that can be known without binding a port or opening
/// the store: the store URL's form, the numbers, the P-Mode directory and our party in it, the
/// key, TLS, trust and CRL files, listener paths, and listeners that would collide. `serve` runs
/// these same checks before it starts anything and `serve --check-config` prints them, so the two
/// cannot disagree about a configuration.
enum ConfigurationCheck {
    struct Summary {
        var pmodes: Int
        var parties: Int
    }

    /// The problems found, each a line for the operator; empty means the configuration is usable.
    static func problems(_ config: GatewayConfiguration) -> (problems: [String], summary: Summary?) {
        var problems: [String] = []
        if let store = config.store, let p = storeURLProblem(store) { problems.append(p) }
        problems += config.notices?.problems ?? []
        problems += config.settingProblems

        var summary: Summary?
        // The development PKI writes missing certificates at start, so they may be absent now.
        // Our key references are checked against the certificates we would sign with: the
        // configured ones (a file that does not load is reported below), else parties.json's.
        let signers = config.keys.map { keys in
            ([keys.signingCertificate] + keys.additional.map(\.signingCertificate)).compactMap { file in
                (try? KeyMaterial.certificate(file)).map { PartyCertificate(certificate: $0, file: file) }
            }
        }
        let options = PModeLoader.Options(requireCertificates: !config.developmentPKI,
                                          signer: .init(party: config.party, certificates: signers))
        do {
            let set = try PModeLoader.load(directory: config.pmodeDirectory, options: options)
            if set.party(named: config.party) == nil {
                problems.append("party \(config.party) is not defined in \(config.pmodeDirectory)/parties.json")
            }
            if let template = config.selfService?.template, set.party(named: template) == nil {
                problems.append("selfService.template: party \(template) is not defined in \(config.pmodeDirectory)/parties.json")
            }
            summary = Summary(pmodes: set.pmodes.count, parties: set.parties.count)
        } catch {
            problems += error.diagnostics.map { PModeCommand.located($0, in: config.pmodeDirectory) }
        }

        if let keys = config.keys {
            for (name, path) in [("keys.signingKey", keys.signingKey), ("keys.encryptionKey", keys.encryptionKey),
                                 ("keys.tlsClientKey", keys.tlsClientKey)] {
                guard let path else { continue }
                do { _ = try KeyMaterial.privateKey(path) } catch { problems.append("\(name): \(error)") }
            }
            for (name, path) in [("keys.signingCertificate", keys.signingCertificate), ("keys.encryptionCertificate", keys.encryptionCertificate),
                                 ("keys.tlsClientCertificate", keys.tlsClientCertificate)] {
                guard let path else { continue }
                do { _ = try KeyMaterial.certificate(path) } catch { problems.append("\(name): \(error)") }
            }
            for (i, identity) in keys.additional.enumerated() {
                for (name, path) in [("signingKey", identity.signingKey), ("encryptionKey", identity.encryptionKey)] {
                    do { _ = try KeyMaterial.privateKey(path) } catch { problems.append("keys.additional[\(i)].\(name): \(error)") }
                }
                for (name, path) in [("signingCertificate", identity.signingCertificate), ("encryptionCertificate", identity.encryptionCertificate)] {
                    do { _ = try KeyMaterial.certificate(path) } catch { problems.append("keys.additional[\(i)].\(name): \(error)") }
                }
            }
            if (keys.tlsClientKey == nil) != (keys.tlsClientCertificate == nil) {
                problems.append("keys: tlsClientCertificate and tlsClientKey go together")
            }
        }
        if let calendar = config.holidayCalendar {
            do { _ = try HolidayCalendarFile.load(path: calendar) } catch { problems.append("holidayCalendar: \(error)") }
        }
        for (name, listener) in [("as4Listener", config.as4Listener), ("apiListener", config.apiListener)] {
            // Requests name absolute paths, so any other value would answer every request with 404.
            if !listener.path.hasPrefix("/") { problems.append("\(name).path: \(listener.path) does not start with /") }
            if listener.address.isEmpty { problems.append("\(name).address: must not be empty") }
            if let tls = listener.tls {
                do { _ = try KeyMaterial.certificate(tls.certificate) } catch { problems.append("\(name).tls.certificate: \(error)") }
                do { _ = try KeyMaterial.privateKey(tls.key) } catch { problems.append("\(name).tls.key: \(error)") }
            }
        }
        for (i, path) in config.truststore.enumerated() {
            do { _ = try KeyMaterial.certificateDirectory(path) } catch { problems.append("truststore[\(i)]: \(error)") }
        }
        for (i, path) in config.crls.enumerated() {
            do { _ = try KeyMaterial.crls([path]) } catch { problems.append("crls[\(i)]: \(error)") }
        }
        for (i, path) in (config.selfService?.registrationTrust ?? []).enumerated() {
            do { _ = try KeyMaterial.certificateDirectory(path) } catch { problems.append("selfService.registrationTrust[\(i)]: \(error)") }
        }
        if let ca = config.notices?.caFile, let problem = KeyMaterial.fileProblem(ca) { problems.append("notices.caFile: \(problem)") }
        // serve creates the data directory; a file in its place would stop it.
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: config.dataDirectory, isDirectory: &isDir), !isDir.boolValue {
            problems.append("dataDirectory: \(config.dataDirectory) is a file, not a folder")
        }

        var listeners = [("as4Listener", config.as4Listener.address, config.as4Listener.port),
                         ("apiListener", config.apiListener.address, config.apiListener.port)]
        if let admin = config.adminListener { listeners.append(("adminListener", admin.address, admin.port)) }
        for (i, a) in listeners.enumerated() {
            for b in listeners[(i + 1)...] where a.2 != 0 && a.2 == b.2 && (a.1 == b.1 || a.1 == "0.0.0.0" || b.1 == "0.0.0.0") {
                problems.append("\(a.0) and \(b.0) both listen on port \(a.2)")
            }
        }
        return (problems, summary)
    }

    enum StateFinding: Equatable {
        case problem(String)
        case note(String)
    }

    /// `serve --check-config` on PostgreSQL: the payload directory compared with the one the store
    /// records, as `serve` compares it at start, but writing nothing (a store with no record yet is
    /// recorded by the first `serve`). A database that does not answer is a note, not a problem:
    /// the file may be checked where the database is out of reach, and `serve` compares anyway.
    static func payloadDirectory(_ config: GatewayConfiguration) -> StateFinding? {
        guard case .postgres? = try? config.storeLocation() else { return nil }
        do {
            switch try config.storeLocation().verifyPayloadDirectory(config.payloadDirectoryPath, node: "", record: false) {
            case .notRecorded:
                return .note("payloadDirectory \(config.payloadDirectoryPath): the store records none yet; the first serve records it")
            case .matches, .recorded, .notShared:
                return nil
            }
        } catch let mismatch as PayloadDirectoryIdentity.Mismatch {
            return .problem("payloadDirectory: \(mismatch)")
        } catch let unreadable as PayloadDirectoryIdentity.UnreadableMarker {
            return .problem("payloadDirectory: \(unreadable)")
        } catch {
            return .note("payloadDirectory \(config.payloadDirectoryPath) not compared with the store: \(error)")
        }
    }

    /// `sqlite:PATH` or `postgres://[user[:password]@]host[:port]/database` (also `postgresql://`).
    static func storeURLProblem(_ store: String) -> String? {
        if store.hasPrefix("sqlite:") {
            return store.count > 7 ? nil : "store: sqlite: needs a directory path (sqlite:PATH)"
        }
        if store.hasPrefix("postgres://") || store.hasPrefix("postgresql://") {
            guard let url = URLComponents(string: store), let host = url.host, !host.isEmpty else {
                return "store: \(redacted(store)) is not a postgres://[user[:password]@]host[:port]/database URL"
            }
            guard url.path.count > 1 else { return "store: \(redacted(store)) names no database (postgres://host:5432/DATABASE)" }
            return nil
        }
        return "store: \(redacted(store)) is neither sqlite:PATH nor a postgres:// URL"
    }

    /// The URL without its password, for messages that may end up in logs.
    static func redacted(_ store: String) -> String { StoreLocation.redacted(store) }
}

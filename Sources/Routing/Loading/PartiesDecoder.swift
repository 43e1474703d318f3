import AS4Crypto
import EnvelopeXML
import Foundation

/// A party read from `parties.json`, with the positions later checks point at.
struct DecodedParty {
    var party: Party
    var nameLocation: JSONLocation
    var path: String
    /// An endpoint was written (even an invalid one, already reported): no "needs an endpoint" then.
    var endpointWritten: Bool
}

/// Decodes `parties.json` (format: docs/PMODES.md) and loads the certificate files it names.
struct PartiesDecoder {
    static let fileName = "parties.json"

    let directory: URL
    let options: PModeLoader.Options
    let log: DiagnosticLog
    private var file: String { Self.fileName }

    func decode(_ root: JSONValue) -> [DecodedParty] {
        guard let top = ObjectReader(root, path: "", file: file, log: log, known: ["description", "parties"]) else { return [] }
        _ = top.string("description")
        guard let elements = top.array("parties", required: true, nonEmpty: true) else { return [] }
        var decoded: [DecodedParty] = []
        var byName: [String: DecodedParty] = [:]
        var byId: [PartyId: (name: String, path: String)] = [:]
        for element in elements {
            guard let party = decodeParty(element.value, path: element.path) else { continue }
            if let first = byName[party.party.name] {
                log.error(file, party.nameLocation, "\(party.path).name \"\(party.party.name)\" is already the name of \(first.path) (line \(first.nameLocation.line))")
                continue
            }
            for id in party.party.partyIds {
                let key = PartyId(id.value, type: id.type ?? "")
                if let other = byId[key] {
                    log.error(file, party.nameLocation, "\(party.path) has party id \(id) that \(other.path) (\"\(other.name)\") also has; party ids must identify one party")
                } else {
                    byId[key] = (party.party.name, party.path)
                }
            }
            byName[party.party.name] = party
            decoded.append(party)
        }
        return decoded
    }

    private func decodeParty(_ value: JSONValue, path: String) -> DecodedParty? {
        guard let o = ObjectReader(value, path: path, file: file, log: log,
                                   known: ["name", "description", "partyIds", "endpoint", "certificates", "mpcs"]) else { return nil }
        let name = o.string("name", required: true)
        let description = o.string("description")
        let ids = decodePartyIds(o)
        let endpoint = decodeEndpoint(o)
        let mpcs = o.strings("mpcs", uris: true)?.map(\.value) ?? []
        var files: [CertificateRole: [String]] = [:]
        var certificates: [CertificateRole: [PartyCertificate]] = [:]
        if let c = o.object("certificates", known: CertificateRole.allCases.map(\.rawValue)) {
            for role in CertificateRole.allCases {
                guard let refs = c.strings(role.rawValue) else { continue }
                files[role] = refs.map(\.value)
                certificates[role] = refs.compactMap { loadCertificate($0.value, at: $0.location, path: $0.path) }
            }
        }
        guard let name, let ids else { return nil }
        let party = Party(name: name, description: description, partyIds: ids, endpoint: endpoint, mpcs: mpcs,
                          certificateFiles: files, certificates: certificates)
        return DecodedParty(party: party, nameLocation: o.location(of: "name"), path: path, endpointWritten: o.has("endpoint"))
    }

    private func decodePartyIds(_ o: ObjectReader) -> [PartyId]? {
        guard let elements = o.array("partyIds", required: true, nonEmpty: true) else { return nil }
        var ids: [PartyId] = []
        var ok = true
        for element in elements {
            guard let id = ObjectReader(element.value, path: element.path, file: file, log: log, known: ["value", "type"]) else { ok = false; continue }
            let value = id.string("value", required: true)
            let type = id.string("type")
            guard let value else { ok = false; continue }
            if type == nil && !URISyntax.isAbsolute(value) {
                id.report("value", "\"\(value)\" has no type, so it must be an absolute URI (ebMS 3.0 §5.2.2.4)")
                ok = false
                continue
            }
            ids.append(PartyId(value, type: type))
        }
        return ok ? ids : nil
    }

    private func decodeEndpoint(_ o: ObjectReader) -> URL? {
        guard let text = o.string("endpoint") else { return nil }
        let allowed = options.allowInsecureEndpoints ? "an https or http URL" : "an https URL"
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), let host = url.host, !host.isEmpty else {
            o.report("endpoint", "must be \(allowed), not \"\(text)\"")
            return nil
        }
        if scheme == "http" && !options.allowInsecureEndpoints {
            o.report("endpoint", "must be an https URL (http only when the loader allows insecure endpoints, for tests)")
            return nil
        }
        guard scheme == "https" || scheme == "http" else {
            o.report("endpoint", "must be \(allowed), not \"\(text)\"")
            return nil
        }
        if url.user != nil || url.password != nil {
            o.report("endpoint", "must not carry a user name or password")
            return nil
        }
        if url.fragment != nil {
            o.report("endpoint", "must not have a fragment")
            return nil
        }
        return url
    }

    /// Loads one certificate file; the first certificate is the party's, the others its chain.
    private func loadCertificate(_ reference: String, at location: JSONLocation, path: String) -> PartyCertificate? {
        let url = reference.hasPrefix("/") ? URL(fileURLWithPath: reference) : directory.appendingPathComponent(reference)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            if options.requireCertificates {
                log.error(file, location, "\(path): certificate file \(reference) does not exist")
            }
            return nil
        }
        guard !isDirectory.boolValue else {
            log.error(file, location, "\(path): certificate file \(reference) is a directory")
            return nil
        }
        do {
            let certificates = try Certificate.certificates(fromFile: url.path)
            guard let first = certificates.first else {
                log.error(file, location, "\(path): certificate file \(reference) holds no certificate")
                return nil
            }
            return PartyCertificate(certificate: first, chain: Array(certificates.dropFirst()), file: reference)
        } catch {
            log.error(file, location, "\(path): certificate file \(reference) is not a PEM or DER certificate (\(error))")
            return nil
        }
    }
}

import EnvelopeXML
import Foundation

/// Why a Domibus P-Mode file could not be converted.
public enum DomibusImportError: Error, Sendable, CustomStringConvertible {
    case unreadable(file: String, reason: String)
    /// Not well-formed, or carrying a DTD or entity (an XXE attempt is refused before any entity
    /// could be resolved; EnvelopeXML never loads DTDs or external entities).
    case refusedXML(file: String, XMLError)
    /// Well-formed but inconsistent (broken references, unknown values): `line N: ...` each.
    case invalid(file: String, problems: [String])

    public var description: String {
        switch self {
        case let .unreadable(file, reason): return "\(file): cannot read: \(reason)"
        case let .refusedXML(file, error):
            return "\(file): refused as XML: \(error.description); P-Mode files must not carry a DTD, and external entities are never resolved"
        case let .invalid(file, problems): return problems.map { "\(file): \($0)" }.joined(separator: "\n")
        }
    }
}

/// The converted files, and what was left out.
public struct DomibusImport: Sendable {
    /// The text of `parties.json`.
    public var parties: String
    /// One `<process>.pmode.json` per converted Domibus process.
    public var pmodes: [(fileName: String, json: String)]
    /// `line N: ...` for each process or leg left out because as4gw is stricter than Domibus (an
    /// untyped AgreementRef or Service that is not a URI, which ebMS 3.0 forbids). Also written into
    /// the description of `parties.json`.
    public var warnings: [String]
}

/// Converts a Domibus P-Mode configuration (`db:configuration`, AS4-WIRE §6.2) into as4gw's files.
///
/// Every Domibus process becomes one `<process>.pmode.json` holding one P-Mode per leg and pair of
/// initiator and responder parties (a One-Way process with 3 initiators, 2 responders and 4 legs
/// gives 24 P-Modes); a Two-Way process with two legs gives one two-leg P-Mode per pair. Security
/// comes from the policy file's *name* (the policy itself is not in the P-Mode file) and
/// `signatureMethod`/`profile`; reception awareness from `retry="T;N;STRATEGY"`. Certificates are
/// not part of a Domibus P-Mode: every party gets empty certificate lists and a note saying so.
public enum DomibusImporter {
    public static func convert(xmlFile path: String) throws(DomibusImportError) -> (parties: String, pmodes: [(fileName: String, json: String)]) {
        let result = try importFile(path)
        return (result.parties, result.pmodes)
    }

    public static func importFile(_ path: String) throws(DomibusImportError) -> DomibusImport {
        let name = URL(fileURLWithPath: path).lastPathComponent
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .unreadable(file: name, reason: "no such file or not readable")
        }
        return try convert(xml: [UInt8](data), sourceName: name)
    }

    public static func convert(xml: [UInt8], sourceName: String) throws(DomibusImportError) -> DomibusImport {
        let document: XMLDocument
        do {
            document = try XMLDocument(parsing: xml, limits: XMLLimits(maxBytes: 16 << 20, maxDepth: 32, maxNodes: 1_000_000))
        } catch {
            throw .refusedXML(file: sourceName, error)
        }
        guard let root = document.root else { throw .invalid(file: sourceName, problems: ["no root element"]) }
        var conversion = DomibusConversion(configuration: DomibusConfiguration(root: root), sourceName: sourceName)
        let parties = conversion.parties()
        let files = conversion.processFiles()
        let configuration = conversion.configuration
        guard configuration.problems.isEmpty else {
            throw .invalid(file: sourceName, problems: DomibusConfiguration.listing(configuration.problems))
        }
        let warnings = DomibusConfiguration.listing(configuration.warnings)
        let own = configuration.ownParty.map { " (own party \($0))" } ?? ""
        var description = "Imported from the Domibus P-Mode \(sourceName)\(own). Certificates are not part of a Domibus P-Mode "
            + "(Domibus keeps them in its keystore and truststore): add each party's PEM files under certificates."
        if !warnings.isEmpty {
            description += " Left out: " + warnings.joined(separator: "; ") + "."
        }
        return DomibusImport(parties: PModeEncoder.partiesFile(parties, description: description),
                             pmodes: files.map { ($0.fileName, PModeEncoder.pmodeFile($0.pmodes, description: $0.description)) },
                             warnings: warnings)
    }
}

/// The conversion proper; problems and warnings are collected in `configuration`.
struct DomibusConversion {
    var configuration: DomibusConfiguration
    let sourceName: String

    mutating func parties() -> [Party] {
        var out: [Party] = []
        for entry in configuration.parties {
            var ids: [PartyId] = []
            for e in entry.definition.element.children("identifier", nil) {
                guard let value = e.attribute("partyId"), !value.isEmpty else { continue }
                var type: String?
                if let typeName = e.attribute("partyIdType"), !typeName.isEmpty {
                    guard let t = configuration.partyIdTypes[typeName] else {
                        configuration.problem(e.line, "party \"\(entry.name)\" refers to partyIdType \"\(typeName)\", which is not defined")
                        continue
                    }
                    type = t.nonEmpty("value")
                }
                if type == nil && !URISyntax.isAbsolute(value) {
                    configuration.problem(e.line, "party \"\(entry.name)\": party id \"\(value)\" has no type and is not a URI (ebMS 3.0 §5.2.2.4)")
                    continue
                }
                ids.append(PartyId(value, type: type))
            }
            if entry.definition.element.children("identifier", nil).isEmpty {
                configuration.problem(entry.definition.line, "party \"\(entry.name)\" has no identifier")
            }
            let endpoint = entry.definition.nonEmpty("endpoint").flatMap { URL(string: $0) }
            out.append(Party(name: entry.name, partyIds: ids, endpoint: endpoint,
                             certificateFiles: Dictionary(uniqueKeysWithValues: CertificateRole.allCases.map { ($0, []) })))
        }
        return out
    }

    mutating func processFiles() -> [(fileName: String, description: String, pmodes: [PMode])] {
        var files: [(fileName: String, description: String, pmodes: [PMode])] = []
        var seen: [SelectionKey: String] = [:]
        for process in configuration.processes {
            guard let name = process["name"] else { continue }
            var pmodes: [PMode] = []
            for pmode in convert(process: process, name: name) {
                let keys = pmode.legs.indices.compactMap { SelectionKey(pmode, leg: $0) }
                if let clash = keys.lazy.compactMap({ seen[$0] }).first {
                    configuration.warning(process.line, "P-Mode \(pmode.id): same parties, roles, service, action and agreement as \(clash)")
                    continue
                }
                for key in keys { seen[key] = pmode.id }
                pmodes.append(pmode)
            }
            guard !pmodes.isEmpty else { continue }
            files.append(("\(name).pmode.json", "Domibus process \(name) from \(sourceName) (line \(process.line)).", pmodes))
        }
        return files
    }

    private mutating func convert(process: DomibusConfiguration.Definition, name: String) -> [PMode] {
        let mepDef = configuration.resolve(\.meps, process["mep"], kind: "mep", from: process, attribute: "mep")
        let bindingDef = configuration.resolve(\.bindings, process["binding"], kind: "binding", from: process, attribute: "binding")
        let initiatorRole = role(process, "initiatorRole")
        let responderRole = role(process, "responderRole")
        let agreement = self.agreement(process)
        let mep = mepDef.flatMap { suffix($0["value"]) }.flatMap(MEP.init(rawValue:))
        let binding = bindingDef.flatMap { suffix($0["value"]) }.flatMap(MEPBinding.init(rawValue:))
        if let mepDef, mep == nil { configuration.problem(mepDef.line, "mep value \"\(mepDef["value"] ?? "")\" is not oneWay or twoWay") }
        if let bindingDef, binding == nil {
            configuration.problem(bindingDef.line, "binding value \"\(bindingDef["value"] ?? "")\" is not push, pull or pushAndPush")
        }
        let initiators = partyNames(process, "initiatorParties", "initiatorParty")
        let responders = partyNames(process, "responderParties", "responderParty")
        let legNames = process.element.firstChild("legs", nil)?.children("leg", nil).compactMap { $0.attribute("name") } ?? []
        if legNames.isEmpty { configuration.problem(process.line, "process \"\(name)\" has no legs") }
        var legs: [(name: String, leg: Leg, notes: [String])] = []
        var legsOK = true
        for legName in legNames {
            guard let definition = configuration.resolve(\.legConfigurations, legName, kind: "legConfiguration", from: process, attribute: "leg"),
                  let converted = convert(leg: definition) else { legsOK = false; continue }
            legs.append((legName, converted.leg, converted.notes))
        }
        guard let mep, let binding, let initiatorRole, let responderRole, let agreement, !legs.isEmpty else { return [] }
        guard binding.isAllowed(with: mep) else {
            configuration.problem(process.line, "process \"\(name)\": binding \(binding.rawValue) with mep \(mep.rawValue) is not supported")
            return []
        }
        let groups: [[(name: String, leg: Leg, notes: [String])]]
        if mep == .twoWay {
            guard legs.count == 2, legsOK else {
                if legsOK { configuration.problem(process.line, "two-way process \"\(name)\" must have two legs, not \(legs.count)") }
                return []
            }
            groups = [legs]
        } else {
            groups = legs.map { [$0] }
        }
        var pmodes: [PMode] = []
        for group in groups {
            for initiator in initiators {
                for responder in responders {
                    var pmodeLegs = group.map(\.leg)
                    if binding == .pull {
                        for i in pmodeLegs.indices { pmodeLegs[i].pullAuthorization = PullAuthorization(parties: [initiator]) }
                    }
                    let legLabel = group.map(\.name).joined(separator: "+")
                    let notes = Array(Set(group.flatMap(\.notes))).sorted()
                    let description = (["Domibus process \(name), leg \(legLabel): \(initiator) → \(responder)."] + notes).joined(separator: " ")
                    let id = mep == .twoWay ? "\(name).\(initiator).\(responder)" : "\(name).\(legLabel).\(initiator).\(responder)"
                    pmodes.append(PMode(id: id, description: description, agreement: agreement, mep: mep, binding: binding,
                                        initiator: PModeParticipant(party: initiator, role: initiatorRole),
                                        responder: PModeParticipant(party: responder, role: responderRole), legs: pmodeLegs))
                }
            }
        }
        return pmodes
    }

    /// A role's value; an empty or blank one leaves the process out (ebMS roles are non-empty).
    private mutating func role(_ process: DomibusConfiguration.Definition, _ attribute: String) -> String? {
        guard let r = configuration.resolve(\.roles, process[attribute], kind: "role", from: process, attribute: attribute) else { return nil }
        guard let value = r.nonEmpty("value") else {
            configuration.warning(process.line, "process \(process["name"] ?? ""): role \(r["name"] ?? "") has an empty value")
            return nil
        }
        return value
    }

    /// nil = left out (reported); `.some(nil)` = no agreement.
    private mutating func agreement(_ process: DomibusConfiguration.Definition) -> Agreement?? {
        guard let name = process.nonEmpty("agreement") else { return .some(nil) }
        guard let a = configuration.resolve(\.agreements, name, kind: "agreement", from: process, attribute: "agreement") else { return nil }
        guard let value = a.nonEmpty("value") else { return .some(nil) }
        let type = a.nonEmpty("type")
        if type == nil && !URISyntax.isAbsolute(value) {
            configuration.warning(process.line, "process \(process["name"] ?? ""): agreement \"\(value)\" has no type and is not a URI (ebMS 3.0 §5.2.2.7)")
            return nil
        }
        return .some(Agreement(value, type: type))
    }

    private mutating func partyNames(_ process: DomibusConfiguration.Definition, _ list: String, _ item: String) -> [String] {
        let names = process.element.firstChild(list, nil)?.children(item, nil).compactMap { $0.attribute("name") } ?? []
        let known = Set(configuration.parties.map(\.name))
        for n in names where !known.contains(n) {
            configuration.problem(process.line, "process \"\(process["name"] ?? "")\" names party \"\(n)\", which is not defined")
        }
        if names.isEmpty { configuration.problem(process.line, "process \"\(process["name"] ?? "")\" has no \(list)") }
        return names.filter(known.contains)
    }

    /// The last path segment of an ebMS URI (`.../200704/oneWay` → `oneWay`).
    private func suffix(_ uri: String?) -> String? {
        uri?.split(separator: "/").last.map(String.init)
    }
}

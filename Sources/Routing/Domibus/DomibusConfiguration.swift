import Foundation
import EnvelopeXML

/// The parts of a Domibus P-Mode configuration (`db:configuration`, AS4-WIRE §6.2) the importer
/// converts. Domibus defines everything once by name and refers to it by name; this keeps each
/// definition as its attributes plus its line, and collects every broken reference as a problem.
struct DomibusConfiguration {
    static let namespace = "http://domibus.eu/configuration"

    /// One named definition: its attributes and where it was written.
    struct Definition {
        var attributes: [String: String]
        var line: Int
        var element: XMLElement

        subscript(_ name: String) -> String? { attributes[name] }
        /// The attribute, with an empty value counted as absent.
        func nonEmpty(_ name: String) -> String? {
            guard let v = attributes[name]?.trimmingCharacters(in: .whitespaces), !v.isEmpty else { return nil }
            return v
        }
    }

    var ownParty: String?
    var mpcs: [String: Definition] = [:]
    var roles: [String: Definition] = [:]
    var partyIdTypes: [String: Definition] = [:]
    var parties: [(name: String, definition: Definition)] = []
    var meps: [String: Definition] = [:]
    var bindings: [String: Definition] = [:]
    var securities: [String: Definition] = [:]
    var errorHandlings: [String: Definition] = [:]
    var agreements: [String: Definition] = [:]
    var services: [String: Definition] = [:]
    var actions: [String: Definition] = [:]
    var receptionAwareness: [String: Definition] = [:]
    var reliability: [String: Definition] = [:]
    var payloadProfiles: [String: Definition] = [:]
    var legConfigurations: [String: Definition] = [:]
    var processes: [Definition] = []
    /// Inconsistencies of the Domibus file itself (broken references, bad values): the import fails.
    private(set) var problems: [(line: Int, message: String)] = []
    /// What was left out because as4gw is stricter than Domibus: the import goes on without it.
    private(set) var warnings: [(line: Int, message: String)] = []

    mutating func problem(_ line: Int, _ message: String) { problems.append((line, message)) }
    mutating func warning(_ line: Int, _ message: String) { warnings.append((line, message)) }

    /// `line N: message`, in line order.
    static func listing(_ items: [(line: Int, message: String)]) -> [String] {
        items.enumerated().sorted { ($0.element.line, $0.offset) < ($1.element.line, $1.offset) }.map { "line \($0.element.line): \($0.element.message)" }
    }

    init(root: XMLElement) {
        guard root.isElement("configuration", Self.namespace) else {
            problem(root.line, "the root element is \(root.qualifiedName), not db:configuration in \(Self.namespace)")
            return
        }
        ownParty = root.attribute("party")
        mpcs = named(root.firstChild("mpcs", nil), "mpc")
        guard let bp = root.firstChild("businessProcesses", nil) else {
            problem(root.line, "db:configuration has no businessProcesses")
            return
        }
        roles = named(bp.firstChild("roles", nil), "role")
        let partiesElement = bp.firstChild("parties", nil)
        partyIdTypes = named(partiesElement?.firstChild("partyIdTypes", nil), "partyIdType")
        parties = ordered(partiesElement, "party")
        meps = named(bp.firstChild("meps", nil), "mep")
        bindings = named(bp.firstChild("meps", nil), "binding")
        securities = named(bp.firstChild("securities", nil), "security")
        errorHandlings = named(bp.firstChild("errorHandlings", nil), "errorHandling")
        agreements = named(bp.firstChild("agreements", nil), "agreement")
        services = named(bp.firstChild("services", nil), "service")
        actions = named(bp.firstChild("actions", nil), "action")
        receptionAwareness = named(bp.firstChild("as4", nil), "receptionAwareness")
        reliability = named(bp.firstChild("as4", nil), "reliability")
        payloadProfiles = named(bp.firstChild("payloadProfiles", nil), "payloadProfile")
        legConfigurations = named(bp.firstChild("legConfigurations", nil), "legConfiguration")
        processes = bp.children("process", nil).map(definition)
        if processes.isEmpty { problem(bp.line, "businessProcesses has no process") }
    }

    /// Resolves a reference by name in `table`; a missing one becomes a problem and nil.
    mutating func resolve(_ table: KeyPath<DomibusConfiguration, [String: Definition]>, _ name: String?, kind: String,
                          from user: Definition, attribute: String) -> Definition? {
        guard let name, !name.isEmpty else {
            problem(user.line, "\(user.element.localName) \"\(user["name"] ?? "")\" has no \(attribute)")
            return nil
        }
        guard let found = self[keyPath: table][name] else {
            problem(user.line, "\(user.element.localName) \"\(user["name"] ?? "")\" refers to \(kind) \"\(name)\", which is not defined")
            return nil
        }
        return found
    }

    // MARK: Reading

    private func definition(_ e: XMLElement) -> Definition {
        Definition(attributes: Dictionary(e.attributes.filter { $0.namespaceURI == nil }.map { ($0.localName, $0.value) },
                                          uniquingKeysWith: { a, _ in a }),
                   line: e.line, element: e)
    }

    private mutating func ordered(_ parent: XMLElement?, _ child: String) -> [(name: String, definition: Definition)] {
        guard let parent else { return [] }
        var seen: Set<String> = []
        var out: [(name: String, definition: Definition)] = []
        for e in parent.children(child, nil) {
            let d = definition(e)
            guard let name = d["name"], !name.isEmpty else {
                problem(e.line, "\(child) without a name")
                continue
            }
            if !seen.insert(name).inserted {
                problem(e.line, "\(child) \"\(name)\" is defined twice")
                continue
            }
            out.append((name, d))
        }
        return out
    }

    private mutating func named(_ parent: XMLElement?, _ child: String) -> [String: Definition] {
        Dictionary(ordered(parent, child).map { ($0.name, $0.definition) }, uniquingKeysWith: { a, _ in a })
    }
}

import EnvelopeXML
import Foundation
import XCTest
@testable import Routing

/// Paths of the package, its shipped samples and the shared interop vectors (read-only).
enum TestPaths {
    static let packageRoot: URL = {
        var url = URL(fileURLWithPath: #filePath)
        while url.path != "/" {
            url.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url }
        }
        fatalError("Package.swift not found above \(#filePath)")
    }()

    /// The shipped sample files (the JSON only), copied to a fresh folder once per run: running
    /// the daemon or the demo writes a development PKI under pmode/certs, which these tests
    /// must not see.
    static let samples: String = {
        let source = packageRoot.appendingPathComponent("pmode")
        let copy = FileManager.default.temporaryDirectory.appendingPathComponent("as4gw-sample-pmodes-\(getpid())")
        try? FileManager.default.removeItem(at: copy)
        try? FileManager.default.createDirectory(at: copy, withIntermediateDirectories: true)
        for name in (try? FileManager.default.contentsOfDirectory(atPath: source.path)) ?? [] where name.hasSuffix(".json") {
            try? FileManager.default.copyItem(at: source.appendingPathComponent(name), to: copy.appendingPathComponent(name))
        }
        return copy.path
    }()
    static let vectors = packageRoot.deletingLastPathComponent().appendingPathComponent("shared/interop/vectors")
    static func vector(_ relative: String) -> String { vectors.appendingPathComponent(relative).path }
}

/// A scratch P-Mode directory, removed when the test ends.
final class ScratchDirectory: Sendable {
    let url: URL
    var path: String { url.path }

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("routing-tests-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: url) }

    func write(_ name: String, _ text: String) throws {
        let file = url.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: file)
    }

    func remove(_ name: String) throws {
        try FileManager.default.removeItem(at: url.appendingPathComponent(name))
    }
}

enum Roles {
    static let initiator = "http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/initiator"
    static let responder = "http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/responder"
}

let unregistered = "urn:oasis:names:tc:ebcore:partyid-type:unregistered"

/// A user message as the envelope parser would hand it over.
func userMessage(from: String, fromRole: String = Roles.initiator, to: String, toRole: String = Roles.responder,
                 service: String, serviceType: String? = nil, action: String, agreement: String? = nil,
                 agreementType: String? = nil, pmode: String? = nil, fromIds: [PartyId]? = nil) -> UserMessage {
    let agreementRef = (agreement != nil || pmode != nil) ? AgreementRef(agreement ?? "", type: agreementType, pmode: pmode) : nil
    return UserMessage(messageInfo: MessageInfo(messageId: "test-\(UUID().uuidString)@routing.test"),
                       from: EnvelopeXML.Party(ids: fromIds ?? [PartyId(from, type: unregistered)], role: fromRole),
                       to: EnvelopeXML.Party(ids: [PartyId(to, type: unregistered)], role: toRole),
                       collaboration: CollaborationInfo(agreementRef: agreementRef, service: Service(service, type: serviceType),
                                                        action: action, conversationId: "conv-1"))
}

/// Loads `directory`, failing the test with every diagnostic if it does not load.
func loadOrFail(_ directory: String, options: PModeLoader.Options = PModeLoader.Options(),
                file: StaticString = #filePath, line: UInt = #line) throws -> PModeSet {
    do {
        return try PModeLoader.load(directory: directory, options: options)
    } catch {
        XCTFail("P-Mode directory did not load:\n\(error.description)", file: file, line: line)
        throw error
    }
}

/// The diagnostics of a directory that must not load.
func diagnostics(_ directory: String, options: PModeLoader.Options = PModeLoader.Options(),
                 file: StaticString = #filePath, line: UInt = #line) -> [String] {
    do {
        _ = try PModeLoader.load(directory: directory, options: options)
        XCTFail("expected the directory to be refused", file: file, line: line)
        return []
    } catch {
        return error.diagnostics.map(\.description)
    }
}

/// A minimal valid parties.json for two parties a and b (http endpoints: load with allowInsecureEndpoints).
let twoParties = """
{
  "parties": [
    { "name": "a", "partyIds": [{ "value": "id-a", "type": "\(unregistered)" }], "endpoint": "https://a.example/as4" },
    { "name": "b", "partyIds": [{ "value": "id-b", "type": "\(unregistered)" }], "endpoint": "https://b.example/as4" }
  ]
}
"""

/// A one-way push P-Mode from a to b.
func onePMode(id: String = "p1", service: String = "urn:svc:one", action: String = "Act", agreement: String? = nil,
              from: String = "a", to: String = "b") -> String {
    let agreementLine = agreement.map { "\n  \"agreement\": { \"value\": \"\($0)\" }," } ?? ""
    return """
    {
      "id": "\(id)",\(agreementLine)
      "initiator": { "party": "\(from)", "role": "\(Roles.initiator)" },
      "responder": { "party": "\(to)", "role": "\(Roles.responder)" },
      "legs": [ { "service": { "value": "\(service)" }, "action": "\(action)" } ]
    }
    """
}

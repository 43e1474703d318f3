import AS4Crypto
@testable import AS4Gateway
import Foundation
import MessageStore
import XCTest

/// gw-a sending gw-b e-address documents as they travel (header, properties, payloads), each
/// chosen apart by the test and sent with `as4gw send`; B serves a person's and a company's
/// mailboxes. One attempt per document: a refusal is final at once instead of after retries.
/// `pulled`: B pulls them (One-Way/Pull) instead of A pushing them.
struct CarrierScene {
    static let sender = "DVS@90000048472", person = "_PRIVATE@16117519997", company = "_DEFAULT@40003032949"
    let h: GatewayHarness
    let mailboxes: BackendClient

    init(pulled: Bool = false) throws {
        h = try GatewayHarness()
        if pulled {
            try h.configure(["gw-a", "gw-b"], pull: [.init(action: EAddressMessages.documentAction, retries: 0)])
            for node in ["gw-a", "gw-b"] { h.nodes[node]!.extraArguments = ["--pull-interval", "0.2"] }
        } else {
            try h.configure(["gw-a", "gw-b"], legs: [GatewayHarness.Leg(), GatewayHarness.Leg(action: EAddressMessages.documentAction, retries: 0),
                                                     GatewayHarness.Leg(action: EAddressMessages.statusAction)])
        }
        try h.importDirectory("gw-b", [GatewayHarness.localEntry(Self.person, ownerId: "16117519997", kind: "naturalPerson"),
                                       GatewayHarness.localEntry(Self.company, ownerId: "40003032949", kind: "company")])
        mailboxes = try BackendClient(port: h.nodes["gw-b"]!.submitPort,
                                      token: try h.addConnection("gw-b", name: "mailboxes", addresses: [Self.person, Self.company]))
        try h.start("gw-a")
        try h.start("gw-b")
    }

    static func sha256(_ bytes: [UInt8]) -> String { (try? InboundProcessor.hex(Digest.sha256(bytes))) ?? "" }

    /// The header gw-a's exchange would write for these files.
    static func header(_ documentId: String, recipient: String = person, files: [[UInt8]]) -> EAddressMessages.DocumentHeader {
        EAddressMessages.DocumentHeader(
            documentId: documentId, sender: sender, recipient: recipient, metadata: metadata(["subject": documentId, "recipients": [recipient]]),
            files: files.enumerated().map { .init(name: "file-\($0 + 1).bin", mimeType: "application/octet-stream", size: Int64($1.count),
                                                  sha256: sha256($1)) })
    }

    /// Metadata as gw-a stores and sends it: `fields` over a sender, one recipient and a subject.
    static func metadata(_ fields: [String: Any] = [:]) -> String {
        let base: [String: Any] = ["sender": sender, "recipients": [person], "subject": "Lēmums"]
        let data = try! JSONSerialization.data(withJSONObject: base.merging(fields) { $1 }, options: [.sortedKeys])
        return String(decoding: data, as: UTF8.self)
    }

    /// The eb:MessageProperties gw-a's exchange would give them.
    static func properties(_ documentId: String, finalRecipient: String? = person) -> [(String, String)] {
        [("originalSender", sender), ("documentId", documentId)] + (finalRecipient.map { [("finalRecipient", $0)] } ?? [])
    }

    /// Sends the header as the first payload and the files after it; returns the AS4 message id.
    /// `send`: more `as4gw send` options (`--character-set`: eb:PartProperties of every payload).
    func carry(_ name: String, header: [UInt8], properties: [(String, String)], files: [[UInt8]], send: [String] = []) throws -> String {
        var args = ["send", "--to", "gw-b", "--service", EAddressMessages.service, "--action", EAddressMessages.documentAction,
                    "--token-file", h.nodes["gw-a"]!.submitTokenFile, "--submit", h.nodes["gw-a"]!.submitURL] + send
        for (key, value) in properties { args += ["--property", "\(key)=\(value)"] }
        var paths = [try h.file("\(name).json", header)]
        for (i, file) in files.enumerated() { paths.append(try h.file("\(name)-\(i + 1).bin", file)) }
        let r = try GatewayProcess.run(args + paths)
        XCTAssertEqual(r.status, 0, r.stderr)
        return r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// gw-a's message once B answered it, receipt or error.
    func settled(_ id: String) throws -> StoredMessage {
        var last: StoredMessage?
        try h.waitUntil(timeout: 30, "\(id) Delivered or Failed at gw-a") {
            last = try h.message("gw-a", id, .outbound)
            return [.delivered, .failed].contains(last?.status)
        }
        return last!
    }

    /// The document ids in an address's mailbox at B.
    func inbox(_ address: String) throws -> [String] {
        ((try mailboxes.get("/api/v1/inbox?address=\(address)").json["items"] as? [[String: Any]]) ?? []).compactMap { $0["messageId"] as? String }
    }

    /// Regular files of exactly `size` bytes anywhere under `directory`.
    func files(under directory: String, ofSize size: Int) throws -> [String] {
        let fm = FileManager.default
        return (fm.enumerator(atPath: directory)?.allObjects as? [String] ?? []).filter {
            (try? fm.attributesOfItem(atPath: directory + "/" + $0))?[.type] as? FileAttributeType == .typeRegular
                && ((try? fm.attributesOfItem(atPath: directory + "/" + $0))?[.size] as? NSNumber)?.intValue == size
        }
    }

    func assertNoPersonalCodeLogged(file: StaticString = #filePath, line: UInt = #line) throws {
        for node in ["gw-a", "gw-b"] {
            XCTAssertFalse(h.nodes[node]!.log.contains("16117519997"), "a personal code in clear in \(node)'s log", file: file, line: line)
        }
    }
}

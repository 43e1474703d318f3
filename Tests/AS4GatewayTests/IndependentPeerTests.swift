import AS4Crypto
import Foundation
import MessageStore
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Live exchanges with an independent AS4 implementation, the PyPI package `as4` (pinned in
/// `.venv-as4/` by scripts/deps), driven by Tests/interop/peer_as4.py, both ways, over HTTPS on
/// 127.0.0.1. `as4` speaks the Peppol AS4 profile only, so the P-Modes here are Peppol-shaped:
/// party ids of type `urn:fdc:peppol.eu:2017:identifiers:ap`, the ebMS initiator/responder roles,
/// the Peppol agreement, service = process id (type `cenbii-procid-ubl`), action =
/// `busdox-docid-qns::` + document type id, and an SBDH-wrapped invoice as the payload.
///
/// Peppol AS4 wants the recipient's encryption certificate in a BinarySecurityToken, and `as4`
/// 0.2.0 reads the EncryptedKey's reference only in that form (a Subject Key Identifier, as4gw's
/// default, it refuses with EBMS:0003), so the P-Modes say `encryptionKeyReference: bst`. `as4`
/// compares `originalSender`/`finalRecipient` and their type with the SBDH's sender and receiver,
/// so `as4gw send` types them `iso6523-actorid-upis` (`--property-type`).
final class IndependentPeerTests: XCTestCase {
    static let service = "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"
    static let serviceType = "cenbii-procid-ubl"
    static let action = "busdox-docid-qns::urn:oasis:names:specification:ubl:schema:xsd:Invoice-2::Invoice"
        + "##urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0::2.1"
    static let agreement = "urn:fdc:peppol.eu:2017:agreements:tia:ap_provider"
    static let partyType = "urn:fdc:peppol.eu:2017:identifiers:ap"
    static let ebms = "http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/"

    var harness: GatewayHarness!
    var peer: Process?
    var peerPort: UInt16 = 0
    var peerLog: String { harness.root.appendingPathComponent("peer.log").path }
    var peerOut: String { harness.root.appendingPathComponent("peer-received.jsonl").path }
    var certs: String { harness.pmodeDirectory + "/certs" }

    static let python = GatewayProcess.projectRoot.appendingPathComponent(".venv-as4/bin/python").path
    static let script = GatewayProcess.projectRoot.appendingPathComponent("Tests/interop/peer_as4.py").path

    override func setUpWithError() throws {
        guard FileManager.default.isExecutableFile(atPath: Self.python) else {
            throw XCTSkip("\(Self.python) is missing: run scripts/deps to create the as4 interop environment")
        }
        harness = try GatewayHarness()
        peerPort = GatewayHarness.freePort()
        try configure()
        try harness.start("gw-a")  // also generates the development PKI, peer's certificates included
    }

    override func tearDown() {
        if let peer, peer.isRunning {
            peer.terminate()
            peer.waitUntilExit()
        }
        peer = nil
        harness = nil
    }

    /// parties.json and the two One-Way/Push P-Modes (peer → gw-a, gw-a → peer).
    func configure() throws {
        let dir = harness.pmodeDirectory
        harness.nodes["gw-a"] = GatewayHarness.Node(name: "gw-a", as4Port: GatewayHarness.freePort(), submitPort: GatewayHarness.freePort(),
                                                    data: harness.root.appendingPathComponent("data-gw-a").path,
                                                    logPath: harness.root.appendingPathComponent("gw-a.log").path)
        func party(_ name: String, _ endpoint: String) -> String {
            """
            {"name": "\(name)", "partyIds": [{"value": "\(name)", "type": "\(Self.partyType)"}], "endpoint": "\(endpoint)",
             "certificates": {"signing": ["certs/\(name).signing.pem"], "encryption": ["certs/\(name).encryption.pem"], "tls": ["certs/\(name).tls.pem"]}}
            """
        }
        try "{\"parties\": [\(party("gw-a", harness.nodes["gw-a"]!.as4URL)), \(party("peer", "https://127.0.0.1:\(peerPort)/as4"))]}"
            .write(toFile: dir + "/parties.json", atomically: true, encoding: .utf8)
        let leg = """
            {"service": {"value": "\(Self.service)", "type": "\(Self.serviceType)"}, "action": "\(Self.action)",
             "security": {"profile": "1.15", "sign": true, "encrypt": true, "encryptionKeyReference": "bst"}, "payload": {"compress": true},
             "receptionAwareness": {"retries": 2, "initialIntervalSeconds": 1, "backoffFactor": 1, "maxIntervalSeconds": 1, "jitterFraction": 0}}
            """
        func pmode(_ from: String, _ to: String) -> String {
            """
            {"id": "\(from)-to-\(to)", "agreement": {"value": "\(Self.agreement)"},
             "initiator": {"party": "\(from)", "role": "\(Self.ebms)initiator"},
             "responder": {"party": "\(to)", "role": "\(Self.ebms)responder"}, "legs": [\(leg)]}
            """
        }
        try "{\"pmodes\": [\(pmode("peer", "gw-a")), \(pmode("gw-a", "peer"))]}"
            .write(toFile: dir + "/peppol.pmode.json", atomically: true, encoding: .utf8)
    }

    struct Run {
        var status: Int32
        var stdout: String
        var stderr: String
        var json: [String: Any]? { (try? JSONSerialization.jsonObject(with: Data(stdout.utf8))) as? [String: Any] }
    }

    func runPeer(_ arguments: [String]) throws -> Run {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Self.python)
        p.arguments = [Self.script] + arguments
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Run(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }

    func startPeer() throws {
        peer = try harness.startHelper(Self.python, [Self.script, "serve", "--port", String(peerPort),
                                                     "--cert", certs + "/peer.tls.pem", "--key", certs + "/peer.tls.key",
                                                     "--sign-key", certs + "/peer.signing.key", "--sign-cert", certs + "/peer.signing.pem",
                                                     "--decrypt-key", certs + "/peer.encryption.key",
                                                     "--sender-cert", certs + "/gw-a.signing.pem", "--party-id", "peer", "--out", peerOut],
                                       log: peerLog, what: "the as4 peer")
    }

    var peerLogText: String { (try? String(contentsOfFile: peerLog, encoding: .utf8)) ?? "" }

    var peerRecords: [[String: Any]] {
        let text = (try? String(contentsOfFile: peerOut, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    func stored(_ id: String, _ direction: Direction) throws -> StoredMessage? {
        let store = try harness.store("gw-a")
        defer { store.close() }
        return try store.findMessage(id: id, direction: direction)
    }

    func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    func sbdFile() throws -> String {
        let path = harness.root.appendingPathComponent("sbd.xml").path
        let r = try runPeer(["sbd", "--out", path])
        XCTAssertEqual(r.status, 0, r.stderr)
        return path
    }

    /// `as4gw send` with the Peppol service (typed) and the four-corner properties.
    func submit(_ file: String) throws -> String {
        let r = try GatewayProcess.run(["send", "--to", "peer", "--service", Self.service, "--service-type", Self.serviceType,
                                        "--action", Self.action, "--property", "originalSender=0088:5400000000001",
                                        "--property", "finalRecipient=0088:5400000000002",
                                        "--property-type", "originalSender=iso6523-actorid-upis",
                                        "--property-type", "finalRecipient=iso6523-actorid-upis",
                                        "--token-file", harness.nodes["gw-a"]!.submitTokenFile, "--submit", harness.nodes["gw-a"]!.submitURL, file])
        guard r.status == 0 else { throw NSError(domain: "send", code: Int(r.status), userInfo: [NSLocalizedDescriptionKey: r.stderr]) }
        return r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func waitForOutbound(_ id: String, _ wanted: MessageStatus) throws -> StoredMessage {
        var last: StoredMessage?
        do {
            try harness.waitUntil(timeout: 30, "\(id) to be \(wanted)") {
                last = try stored(id, .outbound)
                return last?.status == wanted
            }
        } catch {
            XCTFail("\(error); last \(String(describing: last?.status)) \(String(describing: last?.outbound?.lastError)); "
                    + "gw-a log:\n\(harness.nodes["gw-a"]!.log.suffix(3000))\npeer log:\n\(peerLogText.suffix(2000))")
            throw error
        }
        return last!
    }

    /// (a) peer → gw-a: `as4` builds, signs, compresses and encrypts; gw-a verifies, decrypts,
    /// stores and answers with a receipt that `as4` verifies (signature against gw-a's signing
    /// certificate, RefToMessageId, and every reference it signed acknowledged).
    func testPeerSendsAndVerifiesOurReceipt() throws {
        let invoice = harness.root.appendingPathComponent("invoice.xml").path
        try Data("<Invoice xmlns=\"urn:oasis:names:specification:ubl:schema:xsd:Invoice-2\"><ID>42</ID></Invoice>".utf8)
            .write(to: URL(fileURLWithPath: invoice))
        let r = try runPeer(["send", "--url", harness.nodes["gw-a"]!.as4URL, "--cacert", certs + "/dev-ca.pem",
                             "--sign-key", certs + "/peer.signing.key", "--sign-cert", certs + "/peer.signing.pem",
                             "--recipient-cert", certs + "/gw-a.encryption.pem", "--receipt-signer", certs + "/gw-a.signing.pem",
                             "--from", "peer", "--to", "gw-a", invoice])
        let json = try XCTUnwrap(r.json, "peer send printed no JSON: \(r.stdout)\n\(r.stderr)")
        XCTAssertEqual(json["status"] as? Int, 200, "\(json)\n\(harness.nodes["gw-a"]!.log.suffix(2000))")
        XCTAssertEqual(json["receiptValid"] as? Bool, true, "\(json)")
        let id = try XCTUnwrap(json["messageId"] as? String)
        let message = try XCTUnwrap(try stored(id, .inbound), "gw-a stored nothing for \(id)")
        XCTAssertEqual(message.metadata.messageId, id)
        XCTAssertEqual(message.parts.count, 1)
        let delivered = try storedPayload(message.parts[0])
        XCTAssertEqual([hex(try Digest.sha256(delivered))], json["payloadSha256"] as? [String],
                       "gw-a delivers the SBD exactly as as4 built it")
        XCTAssertNotNil(message.receipt, "the receipt answered is kept")
    }

    /// (b) gw-a → peer: gw-a seals per the P-Mode and delivers; `as4` verifies gw-a's signature
    /// (pinned to gw-a's signing certificate), decrypts, decompresses, checks the SBDH and answers
    /// with its signed receipt, which gw-a's receipt validation must accept for `Delivered`.
    func testWeSendAndAcceptThePeersReceipt() throws {
        try startPeer()
        let sbd = try sbdFile()
        let id = try submit(sbd)
        let sent = try waitForOutbound(id, .delivered)
        XCTAssertNotNil(sent.receipt, "Delivered needs the peer's receipt held")
        XCTAssertEqual(sent.outbound?.attempts, 1)
        let record = try XCTUnwrap(peerRecords.last { $0["messageId"] as? String == id }, "peer recorded nothing: \(peerLogText)")
        XCTAssertEqual(record["successful"] as? Bool, true, "\(record)")
        XCTAssertEqual(record["from"] as? String, "gw-a")
        let payload = try [UInt8](Data(contentsOf: URL(fileURLWithPath: sbd)))
        XCTAssertEqual(record["payloadSha256"] as? [String], [hex(try Digest.sha256(payload))])
    }
}

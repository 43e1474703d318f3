@testable import AS4Gateway
import Foundation
import HTTPClient
import MessageStore
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Two (or more) real `as4gw serve` processes on 127.0.0.1, each with its own data directory,
/// sharing a P-Mode directory written for the test (short retry intervals) and the development
/// PKI the first gateway generates.
final class GatewayHarness {
    let root: URL
    var pmodeDirectory: String { root.appendingPathComponent("pmode").path }
    var nodes: [String: Node] = [:]

    final class Node {
        let name: String
        let as4Port: UInt16
        let submitPort: UInt16
        let adminPort = GatewayHarness.freePort()
        let data: String
        let logPath: String
        var process: Process?
        var extraArguments: [String] = []

        init(name: String, as4Port: UInt16, submitPort: UInt16, data: String, logPath: String) {
            self.name = name
            self.as4Port = as4Port
            self.submitPort = submitPort
            self.data = data
            self.logPath = logPath
        }

        var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }
        var submitURL: String { "http://127.0.0.1:\(submitPort)/submit" }
        /// The token the node wrote at start, which its submission endpoint wants.
        var submitTokenFile: String { data + "/submit.token" }
        var submitToken: String {
            ((try? String(contentsOfFile: submitTokenFile, encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        }
        var submitHeaders: [(String, String)] { [("Content-Type", "application/json"), ("Authorization", "Bearer " + submitToken)] }
        var as4URL: String { "https://127.0.0.1:\(as4Port)/as4" }
        var adminURL: String { "http://127.0.0.1:\(adminPort)" }
    }

    struct Leg {
        var action: String = "DeliverDocument"
        var retries: Int = 3
        var interval: Double = 1
        var maxMessageBytes: Int = 100 << 20
        var encrypt = true
        var sign = true
        var profile = "1.15"
        /// nil: the P-Mode default.
        var duplicateWindow: Int?
        /// `security.keyReference` and `security.encryptionKeyReference`; nil: the P-Mode default.
        var keyReference: String?
        var encryptionKeyReference: String?
        /// `security.algorithms.signature`; nil: the profile's own list.
        var signatureAlgorithms: [String]?

        /// The leg's `security` object.
        var securityJSON: String {
            var members = ["\"profile\": \"\(profile)\"", "\"sign\": \(sign)", "\"encrypt\": \(encrypt)"]
            if let keyReference { members.append("\"keyReference\": \"\(keyReference)\"") }
            if let encryptionKeyReference { members.append("\"encryptionKeyReference\": \"\(encryptionKeyReference)\"") }
            if let signatureAlgorithms {
                members.append("\"algorithms\": {\"signature\": [" + signatureAlgorithms.map { "\"\($0)\"" }.joined(separator: ", ") + "]}")
            }
            return "{" + members.joined(separator: ", ") + "}"
        }
    }

    /// A One-Way/Pull P-Mode: `holder` keeps `action` messages for `puller` on `mpc`; the puller
    /// is the initiator (it starts the MEP with a PullRequest) and the only party authorised.
    struct PullAgreement {
        var holder: String = "gw-a"
        var puller: String = "gw-b"
        var action: String = "Notify"
        var mpc: String = "urn:as4gw:mpc:test-for-gw-b"
        var retries: Int = 5
        var profile = "1.15"
        /// `security.keyReference`; nil: the P-Mode default.
        var keyReference: String?
    }

    /// A Two-Way/Push-and-Push P-Mode: `initiator` sends `request`, `responder` pushes `reply` back.
    struct TwoWayAgreement {
        var initiator: String = "gw-a"
        var responder: String = "gw-b"
        var request: String = "Query"
        var reply: String = "Answer"
    }

    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("as4gw-it-\(getpid())-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(atPath: root.appendingPathComponent("pmode").path, withIntermediateDirectories: true)
    }

    deinit {
        for node in nodes.values { stop(node, signal: SIGKILL) }
        // AS4GW_KEEP_TEST_DIRS=1 keeps data and logs for a post-mortem.
        if ProcessInfo.processInfo.environment["AS4GW_KEEP_TEST_DIRS"] == nil { try? FileManager.default.removeItem(at: root) }
    }

    /// A free loopback port (`TestPorts`: this process's range when tests run side by side).
    static func freePort() -> UInt16 { TestPorts.free() }

    /// Writes parties.json and one P-Mode per direction for `names`, and registers the nodes.
    /// `pull` and `twoWay` add P-Modes of those MEPs beside the One-Way/Push ones.
    func configure(_ names: [String], legs: [Leg] = [Leg()], directory: String? = nil,
                   pull: [PullAgreement] = [], twoWay: [TwoWayAgreement] = []) throws {
        let dir = directory ?? pmodeDirectory
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for name in names where nodes[name] == nil {
            nodes[name] = Node(name: name, as4Port: Self.freePort(), submitPort: Self.freePort(),
                               data: root.appendingPathComponent("data-\(name)").path, logPath: root.appendingPathComponent("\(name).log").path)
        }
        let parties = names.map { n -> String in
            """
            {"name": "\(n)", "partyIds": [{"value": "\(n)", "type": "urn:oasis:names:tc:ebcore:partyid-type:unregistered"}],
             "endpoint": "https://127.0.0.1:\(nodes[n]!.as4Port)/as4",
             "certificates": {"signing": ["certs/\(n).signing.pem"], "encryption": ["certs/\(n).encryption.pem"], "tls": ["certs/\(n).tls.pem"]}}
            """
        }.joined(separator: ",\n")
        try "{\"parties\": [\(parties)]}".write(toFile: dir + "/parties.json", atomically: true, encoding: .utf8)
        var pmodes: [String] = []
        for from in names {
            for to in names where to != from {
                let legText = legs.map { leg in
                    """
                    {"service": {"value": "urn:eadrese:services:delivery"}, "action": "\(leg.action)",
                     "security": \(leg.securityJSON),
                     "payload": {"compress": true, "maxMessageBytes": \(leg.maxMessageBytes)},
                     "receptionAwareness": {"retries": \(leg.retries), "initialIntervalSeconds": \(leg.interval), "backoffFactor": 1,
                                            "maxIntervalSeconds": \(leg.interval), "jitterFraction": 0\(leg.duplicateWindow.map { ", \"duplicateDetectionWindowSeconds\": \($0)" } ?? "")}}
                    """
                }
                for (i, l) in legText.enumerated() {
                    pmodes.append("""
                    {"id": "\(from)-to-\(to)-\(i)", "agreement": {"value": "urn:as4gw:agreements:test"},
                     "initiator": {"party": "\(from)", "role": "urn:as4gw:roles:sender"},
                     "responder": {"party": "\(to)", "role": "urn:as4gw:roles:receiver"}, "legs": [\(l)]}
                    """)
                }
            }
        }
        func legJSON(_ action: String, mpc: String? = nil, retries: Int = 3, profile: String = "1.15", keyReference: String? = nil) -> String {
            """
            {"service": {"value": "urn:eadrese:services:delivery"}, "action": "\(action)"\(mpc.map { ", \"mpc\": \"\($0)\"" } ?? ""),
             "security": {"profile": "\(profile)", "sign": true, "encrypt": true\(keyReference.map { ", \"keyReference\": \"\($0)\"" } ?? "")},
             "payload": {"compress": true},
             "receptionAwareness": {"retries": \(retries), "initialIntervalSeconds": 1, "backoffFactor": 1,
                                    "maxIntervalSeconds": 1, "jitterFraction": 0}}
            """
        }
        for p in pull {
            pmodes.append("""
            {"id": "pull-\(p.puller)-from-\(p.holder)", "agreement": {"value": "urn:as4gw:agreements:test"}, "mep": "oneWay", "binding": "pull",
             "initiator": {"party": "\(p.puller)", "role": "urn:as4gw:roles:receiver"},
             "responder": {"party": "\(p.holder)", "role": "urn:as4gw:roles:sender"},
             "legs": [\(legJSON(p.action, mpc: p.mpc, retries: p.retries, profile: p.profile, keyReference: p.keyReference))]}
            """)
        }
        for t in twoWay {
            pmodes.append("""
            {"id": "twoway-\(t.initiator)-\(t.responder)", "agreement": {"value": "urn:as4gw:agreements:test"}, "mep": "twoWay",
             "binding": "pushAndPush",
             "initiator": {"party": "\(t.initiator)", "role": "urn:as4gw:roles:sender"},
             "responder": {"party": "\(t.responder)", "role": "urn:as4gw:roles:receiver"},
             "legs": [\(legJSON(t.request)), \(legJSON(t.reply))]}
            """)
        }
        try "{\"pmodes\": [\(pmodes.joined(separator: ",\n"))]}".write(toFile: dir + "/test.pmode.json", atomically: true, encoding: .utf8)
    }

    func start(_ name: String, pmode: String? = nil, waitForStart: Bool = true) throws {
        let node = nodes[name]!
        if pmode == nil { try seedDevelopmentPKI() }
        let p = Process()
        p.executableURL = GatewayProcess.binary
        p.arguments = ["serve", "--party", name, "--data", node.data, "--pmode", pmode ?? pmodeDirectory,
                       "--as4-port", String(node.as4Port), "--submit-port", String(node.submitPort),
                       "--admin-port", String(node.adminPort)] + node.extraArguments
        if !FileManager.default.fileExists(atPath: node.logPath) { _ = FileManager.default.createFile(atPath: node.logPath, contents: nil) }
        let before = Self.starts(in: node.log)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: node.logPath))
        handle.seekToEndOfFile()
        p.standardError = handle
        p.standardOutput = handle
        try p.run()
        node.process = p
        if waitForStart {
            try waitUntil(timeout: 30, "\(name) to start (log: \(node.logPath))") {
                guard p.isRunning else {
                    throw HarnessTimeout(description: "\(name) exited (status \(p.terminationStatus), reason \(p.terminationReason.rawValue)): \(node.log.suffix(2000))")
                }
                return Self.starts(in: node.log) > before
            }
        }
    }

    /// Start events in either log format.
    static func starts(in log: String) -> Int {
        log.components(separatedBy: "event=started").count + log.components(separatedBy: "\"event\":\"started\"").count - 2
    }

    /// Signals the node and waits for it to exit; one that is still running after a minute is
    /// killed (and the test fails), so a gateway that ignores SIGTERM cannot hang the suite.
    func stop(_ node: Node, signal: Int32 = SIGTERM) {
        guard let p = node.process, p.isRunning else { return }
        kill(p.processIdentifier, signal)
        let deadline = Date().addingTimeInterval(60)
        while p.isRunning, Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        if p.isRunning {
            XCTFail("\(node.name) did not exit within 60 s of signal \(signal); killed")
            kill(p.processIdentifier, SIGKILL)
        }
        p.waitUntilExit()
        node.process = nil
    }

    func stop(_ name: String, signal: Int32 = SIGTERM) { stop(nodes[name]!, signal: signal) }

    func waitUntil(timeout: Double, _ what: String, _ condition: () throws -> Bool) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if try condition() { return }
            Thread.sleep(forTimeInterval: 0.1)
        }
        throw HarnessTimeout(description: "timed out waiting for \(what)")
    }

    /// `as4gw send` to a node's submission endpoint; returns the message id.
    func send(from: String, to: String, action: String = "DeliverDocument", files: [String], messageId: String? = nil,
              refTo: String? = nil) throws -> String {
        var args = ["send", "--to", to, "--service", "urn:eadrese:services:delivery", "--action", action,
                    "--property", "originalSender=_DEFAULT@40003000001", "--token-file", nodes[from]!.submitTokenFile, "--submit", nodes[from]!.submitURL]
        if let messageId { args += ["--message-id", messageId] }
        if let refTo { args += ["--ref-to", refTo] }
        let r = try GatewayProcess.run(args + files)
        guard r.status == 0 else { throw NSError(domain: "send", code: Int(r.status), userInfo: [NSLocalizedDescriptionKey: r.stderr]) }
        return r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The same submission as `send`, in-process (for bulk tests: no process start per message).
    func submit(from: String, to: String, files: [String], client: HTTPClient) throws -> String {
        let payloads = files.map { "{\"path\": \"\($0)\"}" }.joined(separator: ",")
        let body = "{\"to\": \"\(to)\", \"service\": \"urn:eadrese:services:delivery\", \"action\": \"DeliverDocument\", \"payloads\": [\(payloads)]}"
        let r = try client.post(url: nodes[from]!.submitURL, headers: nodes[from]!.submitHeaders, body: .bytes(Array(body.utf8)))
        guard r.status == 202, let json = try JSONSerialization.jsonObject(with: Data(r.body)) as? [String: Any],
              let id = json["messageId"] as? String else {
            throw NSError(domain: "submit", code: r.status, userInfo: [NSLocalizedDescriptionKey: String(decoding: r.body, as: UTF8.self)])
        }
        return id
    }

    /// A node's view of one message, read from its store.
    func message(_ node: String, _ id: String, _ direction: Direction) throws -> StoredMessage? {
        let store = try self.store(node)
        defer { store.close() }
        return try store.findMessage(id: id, direction: direction)
    }

    /// Waits until a node's store shows the message in `wanted`; fails with the node's log tail.
    func waitFor(_ node: String, _ id: String, _ direction: Direction, _ wanted: MessageStatus,
                 timeout: Double = 30, file: StaticString = #filePath, line: UInt = #line) throws -> StoredMessage {
        var last: StoredMessage?
        do {
            try waitUntil(timeout: timeout, "\(id) to be \(wanted) at \(node)") {
                last = try message(node, id, direction)
                return last?.status == wanted
            }
        } catch {
            XCTFail("\(error); last status \(String(describing: last?.status)); log:\n\(nodes[node]!.log.suffix(3000))", file: file, line: line)
            throw error
        }
        return last!
    }

    /// Opens a node's store (SQLite in WAL mode allows a second reader beside the daemon).
    func store(_ name: String) throws -> SQLiteMessageStore {
        try SQLiteMessageStore(dataDirectory: nodes[name]!.data)
    }

    func file(_ name: String, _ contents: [UInt8]) throws -> String {
        let path = root.appendingPathComponent(name).path
        try Data(contents).write(to: URL(fileURLWithPath: path))
        return path
    }
}

struct HarnessTimeout: Error, CustomStringConvertible {
    var description: String
}

/// A stored payload's bytes: kept in the store's own rows when small (`MessagePart.bytes`), else
/// the file at its path.
func storedPayload(_ part: MessagePart) throws -> [UInt8] {
    if let bytes = part.bytes { return [UInt8](bytes) }
    return try [UInt8](Data(contentsOf: URL(fileURLWithPath: part.file.path)))
}

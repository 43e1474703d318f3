@testable import AS4Gateway
import AS4Crypto
import Foundation
import MessageStore
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Transport security, profile 2.0, P-Mode reload and log format of a running gateway.
final class GatewayOperationsTests: XCTestCase {
    var harness: GatewayHarness!

    override func setUpWithError() throws { harness = try GatewayHarness() }
    override func tearDown() { harness = nil }

    func delivered(_ id: String, at node: String = "gw-a", timeout: Double = 30) throws -> Bool {
        var done = false
        try? harness.waitUntil(timeout: timeout, "\(id) delivered") {
            let store = try self.harness.store(node)
            defer { store.close() }
            done = try store.findMessage(id: id, direction: .outbound)?.status == .delivered
            return done
        }
        return done
    }

    func curl(_ args: [String]) throws -> (code: String, exit: Int32) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        p.arguments = ["-s", "-o", "/dev/null", "-w", "%{http_code}"] + args
        let out = Pipe()
        p.standardOutput = out
        p.standardError = Pipe()
        try p.run()
        let code = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        return (code, p.terminationStatus)
    }

    func testMutualTLSRefusesUnknownClientCertificates() throws {
        try harness.configure(["gw-a", "gw-b"])
        try harness.start("gw-a")  // generates the development PKI for both parties
        let certs = harness.pmodeDirectory + "/certs"
        try harness.useTLSListener("gw-b", "as4Listener", clientAuthentication: "required")
        try harness.start("gw-b")
        // gw-a presents its TLS certificate from the shared CA: accepted.
        let id = try harness.send(from: "gw-a", to: "gw-b", files: [try harness.file("d.txt", Array("over mTLS".utf8))])
        XCTAssertTrue(try delivered(id), harness.nodes["gw-a"]!.log)
        // No client certificate, or one from an unknown CA: refused before the body is read.
        let url = harness.nodes["gw-b"]!.as4URL
        let body = ["-H", "Content-Type: application/soap+xml", "--data-binary", "<x/>"]
        XCTAssertEqual(try curl(["--cacert", certs + "/dev-ca.pem"] + body + [url]).code, "403")
        let key = try PrivateKey.generateEC(curve: .p256)
        let stranger = try CertificateAuthority.selfSignedCertificate(subject: .init(commonName: "intruder"), key: key,
                                                                      validFrom: Date() - 60, validUntil: Date() + 3600)
        let keyPath = try harness.file("intruder.key", Array(try key.pemEncoded().utf8))
        let certPath = try harness.file("intruder.pem", Array(try stranger.pemEncoded().utf8))
        XCTAssertEqual(try curl(["--cacert", certs + "/dev-ca.pem", "--cert", certPath, "--key", keyPath] + body + [url]).code, "403")
        // A plain-HTTP client cannot even talk to the TLS listener.
        XCTAssertNotEqual(try curl(body + [url.replacingOccurrences(of: "https:", with: "http:")]).code, "200")
    }

    func testProfile20ExchangeWithEd25519AndX25519() throws {
        try harness.configure(["gw-a", "gw-b"], legs: [.init(profile: "2.0")])
        // Profile 2.0 keys: Ed25519 for signing, X25519 for key agreement (issued by the CA).
        let ca = try harness.makeDevelopmentCA()
        for party in ["gw-a", "gw-b"] {
            for (role, key) in [("signing", try PrivateKey.generateEd25519()), ("encryption", try PrivateKey.generateX25519())] {
                try harness.issue(key, by: ca, as: "\(party).\(role)", commonName: "\(party) \(role)",
                                  keyUsage: role == "signing" ? [.digitalSignature] : [.keyAgreement])
            }
        }
        try harness.start("gw-a")  // the development PKI adds only the missing TLS certificates
        try harness.start("gw-b")
        let doc = Array("<doc>eDelivery AS4 2.0</doc>".utf8)
        let id = try harness.send(from: "gw-a", to: "gw-b", files: [try harness.file("d.xml", doc)])
        XCTAssertTrue(try delivered(id), harness.nodes["gw-a"]!.log + harness.nodes["gw-b"]!.log)
        let b = try harness.store("gw-b")
        defer { b.close() }
        let received = try XCTUnwrap(try b.findMessage(id: id, direction: .inbound))
        XCTAssertEqual(try storedPayload(received.parts[0]), doc)
    }

    func testSIGHUPReloadsPModesAndABadFileKeepsTheOldSet() throws {
        try harness.configure(["gw-a", "gw-b"])
        try harness.start("gw-a")
        let node = harness.nodes["gw-a"]!
        let file = harness.pmodeDirectory + "/test.pmode.json"
        let good = try String(contentsOfFile: file, encoding: .utf8)
        try good.replacingOccurrences(of: "\"legs\"", with: "\"lgs\"").write(toFile: file, atomically: true, encoding: .utf8)
        kill(node.process!.processIdentifier, SIGHUP)
        try harness.waitUntil(timeout: 10, "pmodes-refused") { node.log.contains("event=pmodes-refused") }
        XCTAssertTrue(node.log.contains("test.pmode.json:"), "the log names the file and line")
        // The old set is still in force: a submission is accepted.
        XCTAssertNoThrow(try harness.send(from: "gw-a", to: "gw-b", files: [try harness.file("x.txt", [1])]))
        try good.write(toFile: file, atomically: true, encoding: .utf8)
        kill(node.process!.processIdentifier, SIGHUP)
        try harness.waitUntil(timeout: 10, "pmodes-reloaded") { node.log.contains("event=pmodes-reloaded") }
        harness.stop("gw-a")
        XCTAssertTrue(node.log.contains("event=stopped"))
    }

    func testSubmissionRefusesTheGatewaysOwnFiles() throws {
        try harness.configure(["gw-a", "gw-b"])
        try harness.start("gw-a")
        let key = harness.pmodeDirectory + "/certs/gw-a.signing.key"
        XCTAssertThrowsError(try harness.send(from: "gw-a", to: "gw-b", files: [key])) { error in
            XCTAssertTrue("\(error)".contains("own data or P-Mode folder"), "\(error)")
        }
        let store = harness.nodes["gw-a"]!.data + "/messages.sqlite"
        XCTAssertThrowsError(try harness.send(from: "gw-a", to: "gw-b", files: [store]))
    }

    func testJSONLogsOneObjectPerLineWithoutPayloadBytes() throws {
        try harness.configure(["gw-a", "gw-b"])
        harness.nodes["gw-a"]?.extraArguments = ["--log-format", "json"]
        try harness.start("gw-a")
        harness.nodes["gw-b"]?.extraArguments = ["--log-format", "json"]
        try harness.start("gw-b")
        let secret = "TOP-SECRET-PAYLOAD-\(UUID().uuidString)"
        let id = try harness.send(from: "gw-a", to: "gw-b", files: [try harness.file("s.txt", Array(secret.utf8))])
        XCTAssertTrue(try delivered(id))
        for node in ["gw-a", "gw-b"] {
            let log = harness.nodes[node]!.log
            XCTAssertFalse(log.contains(secret), "payload bytes in the log of \(node)")
            XCTAssertFalse(log.contains("PRIVATE KEY"), "key material in the log of \(node)")
            for line in log.split(separator: "\n") {
                let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
                XCTAssertNotNil(object?["time"], String(line))
                XCTAssertNotNil(object?["event"], String(line))
            }
        }
        let received = harness.nodes["gw-b"]!.log.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }.first { $0["event"] as? String == "received" }
        XCTAssertEqual(received?["message_id"] as? String, id)
        XCTAssertNotNil(received?["elapsed_ms"] as? Int)
        XCTAssertEqual(received?["from"] as? String, "gw-a")
    }

    /// `threads` sizes a listener's pool: each libmicrohttpd pool thread serves its connections
    /// one request at a time, so it bounds how many requests a listener handles at once.
    func testListenerThreadsSizeThePool() throws {
        try harness.configure(["gw-a", "gw-b"])
        try harness.start("gw-a")
        let standard = try poolThreads("gw-a")
        harness.stop("gw-a")
        let config = harness.root.appendingPathComponent("threads.json").path
        try """
        {"as4Listener": {"address": "127.0.0.1", "port": 0, "path": "/as4", "threads": 9},
         "apiListener": {"address": "127.0.0.1", "port": 0, "path": "/submit", "threads": 3}}
        """.write(toFile: config, atomically: true, encoding: .utf8)
        harness.nodes["gw-a"]!.extraArguments = ["--config", config]
        try harness.start("gw-a")
        // The defaults are 4 each: 5 more on the AS4 listener, 1 fewer on the API.
        XCTAssertEqual(try poolThreads("gw-a") - standard, 4)
        // It answers: a body that is no AS4 message gets the gateway's refusal, not a lost connection.
        let answer = try curl(["--cacert", harness.pmodeDirectory + "/certs/dev-ca.pem", "-H", "Content-Type: application/soap+xml",
                               "--data-binary", "<x/>", harness.nodes["gw-a"]!.as4URL])
        XCTAssertEqual(answer.exit, 0)
        XCTAssertTrue(answer.code.hasPrefix("4") || answer.code.hasPrefix("5"), answer.code)

        for (index, (threads, problem)) in [("0", "as4Listener.threads (0) must be from 1 to 1024"), ("1025", "as4Listener.threads (1025) must be from 1 to 1024"),
                                   ("2.5", "as4Listener.threads: expected a whole number, found 2.5"),
                                   ("9, \"maxConnections\": 8", "as4Listener.threads (9) must not exceed maxConnections (8)")].enumerated() {
            let bad = harness.root.appendingPathComponent("threads-\(index).json").path
            try """
            {"as4Listener": {"address": "127.0.0.1", "port": 0, "path": "/as4", "threads": \(threads)}}
            """.write(toFile: bad, atomically: true, encoding: .utf8)
            let r = try GatewayProcess.run(["serve", "--check-config", "--config", bad])
            XCTAssertEqual(r.status, 2, r.stderr)
            XCTAssertTrue(r.stderr.contains(problem), r.stderr)
        }
    }

    /// A listener's `minimumBodyBytesPerSecond` and `bodyGraceSeconds` reach its HTTP server: a
    /// client that drips its body to the API listener is closed shortly after the grace and
    /// logged once as `connections-refused` for that listener.
    func testListenerBodyFloorClosesADrippingUpload() throws {
        try harness.configure(["gw-a", "gw-b"])
        let config = harness.root.appendingPathComponent("floor.json").path
        try """
        {"apiListener": {"address": "127.0.0.1", "port": 0, "path": "/submit", "minimumBodyBytesPerSecond": 1000, "bodyGraceSeconds": 1}}
        """.write(toFile: config, atomically: true, encoding: .utf8)
        harness.nodes["gw-a"]!.extraArguments = ["--config", config]
        try harness.start("gw-a")

        func connectToAPI() -> Int32 {
            let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            XCTAssertGreaterThanOrEqual(descriptor, 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = harness.nodes["gw-a"]!.submitPort.bigEndian
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            XCTAssertEqual(connected, 0)
            return descriptor
        }
        func send(_ text: String, on descriptor: Int32) -> Bool {
            let bytes = Array(text.utf8)
            return bytes.withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } == bytes.count
        }
        func closedByPeer(_ descriptor: Int32) -> Bool {
            var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 0) == 1 else { return false }
            var byte: UInt8 = 0
            return recv(descriptor, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT)) <= 0
        }
        let client = connectToAPI()
        defer { close(client) }
        func send(_ text: String) -> Bool { send(text, on: client) }
        func closedByPeer() -> Bool { closedByPeer(client) }
        // Admitted (the operators' token), so that its body is read.
        let token = try XCTUnwrap(SubmitToken.read(path: harness.nodes["gw-a"]!.data + "/" + SubmitToken.fileName))
        XCTAssertTrue(send("POST /submit HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(token)\r\nContent-Length: 100000\r\n\r\n"))
        let started = Date()
        var closed = false
        while !closed, Date().timeIntervalSince(started) < 8 {
            usleep(250_000)
            closed = !send("x") || closedByPeer()
        }
        XCTAssertTrue(closed, "the dripping upload is still open after 8 s")
        try harness.waitUntil(timeout: 5, "the refusal to be logged") {
            harness.nodes["gw-a"]!.log.contains("request body arrived slower than 1000 bytes/s")
        }
        let lines = harness.nodes["gw-a"]!.log.split(separator: "\n").filter { $0.contains("request body arrived slower") }
        XCTAssertEqual(lines.count, 1, "\(lines)")
        XCTAssertTrue(lines.first?.contains("connections-refused") ?? false, "\(lines)")
        XCTAssertTrue(lines.first?.contains("listener=api") ?? false, "\(lines)")

        // Refused at its head (a wrong token): answered 401 and closed before any body byte is
        // read, so a drip after the answer holds nothing and is no slow body.
        let refused = connectToAPI()
        defer { close(refused) }
        XCTAssertTrue(send("POST /submit HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer wrong\r\nContent-Length: 100000\r\n\r\n", on: refused))
        var answer: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        var ended = false
        let refusedAt = Date()
        while !ended, Date().timeIntervalSince(refusedAt) < 8 {
            usleep(250_000)
            while true {
                let count = recv(refused, &buffer, buffer.count, Int32(MSG_DONTWAIT))
                if count > 0 { answer += buffer[0..<count]; continue }
                ended = count == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)
                break
            }
            ended = ended || !send("x", on: refused)
        }
        let text = String(decoding: answer, as: UTF8.self)
        XCTAssertTrue(ended, "the refused upload is still open after 8 s: \(text)")
        XCTAssertTrue(text.hasPrefix("HTTP/1.1 401"), text)
        XCTAssertTrue(text.contains("\r\nConnection: close\r\n"), text)
        usleep(1_500_000)  // a slow-body report, were there one, would follow the watchdog's tick
        XCTAssertEqual(harness.nodes["gw-a"]!.log.split(separator: "\n").filter { $0.contains("request body arrived slower") }.count, 1)
    }

    /// libmicrohttpd's pool threads of a running gateway (every listener's), by their name.
    private func poolThreads(_ node: String) throws -> Int {
        let pid = try XCTUnwrap(harness.nodes[node]!.process?.processIdentifier)
        let tasks = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")
        return tasks.filter { (try? String(contentsOfFile: "/proc/\(pid)/task/\($0)/comm", encoding: .utf8))?.hasPrefix("MHD-worker") == true }.count
    }
}

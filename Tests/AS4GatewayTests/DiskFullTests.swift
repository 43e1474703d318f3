import AS4Crypto
@testable import AS4Gateway
import Foundation
import HTTPClient
import MessageStore
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Issue 7's full-disk fault: gateway B's data directory (store, payloads, spool) on a small
/// tmpfs that the test fills. B must refuse submissions with 507, answer inbound AS4 messages
/// with a 503 the sender retries, keep everything it had accepted intact, and resume by itself
/// once space returns. Mounting needs root (CI runs as root); otherwise the test is skipped loudly.
final class DiskFullTests: XCTestCase {
    var harness: GatewayHarness!
    var mountPoint: String?

    override func tearDown() {
        if let harness { for node in harness.nodes.values { harness.stop(node, signal: SIGKILL) } }
        if let mountPoint { _ = try? Self.run("/bin/umount", [mountPoint]) }
        harness = nil
    }

    func testFullDiskRefusesWithoutLosingAnythingAndResumesWhenSpaceReturns() throws {
        guard geteuid() == 0 else {
            print("*** SKIPPED DiskFullTests: mounting a tmpfs needs root (CI runs as root) ***")
            throw XCTSkip("mounting a tmpfs needs root")
        }
        harness = try GatewayHarness()
        // Enough retries at 1 s that A's message outlives the time B's disk is full.
        try harness.configure(["gw-a", "gw-b"], legs: [.init(retries: 60, interval: 1)])
        let b = harness.nodes["gw-b"]!
        try FileManager.default.createDirectory(atPath: b.data, withIntermediateDirectories: true)
        try Self.run("/bin/mount", ["-t", "tmpfs", "-o", "size=16m", "tmpfs", b.data])
        mountPoint = b.data
        // Readiness wants 1 MiB free here (1 GiB by default, more than this whole disk).
        let config = harness.root.appendingPathComponent("b-admin.json").path
        try "{\"adminListener\": {\"address\": \"127.0.0.1\", \"port\": \(b.adminPort), \"minimumFreeBytes\": 1048576}}"
            .write(toFile: config, atomically: true, encoding: .utf8)
        b.extraArguments = ["--config", config]
        try harness.start("gw-a")
        try harness.start("gw-b")
        let client = try HTTPClient(configuration: HTTPClientConfiguration())
        func admin(_ path: String) throws -> (status: Int, body: String) {
            let r = try client.get(url: b.adminURL + path)
            return (r.status, String(decoding: r.body, as: UTF8.self))
        }
        func diskCheck(_ body: String) -> [String: Any]? {
            let checks = ((try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])?["checks"] as? [[String: Any]]) ?? []
            return checks.first { $0["name"] as? String == "disk" }
        }
        let ready = try admin("/readyz")
        XCTAssertEqual(ready.status, 200, ready.body)
        let doc = try harness.file("doc.txt", Array(repeating: UInt8(ascii: "x"), count: 4096))

        // Accepted before the disk fills: B receives some and submits some.
        var received: [String] = []
        var sentByB: [String] = []
        for _ in 0..<5 {
            received.append(try harness.submit(from: "gw-a", to: "gw-b", files: [doc], client: client))
            sentByB.append(try harness.submit(from: "gw-b", to: "gw-a", files: [doc], client: client))
        }
        for id in received { _ = try harness.waitFor("gw-b", id, .inbound, .received) }
        for id in sentByB { _ = try harness.waitFor("gw-b", id, .outbound, .delivered) }

        // A DMS on B's backend API, writing to a mailbox B serves.
        let mailbox = "_DEFAULT@40003032949"
        try harness.importDirectory("gw-b", [GatewayHarness.localEntry(mailbox, ownerId: "40003032949", kind: "company")])
        let dms = try BackendClient(port: b.submitPort, token: try harness.addConnection("gw-b", name: "dms", addresses: ["_DEFAULT@90000048472"]))
        let document = [(name: "lemums.txt", bytes: Array(repeating: UInt8(ascii: "y"), count: 2048))]
        let metadata = BackendClient.metadata(from: "_DEFAULT@90000048472", to: [mailbox])
        XCTAssertEqual(try dms.submit(metadata: metadata, files: document).status, 202)

        let filler = b.data + "/filler"
        let filled = try Self.fill(filler)
        print("disk full: filler of \(filled) bytes")

        // Submissions are refused with 507, a problem+json saying why, and Retry-After.
        let payload = "{\"to\": \"gw-a\", \"service\": \"urn:eadrese:services:delivery\", \"action\": \"DeliverDocument\", " +
            "\"payloads\": [{\"path\": \"\(doc)\"}]}"
        var refusals = 0
        for _ in 0..<3 {
            let r = try client.post(url: b.submitURL, headers: b.submitHeaders, body: .bytes(Array(payload.utf8)))
            let text = String(decoding: r.body, as: UTF8.self)
            XCTAssertEqual(r.status, 507, text)
            XCTAssertEqual(r.header("Content-Type"), "application/problem+json")
            XCTAssertNotNil(r.header("Retry-After"))
            XCTAssertTrue(text.contains("disk is full"), text)
            if r.status == 507 { refusals += 1 }
        }

        // The backend API says the same: 507, problem+json, Retry-After; no document is kept.
        let refusedDocument = try dms.submit(metadata: metadata, files: document)
        XCTAssertEqual(refusedDocument.status, 507, refusedDocument.text)
        XCTAssertEqual(refusedDocument.contentType, "application/problem+json")
        XCTAssertTrue(refusedDocument.text.contains("insufficient-storage"), refusedDocument.text)

        // An inbound AS4 message is answered with 503 and an ebMS error: A keeps it queued and,
        // as asked by Retry-After, tries again in 30 s rather than after the P-Mode's 1 s.
        let during = try harness.submit(from: "gw-a", to: "gw-b", files: [doc], client: client)
        try harness.waitUntil(timeout: 30, "A to schedule a retry of \(during) after B's refusal") {
            let m = try self.harness.message("gw-a", during, .outbound)
            // The retry line follows the store's update: wait for both, or the check races A's log.
            return m?.status == .submitted && m?.outbound?.lastError?.code == "EBMS:0202"
                && self.harness.nodes["gw-a"]!.log.contains("next_attempt_s=\(DiskFull.retryAfterSeconds)")
        }
        XCTAssertNil(try harness.message("gw-b", during, .inbound), "nothing of the refused message is kept")
        // On the wire: 503, Retry-After and an EBMS:0202 DeliveryFailure signal (no receipt).
        let sealed = try seal(id: "while-full@test")
        let (status, headers, reply) = try post(sealed, to: b)
        XCTAssertEqual(status, 503, reply)
        XCTAssertTrue(headers.lowercased().contains("retry-after:"), headers)
        XCTAssertTrue(reply.contains("EBMS:0202"), reply)
        XCTAssertFalse(reply.contains("Receipt"), reply)
        XCTAssertNil(try harness.message("gw-b", "while-full@test", .inbound))
        // A body too large to keep in memory cannot even be spooled: the HTTP server says 507.
        let big = try harness.file("big.bin", [UInt8](repeating: 0x41, count: 3 << 20))
        let (bigStatus, _, bigReply) = try post(big, to: b, contentType: "application/soap+xml")
        XCTAssertEqual(bigStatus, 507, bigReply)
        XCTAssertTrue(b.process?.isRunning ?? false, "B survives the full disk: \(b.log.suffix(2000))")

        // The admin listener tells: not ready (the store's query alone still answered), the free
        // bytes, and the requests refused because of the disk, by listener.
        let unready = try admin("/readyz")
        XCTAssertEqual(unready.status, 503, unready.body)
        XCTAssertEqual(diskCheck(unready.body)?["ok"] as? Bool, false, unready.body)
        XCTAssertTrue((diskCheck(unready.body)?["detail"] as? String ?? "").contains("less than the 1.0 MiB reserve"), unready.body)
        let metrics = try PrometheusParser.parse(try admin("/metrics").body)
        XCTAssertLessThan(metrics.value("as4gw_disk_free_bytes", ["directory": "data"]) ?? .infinity, Double(1 << 20))
        XCTAssertEqual(metrics.value("as4gw_requests_refused_temporarily_total", ["listener": "submit", "condition": "disk-full"]), 3)
        XCTAssertEqual(metrics.value("as4gw_requests_refused_temporarily_total", ["listener": "api", "condition": "disk-full"]), 1)
        XCTAssertGreaterThanOrEqual(metrics.value("as4gw_requests_refused_temporarily_total", ["listener": "as4", "condition": "disk-full"]) ?? 0, 2)
        // And the log names the condition, once per listener for these few requests.
        let fullLines = b.log.split(separator: "\n").filter { $0.contains("event=disk-full") }
        XCTAssertEqual(Set(fullLines.compactMap { $0.split(separator: " ").first { $0.hasPrefix("listener=") } }), ["listener=submit", "listener=api", "listener=as4"],
                       fullLines.joined(separator: "\n"))
        XCTAssertFalse(b.log.contains("event=internal-error"), b.log.suffix(3000).description)
        // The body the HTTP server could not spool is that same condition: no internal error
        // saying it answered 500 beside a refusal line saying 507, for each such request.
        XCTAssertFalse(b.log.contains("event=http-internal-error"), b.log.suffix(3000).description)
        XCTAssertFalse(b.log.contains("event=http-refused status=507"), b.log.suffix(3000).description)

        // Space returns: B resumes without a restart.
        XCTAssertEqual(unlink(filler), 0)
        XCTAssertEqual(try admin("/readyz").status, 200, "ready again once space returns")
        _ = try harness.waitFor("gw-b", during, .inbound, .received, timeout: 60)
        // A marks it Delivered only after B's receipt arrives, which follows B's commit.
        _ = try harness.waitFor("gw-a", during, .outbound, .delivered, timeout: 60)
        let after = try harness.submit(from: "gw-b", to: "gw-a", files: [doc], client: client)
        XCTAssertEqual(try dms.submit(metadata: metadata, files: document).status, 202, "the API accepts documents again")
        let inbox = try BackendClient(port: b.submitPort, token: try harness.addConnection("gw-b", name: "company", addresses: [mailbox]))
        let listed = try inbox.get("/api/v1/inbox?address=" + mailbox)
        XCTAssertEqual((listed.json["items"] as? [Any])?.count, 2, "the document before the full disk and the one after: \(listed.text)")
        _ = try harness.waitFor("gw-b", after, .outbound, .delivered)

        // Nothing corrupt: the store opens and every accepted message is whole.
        let store = try harness.store("gw-b")
        defer { store.close() }
        var intact = 0
        for id in received + [during] {
            let m = try XCTUnwrap(try store.findMessage(id: id, direction: .inbound))
            for part in m.parts {
                // Wherever the store keeps it (its own rows for small payloads, else a file): whole, and the bytes it recorded.
                let bytes = try storedPayload(part)
                XCTAssertEqual(Int64(bytes.count), part.file.size, "payload \(part.contentId) of \(id)")
                XCTAssertEqual(try Digest.sha256(bytes).map { String(format: "%02x", $0) }.joined(), part.file.sha256, "payload \(part.contentId) of \(id)")
            }
            if !m.parts.isEmpty { intact += 1 }
        }
        for id in sentByB + [after] {
            XCTAssertEqual(try store.findMessage(id: id, direction: .outbound)?.status, .delivered)
        }
        let inbound = try store.listMessages(status: nil, since: nil, direction: .inbound, limit: 100)
        XCTAssertEqual(inbound.count, received.count + 1, "each inbound message stored once")
        print("full disk: refused submissions=\(refusals) inbound intact=\(intact)/\(received.count + 1) " +
              "outbound delivered=\(sentByB.count + 1) store rows=\(inbound.count)")
    }

    /// A message gw-a could send to gw-b under the test P-Mode, sealed by `as4gw seal`.
    func seal(id: String) throws -> String {
        let certs = harness.pmodeDirectory + "/certs"
        let out = harness.root.appendingPathComponent("\(id).mime").path
        let doc = try harness.file("\(id).xml", Array("<doc>\(id)</doc>".utf8))
        let r = try GatewayProcess.run([
            "seal", "--message-id", id, "--from", "gw-a", "--from-type", "urn:oasis:names:tc:ebcore:partyid-type:unregistered",
            "--from-role", "urn:as4gw:roles:sender", "--to", "gw-b", "--to-type", "urn:oasis:names:tc:ebcore:partyid-type:unregistered",
            "--to-role", "urn:as4gw:roles:receiver", "--service", "urn:eadrese:services:delivery", "--action", "DeliverDocument",
            "--agreement", "urn:as4gw:agreements:test", "--pmode", "gw-a-to-gw-b-0", "--compress",
            "--sign-key", certs + "/gw-a.signing.key", "--sign-cert", certs + "/gw-a.signing.pem",
            "--encrypt-cert", certs + "/gw-b.encryption.pem", "--out", out, doc])
        XCTAssertEqual(r.status, 0, r.stderr)
        return out
    }

    /// POSTs a file to a node's AS4 endpoint with curl: the MIME headers `seal` writes first become
    /// the HTTP Content-Type unless `contentType` is given. Returns status, response headers, body.
    func post(_ path: String, to node: GatewayHarness.Node, contentType: String? = nil) throws -> (Int, String, String) {
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        var type = contentType ?? ""
        if contentType == nil {
            let separator: [UInt8] = [13, 10, 13, 10]
            var split = 0
            while split + 4 <= bytes.count, Array(bytes[split..<split + 4]) != separator { split += 1 }
            let head = String(decoding: bytes[..<split], as: UTF8.self)
            type = head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-type:") }
                .map { String($0.dropFirst("content-type:".count)).trimmingCharacters(in: .whitespaces) } ?? ""
            bytes = Array(bytes[(split + 4)...])
        }
        // The body lives outside the full disk, beside the harness's other files.
        let body = harness.root.appendingPathComponent(UUID().uuidString).path
        try Data(bytes).write(to: URL(fileURLWithPath: body))
        let response = body + ".reply", headers = body + ".headers"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        p.arguments = ["-s", "-o", response, "-D", headers, "-w", "%{http_code}", "--cacert", harness.pmodeDirectory + "/certs/dev-ca.pem",
                       "-H", "Content-Type: \(type)", "--data-binary", "@\(body)", node.as4URL]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let code = Int(String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)) ?? 0
        p.waitUntilExit()
        return (code, (try? String(contentsOfFile: headers, encoding: .utf8)) ?? "", (try? String(contentsOfFile: response, encoding: .utf8)) ?? "")
    }

    /// Writes zeros to `path` until the file system refuses with ENOSPC; returns the bytes written.
    static func fill(_ path: String) throws -> Int {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { throw NSError(domain: NSPOSIXErrorDomain, code: Int(errno)) }
        defer { close(fd) }
        var total = 0
        for chunk in [1 << 20, 4096, 512] {
            let zeros = [UInt8](repeating: 0, count: chunk)
            while true {
                let n = zeros.withUnsafeBytes { write(fd, $0.baseAddress!, chunk) }
                if n < 0 {
                    guard errno == ENOSPC else { throw NSError(domain: NSPOSIXErrorDomain, code: Int(errno)) }
                    break
                }
                total += n
                if n < chunk { break }
            }
        }
        return total
    }

    @discardableResult
    static func run(_ tool: String, _ arguments: [String]) throws -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tool)
        p.arguments = arguments
        try p.run()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw NSError(domain: "DiskFullTests", code: Int(p.terminationStatus),
                          userInfo: [NSLocalizedDescriptionKey: "\(tool) \(arguments.joined(separator: " ")) failed"])
        }
        return p.terminationStatus
    }
}

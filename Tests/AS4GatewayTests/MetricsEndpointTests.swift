import AS4Crypto
import Foundation
import HTTPClient
import MessageStore
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// `/metrics`, `/healthz` and `/readyz` of real `as4gw serve` processes: counters move with the
/// traffic, prometheus_client parses every scrape, and each readiness check can turn 503.
final class MetricsEndpointTests: XCTestCase {
    var harness: GatewayHarness!
    var client: HTTPClient!

    override func setUpWithError() throws {
        harness = try GatewayHarness()
        client = try HTTPClient(configuration: HTTPClientConfiguration(trustedCAFile: nil))
    }

    override func tearDown() {
        harness = nil
        client = nil
    }

    func get(_ node: String, _ path: String) throws -> (status: Int, body: String, contentType: String?) {
        let r = try client.get(url: harness.nodes[node]!.adminURL + path)
        return (r.status, String(decoding: r.body, as: UTF8.self), r.header("Content-Type"))
    }

    /// One scrape, parsed by prometheus_client (a parse failure fails the test).
    func scrape(_ node: String) throws -> [PrometheusParser.Family] {
        let r = try get(node, "/metrics")
        XCTAssertEqual(r.status, 200, r.body)
        XCTAssertEqual(r.contentType, "text/plain; version=0.0.4; charset=utf-8")
        return try PrometheusParser.parse(r.body)
    }

    func readiness(_ node: String) throws -> (status: Int, checks: [String: Bool], body: String) {
        let r = try get(node, "/readyz")
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.body.utf8)) as? [String: Any], r.body)
        var checks: [String: Bool] = [:]
        for c in json["checks"] as? [[String: Any]] ?? [] { checks[c["name"] as? String ?? ""] = c["ok"] as? Bool }
        XCTAssertEqual(json["status"] as? String, r.status == 200 ? "ready" : "not ready")
        return (r.status, checks, r.body)
    }

    /// While SIGTERM drains a request still in flight, /readyz says "not ready" (load balancers
    /// stop sending) and the AS4 listener takes no new connection, however long the other drains.
    func testAStoppingNodeIsNotReadyAndTakesNoNewWork() throws {
        try harness.configure(["gw-a", "gw-b"])
        try harness.start("gw-a")
        let node = harness.nodes["gw-a"]!
        XCTAssertEqual(try readiness("gw-a").checks["running"], true)
        // A submission whose body trickles in (10 KB/s of 200 KB): in flight through the stop.
        let body = try harness.file("slow.bin", [UInt8](repeating: 0x41, count: 200_000))
        let slow = Process()
        slow.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        slow.arguments = ["-s", "-o", "/dev/null", "--limit-rate", "10K", "-H", "Content-Type: application/json",
                          "-H", "Authorization: Bearer " + node.submitToken,
                          "--data-binary", "@\(body)", "http://127.0.0.1:\(node.submitPort)/submit"]
        try slow.run()
        defer { if slow.isRunning { slow.terminate() } }
        Thread.sleep(forTimeInterval: 1)
        kill(node.process!.processIdentifier, SIGTERM)
        try harness.waitUntil(timeout: 10, "the stop to begin") { node.log.contains("event=stopping") }
        Thread.sleep(forTimeInterval: 0.5)
        let during = try readiness("gw-a")
        XCTAssertEqual(during.status, 503, during.body)
        XCTAssertEqual(during.checks["running"], false, during.body)
        // The AS4 listener refuses new connections at once, not after the submission drained.
        let probe = Process()
        probe.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        probe.arguments = ["-s", "-k", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "3", node.as4URL]
        let out = Pipe()
        probe.standardOutput = out
        try probe.run()
        probe.waitUntilExit()
        XCTAssertEqual(String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self), "000", "connection refused")
        slow.terminate()
    }

    func testCountersMoveWithTrafficAndEveryScrapeParses() throws {
        try harness.configure(["gw-a", "gw-b"], legs: [GatewayHarness.Leg(retries: 5, interval: 1)])
        try harness.start("gw-a")
        let before = try scrape("gw-a")
        XCTAssertEqual(before.value("as4gw_messages", ["direction": "outbound", "status": "Delivered"]), 0)
        XCTAssertEqual(before.value("as4gw_end_to_end_latency_seconds_count"), 0)
        XCTAssertEqual(before.value("as4gw_delivery_retries_total"), 0)
        XCTAssertEqual(before.value("as4gw_build_info")?.isNaN, false)
        XCTAssertEqual(before.value("as4gw_store_up"), 1)

        // gw-b is down: the first attempt fails and is retried (a retry counted), then it comes up.
        let payload = try harness.file("p.txt", Array("metrics".utf8))
        let first = try harness.send(from: "gw-a", to: "gw-b", files: [payload])
        try harness.waitUntil(timeout: 20, "a retry counted") { try scrape("gw-a").value("as4gw_delivery_retries_total") ?? 0 >= 1 }
        let queued = try scrape("gw-a")
        XCTAssertEqual(queued.value("as4gw_queue_depth", ["status": "Submitted"]).map { $0 + (queued.value("as4gw_queue_depth", ["status": "Sending"]) ?? 0) }, 1)
        XCTAssertGreaterThan(queued.value("as4gw_queue_oldest_age_seconds") ?? 0, 0)
        try harness.start("gw-b")
        let bBefore = try scrape("gw-b")
        let second = try harness.send(from: "gw-a", to: "gw-b", files: [payload])
        for id in [first, second] { _ = try harness.waitFor("gw-a", id, .outbound, .delivered) }
        // The worker observes the latency after the store marks the message Delivered.
        try harness.waitUntil(timeout: 20, "both latencies observed") {
            try scrape("gw-a").value("as4gw_end_to_end_latency_seconds_count") ?? 0 >= 2
        }

        let after = try scrape("gw-a")
        XCTAssertEqual(after.value("as4gw_messages", ["direction": "outbound", "status": "Delivered"]), 2)
        XCTAssertEqual(after.value("as4gw_queue_depth", ["status": "Submitted"]), 0)
        XCTAssertEqual(after.value("as4gw_queue_oldest_age_seconds"), 0)
        XCTAssertEqual(after.value("as4gw_end_to_end_latency_seconds_count"), 2)
        XCTAssertGreaterThan(after.value("as4gw_end_to_end_latency_seconds_sum") ?? 0, 0)
        XCTAssertEqual(after.value("as4gw_end_to_end_latency_seconds_bucket", ["le": "+Inf"]), 2)
        let bAfter = try scrape("gw-b")
        XCTAssertEqual(bAfter.value("as4gw_messages", ["direction": "inbound", "status": "Received"]), 2)
        let processed = (bAfter.value("as4gw_inbound_processing_seconds_count") ?? 0) - (bBefore.value("as4gw_inbound_processing_seconds_count") ?? 0)
        XCTAssertGreaterThanOrEqual(processed, 1)

        // A message gw-b cannot read is answered with an ebMS error, counted by its code.
        let peer = try HTTPClient(configuration: HTTPClientConfiguration(trustedCAFile: harness.pmodeDirectory + "/certs/dev-ca.pem"))
        let junk = try peer.post(url: harness.nodes["gw-b"]!.as4URL,
                                 headers: [("Content-Type", "application/soap+xml")], body: .bytes(Array("<not-xml".utf8)))
        XCTAssertEqual(junk.status, 500)
        let errors = try scrape("gw-b").flatMap(\.samples).filter { $0.name == "as4gw_inbound_ebms_errors_total" }
        XCTAssertEqual(errors.reduce(0) { $0 + $1.value }, 1, "\(errors)")
        XCTAssertTrue(errors.allSatisfy { $0.labels["code"]?.hasPrefix("EBMS:") == true }, "\(errors)")

        // Certificates: ours from the keys and every party's from the P-Modes, days left > 0.
        let certs = after.flatMap(\.samples).filter { $0.name == "as4gw_certificate_expiry_days" }
        XCTAssertTrue(certs.contains { $0.labels["source"] == "keys" && $0.labels["role"] == "signing" && $0.labels["party"] == "gw-a" }, "\(certs)")
        XCTAssertTrue(certs.contains { $0.labels["source"] == "pmode" && $0.labels["party"] == "gw-b" && $0.labels["role"] == "encryption" }, "\(certs)")
        XCTAssertTrue(certs.allSatisfy { $0.value > 300 && $0.value < 800 }, "development certificates run two years: \(certs)")
    }

    func testReadinessFollowsThePModesInForceAndReloadsAreCounted() throws {
        try harness.configure(["gw-a", "gw-b", "gw-c"])
        let file = harness.pmodeDirectory + "/test.pmode.json"
        let full = try String(contentsOfFile: file, encoding: .utf8)
        // Only the P-Modes between gw-b and gw-c: the set loads, but gives gw-a nothing to do.
        let all = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(full.utf8)) as? [String: [[String: Any]]])
        let others = all["pmodes"]!.filter { !(($0["id"] as? String) ?? "").contains("gw-a") }
        try JSONSerialization.data(withJSONObject: ["pmodes": others]).write(to: URL(fileURLWithPath: file))
        try harness.start("gw-a")
        let node = harness.nodes["gw-a"]!

        let unready = try readiness("gw-a")
        XCTAssertEqual(unready.status, 503, unready.body)
        XCTAssertEqual(unready.checks, ["running": true, "store": true, "disk": true, "pmodes": false, "certificates": true, "mailboxWorker": true], unready.body)
        XCTAssertTrue(unready.body.contains("names party gw-a"), unready.body)
        XCTAssertEqual(try get("gw-a", "/healthz").status, 200, "alive though not ready")

        try full.write(toFile: file, atomically: true, encoding: .utf8)
        kill(node.process!.processIdentifier, SIGHUP)
        try harness.waitUntil(timeout: 10, "pmodes-reloaded") { node.log.contains("event=pmodes-reloaded") }
        XCTAssertEqual(try readiness("gw-a").status, 200)

        // A broken file is refused: counted as failed, the previous set stays and so does readiness.
        try "{\"pmodes\": [".write(toFile: file, atomically: true, encoding: .utf8)
        kill(node.process!.processIdentifier, SIGHUP)
        try harness.waitUntil(timeout: 10, "pmodes-refused") { node.log.contains("event=pmodes-refused") }
        let metrics = try scrape("gw-a")
        XCTAssertEqual(metrics.value("as4gw_pmode_reloads_total", ["result": "ok"]), 1)
        XCTAssertEqual(metrics.value("as4gw_pmode_reloads_total", ["result": "failed"]), 1)
        XCTAssertEqual(try readiness("gw-a").status, 200)
    }

    func testExpiredOwnCertificateMakesTheNodeUnready() throws {
        try harness.configure(["gw-a", "gw-b"])
        try harness.start("gw-a")   // writes the development PKI
        harness.stop("gw-a")
        let certs = harness.pmodeDirectory + "/certs"
        // Our signing key with a certificate that expired yesterday, issued by the development CA.
        let ca = try CertificateAuthority(key: try PrivateKey(pemEncoded: try String(contentsOfFile: certs + "/dev-ca.key", encoding: .utf8)),
                                          certificate: try Certificate(pemEncoded: try String(contentsOfFile: certs + "/dev-ca.pem", encoding: .utf8)))
        let key = try PrivateKey(pemEncoded: try String(contentsOfFile: certs + "/gw-a.signing.key", encoding: .utf8))
        let expired = try ca.issueCertificate(for: key.publicKey, subject: .init(commonName: "gw-a expired \"signing\""),
                                              validFrom: Date() - 3 * 86400, validUntil: Date() - 86400, keyUsage: [.digitalSignature])
        let expiredPath = harness.root.appendingPathComponent("expired.pem").path
        try expired.pemEncoded().write(toFile: expiredPath, atomically: true, encoding: .utf8)
        let config = harness.root.appendingPathComponent("expired.json").path
        try """
        {"developmentPKI": true,
         "keys": {"signingKey": "\(certs)/gw-a.signing.key", "signingCertificate": "\(expiredPath)",
                  "encryptionKey": "\(certs)/gw-a.encryption.key", "encryptionCertificate": "\(certs)/gw-a.encryption.pem"}}
        """.write(toFile: config, atomically: true, encoding: .utf8)
        harness.nodes["gw-a"]!.extraArguments = ["--config", config]
        try harness.start("gw-a")

        let r = try readiness("gw-a")
        XCTAssertEqual(r.status, 503, r.body)
        XCTAssertEqual(r.checks, ["running": true, "store": true, "disk": true, "pmodes": true, "certificates": false, "mailboxWorker": true], r.body)
        XCTAssertTrue(r.body.contains("expired"), r.body)
        XCTAssertEqual(try get("gw-a", "/healthz").status, 200)
        // The expiry shows as negative days; the subject (RFC 2253 escapes its quotes with
        // backslashes, which the exposition escapes again) reads back intact.
        let days = try scrape("gw-a").value("as4gw_certificate_expiry_days", ["source": "keys", "role": "signing"])
        XCTAssertEqual(days ?? 0, -1, accuracy: 0.01)
        let subjects = try scrape("gw-a").flatMap(\.samples).compactMap { $0.labels["subject"] }
        XCTAssertTrue(expired.subject.contains("\\\""), expired.subject)
        XCTAssertTrue(subjects.contains(expired.subject), "\(subjects)")
    }

    func testAdminListenerAnswersOnlyItsPathsAndMethods() throws {
        try harness.configure(["gw-a", "gw-b"])
        try harness.start("gw-a")
        XCTAssertEqual(try get("gw-a", "/as4").status, 404)
        XCTAssertEqual(try get("gw-a", "/").status, 404)
        let post = try client.post(url: harness.nodes["gw-a"]!.adminURL + "/metrics", body: .bytes([1]))
        XCTAssertEqual(post.status, 405)
        XCTAssertEqual(post.header("Allow"), "GET, HEAD")
        let healthz = try get("gw-a", "/healthz")
        XCTAssertEqual(healthz.status, 200)
        XCTAssertEqual(healthz.body, "ok\n")
        XCTAssertTrue(harness.nodes["gw-a"]!.log.contains("admin=http://127.0.0.1:\(harness.nodes["gw-a"]!.adminPort)"))
    }
}

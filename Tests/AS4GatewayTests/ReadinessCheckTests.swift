@testable import AS4Gateway
import AS4Crypto
import Foundation
import HTTPClient
import HTTPServer
import MessageStore
import Routing
import XCTest

/// The readiness checks and the admin handler in process, for what a running daemon cannot be
/// made to show on demand: a store that stops answering.
final class ReadinessCheckTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("as4gw-ready-\(getpid())-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: dir)
    }

    func certificate(validFrom: Date, until: Date) throws -> CertificateInventory.Entry {
        let key = try PrivateKey.generateEC(curve: .p256)
        let ca = try CertificateAuthority.createSelfSigned(subject: .init(commonName: "ready CA"), key: key,
                                                           validFrom: validFrom, validUntil: until)
        return .init(party: "gw-a", role: "signing", source: "keys", certificate: ca.certificate)
    }

    func testStoreCheckFailsOnceTheStoreIsClosedAndTheHandlerAnswers503() throws {
        let store = try SQLiteMessageStore(dataDirectory: dir.path)
        let inventory = CertificateInventory(own: [try certificate(validFrom: Date() - 60, until: Date() + 86400)])
        let handler = AdminHandler(report: MetricsReport(metrics: GatewayMetrics(), store: store, registry: PModeRegistry(),
                                                         certificates: inventory, storeKind: "sqlite"),
                                   checks: [.store(store), .certificates(inventory)], log: nil)
        let server = try HTTPServer(configuration: HTTPServerConfiguration(spoolDirectory: dir.path), handler: handler)
        try server.start()
        defer { server.stop(gracePeriod: 0) }
        let client = try HTTPClient(configuration: HTTPClientConfiguration(trustedCAFile: nil))
        let base = "http://127.0.0.1:\(server.port)"

        XCTAssertEqual(try client.get(url: base + "/readyz").status, 200)
        store.close()
        let ready = try client.get(url: base + "/readyz")
        XCTAssertEqual(ready.status, 503)
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(ready.body)) as? [String: Any])
        XCTAssertEqual(json["status"] as? String, "not ready")
        let checks = try XCTUnwrap(json["checks"] as? [[String: Any]])
        XCTAssertEqual(checks.map { $0["name"] as? String }, ["store", "certificates"])
        XCTAssertEqual(checks.map { $0["ok"] as? Bool }, [false, true])
        XCTAssertEqual(try client.get(url: base + "/healthz").status, 200)

        // The scrape still answers, saying the store is down instead of failing whole.
        let metrics = try client.get(url: base + "/metrics")
        XCTAssertEqual(metrics.status, 200)
        let families = try PrometheusParser.parse(String(decoding: metrics.body, as: UTF8.self))
        XCTAssertEqual(families.value("as4gw_store_up"), 0)
        XCTAssertNil(families.first { $0.name == "as4gw_messages" })
        XCTAssertNotNil(families.value("as4gw_delivery_retries_total"))
    }

    func testCertificateCheckNamesExpiredAndNotYetValidCertificates() throws {
        let now = Date()
        let expired = try certificate(validFrom: now - 86400 * 3, until: now - 86400)
        var future = try certificate(validFrom: now + 86400, until: now + 86400 * 3)
        future.role = "encryption"
        let outcome = ReadinessCheck.certificates(CertificateInventory(own: [expired, future])).run(now)
        XCTAssertFalse(outcome.ok)
        XCTAssertTrue(outcome.detail.contains("signing certificate (keys) CN=ready CA: expired"), outcome.detail)
        XCTAssertTrue(outcome.detail.contains("encryption certificate (keys) CN=ready CA: not valid before"), outcome.detail)
        XCTAssertTrue(ReadinessCheck.certificates(CertificateInventory(own: [expired])).run(now - 86400 * 2).ok,
                      "judged at the time given")
    }

    /// The mailbox worker failing a moment keeps the node ready; failing past the bound does not,
    /// naming since when and why; a round that works again makes it ready at once.
    func testMailboxWorkerCheckFailsOnlyAfterItsBound() {
        let health = LoopHealth()
        let check = ReadinessCheck.mailboxWorker(health, bound: 60)
        let t0 = Date(timeIntervalSince1970: 1_800_000_000)
        XCTAssertEqual(check.run(t0), .init(ok: true, detail: "working"))
        health.failed("open /p/1: No space left on device", at: t0)
        health.failed("open /p/2: No space left on device", at: t0 + 30)
        XCTAssertTrue(check.run(t0 + 59).ok)
        let late = check.run(t0 + 61)
        XCTAssertFalse(late.ok)
        XCTAssertTrue(late.detail.hasPrefix("failing for 61 s since ") && late.detail.hasSuffix("open /p/2: No space left on device"), late.detail)
        health.succeeded()
        XCTAssertTrue(check.run(t0 + 62).ok)
    }

    func testPModeCheckFailsOnAnEmptySet() {
        let outcome = ReadinessCheck.pmodes(PModeRegistry(), party: "gw-a").run(Date())
        XCTAssertFalse(outcome.ok)
        XCTAssertEqual(outcome.detail, "none of the 0 P-Mode(s) in force names party gw-a")
    }

    /// A full disk left the store's read-only query answering, so /readyz said ready: the disk
    /// check looks at each directory's file system and fails below the reserve, naming which.
    func testDiskCheckFailsBelowTheReserveAndNamesTheDirectory() throws {
        let data = DiskSpace.Place(name: "data", path: dir.path)
        let free = try XCTUnwrap(DiskSpace.freeBytes(dir.path))
        XCTAssertTrue(ReadinessCheck.disk(DiskSpace(places: [data], reserve: 1)).run(Date()).ok)
        let short = ReadinessCheck.disk(DiskSpace(places: [data], reserve: free + (1 << 40))).run(Date())
        XCTAssertFalse(short.ok)
        XCTAssertTrue(short.detail.hasPrefix("data (\(dir.path)): ") && short.detail.contains("free, less than the"), short.detail)
        let gone = DiskSpace.Place(name: "payloads", path: dir.path + "/no-such-folder")
        let missing = ReadinessCheck.disk(DiskSpace(places: [data, gone], reserve: 1)).run(Date())
        XCTAssertFalse(missing.ok)
        XCTAssertTrue(missing.detail.hasPrefix("payloads (") && missing.detail.contains("No such file or directory"), missing.detail)
        XCTAssertTrue(ReadinessCheck.disk(DiskSpace(places: [gone], reserve: 0)).run(Date()).ok, "0 turns the check off")
    }

    /// /metrics shows each directory's free bytes and the requests refused for a full disk or a
    /// store outage, by listener, zeros included.
    func testDiskAndTemporaryRefusalMetrics() throws {
        let store = try SQLiteMessageStore(dataDirectory: dir.path)
        defer { store.close() }
        let failures = RequestFailureLog()
        let log = EventLog(format: .logfmt, minimum: .error, fileDescriptor: open("/dev/null", O_WRONLY))
        for _ in 0..<3 { failures.note(.diskFull, listener: "submit", error: StoreError.io(operation: "write", path: "/p", errno: ENOSPC), log: log, fields: [:]) }
        failures.note(.storeUnavailable, listener: "as4", error: StoreError.connectionLost("gone"), log: log, fields: [:])
        let report = MetricsReport(metrics: GatewayMetrics(), store: store, registry: PModeRegistry(), certificates: CertificateInventory(own: []),
                                   storeKind: "sqlite", disk: DiskSpace(places: [.init(name: "data", path: dir.path)], reserve: 5),
                                   requestFailures: failures)
        let families = try PrometheusParser.parse(try report.render())
        XCTAssertGreaterThan(families.value("as4gw_disk_free_bytes", ["directory": "data"]) ?? 0, 0)
        XCTAssertEqual(families.value("as4gw_disk_reserve_bytes"), 5)
        XCTAssertEqual(families.value("as4gw_requests_refused_temporarily_total", ["listener": "submit", "condition": "disk-full"]), 3)
        XCTAssertEqual(families.value("as4gw_requests_refused_temporarily_total", ["listener": "as4", "condition": "store-unavailable"]), 1)
        XCTAssertEqual(families.value("as4gw_requests_refused_temporarily_total", ["listener": "api", "condition": "disk-full"]), 0)
    }

    /// A puller's poll answered "nothing waits" (EBMS:0006) is no error: counted apart, so the
    /// error counter rises only when something went wrong (244 empty polls in 15 minutes made it
    /// useless for alerting).
    func testEmptyPullAnswersAreCountedApartFromErrors() throws {
        let store = try SQLiteMessageStore(dataDirectory: dir.path)
        defer { store.close() }
        let metrics = GatewayMetrics()
        for _ in 0..<244 { metrics.noteInboundError(code: "EBMS:0006") }
        metrics.noteInboundError(code: "EBMS:0202")
        let report = MetricsReport(metrics: metrics, store: store, registry: PModeRegistry(), certificates: CertificateInventory(own: []),
                                   storeKind: "sqlite")
        let families = try PrometheusParser.parse(try report.render())
        let errors = families.flatMap(\.samples).filter { $0.name == "as4gw_inbound_ebms_errors_total" }
        XCTAssertEqual(errors.map { $0.labels["code"] }, ["EBMS:0202"], "\(errors)")
        XCTAssertEqual(families.value("as4gw_pull_empty_answers_total"), 244)
    }

    func testMetricCountersAreThreadSafeAndCountOnlyWhatTheyName() {
        let metrics = GatewayMetrics()
        DispatchQueue.concurrentPerform(iterations: 4) { _ in
            for _ in 0..<500 {
                metrics.noteInboundError(code: "EBMS:0101")
                metrics.noteRetry()
                metrics.noteReceiptOutcome(EbmsErrorFixture.invalidReceipt)
                metrics.noteReceiptOutcome(EbmsErrorFixture.connectionFailure)
            }
        }
        XCTAssertEqual(metrics.inboundErrorsByCode, ["EBMS:0101": 2000])
        XCTAssertEqual(metrics.deliveryRetries.load(ordering: .relaxed), 2000)
        XCTAssertEqual(metrics.receiptValidationFailures.load(ordering: .relaxed), 2000, "connection failures are not receipt failures")
        metrics.notePModeReload(succeeded: false)
        XCTAssertEqual(metrics.pmodeReloadsFailed.load(ordering: .relaxed), 1)
        XCTAssertEqual(metrics.pmodeReloadsSucceeded.load(ordering: .relaxed), 0)
    }
}

import EnvelopeXML

enum EbmsErrorFixture {
    static let invalidReceipt = EbmsError(.invalidReceipt, "digest mismatch")
    static let connectionFailure = EbmsError(.connectionFailure, "refused")
}

import EnvelopeXML
import Foundation
import MessageStore
import XCTest

/// Two gateways with the answer proxy (`GatewayHarness.startAnswerProxy`) between them, stopped
/// with the test.
class AnswerProxyTestCase: XCTestCase {
    var harness: GatewayHarness!
    var proxy: Process?
    var proxyLog: String { harness.root.appendingPathComponent("proxy.log").path }

    override func tearDown() {
        if let proxy, proxy.isRunning {
            proxy.terminate()
            proxy.waitUntilExit()
        }
        harness = nil
    }
}

/// Answers other AS4 implementations give that gw-b itself does not, put between gw-a and gw-b
/// by a small HTTPS proxy (Tests/interop/answer_proxy.py): a receipt framed as multipart/related,
/// a bare SOAP Fault, and a 503 with Retry-After.
final class PeerAnswerTests: AnswerProxyTestCase {
    /// gw-b runs; gw-a sends to it through the proxy in `mode`.
    func start(mode: String, retries: Int = 2, interval: Double = 1, extra: [String] = []) throws {
        harness = try GatewayHarness()
        try harness.configure(["gw-a", "gw-b"], legs: [.init(retries: retries, interval: interval)])
        try harness.start("gw-b")  // writes the development PKI
        // gw-a (not started yet) reads gw-b's endpoint as the proxy's.
        proxy = try harness.startAnswerProxy(inFrontOf: "gw-b", mode: mode, extra: extra, log: proxyLog)
        try harness.start("gw-a")
    }

    var proxyText: String { (try? String(contentsOfFile: proxyLog, encoding: .utf8)) ?? "" }

    /// A receipt that came framed as multipart/related is kept as its SOAP envelope, so it reads
    /// back (status, receipt route, evidence) as the signed signal it is.
    func testAReceiptFramedAsMultipartIsKeptAsItsEnvelope() throws {
        try start(mode: "multipart")
        let id = try harness.send(from: "gw-a", to: "gw-b", files: [try harness.file("m.txt", Array("framed".utf8))])
        let sent = try harness.waitFor("gw-a", id, .outbound, .delivered)
        XCTAssertTrue(proxyText.contains("1 multipart 200"), proxyText)
        let receipt = try XCTUnwrap(sent.receipt)
        XCTAssertEqual(receipt.first, UInt8(ascii: "<"), String(decoding: receipt.prefix(80), as: UTF8.self))
        let read = try AS4Message.read(try MessageInput.load(bytes: [UInt8](receipt), contentType: "application/soap+xml"))
        guard case .receipt? = read.messaging.signals.first?.kind else { return XCTFail("not a receipt: \(read.messaging)") }
        XCTAssertEqual(read.messaging.signals.first?.messageInfo.refToMessageId, id)
    }

    /// A bare SOAP Fault (no eb:Messaging) is reported as the peer's answer, with its reason, not
    /// as our parser's complaint about a missing header.
    func testABareSOAPFaultIsReportedAsThePeersAnswer() throws {
        try start(mode: "fault", retries: 1, interval: 0.5)
        let id = try harness.send(from: "gw-a", to: "gw-b", files: [try harness.file("f.txt", Array("fault".utf8))])
        let failed = try harness.waitFor("gw-a", id, .outbound, .failed)
        let error = try XCTUnwrap(failed.outbound?.lastError)
        XCTAssertEqual(error.code, "EBMS:0004", "\(error)")
        XCTAssertTrue(error.reason.contains("SOAP Fault"), error.reason)
        XCTAssertTrue(error.reason.contains("env:Receiver backend unavailable at the proxy"), error.reason)
        XCTAssertFalse(harness.nodes["gw-a"]!.log.contains("EBMS:0009"), harness.nodes["gw-a"]!.log)
    }

    /// A 503 with Retry-After: the next attempt waits at least that long, although the P-Mode's
    /// interval is shorter, and then goes through.
    func testRetryAfterIsWaitedFor() throws {
        try start(mode: "retry-after", retries: 3, interval: 0.5, extra: ["--retry-after", "3"])
        let submitted = Date()
        let id = try harness.send(from: "gw-a", to: "gw-b", files: [try harness.file("r.txt", Array("later".utf8))])
        let sent = try harness.waitFor("gw-a", id, .outbound, .delivered)
        XCTAssertEqual(sent.outbound?.attempts, 2)
        XCTAssertTrue(proxyText.contains("1 retry-after 503") && proxyText.contains("2 forwarded 200"), proxyText)
        XCTAssertGreaterThanOrEqual(Date().timeIntervalSince(submitted), 3)
        // The retry line follows the store's update; the next attempt is seconds later, but a
        // starved worker thread may write it late: waited for, not read at once.
        try? harness.waitUntil(timeout: 30, "A to log the retry") { self.harness.nodes["gw-a"]!.log.contains("next_attempt_s=3") }
        XCTAssertTrue(harness.nodes["gw-a"]!.log.contains("next_attempt_s=3"), harness.nodes["gw-a"]!.log)
    }
}

/// What a puller does with answers other implementations give to its PullRequest, put between
/// the puller (gw-b) and the holder (gw-a) by the same proxy: a user message on another MPC
/// than the one pulled, and a bare SOAP Fault.
final class PullAnswerTests: AnswerProxyTestCase {
    /// gw-a holds for gw-b (pull); gw-b pulls through the proxy in `mode`. `extra` gives more
    /// proxy arguments once the development PKI exists.
    func start(mode: String, extra: () throws -> [String] = { [] }) throws {
        harness = try GatewayHarness()
        try harness.configure(["gw-a", "gw-b"], pull: [.init()])
        try harness.start("gw-a")  // writes the development PKI
        proxy = try harness.startAnswerProxy(inFrontOf: "gw-a", mode: mode, extra: try extra(), log: proxyLog)
        harness.nodes["gw-b"]!.extraArguments = ["--pull-interval", "0.2", "--log-level", "debug"]
        try harness.start("gw-b")
    }

    /// A genuine message of gw-a for gw-b, signed and encrypted, but on the default MPC: the
    /// puller asked for the pull leg's MPC, so it is refused (EBMS:0010) and not stored.
    func testAPulledMessageOnAnotherMPCIsRefused() throws {
        try start(mode: "canned") {
            let certs = self.harness.pmodeDirectory + "/certs"
            let out = self.harness.root.appendingPathComponent("wrong-mpc.mime").path
            let sealed = try GatewayProcess.run([
                "seal", "--message-id", "wrong-mpc@test", "--from", "gw-a", "--from-type", "urn:oasis:names:tc:ebcore:partyid-type:unregistered",
                "--from-role", "urn:as4gw:roles:sender", "--to", "gw-b", "--to-type", "urn:oasis:names:tc:ebcore:partyid-type:unregistered",
                "--to-role", "urn:as4gw:roles:receiver", "--service", "urn:eadrese:services:delivery", "--action", "Notify",
                "--agreement", "urn:as4gw:agreements:test", "--sign-key", certs + "/gw-a.signing.key", "--sign-cert", certs + "/gw-a.signing.pem",
                "--encrypt-cert", certs + "/gw-b.encryption.pem", "--compress", "--out", out, try self.harness.file("n.xml", Array("<n/>".utf8))])
            XCTAssertEqual(sealed.status, 0, sealed.stderr)
            return ["--answer", out]
        }
        try harness.waitUntil(timeout: 20, "gw-b refuses the pulled message") { self.harness.nodes["gw-b"]!.log.contains("event=error-sent") }
        let log = harness.nodes["gw-b"]!.log
        XCTAssertTrue(log.contains("not on urn:as4gw:mpc:test-for-gw-b"), log)
        XCTAssertTrue(log.contains("EBMS:0010"), log)
        XCTAssertNil(try harness.message("gw-b", "wrong-mpc@test", .inbound), "nothing stored")
    }

    /// gw-a's answer to the PullRequest is held while gw-a's lease on the message is judged run
    /// out (a claimer whose clock is ten minutes ahead): the row is queued again with no owner.
    /// The puller's receipt then still makes the message Delivered, as a late receipt, and the
    /// message is not pulled a second time.
    func testAPullersReceiptAfterTheLeaseLapsedMakesTheMessageDelivered() throws {
        harness = try GatewayHarness()
        try harness.configure(["gw-a", "gw-b"], pull: [.init()])
        try harness.start("gw-a")
        let id = try harness.send(from: "gw-a", to: "gw-b", action: "Notify", files: [try harness.file("n.xml", Array("<n/>".utf8))])
        proxy = try harness.startAnswerProxy(inFrontOf: "gw-a", mode: "hold", extra: ["--hold", "4"], log: proxyLog)
        harness.nodes["gw-b"]!.extraArguments = ["--pull-interval", "0.2", "--log-level", "debug"]
        try harness.start("gw-b")
        let proxyText = { (try? String(contentsOfFile: self.proxyLog, encoding: .utf8)) ?? "" }
        try harness.waitUntil(timeout: 20, "gw-a's pulled message held") { proxyText().contains("1 holding 200") }
        let store = try harness.store("gw-a")
        defer { store.close() }
        XCTAssertEqual(try store.reclaimExpiredLeases(now: Date().addingTimeInterval(600)), 1)
        let lapsed = try XCTUnwrap(try store.findMessage(id: id, direction: .outbound))
        XCTAssertEqual(lapsed.status, .submitted)
        XCTAssertNil(lapsed.outbound?.leaseOwner)

        let delivered = try harness.waitFor("gw-a", id, .outbound, .delivered)
        XCTAssertEqual(delivered.outbound?.attempts, 1, "delivered by the first pull's receipt, not pulled again")
        XCTAssertEqual(delivered.receipt, try harness.message("gw-b", id, .inbound)?.receipt)
        let events = try store.events(for: delivered.rowId)
        XCTAssertEqual(events.last?.code, "late-receipt")
        XCTAssertTrue(events.last?.detail?.contains("pull:gw-b") == true, events.last?.detail ?? "")
        XCTAssertFalse(harness.nodes["gw-a"]!.log.contains("EBMS:0003"), harness.nodes["gw-a"]!.log)
    }

    /// A bare SOAP Fault answering the PullRequest is logged with what the peer said.
    func testASOAPFaultAnsweringAPullRequestIsReportedAsSuch() throws {
        try start(mode: "fault")
        try harness.waitUntil(timeout: 20, "a failed round") { self.harness.nodes["gw-b"]!.log.contains("event=pull-failed") }
        let line = harness.nodes["gw-b"]!.log.split(separator: "\n").first { $0.contains("event=pull-failed") }.map(String.init) ?? ""
        XCTAssertTrue(line.contains("SOAP Fault (HTTP 500): env:Receiver backend unavailable at the proxy"), line)
        XCTAssertFalse(line.contains("SOAP Header is missing"), line)
    }
}

import Foundation
import HTTPClient
import MessageStore
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Two gateways on 127.0.0.1, separate processes and data directories, talking AS4 over HTTPS.
final class GatewayIntegrationTests: XCTestCase {
    var harness: GatewayHarness!

    override func setUpWithError() throws {
        harness = try GatewayHarness()
    }

    override func tearDown() {
        harness = nil
    }


    func testPushDeliveryWithSignedReceiptAndDuplicateAnsweredOnce() throws {
        try harness.configure(["gw-a", "gw-b"])
        try harness.start("gw-a")
        try harness.start("gw-b")
        let doc = Array("<Invoice xmlns=\"urn:oasis:names:specification:ubl:schema:xsd:Invoice-2\"><ID>42</ID></Invoice>".utf8)
        let id = try harness.send(from: "gw-a", to: "gw-b", files: [try harness.file("invoice.xml", doc)])
        let sent = try harness.waitFor("gw-a", id, .outbound, .delivered)
        XCTAssertNotNil(sent.receipt, "Delivered needs the receipt held")
        XCTAssertEqual(sent.outbound?.attempts, 1)
        let received = try XCTUnwrap(try harness.message("gw-b", id, .inbound))
        XCTAssertEqual(received.parts.count, 1)
        XCTAssertEqual(try storedPayload(received.parts[0]), doc)
        XCTAssertEqual(received.parts[0].mimeType, "application/xml")

        // The stored receipt is a signed NRR receipt for our message, checkable offline.
        let receiptFile = try harness.file("receipt.xml", [UInt8](sent.receipt!))
        let check = try GatewayProcess.run(["inspect", "--content-type", "application/soap+xml", receiptFile])
        XCTAssertEqual(check.json?["kind"] as? String, "Receipt")
        XCTAssertEqual(check.json?["refToMessageId"] as? String, id)
        XCTAssertEqual(check.json?["signed"] as? Bool, true)

        // The same message again (a retry after a lost receipt): the original receipt, one delivery.
        let repost = Process()
        repost.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        let out = harness.root.appendingPathComponent("repost.xml").path
        // The exact bytes sent: a file, or (a small message) kept in the store's own rows.
        let sentBytes = try sent.outbound!.messageBytes.map { try harness.file("sent.mime", [UInt8]($0)) } ?? sent.outbound!.messagePath
        repost.arguments = ["-s", "-o", out, "-w", "%{http_code}", "--cacert", harness.pmodeDirectory + "/certs/dev-ca.pem",
                            "-H", "Content-Type: \(sent.outbound!.contentType)", "--data-binary", "@\(sentBytes)",
                            harness.nodes["gw-b"]!.as4URL]
        let pipe = Pipe()
        repost.standardOutput = pipe
        try repost.run()
        let code = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        repost.waitUntilExit()
        XCTAssertEqual(code, "200")
        XCTAssertEqual(try [UInt8](Data(contentsOf: URL(fileURLWithPath: out))), [UInt8](try XCTUnwrap(received.receipt)))
        let store = try harness.store("gw-b")
        defer { store.close() }
        XCTAssertEqual(try store.listMessages(status: nil, since: nil, direction: .inbound, limit: 100).filter { $0.metadata.messageId == id }.count, 1)
        XCTAssertTrue(harness.nodes["gw-b"]!.log.contains("event=duplicate message_id=\(id)"))
    }

    /// Above the store's inline limit (1 MiB) a message takes the file path on both sides: the
    /// sealed message is a payload file at A, the received payload a file at B, byte for byte.
    func testAPayloadAboveTheInlineLimitTravelsAsFiles() throws {
        try harness.configure(["gw-a", "gw-b"])
        try harness.start("gw-a")
        try harness.start("gw-b")
        // Pseudo-random, so that compression cannot bring it under the limit.
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        let doc = (0..<(2 << 20)).map { _ -> UInt8 in
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            return UInt8(truncatingIfNeeded: state)
        }
        let id = try harness.send(from: "gw-a", to: "gw-b", files: [try harness.file("large.bin", doc)])
        let sent = try harness.waitFor("gw-a", id, .outbound, .delivered)
        XCTAssertNil(sent.outbound?.messageBytes)
        XCTAssertFalse(sent.outbound?.messagePath.isEmpty ?? true)
        let received = try XCTUnwrap(try harness.message("gw-b", id, .inbound))
        XCTAssertNil(received.parts.first?.bytes)
        XCTAssertEqual(received.parts.first?.file.size, Int64(doc.count))
        XCTAssertEqual(try storedPayload(try XCTUnwrap(received.parts.first)), doc)
    }

    func testReceiverDownThenUpIsRetriedAndDelivered() throws {
        try harness.configure(["gw-a", "gw-b"], legs: [.init(retries: 5, interval: 1)])
        try harness.start("gw-a")
        let id = try harness.send(from: "gw-a", to: "gw-b", files: [try harness.file("d.txt", Array("retry me".utf8))])
        try harness.waitUntil(timeout: 15, "a failed first attempt") { self.harness.nodes["gw-a"]!.log.contains("event=retry message_id=\(id)") }
        try harness.start("gw-b")
        let sent = try harness.waitFor("gw-a", id, .outbound, .delivered)
        XCTAssertGreaterThanOrEqual(sent.outbound?.attempts ?? 0, 2)
    }

    /// An agreement without signing (reception awareness only): the receiver answers with a
    /// receipt holding a copy of the eb:UserMessage and no non-repudiation information, which the
    /// sender takes, since it signed nothing to have acknowledged.
    func testAnUnsignedAgreementIsDeliveredWithAReceptionAwarenessReceipt() throws {
        try harness.configure(["gw-a", "gw-b"], legs: [.init(retries: 1, interval: 0.5, encrypt: false, sign: false)])
        try harness.start("gw-a")
        try harness.start("gw-b")
        let id = try harness.send(from: "gw-a", to: "gw-b", files: [try harness.file("u.txt", Array("unsigned".utf8))])
        let sent = try harness.waitFor("gw-a", id, .outbound, .delivered)
        XCTAssertEqual(sent.outbound?.attempts, 1)
        let receipt = String(decoding: try XCTUnwrap(sent.receipt), as: UTF8.self)
        XCTAssertTrue(receipt.contains("<as4gw:UserMessage "), receipt)
        XCTAssertTrue(receipt.contains("<eb:MessageId>\(id)</eb:MessageId>"), receipt)
        XCTAssertFalse(receipt.contains("NonRepudiationInformation"), receipt)
        XCTAssertNotNil(try harness.message("gw-b", id, .inbound))
    }

    func testReceiverErrorsFailTheMessageAfterTheRetries() throws {
        // gw-b knows neither the P-Mode named by the message's AgreementRef/@pmode (so it matches
        // by service and action) nor the action: EBMS:0001 each time.
        try harness.configure(["gw-a", "gw-b"], legs: [.init(action: "DeliverDocument", retries: 2, interval: 0.5),
                                                        .init(action: "Unknown", retries: 2, interval: 0.5)])
        try harness.start("gw-a")
        let bDir = harness.root.appendingPathComponent("pmode-b").path
        try FileManager.default.createDirectory(atPath: bDir, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: harness.pmodeDirectory + "/certs", toPath: bDir + "/certs")
        try harness.configure(["gw-a", "gw-b"], legs: [.init(action: "DeliverDocument")], directory: bDir)
        try harness.start("gw-b", pmode: bDir)
        let id = try harness.send(from: "gw-a", to: "gw-b", action: "Unknown", files: [try harness.file("x.txt", [1, 2, 3])])
        let failed = try harness.waitFor("gw-a", id, .outbound, .failed)
        XCTAssertEqual(failed.outbound?.lastError?.code, "EBMS:0001")
        XCTAssertEqual(failed.outbound?.attempts, 3)
        XCTAssertNil(try harness.message("gw-b", id, .inbound), "nothing of a refused message is kept")
        XCTAssertEqual(harness.nodes["gw-b"]!.log.components(separatedBy: "error_code=EBMS:0001").count - 1, 3)
    }

    /// The sender knows the agreement's limit: a submission over it is refused at once (413),
    /// not sealed and retried until the receiver's EBMS:0010 makes it Failed. So is one over the
    /// gateway's own maxMessageBytes, and an id the receiver would refuse. (The receiver's own
    /// check: `ReceiverSizeLimitTests`.)
    func testSubmissionsTheReceiverWouldRefuseAreRefusedAtOnce() throws {
        try harness.configure(["gw-a", "gw-b"], legs: [.init(retries: 0, maxMessageBytes: 10_000)])
        try harness.nodes["gw-a"]!.extraArguments = ["--config", harness.file("limit.json", Array("{\"maxMessageBytes\": 50000}".utf8))]
        try harness.start("gw-a")
        let big = (0..<20_000).map { UInt8(truncatingIfNeeded: $0 &* 7919) }
        XCTAssertThrowsError(try harness.send(from: "gw-a", to: "gw-b", files: [try harness.file("big.bin", big)])) { error in
            XCTAssertTrue("\(error)".contains("takes at most 10000 bytes"), "\(error)")
        }
        let huge = [UInt8](repeating: 0x41, count: 60_000)
        XCTAssertThrowsError(try harness.send(from: "gw-a", to: "gw-b", files: [try harness.file("huge.bin", huge)])) { error in
            XCTAssertTrue("\(error)".contains("limit is 50000 bytes (maxMessageBytes)"), "\(error)")
        }
        XCTAssertThrowsError(try harness.send(from: "gw-a", to: "gw-b", files: [try harness.file("ok.bin", [1])], messageId: "a b<>")) { error in
            XCTAssertTrue("\(error)".contains("eb:MessageId"), "\(error)")
        }
        XCTAssertThrowsError(try harness.send(from: "gw-a", to: "gw-b", files: [try harness.file("ok.bin", [1])], refTo: "<x@y>")) { error in
            XCTAssertTrue("\(error)".contains("eb:RefToMessageId"), "\(error)")
        }
        let store = try harness.store("gw-a")
        defer { store.close() }
        XCTAssertEqual(try store.listMessages(status: nil, since: nil, direction: .outbound, limit: 10).count, 0, "nothing queued")
        XCTAssertNoThrow(try harness.send(from: "gw-a", to: "gw-b", files: [try harness.file("fits.bin", Array(big.prefix(9_000)))]))
    }

    func testKillDuringAQueueAndRestartDeliversEachExactlyOnce() throws {
        let count = Int(ProcessInfo.processInfo.environment["AS4GW_KILL_TEST_MESSAGES"] ?? "") ?? 1000
        // A retry budget far longer than the test: every message must end Delivered.
        try harness.configure(["gw-a", "gw-b"], legs: [.init(retries: 100, interval: 2)])
        try harness.start("gw-a")
        let doc = try harness.file("m.txt", Array("queued".utf8))
        let client = try HTTPClient(configuration: HTTPClientConfiguration())
        var ids: [String] = []
        for _ in 0..<count { ids.append(try harness.submit(from: "gw-a", to: "gw-b", files: [doc], client: client)) }
        try harness.start("gw-b")
        // Let part of the queue go, then kill the sender without warning.
        try harness.waitUntil(timeout: 60, "some deliveries") { self.harness.nodes["gw-a"]!.log.components(separatedBy: "event=delivered").count > count / 5 }
        harness.stop("gw-a", signal: SIGKILL)
        try harness.start("gw-a")
        try harness.waitUntil(timeout: 180, "all \(count) delivered") {
            let store = try self.harness.store("gw-a")
            defer { store.close() }
            return try store.listMessages(status: .delivered, since: nil, direction: .outbound, limit: count + 10).count == count
        }
        let b = try harness.store("gw-b")
        defer { b.close() }
        let inbound = try b.listMessages(status: nil, since: nil, direction: .inbound, limit: count * 2)
        XCTAssertEqual(inbound.count, count, "each message stored once at the receiver")
        XCTAssertEqual(Set(inbound.map(\.metadata.messageId)), Set(ids))
    }
}

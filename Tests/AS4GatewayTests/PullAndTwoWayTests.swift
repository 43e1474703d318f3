import AS4Crypto
@testable import AS4Gateway
import EnvelopeXML
import Foundation
import HTTPClient
import MessageStore
import WSSecurity
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// One-Way/Pull and Two-Way/Push-and-Push between real `as4gw serve` processes on 127.0.0.1.
final class PullAndTwoWayTests: XCTestCase {
    var harness: GatewayHarness!

    override func setUpWithError() throws {
        harness = try GatewayHarness()
    }

    override func tearDown() {
        harness = nil
    }


    /// Fast pull rounds for every node of the test.
    func fastPull(_ names: [String]) {
        for n in names { harness.nodes[n]!.extraArguments = ["--pull-interval", "0.2", "--log-level", "debug"] }
    }

    func testPulledMessageIsStoredAndItsReceiptPushedBackMarksItDelivered() throws {
        try harness.configure(["gw-a", "gw-b"], pull: [.init()])
        fastPull(["gw-a", "gw-b"])
        try harness.start("gw-a")
        let doc = Array("<Notice>pull me</Notice>".utf8)
        let id = try harness.send(from: "gw-a", to: "gw-b", action: "Notify", files: [try harness.file("notice.xml", doc)])
        let queued = try XCTUnwrap(try harness.message("gw-a", id, .outbound))
        XCTAssertEqual(queued.outbound?.pullMPC, "urn:as4gw:mpc:test-for-gw-b")
        XCTAssertNil(queued.outbound?.endpoint, "a pulled message is not pushed")
        Thread.sleep(forTimeInterval: 1)
        XCTAssertEqual(try harness.message("gw-a", id, .outbound)?.status, .submitted, "nothing pushes a message kept for pulling")

        try harness.start("gw-b")
        let sent = try harness.waitFor("gw-a", id, .outbound, .delivered)
        XCTAssertNotNil(sent.receipt, "Delivered with the puller's receipt")
        let received = try XCTUnwrap(try harness.message("gw-b", id, .inbound))
        XCTAssertEqual(received.metadata.mpc, "urn:as4gw:mpc:test-for-gw-b")
        XCTAssertEqual(received.parts.count, 1)
        XCTAssertEqual(try storedPayload(received.parts[0]), doc)
        XCTAssertEqual(received.receipt, sent.receipt, "the receipt gw-a holds is the one gw-b made")

        // gw-b logs receipt-sent after its push returned, which can be after gw-a marked the message.
        try harness.waitUntil(timeout: 10, "gw-b to log the receipt it pushed and an empty round") {
            let log = self.harness.nodes["gw-b"]!.log
            return log.contains("event=receipt-sent") && log.contains("event=pull-empty")
        }
        let log = harness.nodes["gw-b"]!.log
        XCTAssertTrue(log.contains("event=pulled message_id=\(id)") || log.contains("event=pulled") && log.contains(id), log)
        XCTAssertTrue(harness.nodes["gw-a"]!.log.contains("event=delivered message_id=\(id)"))
        // The side pulled from logs an empty round as what it is, at debug, naming the puller.
        let pulledFrom = harness.nodes["gw-a"]!.log.split(separator: "\n")
        XCTAssertFalse(pulledFrom.contains { $0.contains("event=refused") && $0.contains("EBMS:0006") }, harness.nodes["gw-a"]!.log)
        XCTAssertTrue(pulledFrom.contains { $0.contains("level=debug event=pull-empty") && $0.contains("to=gw-b") }, harness.nodes["gw-a"]!.log)

        // The receipt is a signed receipt for the pulled message.
        let receiptFile = try harness.file("pull-receipt.xml", [UInt8](sent.receipt!))
        let check = try GatewayProcess.run(["inspect", "--content-type", "application/soap+xml", receiptFile])
        XCTAssertEqual(check.json?["kind"] as? String, "Receipt")
        XCTAssertEqual(check.json?["refToMessageId"] as? String, id)
        XCTAssertEqual(check.json?["signed"] as? Bool, true)

        // The puller sending its receipt again (say our 200 was lost) is answered alike; the
        // message stays Delivered with the first receipt.
        var tls = HTTPClientConfiguration()
        tls.trustedCAFile = harness.pmodeDirectory + "/certs/dev-ca.pem"
        let again = try HTTPClient(configuration: tls).post(url: harness.nodes["gw-a"]!.as4URL, headers: [("Content-Type", "application/soap+xml")],
                                                             body: .bytes([UInt8](sent.receipt!)))
        XCTAssertEqual(again.status, 200, String(decoding: again.body, as: UTF8.self))
        XCTAssertTrue(harness.nodes["gw-a"]!.log.contains("event=duplicate-receipt message_id=\(id)"), harness.nodes["gw-a"]!.log)
        XCTAssertEqual(try harness.message("gw-a", id, .outbound)?.receipt, sent.receipt)
    }

    /// (b) A pulled message never receipted comes back after the lease. Provoking a lost receipt
    /// between two real gateways needs a fault injector, so this runs at the store level: the
    /// same `nextForPull` the PullResponder calls, with a real clock and a short lease.
    func testPulledButNotReceiptedIsLeasedAgainAfterTheLease() throws {
        let dir = harness.root.appendingPathComponent("lease-store").path
        let store = try SQLiteMessageStore(dataDirectory: dir)
        defer { store.close() }
        let mpc = "urn:as4gw:mpc:lease"
        let file = try store.storePayload(.bytes(Data("x".utf8)), at: Date())
        _ = try store.enqueueOutbound(OutboundMessage(
            metadata: MessageMetadata(messageId: "lease-1", conversationId: "c", refToMessageId: nil, fromParty: "gw-a", toParty: "gw-b",
                                      service: "s", action: "Notify", pmodeId: "p", mpc: mpc),
            endpoint: nil, contentType: "application/soap+xml", messagePath: file.path, sentReferences: nil, maxAttempts: 3,
            submittedAt: Date(), pullMPC: mpc))
        let first = try XCTUnwrap(try store.nextForPull(mpc: mpc, receivers: ["gw-b"], now: Date(), owner: "pull:gw-b", lease: 0.5))
        XCTAssertEqual(first.attempt, 1)
        XCTAssertNil(try store.nextForPull(mpc: mpc, receivers: ["gw-b"], now: Date(), owner: "pull:gw-b", lease: 0.5), "leased: not handed out twice")
        Thread.sleep(forTimeInterval: 0.7)
        let again = try XCTUnwrap(try store.nextForPull(mpc: mpc, receivers: ["gw-b"], now: Date(), owner: "pull:gw-b", lease: 0.5), "back after the lease")
        XCTAssertEqual(again.metadata.messageId, "lease-1")
        XCTAssertEqual(again.attempt, 2)
        try store.markDelivered(messageId: "lease-1", owner: "pull:gw-b", receipt: Data("receipt".utf8), at: Date())
        XCTAssertEqual(try store.findMessage(id: "lease-1", direction: .outbound)?.status, .delivered)
    }

    func testUnauthorisedPullerGetsEBMS0010AndNothing() throws {
        try harness.configure(["gw-a", "gw-b", "gw-c"], pull: [.init()])
        try harness.start("gw-a")  // generates the development PKI for all three
        // gw-c believes it may pull gw-b's MPC from gw-a; gw-a's P-Modes say only gw-b may.
        let cDir = harness.root.appendingPathComponent("pmode-c").path
        try FileManager.default.createDirectory(atPath: cDir, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: harness.pmodeDirectory + "/certs", toPath: cDir + "/certs")
        try harness.configure(["gw-a", "gw-b", "gw-c"], directory: cDir, pull: [.init(puller: "gw-c")])
        fastPull(["gw-c"])
        let id = try harness.send(from: "gw-a", to: "gw-b", action: "Notify", files: [try harness.file("n.txt", Array("for b only".utf8))])
        try harness.start("gw-c", pmode: cDir)
        try harness.waitUntil(timeout: 20, "gw-c's pull to be refused") {
            self.harness.nodes["gw-c"]!.log.contains("event=pull-refused")
        }
        let cLog = harness.nodes["gw-c"]!.log
        XCTAssertTrue(cLog.contains("error_code=EBMS:0010"), cLog)
        XCTAssertFalse(cLog.contains("event=receipt-sent"), cLog)
        XCTAssertTrue(harness.nodes["gw-a"]!.log.contains("error_code=EBMS:0010"))
        XCTAssertNil(try harness.message("gw-c", id, .inbound), "gw-c got nothing")
        let queued = try XCTUnwrap(try harness.message("gw-a", id, .outbound))
        XCTAssertEqual(queued.status, .submitted, "still waiting for gw-b")
        XCTAssertEqual(queued.outbound?.attempts, 0, "never leased to gw-c")

        // The rightful puller still gets it.
        fastPull(["gw-b"])
        try harness.start("gw-b")
        _ = try harness.waitFor("gw-a", id, .outbound, .delivered)
        XCTAssertNotNil(try harness.message("gw-b", id, .inbound))
    }

    /// The EBMS:0006 warning of an empty MPC is signed as the agreement the pull is authorised
    /// under says, as a receipt would be: gw-a holds an RSA primary key and an Ed25519 one
    /// (`keys.additional`), and gw-b pulls under a profile-2.0 agreement, whose partner need
    /// not accept RSA.
    func testTheEmptyMPCWarningIsSignedWithTheKeyOfTheAgreementsProfile() throws {
        let mpc = "urn:as4gw:mpc:test-for-gw-b"
        try harness.configure(["gw-a", "gw-b"], pull: [.init(mpc: mpc, profile: "2.0")])
        try harness.addProfile20Identities(["gw-a", "gw-b"], by: try harness.makeDevelopmentCA())
        try harness.start("gw-a")
        let certs = harness.pmodeDirectory + "/certs"

        // gw-b's PullRequest as its PullWorker signs one under this agreement: with its Ed25519 key.
        let puller = SigningIdentity(privateKey: try KeyMaterial.privateKey(certs + "/gw-b.signing20.key"),
                                     certificate: try KeyMaterial.certificate(certs + "/gw-b.signing20.pem"))
        let request = SignalMessage(messageInfo: MessageInfo(messageId: "\(UUID().uuidString)@gw-b"), kind: .pullRequest(PullRequest(mpc: mpc)))
        let envelope = try MessageSealer(signer: try SignatureBuilder(identity: puller)).seal(signal: request).envelope
        var tls = HTTPClientConfiguration()
        tls.trustedCAFile = certs + "/dev-ca.pem"
        let answer = try HTTPClient(configuration: tls).post(url: harness.nodes["gw-a"]!.as4URL,
                                                              headers: [("Content-Type", MultipartWriter.soapContentType)], body: .bytes(envelope))
        let text = String(decoding: answer.body, as: UTF8.self)
        XCTAssertEqual(answer.status, 200, text)
        let warning = try AS4Message.read(try MessageInput.load(bytes: answer.body, contentType: answer.header("Content-Type")))
        guard case .errors(let errors)? = warning.messaging.signals.first?.kind else { return XCTFail("not an error signal: \(text)") }
        XCTAssertEqual(errors.map(\.errorCode), [EbmsError.Code.emptyMessagePartitionChannel.rawValue], text)

        XCTAssertTrue(text.contains(Alg.ed25519), text)
        XCTAssertFalse(text.contains(Alg.rsaSHA256), text)
        let ed25519 = try KeyMaterial.certificate(certs + "/gw-a.signing20.pem")
        let trust = CertificateValidator(trustStore: try TrustStore(anchors: [try KeyMaterial.certificate(certs + "/dev-ca.pem")]))
        let report = SignatureVerifier(policy: .receiving, trust: trust, candidates: [ed25519], expectedSigners: [ed25519])
            .verify(warning, attachments: [])
        XCTAssertNil(report.error, text)
        XCTAssertEqual(report.signer, ed25519, "signed by gw-a's Ed25519 identity, carried in its wsse:BinarySecurityToken")
    }

    /// A captured signed PullRequest answered once is refused when replayed, also after the node
    /// that answered it restarted: the ids are kept in the store, which is what every node of a
    /// shared PostgreSQL store reads too (a guard in memory forgot them with the process).
    func testAReplayedPullRequestIsRefusedAfterARestart() throws {
        let mpc = "urn:as4gw:mpc:test-for-gw-b"
        try harness.configure(["gw-a", "gw-b"], pull: [.init(mpc: mpc)])
        try harness.start("gw-a")
        let ids = try (1...2).map { try harness.send(from: "gw-a", to: "gw-b", action: "Notify", files: [try harness.file("r\($0).txt", [UInt8($0)])]) }
        let certs = harness.pmodeDirectory + "/certs"
        let puller = SigningIdentity(privateKey: try KeyMaterial.privateKey(certs + "/gw-b.signing.key"),
                                     certificate: try KeyMaterial.certificate(certs + "/gw-b.signing.pem"))
        let request = SignalMessage(messageInfo: MessageInfo(messageId: "\(UUID().uuidString)@gw-b"), kind: .pullRequest(PullRequest(mpc: mpc)))
        let captured = try MessageSealer(signer: try SignatureBuilder(identity: puller)).seal(signal: request).envelope
        var tls = HTTPClientConfiguration()
        tls.trustedCAFile = certs + "/dev-ca.pem"
        func post() throws -> (status: Int, text: String) {
            let r = try HTTPClient(configuration: tls).post(url: harness.nodes["gw-a"]!.as4URL, headers: [("Content-Type", MultipartWriter.soapContentType)],
                                                            body: .bytes(captured))
            return (r.status, String(decoding: r.body, as: UTF8.self))
        }
        let first = try post()
        XCTAssertEqual(first.status, 200, first.text)
        XCTAssertTrue(first.text.contains(ids[0]), "the oldest message is handed out")

        harness.stop("gw-a")
        try harness.start("gw-a")
        let replay = try post()
        XCTAssertEqual(replay.status, 500, replay.text)
        XCTAssertTrue(replay.text.contains("EBMS:0003"), replay.text)
        XCTAssertFalse(replay.text.contains(ids[1]), "nothing handed out to the replay")
        XCTAssertTrue(harness.nodes["gw-a"]!.log.contains("was already received (replay)"), harness.nodes["gw-a"]!.log)
        let waiting = try XCTUnwrap(try harness.message("gw-a", ids[1], .outbound))
        XCTAssertEqual(waiting.status, .submitted)
        XCTAssertEqual(waiting.outbound?.attempts, 0, "no lease and no attempt spent on the replay")
    }

    /// Two parties allowed to pull the same MPC each get only the messages addressed to them.
    func testPullersSharingAnMPCGetOnlyTheirOwnMessages() throws {
        let shared = "urn:as4gw:mpc:shared"
        try harness.configure(["gw-a", "gw-b", "gw-c"], pull: [.init(puller: "gw-b", mpc: shared), .init(puller: "gw-c", mpc: shared)])
        try harness.start("gw-a")
        fastPull(["gw-b"])
        let forC = try (1...2).map { try harness.send(from: "gw-a", to: "gw-c", action: "Notify", files: [try harness.file("c\($0).txt", [UInt8($0)])]) }
        let forB = try harness.send(from: "gw-a", to: "gw-b", action: "Notify", files: [try harness.file("b.txt", [9])])
        try harness.start("gw-b")
        _ = try harness.waitFor("gw-a", forB, .outbound, .delivered)
        Thread.sleep(forTimeInterval: 1.5)  // gw-b keeps pulling: it must find nothing more
        for id in forC {
            let queued = try XCTUnwrap(try harness.message("gw-a", id, .outbound))
            XCTAssertEqual(queued.status, .submitted, "\(id) is gw-c's")
            XCTAssertEqual(queued.outbound?.attempts, 0, "never leased to gw-b")
            XCTAssertNil(try harness.message("gw-b", id, .inbound))
        }
        fastPull(["gw-c"])
        try harness.start("gw-c")
        for id in forC { _ = try harness.waitFor("gw-a", id, .outbound, .delivered) }
    }

    func testTwoWayPushAndPushReplyCarriesRefToAndConversation() throws {
        try harness.configure(["gw-a", "gw-b"], twoWay: [.init()])
        try harness.start("gw-a")
        try harness.start("gw-b")
        let request = try harness.send(from: "gw-a", to: "gw-b", action: "Query", files: [try harness.file("q.xml", Array("<Q/>".utf8))])
        _ = try harness.waitFor("gw-a", request, .outbound, .delivered)
        let asked = try XCTUnwrap(try harness.message("gw-b", request, .inbound))

        // gw-b's backend answers with --ref-to; no conversation id given: the request's is reused.
        let reply = try harness.send(from: "gw-b", to: "gw-a", action: "Answer", files: [try harness.file("a.xml", Array("<A/>".utf8))],
                                     refTo: request)
        _ = try harness.waitFor("gw-b", reply, .outbound, .delivered)
        let answered = try XCTUnwrap(try harness.message("gw-a", reply, .inbound))
        XCTAssertEqual(answered.metadata.refToMessageId, request)
        XCTAssertEqual(answered.metadata.conversationId, asked.metadata.conversationId)
        XCTAssertEqual(answered.metadata.action, "Answer")
        XCTAssertEqual(answered.metadata.pmodeId, "twoway-gw-a-gw-b")

        // A reply to nothing, or without naming its request, is refused and never stored.
        let stray = try harness.send(from: "gw-b", to: "gw-a", action: "Answer", files: [try harness.file("s.xml", Array("<S/>".utf8))],
                                     refTo: "nothing@gw-a")
        let bare = try harness.send(from: "gw-b", to: "gw-a", action: "Answer", files: [try harness.file("b.xml", Array("<B/>".utf8))])
        for (id, why) in [(stray, "names no request"), (bare, "must carry eb:RefToMessageId")] {
            let failed = try harness.waitFor("gw-b", id, .outbound, .failed)
            XCTAssertEqual(failed.outbound?.lastError?.code, "EBMS:0003", "\(String(describing: failed.outbound?.lastError))")
            XCTAssertTrue(failed.outbound?.lastError?.reason.contains(why) ?? false, "\(String(describing: failed.outbound?.lastError))")
            XCTAssertNil(try harness.message("gw-a", id, .inbound))
        }
        // The reply in another conversation than its request's.
        let r = try GatewayProcess.run(["send", "--to", "gw-a", "--service", "urn:eadrese:services:delivery", "--action", "Answer",
                                        "--ref-to", request, "--conversation-id", "another-conversation",
                                        "--token-file", harness.nodes["gw-b"]!.submitTokenFile, "--submit", harness.nodes["gw-b"]!.submitURL, try harness.file("c.xml", Array("<C/>".utf8))])
        XCTAssertEqual(r.status, 0, r.stderr)
        let elsewhere = r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let failed = try harness.waitFor("gw-b", elsewhere, .outbound, .failed)
        XCTAssertTrue(failed.outbound?.lastError?.reason.contains("is not its request's") ?? false, "\(String(describing: failed.outbound?.lastError))")
    }

    /// A request is answered once: a second reply (new MessageId, same RefToMessageId) is refused
    /// before any receipt and never stored; the first reply sent again is still a duplicate.
    func testASecondReplyToOneRequestIsRefusedAndTheFirstStaysTheOnlyOne() throws {
        try harness.configure(["gw-a", "gw-b"], twoWay: [.init()])
        try harness.start("gw-a")
        try harness.start("gw-b")
        let request = try harness.send(from: "gw-a", to: "gw-b", action: "Query", files: [try harness.file("q.xml", Array("<Q/>".utf8))])
        _ = try harness.waitFor("gw-a", request, .outbound, .delivered)
        let first = try harness.send(from: "gw-b", to: "gw-a", action: "Answer", files: [try harness.file("a1.xml", Array("<A1/>".utf8))],
                                     refTo: request)
        let sent = try harness.waitFor("gw-b", first, .outbound, .delivered)

        let second = try harness.send(from: "gw-b", to: "gw-a", action: "Answer", files: [try harness.file("a2.xml", Array("<A2/>".utf8))],
                                      refTo: request)
        let refused = try harness.waitFor("gw-b", second, .outbound, .failed)
        XCTAssertEqual(refused.outbound?.lastError?.code, "EBMS:0003", "\(String(describing: refused.outbound?.lastError))")
        XCTAssertTrue(refused.outbound?.lastError?.reason.contains("request \(request) was already answered by message \(first)") ?? false,
                      "\(String(describing: refused.outbound?.lastError))")
        XCTAssertNil(refused.receipt, "no receipt for the second reply")
        XCTAssertNil(try harness.message("gw-a", second, .inbound))
        XCTAssertTrue(harness.nodes["gw-a"]!.log.split(separator: "\n").contains {
            $0.contains("event=refused") && $0.contains("message_id=\(second)") && $0.contains("error_code=EBMS:0003")
        }, harness.nodes["gw-a"]!.log)

        // The first reply's exact bytes again (its receipt lost, say): the receipt it got, not a refusal.
        let outbound = try XCTUnwrap(sent.outbound)
        let bytes = try outbound.messageBytes.map { [UInt8]($0) } ?? [UInt8](Data(contentsOf: URL(fileURLWithPath: outbound.messagePath)))
        var tls = HTTPClientConfiguration()
        tls.trustedCAFile = harness.pmodeDirectory + "/certs/dev-ca.pem"
        let again = try HTTPClient(configuration: tls).post(url: harness.nodes["gw-a"]!.as4URL, headers: [("Content-Type", outbound.contentType)],
                                                             body: .bytes(bytes))
        XCTAssertEqual(again.status, 200, String(decoding: again.body, as: UTF8.self))
        XCTAssertEqual(again.body, sent.receipt.map { [UInt8]($0) }, "the original receipt, sent again")
        XCTAssertTrue(harness.nodes["gw-a"]!.log.contains("event=duplicate message_id=\(first)"), harness.nodes["gw-a"]!.log)

        let store = try harness.store("gw-a")
        defer { store.close() }
        let replies = try store.listMessages(status: nil, since: nil, direction: .inbound, limit: 100).filter { $0.metadata.refToMessageId == request }
        XCTAssertEqual(replies.map(\.metadata.messageId), [first], "the first reply is the only one gw-a took")
        XCTAssertEqual(try store.findReply(toRequest: request)?.metadata.messageId, first)
    }
}

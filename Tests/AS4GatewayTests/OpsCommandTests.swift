import AS4Crypto
import Foundation
import MessageStore
import XCTest
@testable import AS4Gateway
#if canImport(Glibc)
import Glibc
#endif

/// `as4gw messages list|show|retry`, `tail` and `certs`, run through the built binary against a
/// store and a P-Mode directory prepared here.
final class OpsCommandTests: XCTestCase {
    private var temporary: URL!
    private var data: String { temporary.appendingPathComponent("data").path }
    private let t0 = Date(timeIntervalSince1970: 1_750_000_000)

    override func setUpWithError() throws {
        temporary = FileManager.default.temporaryDirectory.appendingPathComponent("as4gw-ops-\(getpid())-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: temporary, withIntermediateDirectories: true)
        let store = try SQLiteMessageStore(dataDirectory: data, now: t0)
        defer { store.close() }
        let payload = try store.storePayload(.bytes(Data("<invoice/>".utf8)), at: t0)
        _ = try store.recordInbound(InboundMessage(
            metadata: MessageMetadata(messageId: "in-1", fromParty: "urn:ap:red", toParty: "urn:ap:blue", service: "urn:svc:invoice", action: "Submit"),
            parts: [MessagePart(contentId: "cid:invoice@red", mimeType: "application/xml", file: payload)],
            receivedAt: t0, receipt: Data("<receipt/>".utf8)), duplicateWindow: 60)
        for (id, to, attempts) in [("out-ok", "urn:ap:red", 3), ("out-fail", "urn:ap:green", 1)] {
            _ = try store.enqueueOutbound(OutboundMessage(
                metadata: MessageMetadata(messageId: id, fromParty: "urn:ap:blue", toParty: to, service: "urn:svc:invoice", action: "Submit"),
                endpoint: "https://partner.example/as4", contentType: "multipart/related", messagePath: "/msgs/\(id)",
                maxAttempts: attempts, submittedAt: t0 + 1))
        }
        _ = try store.claimDue(now: t0 + 2, limit: 2, owner: "w", lease: 30)
        try store.markDelivered(messageId: "out-ok", owner: "w", receipt: Data("r".utf8), at: t0 + 3)
        try store.markRetry(messageId: "out-fail", owner: "w", error: DeliveryError(code: "http-503", reason: "partner down"),
                            nextAttemptAt: t0 + 10, at: t0 + 3)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: temporary)
    }

    private func messages(_ r: GatewayProcess.Result) -> [[String: Any]] {
        (r.json?["messages"] as? [[String: Any]]) ?? []
    }

    func testHelp() throws {
        for command in [["messages"], ["messages", "list"], ["messages", "show"], ["messages", "retry"], ["messages", "retry-intake"], ["tail"], ["certs"]] {
            let r = try GatewayProcess.run(command + ["--help"])
            XCTAssertEqual(r.status, 0, "\(command)")
            XCTAssertTrue(r.stdout.hasPrefix("Usage: as4gw"), "\(command): \(r.stdout)")
            XCTAssertTrue(r.stdout.contains("Exit status"), "\(command)")
        }
        let top = try GatewayProcess.run(["--help"]).stdout
        for verb in ["messages list|show|retry|retry-intake", "tail", "certs"] { XCTAssertTrue(top.contains(verb), verb) }
        XCTAssertEqual(try GatewayProcess.run(["messages"]).status, 2)
        XCTAssertEqual(try GatewayProcess.run(["messages", "purge"]).status, 2)
        XCTAssertEqual(try GatewayProcess.run(["messages", "list", "--data", data, "--status", "Lost"]).status, 2)
        XCTAssertEqual(try GatewayProcess.run(["messages", "list", "--data", data, "--since", "yesterday"]).status, 2)
        XCTAssertEqual(try GatewayProcess.run(["tail", "--data", data, "--level", "loud"]).status, 2)
        XCTAssertEqual(try GatewayProcess.run(["certs", "--days", "-1"]).status, 2)
        let missing = try GatewayProcess.run(["messages", "list", "--data", temporary.appendingPathComponent("none").path])
        XCTAssertEqual(missing.status, 2)
        XCTAssertTrue(missing.stderr.contains("no message store"), missing.stderr)
    }

    func testList() throws {
        let all = try GatewayProcess.run(["messages", "list", "--data", data, "--json"])
        XCTAssertEqual(all.status, 0, all.stderr)
        XCTAssertEqual(messages(all).map { $0["messageId"] as? String }, ["in-1", "out-ok", "out-fail"])
        let failed = messages(all)[2]
        XCTAssertEqual(failed["status"] as? String, "Failed")
        XCTAssertEqual(failed["attempts"] as? Int, 1)
        XCTAssertEqual((failed["lastError"] as? [String: Any])?["code"] as? String, "http-503")

        func ids(_ extra: [String]) throws -> [String] {
            let r = try GatewayProcess.run(["messages", "list", "--data", data, "--json"] + extra)
            XCTAssertEqual(r.status, 0, r.stderr)
            return messages(r).compactMap { $0["messageId"] as? String }
        }
        XCTAssertEqual(try ids(["--status", "Failed"]), ["out-fail"])
        XCTAssertEqual(try ids(["--direction", "in"]), ["in-1"])
        XCTAssertEqual(try ids(["--address", "urn:ap:red"]), ["in-1", "out-ok"])
        XCTAssertEqual(try ids(["--address", "urn:ap:red", "--limit", "1"]), ["in-1"])
        // Party ids are stored as type::value; the value alone finds them too.
        XCTAssertTrue(MessagesCommand.matches("urn:oasis:names:tc:ebcore:partyid-type:unregistered::gw-b", "gw-b"))
        XCTAssertTrue(MessagesCommand.matches("urn:oasis:names:tc:ebcore:partyid-type:unregistered::gw-b",
                                              "urn:oasis:names:tc:ebcore:partyid-type:unregistered::gw-b"))
        XCTAssertFalse(MessagesCommand.matches("urn:oasis:names:tc:ebcore:partyid-type:unregistered::gw-b", "b"))
        XCTAssertFalse(MessagesCommand.matches("urn:x::gw-b", "urn:y::gw-b"))
        XCTAssertEqual(try ids(["--since", "2025-06-15T15:06:40.500Z"]), ["out-ok", "out-fail"])

        let text = try GatewayProcess.run(["messages", "list", "--data", data])
        let lines = text.stdout.split(separator: "\n")
        XCTAssertEqual(lines.count, 3)
        XCTAssertTrue(lines[2].contains("  out  Failed  out-fail  urn:ap:blue  urn:ap:green  urn:svc:invoice  Submit  1/1  http-503: retry budget exhausted (1/1): partner down"),
                      String(lines[2]))

        // The data directory can come from a configuration file.
        let config = temporary.appendingPathComponent("gateway.json").path
        try #"{"dataDirectory": "data"}"#.write(toFile: config, atomically: true, encoding: .utf8)
        XCTAssertEqual(messages(try GatewayProcess.run(["messages", "list", "--config", config, "--json"])).count, 3)

        // Or from a store URL; a bad URL or two sources are usage errors.
        XCTAssertEqual(messages(try GatewayProcess.run(["messages", "list", "--store", "sqlite:" + data, "--json"])).count, 3)
        let bad = try GatewayProcess.run(["messages", "list", "--store", "mysql://db/x"])
        XCTAssertEqual(bad.status, 2)
        XCTAssertTrue(bad.stderr.contains("expected sqlite:DIRECTORY or postgres://"), bad.stderr)
        let both = try GatewayProcess.run(["messages", "list", "--store", "sqlite:" + data, "--data", data])
        XCTAssertEqual(both.status, 2)
        XCTAssertTrue(both.stderr.contains("give one of --data, --store and --config"), both.stderr)
        let down = try GatewayProcess.run(["messages", "list", "--store", "postgres://as4gw:pw@127.0.0.1:1/as4gw"])
        XCTAssertEqual(down.status, 2)
        XCTAssertTrue(down.stderr.contains("cannot open the message store postgres://as4gw:***@127.0.0.1:1/as4gw"), down.stderr)
    }

    func testShow() throws {
        let r = try GatewayProcess.run(["messages", "show", "in-1", "--data", data, "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let json = try XCTUnwrap(r.json)
        XCTAssertEqual(json["direction"] as? String, "in")
        XCTAssertEqual(json["receipt"] as? Bool, true)
        let parts = try XCTUnwrap(json["parts"] as? [[String: Any]])
        XCTAssertEqual(parts.first?["contentId"] as? String, "cid:invoice@red")
        XCTAssertEqual(parts.first?["size"] as? Int, 10)
        XCTAssertEqual((parts.first?["sha256"] as? String)?.count, 64)
        XCTAssertEqual((json["events"] as? [[String: Any]])?.compactMap { $0["code"] as? String }, ["receipt"])

        let failed = try XCTUnwrap(try GatewayProcess.run(["messages", "show", "out-fail", "--data", data, "--json"]).json)
        XCTAssertEqual((failed["events"] as? [[String: Any]])?.compactMap { $0["status"] as? String }, ["Submitted", "Sending", "Failed"])
        XCTAssertEqual(failed["receipt"] as? Bool, false)

        let text = try GatewayProcess.run(["messages", "show", "out-ok", "--data", data])
        XCTAssertEqual(text.status, 0)
        XCTAssertTrue(text.stdout.contains("Receipt       held (1 bytes"), text.stdout)
        XCTAssertTrue(text.stdout.contains("Events (3):"), text.stdout)
        // A sent message's parts are in its sealed copy, not rows of their own.
        XCTAssertTrue(text.stdout.contains("Parts:        inside the sealed message ("), text.stdout)
        XCTAssertFalse(text.stdout.contains("Parts (0)"), text.stdout)

        let missing = try GatewayProcess.run(["messages", "show", "nope", "--data", data])
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.stderr.contains("no message with id nope"), missing.stderr)
        XCTAssertEqual(try GatewayProcess.run(["messages", "show", "in-1", "--direction", "out", "--data", data]).status, 1)
    }

    func testRetry() throws {
        let r = try GatewayProcess.run(["messages", "retry", "out-fail", "--data", data])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("out-fail: back in the queue"), r.stdout)
        let store = try SQLiteMessageStore(dataDirectory: data)
        defer { store.close() }
        let message = try XCTUnwrap(store.findMessage(id: "out-fail", direction: .outbound))
        XCTAssertEqual(message.status, .submitted)
        XCTAssertEqual(message.outbound?.attempts, 0)
        XCTAssertEqual(try store.events(for: message.rowId).last?.code, "retry-requested")
        XCTAssertEqual(try store.queueDepth().submitted, 1)

        let again = try GatewayProcess.run(["messages", "retry", "out-fail", "--data", data])
        XCTAssertEqual(again.status, 1)
        XCTAssertTrue(again.stderr.contains("is Submitted, not Failed"), again.stderr)
        let delivered = try GatewayProcess.run(["messages", "retry", "out-ok", "--data", data])
        XCTAssertEqual(delivered.status, 1)
        let inbound = try GatewayProcess.run(["messages", "retry", "in-1", "--data", data])
        XCTAssertEqual(inbound.status, 1)
        XCTAssertTrue(inbound.stderr.contains("is inbound"), inbound.stderr)
        XCTAssertEqual(try GatewayProcess.run(["messages", "retry", "nope", "--data", data]).status, 1)
    }

    func testRetryIntake() throws {
        let store = try SQLiteMessageStore(dataDirectory: data)
        defer { store.close() }
        for (n, code) in [(1, "unknownAddress"), (2, "DocumentIdTaken")] {
            _ = try store.recordInbound(InboundMessage(
                metadata: MessageMetadata(messageId: "stuck-\(n)", fromParty: "urn:ap:red", toParty: "urn:ap:blue",
                                          service: EAddressMessages.service, action: EAddressMessages.documentAction),
                parts: [], receivedAt: t0 + Double(n)), duplicateWindow: 60)
            try store.markIntakeFailed(messageId: "stuck-\(n)", error: DeliveryError(code: code, reason: "why \(n)"), at: t0 + 5)
        }
        func run(_ args: [String]) throws -> GatewayProcess.Result {
            try GatewayProcess.run(["messages", "retry-intake"] + args + ["--data", data])
        }

        let one = try run(["stuck-1"])
        XCTAssertEqual(one.status, 0, one.stderr)
        XCTAssertEqual(one.stdout, "stuck-1: back to Received (its intake had failed with unknownAddress); "
                       + "the running gateway takes it in again and logs event=intake-retried\n")
        let message = try XCTUnwrap(store.findMessage(id: "stuck-1", direction: .inbound))
        XCTAssertEqual(message.status, .received)
        let last = try XCTUnwrap(store.events(for: message.rowId).last)
        XCTAssertEqual(last.code, "intake-retry-requested")
        XCTAssertEqual(last.detail, "intake to run again, requested by cli:\(CLI.operatorAccount()); it had failed with unknownAddress")

        // Refusals name the state and change nothing.
        let again = try run(["stuck-1"])
        XCTAssertEqual(again.status, 1)
        XCTAssertEqual(again.stderr, "as4gw: message stuck-1 is inbound Received and waits for its intake (or was asked for already): "
                       + "only an inbound message whose intake failed, or that the intake passed over, is taken in again\n")
        XCTAssertEqual(again.stdout, "")
        XCTAssertEqual(try store.events(for: message.rowId).count, 3)
        let outbound = try run(["out-fail"])
        XCTAssertEqual(outbound.status, 1)
        XCTAssertTrue(outbound.stderr.contains("message out-fail is outbound: only a received message is taken in; `messages retry` queues an outbound one again"),
                      outbound.stderr)
        XCTAssertEqual(try store.findMessage(id: "out-fail", direction: .outbound)?.status, .failed)
        let missing = try run(["nope"])
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.stderr.contains("no inbound message with id nope"), missing.stderr)
        XCTAssertEqual(try run([]).status, 2)
        XCTAssertEqual(try run(["stuck-2", "--all"]).status, 2)
        XCTAssertEqual(try run(["stuck-2", "stuck-1"]).status, 2)
        XCTAssertEqual(try store.findMessage(id: "stuck-2", direction: .inbound)?.status, .failed)

        // --all: every inbound Failed one (outbound Failed ones are not its business).
        let all = try run(["--all"])
        XCTAssertEqual(all.status, 0, all.stderr)
        XCTAssertEqual(all.stdout, "stuck-2: back to Received (its intake had failed with DocumentIdTaken)\n"
                       + "1 message(s) asked for again; the running gateway takes them in again and logs event=intake-retried\n")
        XCTAssertEqual(try store.findMessage(id: "stuck-2", direction: .inbound)?.status, .received)
        XCTAssertEqual(try store.findMessage(id: "out-fail", direction: .outbound)?.status, .failed)
        let none = try run(["--all"])
        XCTAssertEqual(none.status, 0, none.stderr)
        XCTAssertEqual(none.stdout, "no inbound message's intake has failed or was passed over\n")
    }

    func testTailFollowsNewEvents() throws {
        final class Output: @unchecked Sendable {
            private let lock = NSLock()
            private var bytes = Data()
            func append(_ d: Data) { lock.lock(); bytes += d; lock.unlock() }
            var text: String { lock.lock(); defer { lock.unlock() }; return String(decoding: bytes, as: UTF8.self) }
        }
        let process = Process()
        process.executableURL = GatewayProcess.binary
        process.arguments = ["tail", "--data", data, "--message", "out-fail", "--from-start"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        let output = Output()
        pipe.fileHandleForReading.readabilityHandler = { output.append($0.availableData) }
        try process.run()
        defer { if process.isRunning { process.terminate() } }

        func waitFor(_ what: String) {
            let deadline = Date() + 10
            while !output.text.contains(what) && Date() < deadline { usleep(50_000) }
        }
        waitFor("status=Failed")
        XCTAssertTrue(output.text.contains("level=error event=message-event message_id=out-fail direction=out status=Failed code=http-503"),
                      output.text)
        XCTAssertFalse(output.text.contains("in-1"))

        let store = try SQLiteMessageStore(dataDirectory: data)
        try store.retryFailed(messageId: "out-fail", at: Date())
        store.close()
        waitFor("retry-requested")
        XCTAssertTrue(output.text.contains("status=Submitted code=retry-requested detail=\"re-queued by an operator"), output.text)

        process.terminate()
        process.waitUntilExit()
        pipe.fileHandleForReading.readabilityHandler = nil
        XCTAssertEqual(process.terminationReason, .exit)
        XCTAssertEqual(process.terminationStatus, 0)
    }

    func testCertsReport() throws {
        let pmode = temporary.appendingPathComponent("pmode").path
        try FileManager.default.createDirectory(atPath: pmode + "/certs", withIntermediateDirectories: true)
        let shipped = GatewayProcess.projectRoot.appendingPathComponent("pmode").path
        for name in try FileManager.default.contentsOfDirectory(atPath: shipped) where name.hasSuffix(".json") {
            try FileManager.default.copyItem(atPath: shipped + "/" + name, toPath: pmode + "/" + name)
        }
        let now = Date()
        let ca = try CertificateAuthority.createSelfSigned(subject: .init(commonName: "ops test CA"), key: try PrivateKey.generateEC(curve: .p256),
                                                           validFrom: now - 400 * 86_400, validUntil: now + 3650 * 86_400)
        func write(_ file: String, _ name: String, from: Date, until: Date) throws {
            let key = try PrivateKey.generateEC(curve: .p256)
            let cert = try ca.issueCertificate(for: key.publicKey, subject: .init(commonName: name), validFrom: from, validUntil: until)
            try cert.pemEncoded().write(toFile: pmode + "/certs/" + file, atomically: true, encoding: .utf8)
        }
        try write("gw-a.signing.pem", "gw-a signing", from: now - 400 * 86_400, until: now - 2 * 86_400)
        try write("gw-b.signing.pem", "gw-b signing", from: now - 86_400, until: now + 365 * 86_400)
        try write("gw-b.encryption.pem", "gw-b encryption", from: now - 86_400, until: now + 10.5 * 86_400)

        let r = try GatewayProcess.run(["certs", "--pmode", pmode, "--json"])
        XCTAssertEqual(r.status, 1, r.stderr)
        let certs = try XCTUnwrap(r.json?["certificates"] as? [[String: Any]])
        func entry(_ party: String, _ role: String) -> [String: Any]? {
            certs.first { $0["party"] as? String == party && $0["role"] as? String == role }
        }
        XCTAssertEqual(entry("gw-a", "signing")?["state"] as? String, "EXPIRED")
        XCTAssertEqual(entry("gw-a", "signing")?["daysLeft"] as? Int, -2)
        XCTAssertEqual(entry("gw-b", "signing")?["state"] as? String, "OK")
        XCTAssertTrue((entry("gw-b", "signing")?["subject"] as? String)?.contains("CN=gw-b signing") ?? false)
        XCTAssertEqual(entry("gw-b", "encryption")?["state"] as? String, "EXPIRING")
        XCTAssertEqual(entry("gw-b", "encryption")?["daysLeft"] as? Int, 10)
        XCTAssertEqual(entry("gw-a", "tls")?["state"] as? String, "MISSING")
        XCTAssertEqual(certs.count, 6)

        // --days moves the warning horizon; only an expired certificate fails the run.
        let narrow = try GatewayProcess.run(["certs", "--pmode", pmode, "--days", "5", "--json"])
        XCTAssertEqual((narrow.json?["certificates"] as? [[String: Any]])?.filter { $0["state"] as? String == "EXPIRING" }.count, 0)
        try write("gw-a.signing.pem", "gw-a signing renewed", from: now - 86_400, until: now + 365 * 86_400)
        let renewed = try GatewayProcess.run(["certs", "--pmode", pmode])
        XCTAssertEqual(renewed.status, 0, renewed.stderr)
        XCTAssertTrue(renewed.stdout.contains("EXPIRING  gw-b  encryption  CN=gw-b encryption"), renewed.stdout)
        XCTAssertFalse(renewed.stdout.contains("EXPIRED"))

        let broken = try GatewayProcess.run(["certs", "--pmode", temporary.appendingPathComponent("none").path])
        XCTAssertEqual(broken.status, 2)
    }
}

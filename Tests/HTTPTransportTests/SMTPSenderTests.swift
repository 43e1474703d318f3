import Foundation
import HTTPClient
import XCTest

/// The SMTP sender's refusals before and without a server: bad settings, addresses that could
/// inject commands, and a server that is not there (temporary: reply code 0).
final class SMTPSenderTests: XCTestCase {
    func testSettingsAndAddressesAreCheckedBeforeAnythingIsSent() throws {
        XCTAssertThrowsError(try SMTPSender(configuration: SMTPConfiguration(url: "http://127.0.0.1", from: "a@b.lv")))
        XCTAssertThrowsError(try SMTPSender(configuration: SMTPConfiguration(url: "smtp://127.0.0.1", from: "a b@c.lv")))
        for bad in ["", "a", "a@b", "@b.lv", "a@b.lv>\r\nRCPT TO:<x@y.lv", "a <a@b.lv>", "a@b.lv,c@d.lv", "a@@b.lv"] {
            XCTAssertFalse(SMTPSender.isBareAddress(bad), bad)
        }
        XCTAssertTrue(SMTPSender.isBareAddress("janis.berzins+e-adrese@example.lv"))
        var c = SMTPConfiguration(url: "smtp://127.0.0.1:1", from: "e-adrese@as4gw.test")
        c.startTLS = .off
        let sender = try SMTPSender(configuration: c)
        XCTAssertThrowsError(try sender.send(Array("x".utf8), to: "not an address")) { error in
            XCTAssertEqual((error as? SMTPSendError)?.permanent, true)
        }
    }

    func testNoServerIsATemporaryFailure() throws {
        var c = SMTPConfiguration(url: "smtp://127.0.0.1:1", from: "e-adrese@as4gw.test")
        c.startTLS = .off
        c.connectTimeout = 2
        XCTAssertThrowsError(try SMTPSender(configuration: c).send(Array("Subject: x\r\n\r\nx\r\n".utf8), to: "a@example.lv")) { error in
            let e = error as? SMTPSendError
            XCTAssertEqual(e?.replyCode, 0)
            XCTAssertEqual(e?.permanent, false, "tried again later")
            XCTAssertEqual(e?.serverUnreachable, true, "no server: nothing said of this message")
            XCTAssertTrue(e?.detail.contains("onnect") ?? false, "\(String(describing: e))")
        }
    }

    /// What the server answered decides: a refused recipient is final; a refused message (or
    /// login, or sender) is the settings' or the server's fault and stays retryable.
    func testRefusalsAreClassifiedByWhatTheServerRefused() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("smtp-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: out) }
        let port = try startSink(out, ["--refuse", "gone@example.lv=550", "--data-reply", "554"])
        var c = SMTPConfiguration(url: "smtp://127.0.0.1:\(port)", from: "e-adrese@as4gw.test")
        c.startTLS = .off
        let sender = try SMTPSender(configuration: c)
        let message = Array("Subject: x\r\n\r\nx\r\n".utf8)
        XCTAssertThrowsError(try sender.send(message, to: "gone@example.lv")) { error in
            let e = error as? SMTPSendError
            XCTAssertEqual(e?.replyCode, 550)
            XCTAssertEqual(e?.permanent, true, "\(String(describing: e))")
            XCTAssertEqual(e?.serverUnreachable, false, "the server answered")
        }
        XCTAssertThrowsError(try sender.send(message, to: "someone@example.lv")) { error in
            let e = error as? SMTPSendError
            XCTAssertEqual(e?.replyCode, 554)
            XCTAssertEqual(e?.permanent, false, "the message was refused, not the recipient: \(String(describing: e))")
            XCTAssertEqual(e?.refusedBeforeRecipient, true)
            XCTAssertEqual(e?.serverUnreachable, false, "the server answered")
        }
    }

    /// Tests/interop/smtp_sink.py writing to `out`, stopped when the test ends; its port.
    func startSink(_ out: String, _ arguments: [String]) throws -> Int {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let sink = Process()
        sink.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        sink.arguments = ["python3", root.appendingPathComponent("Tests/interop/smtp_sink.py").path, out] + arguments
        let stdout = Pipe()
        sink.standardOutput = stdout
        try sink.run()
        addTeardownBlock { sink.terminate(); sink.waitUntilExit() }
        return try XCTUnwrap(Int(String(decoding: stdout.fileHandleForReading.availableData, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)))
    }

    /// A server that will not serve at all (421 greeting) or not securely (no STARTTLS when it
    /// is required) is unreachable for every message alike; a 451 for one recipient is not.
    func testAServerThatWillNotServeIsUnreachableARecipientRefusalIsNot() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("smtp-\(UUID().uuidString)").path
        defer { for folder in [out, out + "-421"] { try? FileManager.default.removeItem(atPath: folder) } }
        let message = Array("Subject: x\r\n\r\nx\r\n".utf8)
        func failure(port: Int, startTLS: SMTPConfiguration.StartTLS, to recipient: String = "a@example.lv") -> SMTPSendError? {
            var c = SMTPConfiguration(url: "smtp://127.0.0.1:\(port)", from: "e-adrese@as4gw.test")
            c.startTLS = startTLS
            do {
                try SMTPSender(configuration: c).send(message, to: recipient)
                return nil
            } catch {
                return error as? SMTPSendError
            }
        }
        let closing = failure(port: try startSink(out + "-421", ["--greeting", "421"]), startTLS: .off)
        XCTAssertEqual(closing?.serverUnreachable, true, "\(String(describing: closing))")
        let plain = try startSink(out, ["--refuse", "busy@example.lv=451"])
        let noTLS = failure(port: plain, startTLS: .required)
        XCTAssertEqual(noTLS?.serverUnreachable, true, "\(String(describing: noTLS))")
        XCTAssertEqual(noTLS?.permanent, false)
        let busy = failure(port: plain, startTLS: .off, to: "busy@example.lv")
        XCTAssertEqual(busy?.replyCode, 451, "\(String(describing: busy))")
        XCTAssertEqual(busy?.serverUnreachable, false)
        XCTAssertNil(failure(port: plain, startTLS: .off), "taken")
    }
}

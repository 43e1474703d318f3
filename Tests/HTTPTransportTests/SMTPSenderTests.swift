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
            XCTAssertTrue(e?.detail.contains("onnect") ?? false, "\(String(describing: e))")
        }
    }

    /// What the server answered decides: a refused recipient is final; a refused message (or
    /// login, or sender) is the settings' or the server's fault and stays retryable.
    func testRefusalsAreClassifiedByWhatTheServerRefused() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("smtp-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: out) }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let sink = Process()
        sink.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        sink.arguments = ["python3", root.appendingPathComponent("Tests/interop/smtp_sink.py").path, out,
                          "--refuse", "gone@example.lv=550", "--data-reply", "554"]
        let stdout = Pipe()
        sink.standardOutput = stdout
        try sink.run()
        defer { sink.terminate(); sink.waitUntilExit() }
        let port = try XCTUnwrap(Int(String(decoding: stdout.fileHandleForReading.availableData, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)))
        var c = SMTPConfiguration(url: "smtp://127.0.0.1:\(port)", from: "e-adrese@as4gw.test")
        c.startTLS = .off
        let sender = try SMTPSender(configuration: c)
        let message = Array("Subject: x\r\n\r\nx\r\n".utf8)
        XCTAssertThrowsError(try sender.send(message, to: "gone@example.lv")) { error in
            let e = error as? SMTPSendError
            XCTAssertEqual(e?.replyCode, 550)
            XCTAssertEqual(e?.permanent, true, "\(String(describing: e))")
        }
        XCTAssertThrowsError(try sender.send(message, to: "someone@example.lv")) { error in
            let e = error as? SMTPSendError
            XCTAssertEqual(e?.replyCode, 554)
            XCTAssertEqual(e?.permanent, false, "the message was refused, not the recipient: \(String(describing: e))")
            XCTAssertEqual(e?.refusedBeforeRecipient, true)
        }
    }
}

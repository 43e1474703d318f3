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

    /// What the server answered decides: a refused recipient is final; a refused message is
    /// retryable; neither is the gateway's (or the server's) fault.
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
            XCTAssertEqual(e?.refusesGateway, false, "this recipient, not the session")
        }
        XCTAssertThrowsError(try sender.send(message, to: "someone@example.lv")) { error in
            let e = error as? SMTPSendError
            XCTAssertEqual(e?.replyCode, 554)
            XCTAssertEqual(e?.permanent, false, "the message was refused, not the recipient: \(String(describing: e))")
            XCTAssertEqual(e?.refusesGateway, false, "the message, not the session")
            XCTAssertEqual(e?.serverUnreachable, false, "the server answered")
            XCTAssertEqual(e?.serverReply, "refused by the test server")
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

    /// A 421 is a server closing its service only before a recipient is named; to RCPT TO
    /// (a rate limit on that recipient's domain) or to the message it is about that message.
    func testA421ToARecipientOrAMessageIsThatMessagesNotTheServers() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("smtp-\(UUID().uuidString)").path
        defer { for folder in [out, out + "-data", out + "-mail"] { try? FileManager.default.removeItem(atPath: folder) } }
        let message = Array("Subject: x\r\n\r\nx\r\n".utf8)
        func failure(port: Int, to recipient: String = "a@example.lv") -> SMTPSendError? {
            var c = SMTPConfiguration(url: "smtp://127.0.0.1:\(port)", from: "e-adrese@as4gw.test")
            c.startTLS = .off
            do {
                try SMTPSender(configuration: c).send(message, to: recipient)
                return nil
            } catch {
                return error as? SMTPSendError
            }
        }
        let rcpt = failure(port: try startSink(out, ["--refuse", "busy@example.lv=421"]), to: "busy@example.lv")
        let data = failure(port: try startSink(out + "-data", ["--data-reply", "421"]))
        for (name, e) in [("RCPT", rcpt), ("DATA", data)] {
            XCTAssertEqual(e?.replyCode, 421, "\(name): \(String(describing: e))")
            XCTAssertEqual(e?.atRecipientOrMessage, true, name)
            XCTAssertEqual(e?.serverUnreachable, false, name)
            XCTAssertEqual(e?.refusesGateway, false, name)
            XCTAssertEqual(e?.permanent, false, name)
        }
        let mail = failure(port: try startSink(out + "-mail", ["--mail-reply", "421"]))
        XCTAssertEqual(mail?.serverUnreachable, true, "421 to MAIL FROM: before any recipient, \(String(describing: mail))")
        XCTAssertEqual(mail?.atRecipientOrMessage, false)
    }

    /// Refusals of this gateway's session, whatever the message: the greeting (554, its two
    /// lines quoted), the login (535 and RFC 4954's 454), a login the server wants and the
    /// settings lack (530 to MAIL FROM), the envelope sender (553, 451). The right login is
    /// taken; a refused recipient (451, 550) is not the session's. The password is in no error.
    func testRefusalsOfTheSessionAreTheGatewaysWhateverTheMessage() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("smtp-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: out) }
        let message = Array("Subject: x\r\n\r\nx\r\n".utf8)
        var sinks = 0
        func failure(_ sink: [String], user: String? = nil, password: String? = nil, to recipient: String = "a@example.lv") throws -> SMTPSendError? {
            sinks += 1
            var c = SMTPConfiguration(url: "smtp://127.0.0.1:\(try startSink(out + "-\(sinks)", sink))", from: "e-adrese@as4gw.test")
            c.startTLS = .off
            c.username = user
            c.password = password
            defer { try? FileManager.default.removeItem(atPath: out + "-\(sinks)") }
            do {
                try SMTPSender(configuration: c).send(message, to: recipient)
                return nil
            } catch {
                return error as? SMTPSendError
            }
        }
        let session: [(String, SMTPSendError?)] = try [
            ("554 greeting", failure(["--greeting", "554"])),
            ("535 login", failure(["--auth", "mailer:right"], user: "mailer", password: "wrong")),
            ("454 login", failure(["--auth", "mailer:right", "--auth-reply", "454"], user: "mailer", password: "right")),
            ("530 no login", failure(["--auth", "mailer:right"])),
            ("553 sender", failure(["--mail-reply", "553"])),
            ("451 sender", failure(["--mail-reply", "451"])),
        ]
        for (name, e) in session {
            XCTAssertEqual(e?.refusesGateway, true, "\(name): \(String(describing: e))")
            XCTAssertEqual(e?.serverUnreachable, false, name)
            XCTAssertEqual(e?.permanent, false, name)
            XCTAssertEqual(e.map { String($0.replyCode) }, String(name.prefix(3)), name)
            XCTAssertFalse("\(String(describing: e)) \(e?.descriptionWithReply ?? "")".contains("wrong"), "no password: \(name)")
        }
        XCTAssertEqual(session[0].1?.serverReply, "smtp-sink not available no SMTP service here")
        XCTAssertEqual(session[1].1?.serverReply, "refused by the test server")
        XCTAssertTrue(session[1].1?.descriptionWithReply.hasSuffix("; the server said: 535 refused by the test server") ?? false)
        XCTAssertNil(try failure(["--auth", "mailer:right"], user: "mailer", password: "right"), "the right login is taken")
        for code in ["451", "550"] {
            let e = try failure(["--refuse", "a@example.lv=\(code)"])
            XCTAssertEqual(e.map { String($0.replyCode) }, code)
            XCTAssertEqual(e?.refusesGateway, false, "the recipient, not the session: \(String(describing: e))")
        }
    }
}

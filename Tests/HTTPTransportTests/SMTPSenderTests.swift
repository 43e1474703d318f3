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
}

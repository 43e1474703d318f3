@testable import AS4Gateway
import EnvelopeXML
import Foundation
import MessageStore
import XCTest

/// eb:MessageId values a receiver takes: at most 255 characters, none of the characters an RFC
/// 5322 msg-id cannot have that would reach log lines and the DMS raw.
final class MessageIdLimitTests: InProcessReceiverTestCase {
    func testAMessageIdPast255CharactersIsRefusedWithoutBeingStoredEchoedOrLogged() throws {
        var long = CraftedMessage()
        long.id = String(repeating: "x", count: 251) + "@gw-a"  // 256 characters
        let answer = try b.receive(long, signedBy: try b.signer())
        XCTAssertEqual(answer.ebmsErrorCode, "EBMS:0009", answer.bodyText)
        XCTAssertTrue(answer.bodyText.contains("eb:MessageId is 256 characters long; at most 255 are accepted"), answer.bodyText)
        XCTAssertFalse(answer.bodyText.contains(long.id), "the id is not echoed in the error")
        XCTAssertFalse(b.log.contains(long.id), "nor logged")
        XCTAssertNil(try stored(long.id))

        var longest = CraftedMessage()
        longest.id = String(repeating: "y", count: 250) + "@gw-a"  // 255 characters
        XCTAssertEqual(try b.receive(longest, signedBy: try b.signer()).status, 200)
        XCTAssertNotNil(try stored(longest.id))
    }

    func testAMessageIdWithALineSeparatorOrAFormatCharacterIsRefused() throws {
        for (id, reason) in [("a\u{2028}b@gw-a", "eb:MessageId contains white space"), ("a\u{00A0}b@gw-a", "eb:MessageId contains white space"),
                             ("a\u{202E}b@gw-a", "eb:MessageId contains the control or format character U+202E"),
                             ("a\u{85}b@gw-a", "eb:MessageId contains white space"), ("a\u{9F}b@gw-a", "control or format character U+9F")] {
            var message = CraftedMessage()
            message.id = id
            let answer = try b.receive(message, signedBy: try b.signer())
            XCTAssertEqual(answer.ebmsErrorCode, "EBMS:0009", answer.bodyText)
            XCTAssertTrue(answer.bodyText.contains(reason), "\(reason): \(answer.bodyText)")
            XCTAssertNil(try stored(id))
        }
    }
}

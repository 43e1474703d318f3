@testable import AS4Gateway
import EnvelopeXML
import Foundation
import MessageStore
import XCTest

/// Header fields a peer's request may not repeat or add: a MIME part's Content-Type,
/// Content-Transfer-Encoding or Content-ID given twice, two HTTP Content-Types (EBMS:0007), an
/// HTTP content coding (415). gw-b runs in process; gw-a's messages are crafted and signed with
/// its development key.
final class RequestHeaderRefusalTests: InProcessReceiverTestCase {
    func testAPartWithARepeatedContentTypeTransferEncodingOrContentIDIsRefused() throws {
        for (name, second) in [("Content-Type", "text/plain"), ("Content-Transfer-Encoding", "base64"), ("Content-ID", "<other@gw-a>")] {
            var message = CraftedMessage()
            let fields = [("Content-Type", "application/xml"), ("Content-Transfer-Encoding", "binary"), ("Content-ID", "<\(message.parts[0].contentID)>")]
            message.parts[0].headers = fields + [(name, second)]
            let answer = try b.receive(message, signedBy: try b.signer())
            XCTAssertEqual(answer.status, 500, name)
            XCTAssertEqual(answer.ebmsErrorCode, "EBMS:0007", name)
            XCTAssertTrue(answer.bodyText.contains("MIME part 2: the \(name) header appears 2 times"), answer.bodyText)
            XCTAssertNil(try stored(message.id), "nothing of a refused message is kept (\(name))")
        }
        // The same message with each field once is taken.
        let once = CraftedMessage()
        XCTAssertEqual(try b.receive(once, signedBy: try b.signer()).status, 200)
        XCTAssertNotNil(try stored(once.id))
    }

    func testARepeatedHTTPContentTypeIsRefused() throws {
        let message = CraftedMessage()
        let (contentType, _) = try message.sealed(by: nil)
        let answer = try b.receive(message, signedBy: try b.signer(), headers: [("Content-Type", contentType)])
        XCTAssertEqual(answer.ebmsErrorCode, "EBMS:0007", answer.bodyText)
        XCTAssertTrue(answer.bodyText.contains("the HTTP Content-Type header appears 2 times"), answer.bodyText)
        XCTAssertNil(try stored(message.id))
    }

    func testAContentCodedRequestIsAnswered415NamingTheCoding() throws {
        let message = CraftedMessage()
        let answer = try b.receive(message, signedBy: try b.signer(), headers: [("Content-Encoding", "gzip")])
        XCTAssertEqual(answer.status, 415)
        XCTAssertTrue(answer.bodyText.contains("HTTP Content-Encoding gzip is not accepted"), answer.bodyText)
        XCTAssertEqual(answer.headers["Accept-Encoding"], "identity", "RFC 7694: which codings are accepted")
        XCTAssertNil(try stored(message.id))
        // `identity` is no coding at all.
        let plain = CraftedMessage()
        XCTAssertEqual(try b.receive(plain, signedBy: try b.signer(), headers: [("Content-Encoding", "identity")]).status, 200)
    }
}

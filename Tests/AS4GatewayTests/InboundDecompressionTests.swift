@testable import AS4Gateway
import EnvelopeXML
import Foundation
import MessageStore
import XCTest

/// Compressed payloads are bounded by the agreement's size, not by how well they compress: a
/// sending as4gw gzips 64 MiB of zeros (about 1000:1) without a second thought, and the receiver
/// must take it; a bomb still stops at the leg's limit.
final class InboundDecompressionTests: XCTestCase {
    var harness: GatewayHarness!
    var b: InProcessNode!

    override func setUpWithError() throws {
        harness = try GatewayHarness()
        try harness.configure(["gw-a", "gw-b"], legs: [.init(maxMessageBytes: 100 << 20, encrypt: false)])
        b = try InProcessNode(harness, party: "gw-b")
    }

    override func tearDown() {
        b = nil
        harness = nil
    }

    static func gzippedZeros(_ count: Int) throws -> [UInt8] {
        try Gzip.compress([UInt8](repeating: 0, count: count))
    }

    func compressed(_ gzip: [UInt8]) -> CraftedMessage {
        var message = CraftedMessage()
        message.parts[0].properties = [Property(EbmsConstants.mimeType, "application/octet-stream"),
                                       Property(EbmsConstants.compressionType, EbmsConstants.gzip)]
        message.parts[0].body = gzip
        message.parts[0].signedType = EbmsConstants.gzip
        return message
    }

    func testSixtyFourMiBOfZerosWithinTheLegLimitIsTaken() throws {
        let message = compressed(try Self.gzippedZeros(64 << 20))
        let answer = try b.receive(message, signedBy: try b.signer())
        XCTAssertEqual(answer.status, 200, answer.bodyText)
        let part = try XCTUnwrap(try b.store.findMessage(id: message.id, direction: .inbound)?.parts.first)
        XCTAssertEqual(part.file.size, 64 << 20)
    }

    func testABombPastTheLegLimitIsRefusedAtTheLimit() throws {
        // Sixteen gzip members of 64 MiB of zeros each: 1 GiB once inflated, about 1 MiB on the wire.
        let member = try Self.gzippedZeros(64 << 20)
        let message = compressed(Array((0..<16).map { _ in member }.joined()))
        let answer = try b.receive(message, signedBy: try b.signer())
        XCTAssertEqual(answer.ebmsErrorCode, "EBMS:0303", answer.bodyText)
        XCTAssertTrue(answer.bodyText.contains("exceed the agreement's limit of \(100 << 20) bytes"), answer.bodyText)
        XCTAssertNil(try b.store.findMessage(id: message.id, direction: .inbound))
        let spool = try FileManager.default.contentsOfDirectory(atPath: b.context.spoolDirectory)
        XCTAssertEqual(spool.filter { $0.hasPrefix("in-") }, [], "no partial payload left in the spool")
    }
}

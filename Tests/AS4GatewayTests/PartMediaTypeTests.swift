@testable import AS4Gateway
import EnvelopeXML
import Foundation
import MessageStore
import XCTest

/// Which type a received part is kept with when only unsigned headers give one.
final class PartMediaTypeTests: XCTestCase {
    var harness: GatewayHarness!
    var b: InProcessNode!

    override func setUpWithError() throws {
        harness = try GatewayHarness()
        try harness.configure(["gw-a", "gw-b"], legs: [.init(encrypt: false), .init(action: "Unsigned", encrypt: false, sign: false)])
        b = try InProcessNode(harness, party: "gw-b")
    }

    override func tearDown() {
        b = nil
        harness = nil
    }

    func stored(_ id: String) throws -> StoredMessage? { try b.store.findMessage(id: id, direction: .inbound) }

    /// The SwA content transform digests a part's content, not its MIME header: a type only the
    /// header gives may have been changed on the way without breaking the signature.
    func testAPartTypeNoSignedPropertyGivesIsStoredAsOctetStream() throws {
        let pdf = Array("%PDF-1.4 not really".utf8)
        var bare = CraftedMessage()
        bare.parts[0].properties = []
        bare.parts[0].body = pdf
        bare.parts[0].signedType = "application/pdf"
        bare.parts[0].headers = [("Content-Type", "application/x-msdownload"), ("Content-ID", "<\(bare.parts[0].contentID)>")]
        XCTAssertEqual(try b.receive(bare, signedBy: try b.signer()).status, 200)
        XCTAssertEqual(try stored(bare.id)?.parts.map(\.mimeType), ["application/octet-stream"])

        // The MimeType part property is signed with eb:Messaging: it is the type kept.
        var declared = bare
        declared.id = "\(UUID().uuidString)@gw-a"
        declared.parts[0].properties = [Property(EbmsConstants.mimeType, "application/pdf")]
        XCTAssertEqual(try b.receive(declared, signedBy: try b.signer()).status, 200)
        XCTAssertEqual(try stored(declared.id)?.parts.map(\.mimeType), ["application/pdf"])

        // With no signature agreed there is nothing better than the header.
        var unsigned = bare
        unsigned.id = "\(UUID().uuidString)@gw-a"
        unsigned.action = "Unsigned"
        XCTAssertEqual(try b.receive(unsigned, signedBy: nil).status, 200)
        XCTAssertEqual(try stored(unsigned.id)?.parts.map(\.mimeType), ["application/x-msdownload"])
    }
}

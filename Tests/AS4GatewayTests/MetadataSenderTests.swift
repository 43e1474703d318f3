@testable import AS4Gateway
import Foundation
import MessageStore
import XCTest

/// A document's metadata is served by the API and sealed in the evidence as its sender's access
/// point wrote it, so it may not say what the document header does not: another sender (an
/// access point naming, in the metadata, an authority it does not serve, while the header names
/// an address it does), or one key twice (which the next reader may settle otherwise than we do).
final class MetadataSenderTests: XCTestCase {
    func header(sender: String = CarrierScene.sender, metadata: String) -> (EAddressMessages.DocumentHeader, [MessagePart]) {
        let file = Array("x".utf8)
        let header = EAddressMessages.DocumentHeader(documentId: "d", sender: sender, recipient: CarrierScene.person, metadata: metadata,
                                                     files: [.init(name: "a.txt", mimeType: "text/plain", size: 1, sha256: CarrierScene.sha256(file))])
        let json = try! EAddressMessages.encode(header)
        return (header, [MessagePart(contentId: "h", mimeType: "application/json", file: StoredFile(path: "", size: Int64(json.count), sha256: ""), bytes: json),
                         MessagePart(contentId: "f", mimeType: "text/plain", file: StoredFile(path: "", size: 1, sha256: CarrierScene.sha256(file)),
                                     bytes: Data(file))])
    }

    func problem(sender: String = CarrierScene.sender, metadata: String) -> DocumentHeaderProblem? {
        do {
            _ = try DocumentHeaderCheck.header(of: header(sender: sender, metadata: metadata).1, carrier: .init { _ in nil })
            return nil
        } catch {
            return error as? DocumentHeaderProblem
        }
    }

    func testTheMetadataNamesTheHeadersSenderAndEachKeyOnce() {
        XCTAssertNil(problem(metadata: CarrierScene.metadata()))
        // Spelt otherwise, the same address (compared canonical).
        XCTAssertNil(problem(sender: CarrierScene.sender.lowercased(), metadata: CarrierScene.metadata()))
        let spoofed = problem(metadata: CarrierScene.metadata(["sender": "_DEFAULT@40003032949"]))
        XCTAssertEqual(spoofed, .metadataSenderDiffers(header: CarrierScene.sender, metadata: "_DEFAULT@40003032949"))
        XCTAssertEqual(spoofed?.ebmsError.code, .valueInconsistent)
        XCTAssertEqual(spoofed?.description, "the document header names sender DVS@90000048472, but its metadata's sender is _DEFAULT@40003032949")
        // The same key twice: Foundation keeps one of them without a word.
        let twice = #"{"recipients": ["_PRIVATE@16117519997"], "sender": "_DEFAULT@40003032949", "sender": "DVS@90000048472", "subject": "a"}"#
        XCTAssertEqual(problem(metadata: twice)?.ebmsError.code, .other)
        XCTAssertTrue(problem(metadata: twice)?.description.hasPrefix("the document header's metadata is not acceptable: duplicate key \"sender\"") ?? false,
                      "\(String(describing: problem(metadata: twice)))")
        let subjects = #"{"recipients": ["_PRIVATE@16117519997"], "sender": "DVS@90000048472", "subject": "Lēmums", "subject": "Rēķins"}"#
        XCTAssertNotNil(problem(metadata: subjects))
    }

    /// End to end: B refuses the document before its receipt (A's message Failed with
    /// EBMS:0003), stores nothing, and takes the same document with its own sender.
    func testADocumentWhoseMetadataNamesAnotherSenderIsRefusedBeforeTheReceipt() throws {
        let scene = try CarrierScene()
        let text = Array("Paziņojums".utf8)
        var spoofed = CarrierScene.header("spoofed-doc", files: [text])
        spoofed.metadata = CarrierScene.metadata(["subject": "spoofed-doc", "sender": "_DEFAULT@40003032949"])
        let refused = try scene.carry("spoofed", header: Array(try EAddressMessages.encode(spoofed)),
                                      properties: CarrierScene.properties("spoofed-doc"), files: [text])
        let good = try scene.carry("good", header: Array(try EAddressMessages.encode(CarrierScene.header("good-doc", files: [text]))),
                                   properties: CarrierScene.properties("good-doc"), files: [text])
        let m = try scene.settled(refused)
        XCTAssertEqual(m.status, .failed)
        XCTAssertEqual(m.outbound?.lastError?.code, "EBMS:0003", "\(String(describing: m.outbound?.lastError))")
        XCTAssertTrue(m.outbound?.lastError?.reason.contains("but its metadata's sender is _DEFAULT@40003032949") ?? false,
                      "\(String(describing: m.outbound?.lastError))")
        XCTAssertNil(try scene.h.message("gw-b", refused, .inbound), "nothing stored at B")
        XCTAssertEqual(try scene.settled(good).status, .delivered)
        try scene.h.waitUntil(timeout: 30, "the good document in the person's mailbox") { try scene.inbox(CarrierScene.person) == ["good-doc"] }
    }
}

@testable import AS4Gateway
import Foundation
import MessageStore
import XCTest

/// A document stored before the API refused text XML cannot carry (its subject and a history
/// detail holding U+FFFF and U+FFFE, a control character) still gets its evidence bundle, and
/// the bundle verifies: seal, and every event's chain hash over the value as stored.
final class EvidenceUncarriableTextTests: XCTestCase {
    static let sender = "DVS@90000048472"
    static let company = "_DEFAULT@40003032949"

    func testABundleOfStoredTextXMLCannotCarryIsWrittenAndVerifies() throws {
        let harness = try GatewayHarness()
        try harness.configure(["gw-a", "gw-b"])
        let node = try InProcessNode(harness, party: "gw-a")
        let context = node.context
        let payload = harness.root.appendingPathComponent("a.txt").path
        FileManager.default.createFile(atPath: payload, contents: Data("x".utf8))
        let metadata = "{\"recipients\":[\"\(Self.company)\"],\"sender\":\"\(Self.sender)\",\"subject\":\"bad \u{FFFF} char \u{FFFE}\"}"
        let id = "legacy-1@gw-a"
        let document = NewDocument(messageId: id, connection: "dms", idempotencyKey: nil, sender: Self.sender, metadata: metadata,
                                   files: [DocumentFile(name: "a\u{FFFF}.txt", mimeType: "text/plain",
                                                        file: StoredFile(path: payload, size: 1, sha256: String(repeating: "0", count: 64)))],
                                   recipients: [.init(address: Self.company, route: .mailbox, status: .accepted)])
        XCTAssertEqual(try context.mailbox.insertDocument(document, notifications: [], at: Date()), .stored)
        let detail = "read by clerk \u{FFFF}\u{1}"
        try context.mailbox.updateRecipient(RecipientUpdate(messageId: id, address: Self.company, status: .delivered, detail: detail, retrieved: true), at: Date())
        let d = try XCTUnwrap(try context.mailbox.document(messageId: id))

        let bundle = try EvidenceBundle(context: context).build(d, recipients: d.recipients, wholeMetadata: true)
        let text = String(decoding: bundle, as: UTF8.self)
        XCTAssertFalse(text.contains("\u{FFFF}") || text.contains("\u{FFFE}") || text.contains("\u{1}"), text)
        XCTAssertTrue(text.contains("<ev:Metadata encoding=\"base64\">\(Data(metadata.utf8).base64EncodedString())</ev:Metadata>"), text)
        XCTAssertTrue(text.contains("detailBase64=\"\(Data(detail.utf8).base64EncodedString())\""), text)
        XCTAssertTrue(text.contains("nameBase64=\"\(Data("a\u{FFFF}.txt".utf8).base64EncodedString())\""), text)

        let summary = try EvidenceVerifier(anchors: context.trustAnchors).verify(bundle)
        XCTAssertEqual(summary.messageId, id)
        // The hash covers the stored value: a bundle whose encoded detail was changed does not verify.
        let forged = text.replacingOccurrences(of: Data(detail.utf8).base64EncodedString(), with: Data("read by clerk".utf8).base64EncodedString())
        XCTAssertThrowsError(try EvidenceVerifier(anchors: context.trustAnchors).verify(Array(forged.utf8)))

        if let python = EvidenceAPITests.python() {
            let file = harness.root.appendingPathComponent("legacy.xml")
            try Data(bundle).write(to: file)
            let anchors = harness.pmodeDirectory + "/certs/dev-ca.pem"
            let p = Process()
            p.executableURL = URL(fileURLWithPath: python)
            p.arguments = [GatewayProcess.projectRoot.appendingPathComponent("Tests/interop/evidence_verify.py").path, file.path, anchors]
            let out = Pipe()
            p.standardOutput = out
            p.standardError = out
            try p.run()
            let report = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            XCTAssertEqual(p.terminationStatus, 0, report)
        }
    }
}

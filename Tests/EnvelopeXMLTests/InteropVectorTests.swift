import XCTest
@testable import EnvelopeXML

/// Every message in the shared interop vectors gets the verdict EXPECTED.tsv states, read the
/// way the gateway reads messages off the wire (MessageInput → AS4Message → compression check).
final class InteropVectorTests: XCTestCase {
    func read(_ relative: String) throws -> AS4Message {
        let raw = try MessageInput.load(path: InteropVectors.path(relative))
        let message = try AS4Message.read(raw)
        try message.verifyCompressedParts()
        return message
    }

    func testEveryMessageVectorGetsItsExpectedVerdict() throws {
        let rows = InteropVectors.expected.filter { ["ok", "fail", "policy"].contains($0["parse"] ?? "") }
        XCTAssertGreaterThanOrEqual(rows.count, 50, "EXPECTED.tsv not found or truncated at \(InteropVectors.root.path)")
        for row in rows {
            let verdict = row["parse"]!
            do {
                let message = try read(row.path)
                XCTAssertNotEqual(verdict, "fail", "\(row.path) parsed but must fail with \(row["parse_error"] ?? "?")")
                // The table names the first message unit in document order (signals of a bundle come first).
                if let id = row["message_id"] {
                    XCTAssertEqual(message.messaging.units.first?.messageInfo.messageId, id, row.path)
                }
                if let time = row["message_time"] {
                    XCTAssertEqual(message.messaging.units.first?.messageInfo.timestamp.lexical, time, row.path)
                }
                if let soap = row["soap_version"] {
                    XCTAssertEqual(message.envelope.soapVersion.rawValue, soap, row.path)
                }
                XCTAssertEqual(message.envelope.hasSignature, row["signed"] == "yes", "signed? \(row.path)")
                if verdict == "policy" {
                    XCTAssertFalse(message.profileFindings.isEmpty, "\(row.path) departs from the profile but no finding says so")
                }
            } catch let error as EbmsError {
                XCTAssertEqual(verdict, "fail", "\(row.path) refused: \(error)")
                XCTAssertEqual(error.code.rawValue, row["parse_error"], "\(row.path): \(error)")
            }
        }
    }

    func testHolodeckSignedMimeMessageContent() throws {
        let m = try read("as4net/signed-mime/signed_holodeck_message.as4")
        let user = try XCTUnwrap(m.messaging.userMessage)
        XCTAssertEqual(user.messageInfo.messageId, "cdcc838c-96ed-414a-b127-0937f5cd6549@CLT-FGHEYSELS.ad.codit.eu")
        XCTAssertEqual(user.from.ids, [PartyId("org:holodeckb2b:example:company:A")])
        XCTAssertEqual(user.to.ids, [PartyId("org:eu:europa:as4:example")])
        XCTAssertEqual(user.collaboration.service, Service("Test", type: "org:holodeckb2b:services"))
        XCTAssertEqual(user.collaboration.action, "StoreMessage")
        XCTAssertEqual(user.payloads.count, 2)
        XCTAssertTrue(user.payloads.allSatisfy(\.isCompressed))
        XCTAssertEqual(m.attachments.count, 2)
        for info in user.payloads {
            let part = try XCTUnwrap(m.attachment(contentID: try XCTUnwrap(info.contentID)))
            XCTAssertGreaterThan(part.body.count, 0)
        }
        XCTAssertTrue(m.envelope.hasSignature)
        XCTAssertFalse(m.envelope.hasEncryptedParts)
    }

    func testPhase4PeppolDumpContent() throws {
        let m = try read("phase4/signed-encrypted-mime/dump-raw.as4out")
        let user = try XCTUnwrap(m.messaging.userMessage)
        XCTAssertEqual(user.from.ids, [PartyId("POP000306", type: "urn:fdc:peppol.eu:2017:identifiers:ap")])
        XCTAssertEqual(user.collaboration.service.type, "cenbii-procid-ubl")
        XCTAssertEqual(user.originalSender.map { !$0.isEmpty }, true)
        XCTAssertEqual(user.finalRecipient.map { !$0.isEmpty }, true)
        XCTAssertEqual(user.payloads.count, 1)
        XCTAssertEqual(m.envelope.encryptedContentIDs, Set(user.payloads.compactMap(\.contentID)))
        XCTAssertTrue(m.envelope.hasEncryptedParts)
    }

    func testErrorSignalContent() throws {
        let m = try read("phase4/error-signal/ErrorMessage.xml")
        guard case .errors(let errors)? = m.messaging.signals.first?.kind else { return XCTFail("not an error signal") }
        XCTAssertEqual(errors.first?.errorCode, "EBMS:0001")
        XCTAssertEqual(errors.first?.knownCode, .valueNotRecognized)
    }

    func testBundledMessageIsReadButFlagged() throws {
        let m = try read("phase4/invalid-structure/BundledMessage.xml")
        XCTAssertEqual(m.messaging.units.count, 3)
        XCTAssertTrue(m.profileFindings.contains { $0.message.contains("bundled") })
        XCTAssertTrue(m.profileFindings.contains { $0.message.contains("SOAP 1.1") })
    }
}

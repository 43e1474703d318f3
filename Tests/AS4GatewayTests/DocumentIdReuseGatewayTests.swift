@testable import AS4Gateway
import Foundation
import MessageStore
import XCTest

/// Two gateways on loopback: gw-a sends gw-b documents whose document id or MessageId it uses
/// again, as an access point of other software might (`as4gw send` with the header and the
/// MessageId chosen). gw-b has given its receipt for each; what it cannot take in ends Failed
/// with why, gw-a is told, and the documents after it are taken in (`DocumentIdReuseTests` has
/// each case in process, on both stores).
final class DocumentIdReuseGatewayTests: XCTestCase {
    func testReusedIdsEndFailedAtTheReceiverAreReportedAndHoldUpNothing() throws {
        let scene = try CarrierScene()
        let h = scene.h
        let (person, company, institution) = (CarrierScene.person, CarrierScene.company, "_DEFAULT@90000099999")
        func send(_ documentId: String, to recipient: String, file: String, messageId: String? = nil) throws -> String {
            let bytes = Array(file.utf8)
            let header = Array(try EAddressMessages.encode(CarrierScene.header(documentId, recipient: recipient, files: [bytes])))
            return try scene.carry("\(documentId)-\(UUID().uuidString.prefix(8))", header: header,
                                   properties: CarrierScene.properties(documentId, finalRecipient: recipient), files: [bytes],
                                   send: messageId.map { ["--message-id", $0] } ?? [])
        }
        /// gw-b's inbound message once its intake settled it.
        func settledAtB(_ id: String) throws -> StoredMessage {
            var last: StoredMessage?
            do {
                try h.waitUntil(timeout: 30, "gw-b's intake of \(id)") {
                    last = try h.message("gw-b", id, .inbound)
                    return [.delivered, .failed].contains(last?.status)
                }
            } catch {
                XCTFail("\(error); last status \(String(describing: last?.status)); gw-b's log:\n\(h.nodes["gw-b"]!.log.suffix(2000))")
                throw error
            }
            return try XCTUnwrap(last)
        }

        let first = try send("doc-1", to: person, file: "first")
        XCTAssertEqual(try settledAtB(first).status, .delivered)

        // The id again for another document, to the recipient holding the first one.
        let otherFiles = try send("doc-1", to: person, file: "second")
        let refused = try settledAtB(otherFiles)
        XCTAssertEqual(refused.status, .failed)
        XCTAssertEqual(refused.intakeError?.code, "DocumentIdTaken")
        XCTAssertTrue(refused.intakeError?.reason.hasPrefix("document id doc-1 is already held here for another document from access point gw-a "
                                                            + "(this one has other files)") ?? false, "\(String(describing: refused.intakeError))")

        // The same document for another recipient (its metadata listing only that one) is that document.
        let sameForCompany = try send("doc-1", to: company, file: "first")
        XCTAssertEqual(try settledAtB(sameForCompany).status, .delivered)
        XCTAssertEqual(try scene.inbox(company), ["doc-1"])

        // A MessageId gw-b gave a document of its own (sent to gw-a) cannot carry one of gw-a's.
        try h.importDirectory("gw-b", [h.remoteEntry(institution, ownerId: "90000099999", kind: "institution", party: "gw-a")])
        let outgoing = try scene.mailboxes.submit(metadata: BackendClient.metadata(from: company, to: [institution]), files: [("x.txt", [1])])
        XCTAssertEqual(outgoing.status, 202, outgoing.text)
        let documentOfB = try XCTUnwrap(outgoing.json["messageId"] as? String)
        var carrierOfB: String?
        try h.waitUntil(timeout: 30, "gw-b's document at gw-a") {
            let store = try h.store("gw-a")
            defer { store.close() }
            carrierOfB = try store.listMessages(status: nil, since: nil, direction: .inbound, limit: 50)
                .first { $0.metadata.conversationId == documentOfB }?.metadata.messageId
            return carrierOfB != nil
        }
        let clash = try send("doc-2", to: person, file: "third", messageId: try XCTUnwrap(carrierOfB))
        XCTAssertEqual(clash, carrierOfB)
        let refusedCarrier = try settledAtB(clash)
        XCTAssertEqual(refusedCarrier.status, .failed)
        XCTAssertEqual(refusedCarrier.intakeError?.code, "MessageIdTaken")

        // Nothing waits behind them.
        let after = try send("doc-3", to: person, file: "after")
        XCTAssertEqual(try settledAtB(after).status, .delivered)
        XCTAssertEqual(Set(try scene.inbox(person)), ["doc-1", "doc-3"])
        XCTAssertFalse(h.nodes["gw-b"]!.log.contains("event=mailbox-worker "), "no failed round: \(h.nodes["gw-b"]!.log.suffix(3000))")

        // gw-a hears of both refusals, each report naming the refused message.
        try h.waitUntil(timeout: 30, "gw-b's two Failed reports at gw-a") {
            let store = try h.store("gw-a")
            defer { store.close() }
            let reports = try store.listMessages(status: nil, since: nil, direction: .inbound, limit: 50)
                .filter { $0.metadata.action == EAddressMessages.statusAction }
            return Set(reports.compactMap(\.metadata.refToMessageId)).isSuperset(of: [otherFiles, clash])
        }
        // The operator lists both with why.
        let listed = try GatewayProcess.run(["messages", "list", "--status", "Failed", "--direction", "in", "--data", h.nodes["gw-b"]!.data])
        XCTAssertEqual(listed.status, 0, listed.stderr)
        XCTAssertTrue(listed.stdout.contains(otherFiles) && listed.stdout.contains("DocumentIdTaken: "), listed.stdout)
        XCTAssertTrue(listed.stdout.contains(clash) && listed.stdout.contains("MessageIdTaken: "), listed.stdout)
        try scene.assertNoPersonalCodeLogged()
    }
}

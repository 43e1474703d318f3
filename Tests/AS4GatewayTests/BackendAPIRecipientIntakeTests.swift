import AS4Crypto
@testable import AS4Gateway
import Foundation
import MessageStore
import XCTest

/// A document arriving by AS4 for a mailbox of this gateway meets the same rules as a
/// submission here: gateway A does not know that the person is non-digital or that person ↔
/// person is off at B, so it sends; B refuses, reports the recipient Failed with the same code
/// and reason, and stores nothing in the mailbox.
final class BackendAPIRecipientIntakeTests: XCTestCase {
    func testDocumentsRefusedByTheRulesAtTheReceivingGatewayAreReportedFailedWithTheirCode() throws {
        let ministry = "DVS@90000048472", nonDigital = "_PRIVATE@01019012306", digital = "_PRIVATE@16117519997", sender = "_PRIVATE@32123456789"
        let h = try GatewayHarness()
        try h.configure(["gw-a", "gw-b"], legs: GatewayHarness.eAddressLegs)
        try h.importDirectory("gw-a", [h.remoteEntry(nonDigital, ownerId: "01019012306", kind: "naturalPerson", party: "gw-b"),
                                       h.remoteEntry(digital, ownerId: "16117519997", kind: "naturalPerson", party: "gw-b")])
        try h.importDirectory("gw-b", [GatewayHarness.localEntry(nonDigital, ownerId: "01019012306", kind: "naturalPerson"),
                                       GatewayHarness.localEntry(digital, ownerId: "16117519997", kind: "naturalPerson")])
        let dmsA = try BackendClient(port: h.nodes["gw-a"]!.submitPort, token: try h.addConnection("gw-a", name: "dms-a", addresses: [ministry]))
        let personA = try BackendClient(port: h.nodes["gw-a"]!.submitPort, token: try h.addConnection("gw-a", name: "person", addresses: [sender]))
        // A allows person ↔ person; B keeps the law.
        let config = h.root.appendingPathComponent("policy-a.json").path
        try "{\"messagingPolicy\": {\"personToPerson\": true}}".write(toFile: config, atomically: true, encoding: .utf8)
        h.nodes["gw-a"]!.extraArguments = ["--config", config]
        let registry = try BackendClient(port: h.nodes["gw-b"]!.submitPort, token: try h.addConnection("gw-b", name: "registry", addresses: [], roles: ["operator"]))
        let mailbox = try BackendClient(port: h.nodes["gw-b"]!.submitPort, token: try h.addConnection("gw-b", name: "mailboxes", addresses: [nonDigital, digital]))
        try h.start("gw-a")
        try h.start("gw-b")
        let added = try registry.post("/api/v1/non-digital-persons", json: "{\"personCode\": \"01019012306\", \"reason\": \"Guardianship\"}")
        XCTAssertEqual(added.status, 201, added.text)

        let sent = try dmsA.submit(metadata: BackendClient.metadata(from: ministry, to: [nonDigital, digital]), files: [("a.txt", Array("A".utf8))])
        XCTAssertEqual(sent.status, 202, sent.text)
        let id = try XCTUnwrap(sent.json["messageId"] as? String)
        // The sender's own opt-in does not matter; the recipient has none, and B is the law anyway.
        let p2p = try personA.submit(metadata: BackendClient.metadata(from: sender, to: [digital]), files: [("b.txt", Array("B".utf8))])
        XCTAssertEqual(p2p.status, 202, p2p.text)
        let p2pId = try XCTUnwrap(p2p.json["messageId"] as? String)

        func recipient(_ client: BackendClient, _ message: String, _ address: String) throws -> [String: Any] {
            ((try client.get("/api/v1/messages/\(message)").json["recipients"] as? [[String: Any]]) ?? []).first { $0["address"] as? String == address } ?? [:]
        }
        try h.waitUntil(timeout: 30, "the non-digital recipient reported Failed by B") { try recipient(dmsA, id, nonDigital)["status"] as? String == "Failed" }
        let failed = try recipient(dmsA, id, nonDigital)
        let detail = ((failed["events"] as? [[String: Any]]) ?? []).compactMap { $0["detail"] as? String }.joined(separator: " | ")
        XCTAssertTrue(detail.contains("RecipientNonDigital"), detail)
        XCTAssertTrue(detail.contains("receives no e-address mail"), detail)
        XCTAssertFalse(detail.contains("Guardianship"), "the register's reason stays at B: \(detail)")
        // The refusal told A's sender who is in B's register: B records that as it records a
        // refused submission, with the access point that learnt it.
        let lookups = try registry.get("/api/v1/channel/lookups?person=01019012306")
        XCTAssertEqual(((lookups.json["items"] as? [[String: Any]]) ?? []).map { "\($0["connection"]!) \($0["personCount"]!) \($0["purpose"]!)" },
                       ["access-point:gw-a 1 refusedSubmission"], lookups.text)
        XCTAssertEqual((try registry.get("/api/v1/channel/lookups?person=16117519997").json["items"] as? [Any])?.count, 0,
                       "the digital person's document read the register and told nothing: no record")
        XCTAssertTrue(h.nodes["gw-b"]!.log.split(separator: "\n").contains {
            $0.contains("event=channel-lookup") && $0.contains("connection=access-point:gw-a") && $0.contains("purpose=refusedSubmission")
        }, h.nodes["gw-b"]!.log)
        try h.waitUntil(timeout: 30, "person → person reported Failed by B") { try recipient(personA, p2pId, digital)["status"] as? String == "Failed" }
        let policyDetail = ((try recipient(personA, p2pId, digital)["events"] as? [[String: Any]]) ?? []).compactMap { $0["detail"] as? String }.joined(separator: " | ")
        XCTAssertTrue(policyDetail.contains("PolicyForbidden"), policyDetail)
        XCTAssertTrue(policyDetail.contains("messagingPolicy.personToPerson is off"), policyDetail)

        // The state's message to the digital person arrived; nothing else did.
        try h.waitUntil(timeout: 30, "the digital person's copy at B") {
            (try mailbox.get("/api/v1/inbox?address=\(digital)").json["items"] as? [[String: Any]])?.count == 1
        }
        XCTAssertEqual((try mailbox.get("/api/v1/inbox?address=\(digital)").json["items"] as? [[String: Any]])?.first?["sender"] as? String, ministry)
        XCTAssertEqual((try mailbox.get("/api/v1/inbox?address=\(nonDigital)").json["items"] as? [Any])?.count, 0)
        try h.waitUntil(timeout: 30, "B to log its refusal") { h.nodes["gw-b"]!.log.contains("document-refused") }
    }

    /// The sender address in a document is the origin access point's claim; the receiving
    /// gateway's directory decides whether that access point may speak for it. A mailbox of B
    /// (an institution's) and an address B knows to be served by C cannot arrive from A; an
    /// address B lists as A's, and one B does not list, can.
    func testAnAccessPointCannotSendDocumentsFromAddressesItDoesNotServe() throws {
        let institutionAtB = "_DEFAULT@90000048472", servedByC = "_DEFAULT@40003032949", servedByA = "DVS@90000099991",
            unlisted = "_DEFAULT@40003000001", person = "_PRIVATE@16117519997"
        let h = try GatewayHarness()
        try h.configure(["gw-a", "gw-b", "gw-c"], legs: GatewayHarness.eAddressLegs)
        try h.importDirectory("gw-a", [h.remoteEntry(person, ownerId: "16117519997", kind: "naturalPerson", party: "gw-b")])
        try h.importDirectory("gw-b", [GatewayHarness.localEntry(person, ownerId: "16117519997", kind: "naturalPerson"),
                                       GatewayHarness.localEntry(institutionAtB, ownerId: "90000048472", kind: "institution"),
                                       h.remoteEntry(servedByC, ownerId: "40003032949", kind: "company", party: "gw-c"),
                                       h.remoteEntry(servedByA, ownerId: "90000099991", kind: "institution", party: "gw-a")])
        // A's connection claims all four; company → person is on at both, so only the sender check decides.
        let dmsA = try BackendClient(port: h.nodes["gw-a"]!.submitPort,
                                     token: try h.addConnection("gw-a", name: "dms-a", addresses: [institutionAtB, servedByC, servedByA, unlisted]))
        let config = h.root.appendingPathComponent("policy.json").path
        try "{\"messagingPolicy\": {\"companyToPerson\": true}}".write(toFile: config, atomically: true, encoding: .utf8)
        h.nodes["gw-a"]!.extraArguments = ["--config", config]
        h.nodes["gw-b"]!.extraArguments = ["--config", config]
        let mailbox = try BackendClient(port: h.nodes["gw-b"]!.submitPort, token: try h.addConnection("gw-b", name: "person", addresses: [person]))
        let optIn = try BackendClient(port: h.nodes["gw-b"]!.submitPort, token: try h.addConnection("gw-b", name: "opt", addresses: [person], shared: true))
        try h.start("gw-a")
        try h.start("gw-b")
        XCTAssertEqual(try optIn.call("PUT", "/api/v1/addresses/\(person)/opt-in", json: "{\"fromCompanies\": true}").status, 200)

        var ids: [String: String] = [:]
        for sender in [institutionAtB, servedByC, servedByA, unlisted] {
            let sent = try dmsA.submit(metadata: BackendClient.metadata(from: sender, to: [person]), files: [("\(sender).txt", Array(sender.utf8))])
            XCTAssertEqual(sent.status, 202, sent.text)
            ids[sender] = try XCTUnwrap(sent.json["messageId"] as? String)
        }
        func recipient(_ message: String) throws -> [String: Any] { try dmsA.recipient(of: message) }
        for (sender, expected) in [(institutionAtB, "has its mailbox on this gateway"), (servedByC, "is served by access point gw-c, not by gw-a")] {
            try h.waitUntil(timeout: 30, "\(sender) refused by B") { try recipient(ids[sender]!)["status"] as? String == "Failed" }
            let detail = ((try recipient(ids[sender]!)["events"] as? [[String: Any]]) ?? []).compactMap { $0["detail"] as? String }.joined(separator: " | ")
            XCTAssertTrue(detail.contains("SenderNotServed"), detail)
            XCTAssertTrue(detail.contains(expected), detail)
            XCTAssertEqual(try recipient(ids[sender]!)["sent"] as? Bool, false)
        }
        try h.waitUntil(timeout: 30, "the two allowed documents in the mailbox") {
            (try mailbox.get("/api/v1/inbox?address=\(person)").json["items"] as? [[String: Any]])?.count == 2
        }
        let senders = Set(((try mailbox.get("/api/v1/inbox?address=\(person)").json["items"] as? [[String: Any]]) ?? []).compactMap { $0["sender"] as? String })
        XCTAssertEqual(senders, [servedByA, unlisted])
        Thread.sleep(forTimeInterval: 1)
        XCTAssertEqual((try mailbox.get("/api/v1/inbox?address=\(person)").json["items"] as? [Any])?.count, 2)

        // A hub whose directory lists every address refuses unlisted senders too.
        h.stop("gw-b")
        let strict = h.root.appendingPathComponent("strict.json").path
        try "{\"messagingPolicy\": {\"companyToPerson\": true}, \"refuseUnlistedSenders\": true}".write(toFile: strict, atomically: true, encoding: .utf8)
        h.nodes["gw-b"]!.extraArguments = ["--config", strict]
        try h.start("gw-b")
        let again = try dmsA.submit(metadata: BackendClient.metadata(from: unlisted, to: [person]), files: [("again.txt", Array("again".utf8))])
        let againId = try XCTUnwrap(again.json["messageId"] as? String, again.text)
        try h.waitUntil(timeout: 30, "the unlisted sender refused") { try recipient(againId)["status"] as? String == "Failed" }
        let detail = ((try recipient(againId)["events"] as? [[String: Any]]) ?? []).compactMap { $0["detail"] as? String }.joined(separator: " | ")
        XCTAssertTrue(detail.contains("SenderNotServed") && detail.contains("is not in this gateway's e-address directory"), detail)
        let listedAgain = try dmsA.submit(metadata: BackendClient.metadata(from: servedByA, to: [person]), files: [("ok.txt", Array("ok".utf8))])
        XCTAssertEqual(listedAgain.status, 202, listedAgain.text)
        try h.waitUntil(timeout: 30, "a listed sender still delivered") {
            (try mailbox.get("/api/v1/inbox?address=\(person)").json["items"] as? [[String: Any]])?.count == 3
        }
    }

    /// The recipient is named twice, in the carrier's finalRecipient and in the document header.
    /// B refuses a document in which they differ before its receipt (EBMS:0003 naming both,
    /// nothing stored, the personal code masked in its log) and still takes one in which they
    /// agree (in any spelling of the same address), and one without finalRecipient, as before.
    func testADocumentWhoseHeaderNamesAnotherRecipientThanItsFinalRecipientIsRefusedBeforeTheReceipt() throws {
        let scene = try CarrierScene()
        let (person, company) = (CarrierScene.person, CarrierScene.company)
        let file = Array("Lēmums".utf8)
        func carry(_ documentId: String, headerRecipient: String, finalRecipient: String?) throws -> String {
            try scene.carry(documentId, header: Array(try EAddressMessages.encode(CarrierScene.header(documentId, recipient: headerRecipient, files: [file]))),
                            properties: CarrierScene.properties(documentId, finalRecipient: finalRecipient), files: [file])
        }

        // The pre-receipt checks would judge the company's mailbox; the header would place it in the person's.
        let mismatch = try carry("doc-mismatch", headerRecipient: person, finalRecipient: company)
        let refused = try scene.settled(mismatch)
        XCTAssertEqual(refused.status, .failed)
        XCTAssertEqual(refused.outbound?.lastError?.code, "EBMS:0003", "\(String(describing: refused.outbound?.lastError))")
        let reason = refused.outbound?.lastError?.reason ?? ""
        XCTAssertTrue(reason.contains("recipient \(person)") && reason.contains("finalRecipient is \(company)"), reason)
        XCTAssertNil(try scene.h.message("gw-b", mismatch, .inbound), "nothing stored")

        let agreeing = try carry("doc-agreeing", headerRecipient: person, finalRecipient: person.lowercased())
        let withoutFinalRecipient = try carry("doc-unaddressed", headerRecipient: company, finalRecipient: nil)
        for id in [agreeing, withoutFinalRecipient] {
            let answered = try scene.settled(id)
            XCTAssertEqual(answered.status, .delivered, "\(id): \(String(describing: answered.outbound?.lastError))")
        }
        try scene.h.waitUntil(timeout: 30, "both documents in their mailboxes") { try scene.inbox(person).count == 1 && scene.inbox(company).count == 1 }
        XCTAssertEqual(try scene.inbox(person), ["doc-agreeing"], "the refused document is nowhere")

        let logB = scene.h.nodes["gw-b"]!.log
        XCTAssertTrue(logB.split(separator: "\n").contains { $0.contains("event=refused") && $0.contains("error_code=EBMS:0003")
            && $0.contains("_PRIVATE@~") && $0.contains(company) }, logB)
        try scene.assertNoPersonalCodeLogged()
    }

    /// An access point of an older build sends the sender's whole list of recipients in the
    /// header's metadata: the document is taken in as ever (nothing checks that list), and its
    /// recipient here still sees only itself in it (in the sender's spelling).
    func testAHeaderListingEveryRecipientIsTakenInAndShownReducedToTheRecipientHeld() throws {
        let scene = try CarrierScene()
        let file = Array("Lēmums".utf8)
        var header = CarrierScene.header("doc-whole-list", files: [file])
        header.metadata = "{\"sender\": \"\(CarrierScene.sender)\", \"recipients\": [\"_private@16117519997\", \"_PRIVATE@32123456789\", \"\(CarrierScene.company)\"], \"subject\": \"s\"}"
        let id = try scene.carry("doc-whole-list", header: Array(try EAddressMessages.encode(header)), properties: CarrierScene.properties("doc-whole-list"),
                                 files: [file])
        XCTAssertEqual(try scene.settled(id).status, .delivered)
        try scene.h.waitUntil(timeout: 30, "the document in the person's mailbox") { try scene.inbox(CarrierScene.person) == ["doc-whole-list"] }
        // The connection holds the company's mailbox too, but the company is no recipient here.
        let view = try scene.mailboxes.get("/api/v1/messages/doc-whole-list")
        XCTAssertEqual((view.json["metadata"] as? [String: Any])?["recipients"] as? [String], ["_private@16117519997"], view.text)
        XCTAssertEqual((view.json["metadata"] as? [String: Any])?["subject"] as? String, "s")
        XCTAssertFalse(view.text.contains("32123456789") || view.text.contains("40003032949"), view.text)
    }

    /// What the message alone condemns a document for is refused before the receipt, no longer
    /// receipted and then dropped by the intake: a header that cannot be read (EBMS:0004), and
    /// one that contradicts the carrier's properties or the payloads (EBMS:0003). For each, gw-a's message
    /// ends Failed with the code and a description naming the problem, B stores nothing of it
    /// (no inbound message, no payload file, no mailbox entry) and the intake never meets it; a
    /// good document, one of whose files B keeps in a payload file, still arrives.
    func testADocumentWhoseHeaderCannotBeReadOrContradictsItsCarrierIsRefusedBeforeTheReceipt() throws {
        let scene = try CarrierScene()
        let (sender, person, company) = (CarrierScene.sender, CarrierScene.person, CarrierScene.company)
        let text = Array("Lēmums Nr. 7".utf8)
        // Above the store's inline limit (1 MiB) even compressed: B writes these to payload files.
        let large = (0..<(2 << 20)).map { UInt8(truncatingIfNeeded: ($0 &* 2_654_435_761) >> 13) }
        let tampered = Array(large.prefix(large.count - 1)) + [0x17]  // one byte other than the header's digest says
        func json(_ h: EAddressMessages.DocumentHeader) throws -> [UInt8] { Array(try EAddressMessages.encode(h)) }
        func document(_ id: String, _ files: [[UInt8]], change: (inout EAddressMessages.DocumentHeader) -> Void = { _ in }) throws -> [UInt8] {
            var h = CarrierScene.header(id, files: files)
            change(&h)
            return try json(h)
        }
        let withoutFiles = try JSONSerialization.data(withJSONObject: ["documentId": "doc-no-files", "sender": sender, "recipient": person, "metadata": "{}"])
        // A well-formed header one field too long. The field is random letters, repeated beyond
        // gzip's window: compressible like text, never like a bomb (refused at 250:1 as EBMS:0303).
        var letters = SystemRandomNumberGenerator()
        let block = (0..<(64 << 10)).map { _ in UInt8(ascii: "a") + UInt8(letters.next() % 26) }
        let padding = Array(Array(repeating: block, count: Int(DocumentHeaderCheck.maxHeaderBytes) / block.count).joined())
        let padded = try document("doc-too-large", [text]).dropLast() + Array(",\"padding\":\"".utf8) + padding + Array("\"}".utf8)

        struct Refusal { var id: String; var header: [UInt8]; var files: [[UInt8]]; var code: String; var says: [String] }
        let refusals = [
            Refusal(id: "doc-not-json", header: Array("{\"documentId\": \"doc-not-json\", ".utf8), files: [text],
                    code: "EBMS:0004", says: ["the first payload is not a readable document header: it is not JSON"]),
            Refusal(id: "doc-no-files", header: Array(withoutFiles), files: [text],
                    code: "EBMS:0004", says: ["not a readable document header: field /files is missing"]),
            Refusal(id: "doc-too-large", header: Array(padded), files: [text],
                    code: "EBMS:0004", says: ["is \(padded.count) bytes", "at most \(DocumentHeaderCheck.maxHeaderBytes)"]),
            Refusal(id: "doc-bad-sender", header: try document("doc-bad-sender", [text]) { $0.sender = "Ministry" }, files: [text],
                    code: "EBMS:0004", says: ["the document header's sender is not an e-address"]),
            Refusal(id: "doc-other-sender", header: try document("doc-other-sender", [text]) { $0.sender = company }, files: [text],
                    code: "EBMS:0003", says: ["names sender \(company), but eb:MessageProperties originalSender is \(sender)"]),
            Refusal(id: "doc-other-id", header: try document("doc-other-id", [text]) { $0.documentId = "doc-renamed" }, files: [text],
                    code: "EBMS:0003", says: ["names documentId doc-renamed, but eb:MessageProperties documentId is doc-other-id"]),
            Refusal(id: "doc-count", header: try document("doc-count", [text]), files: [text, text],
                    code: "EBMS:0003", says: ["lists 1 file, but the message carries 2 after the header"]),
            Refusal(id: "doc-size", header: try document("doc-size", [text]) { $0.files[0].size += 1 }, files: [text],
                    code: "EBMS:0003", says: ["file 1 of 1", "size as \(text.count + 1) bytes", "has \(text.count)"]),
            Refusal(id: "doc-hash", header: try document("doc-hash", [text, large]), files: [text, tampered],
                    code: "EBMS:0003", says: ["file 2 of 2", "gives SHA-256 \(CarrierScene.sha256(large).prefix(12))…",
                                              "is \(CarrierScene.sha256(tampered).prefix(12))…"]),
        ]
        var sent: [String: String] = [:]
        for r in refusals {
            sent[r.id] = try scene.carry(r.id, header: r.header, properties: CarrierScene.properties(r.id), files: r.files)
        }
        let good = try scene.carry("doc-good", header: try document("doc-good", [text, large]), properties: CarrierScene.properties("doc-good"),
                                   files: [text, large])

        for r in refusals {
            let m = try scene.settled(sent[r.id]!)
            XCTAssertEqual(m.status, .failed, r.id)
            XCTAssertEqual(m.outbound?.lastError?.code, r.code, "\(r.id): \(String(describing: m.outbound?.lastError))")
            let reason = m.outbound?.lastError?.reason ?? ""
            for phrase in r.says { XCTAssertTrue(reason.contains(phrase), "\(r.id): «\(phrase)» not in «\(reason)»") }
            XCTAssertNil(try scene.h.message("gw-b", sent[r.id]!, .inbound), "\(r.id): nothing stored at B")
        }
        XCTAssertEqual(try scene.settled(good).status, .delivered)
        try scene.h.waitUntil(timeout: 30, "the good document in the person's mailbox") { try scene.inbox(person) == ["doc-good"] }
        XCTAssertEqual(try scene.inbox(company), [])
        // The tampered file went to a payload file before it was judged: gone; the good one's is kept.
        let payloadFiles = try scene.files(under: scene.h.nodes["gw-b"]!.data, ofSize: large.count)
        XCTAssertEqual(payloadFiles.count, 1, "\(payloadFiles)")
        let logB = scene.h.nodes["gw-b"]!.log
        XCTAssertFalse(logB.contains("document-intake-refused"), logB)
        try scene.assertNoPersonalCodeLogged()
    }

    /// Another access point's header naming a path for a file is refused before the receipt, as
    /// the API refuses such a name (EBMS:0004), and so is a charset its payload contradicts
    /// (EBMS:0003); a charset given only as the payload's CharacterSet is served to the DMS.
    func testFileNamesAndCharsetsFromAnotherAccessPointAreJudgedBeforeTheReceipt() throws {
        let scene = try CarrierScene()
        let text = Array("Lēmums Nr. 9".utf8)
        func document(_ id: String, name: String = "lemums.txt", mimeType: String = "text/plain") throws -> [UInt8] {
            var h = CarrierScene.header(id, files: [text])
            h.files[0].name = name
            h.files[0].mimeType = mimeType
            return Array(try EAddressMessages.encode(h))
        }
        let path = try scene.carry("doc-path", header: try document("doc-path", name: "../../etc/cron.d/x"),
                                   properties: CarrierScene.properties("doc-path"), files: [text])
        let dots = try scene.carry("doc-dots", header: try document("doc-dots", name: ".."), properties: CarrierScene.properties("doc-dots"), files: [text])
        let differs = try scene.carry("doc-charset", header: try document("doc-charset", mimeType: "text/plain; charset=utf-8"),
                                      properties: CarrierScene.properties("doc-charset"), files: [text], send: ["--character-set", "windows-1257"])
        let good = try scene.carry("doc-cs", header: try document("doc-cs"), properties: CarrierScene.properties("doc-cs"), files: [text],
                                   send: ["--character-set", "Windows-1257"])
        let refusals = [
            (path, "EBMS:0004", "file 1 of 1: the document header's file name is refused, as in a submission here: the file name may not contain / or \\"),
            (dots, "EBMS:0004", "the file name may not be . or .."),
            (differs, "EBMS:0003", "the document header gives its charset as utf-8, but eb:PartProperties CharacterSet is windows-1257"),
        ]
        for (id, code, phrase) in refusals {
            let m = try scene.settled(id)
            XCTAssertEqual(m.status, .failed, id)
            XCTAssertEqual(m.outbound?.lastError?.code, code, "\(String(describing: m.outbound?.lastError))")
            XCTAssertTrue(m.outbound?.lastError?.reason.contains(phrase) ?? false, "«\(phrase)» not in \(String(describing: m.outbound?.lastError))")
            XCTAssertNil(try scene.h.message("gw-b", id, .inbound), "nothing stored at B")
        }
        XCTAssertEqual(try scene.settled(good).status, .delivered)
        try scene.h.waitUntil(timeout: 30, "the document in the person's mailbox") { try scene.inbox(CarrierScene.person) == ["doc-cs"] }
        let file = try scene.mailboxes.get("/api/v1/messages/doc-cs/files/1")
        XCTAssertEqual(file.status, 200, file.text)
        XCTAssertEqual(file.body, text)
        XCTAssertEqual(file.contentType, "text/plain; charset=windows-1257")
        try scene.assertNoPersonalCodeLogged()
    }

    /// What the sender is told of a header it cannot read names the place and never quotes the
    /// value (which may be anything, a personal code included, and goes to our log too).
    func testAnUnreadableHeaderIsDescribedByTheFieldAtFault() throws {
        let file = Array("x".utf8)
        func problem(_ json: String) -> String {
            let parts = [MessagePart(contentId: "h", mimeType: "application/json", file: StoredFile(path: "", size: Int64(json.utf8.count), sha256: ""),
                                     bytes: Data(json.utf8)),
                         MessagePart(contentId: "f", mimeType: "text/plain", file: StoredFile(path: "", size: 1, sha256: CarrierScene.sha256(file)),
                                     bytes: Data(file))]
            do {
                _ = try DocumentHeaderCheck.header(of: parts, carrier: .init { _ in nil })
                return "accepted"
            } catch let p as DocumentHeaderProblem {
                XCTAssertEqual(p.code, .other, p.description)
                return p.description
            } catch {
                return "\(error)"
            }
        }
        let entry = "{\"name\": \"a.txt\", \"mimeType\": \"text/plain\", \"size\": 1, \"sha256\": \"\(CarrierScene.sha256(file))\"}"
        func header(sender: String = "\"DVS@90000048472\"", files: String? = nil) -> String {
            "{\"documentId\": \"d\", \"sender\": \(sender), \"recipient\": \"_PRIVATE@16117519997\", \"metadata\": \(Self.quoted(CarrierScene.metadata())), "
                + "\"files\": \(files ?? "[\(entry)]")}"
        }
        XCTAssertEqual(problem(header()), "accepted")
        XCTAssertTrue(problem("[]").hasSuffix(": the header is not an object"), problem("[]"))
        XCTAssertTrue(problem(header(sender: "7")).hasSuffix(": field /sender is not a string"), problem(header(sender: "7")))
        XCTAssertTrue(problem(header(sender: "null")).hasSuffix(": field /sender is null, not a string"), problem(header(sender: "null")))
        let sized = header(files: "[\(entry), {\"name\": \"b\", \"mimeType\": \"text/plain\", \"size\": \"1\", \"sha256\": \"00\"}]")
        XCTAssertTrue(problem(sized).hasSuffix(": field /files/1/size is not an integer"), problem(sized))
        let controlled = header(files: "[{\"name\": \"a\\u0007 16117519997\", \"mimeType\": \"text/plain\", \"size\": 1, \"sha256\": \"00\"}]")
        XCTAssertTrue(problem(controlled).hasSuffix(": field /files/0/name contains a control character"), problem(controlled))
        let bareCode = problem(header(sender: "\"_PRIVATE@01019012305\""))
        XCTAssertEqual(bareCode, "the document header's sender is not an e-address", "the parser's reason quotes the code")
    }

    /// `text` as a JSON string literal.
    static func quoted(_ text: String) -> String {
        String(decoding: try! JSONSerialization.data(withJSONObject: [text]), as: UTF8.self).dropFirst().dropLast().description
    }

    /// What the API could not serve as it came is the sender's to fix, told before the receipt:
    /// a documentId outside the rule (`DocumentIdentifier`) and metadata a submission here could
    /// not have (`DocumentMetadata`), each EBMS:0004 naming the field, never quoting a value.
    func testAHeaderWhoseDocumentIdOrMetadataTheAPICannotServeIsDescribedByTheFieldAtFault() {
        let file = Array("x".utf8)
        func problem(id: String = "d", metadata: String = CarrierScene.metadata()) -> String {
            let header = EAddressMessages.DocumentHeader(documentId: id, sender: CarrierScene.sender, recipient: CarrierScene.person, metadata: metadata,
                                                         files: [.init(name: "a.txt", mimeType: "text/plain", size: 1, sha256: CarrierScene.sha256(file))])
            let json = try! EAddressMessages.encode(header)
            let parts = [MessagePart(contentId: "h", mimeType: "application/json", file: StoredFile(path: "", size: Int64(json.count), sha256: ""), bytes: json),
                         MessagePart(contentId: "f", mimeType: "text/plain", file: StoredFile(path: "", size: 1, sha256: CarrierScene.sha256(file)),
                                     bytes: Data(file))]
            do {
                _ = try DocumentHeaderCheck.header(of: parts, carrier: .init { $0 == "documentId" ? id : nil })
                return "accepted"
            } catch let p as DocumentHeaderProblem {
                XCTAssertEqual(p.ebmsError.code, .other, p.description)
                return p.description
            } catch {
                return "\(error)"
            }
        }
        XCTAssertEqual(problem(), "accepted")
        XCTAssertEqual(problem(id: "doc[1]+ā;x:y@gw-a"), "accepted")
        XCTAssertTrue(problem(id: "weird/id?x#y").hasPrefix("the document header's documentId contains \"/\""), problem(id: "weird/id?x#y"))
        XCTAssertTrue(problem(id: "16117519997 x").contains("contains U+0020"), problem(id: "16117519997 x"))
        XCTAssertFalse(problem(id: "16117519997 x").contains("16117519997"), "the id is never quoted")

        let full = CarrierScene.metadata(["documentKind": "decision", "referenceNumber": "1-2/7", "deliveryBy": "2026-12-31T12:00:00Z",
                                          "notifyOnDelivery": true, "idempotencyKey": "dms-4711"])
        XCTAssertEqual(problem(metadata: full), "accepted")
        XCTAssertEqual(problem(metadata: "not json at all"), "the document header's metadata is not acceptable: it is not a JSON object")
        XCTAssertEqual(problem(metadata: "[1]"), "the document header's metadata is not acceptable: it is not a JSON object")
        let odd = problem(metadata: CarrierScene.metadata(["foo": ["bar": [1, 2]], "notifyOnDelivery": "yes"]))
        XCTAssertTrue(odd.hasPrefix("the document header's metadata is not acceptable: /foo unknown field"), odd)
        XCTAssertTrue(odd.hasSuffix("; /notifyOnDelivery must be true or false"), odd)
        XCTAssertTrue(problem(metadata: CarrierScene.metadata(["uploads": ["u1"]])).contains("/uploads unknown field"), "spent at the sender")
        let long = problem(metadata: CarrierScene.metadata(["subject": "a" + String(repeating: "\u{0301}", count: 1000)]))
        XCTAssertTrue(long.hasSuffix(": /subject longer than 1000 characters (Unicode code points)"), long)
        let unsubjected = problem(metadata: #"{"sender": "DVS@90000048472", "recipients": ["_PRIVATE@16117519997"]}"#)
        XCTAssertTrue(unsubjected.hasSuffix(": /subject required"), unsubjected)
        let bareCode = problem(metadata: CarrierScene.metadata(["recipients": ["16117519997"]]))
        XCTAssertTrue(bareCode.hasSuffix(": /recipients/0 is not acceptable"), bareCode)
    }

    /// End to end: B refuses such documents before its receipt (gw-a's message Failed with
    /// EBMS:0004, nothing stored at B), and a document whose id needs escaping in a URL is read,
    /// downloaded and answered through the hrefs B's API gives; its metadata is served as sent.
    func testADocumentIdOrMetadataOutsideTheRulesIsRefusedBeforeTheReceiptAndAnyOtherIdIsServed() throws {
        let scene = try CarrierScene()
        let text = Array("Lēmums Nr. 9".utf8)
        struct Refusal { var id: String; var metadata: String; var says: String }
        let refusals = [
            Refusal(id: "weird/id?x#y", metadata: CarrierScene.metadata(), says: "documentId contains \"/\""),
            Refusal(id: "percent%2F", metadata: CarrierScene.metadata(), says: "documentId contains \"%\""),
            Refusal(id: "with space", metadata: CarrierScene.metadata(), says: "documentId contains U+0020"),
            Refusal(id: "odd-metadata", metadata: CarrierScene.metadata(["foo": ["bar": [1, 2]], "notifyOnDelivery": "yes"]),
                    says: "metadata is not acceptable: /foo unknown field"),
            Refusal(id: "no-json-metadata", metadata: "not json at all", says: "metadata is not acceptable: it is not a JSON object"),
        ]
        var sent: [String] = []
        for (i, r) in refusals.enumerated() {
            var header = CarrierScene.header(r.id, files: [text])
            header.metadata = r.metadata
            sent.append(try scene.carry("refused-\(i)", header: Array(try EAddressMessages.encode(header)), properties: CarrierScene.properties(r.id), files: [text]))
        }
        let id = "doc[1]+ā;x:y@gw-a"
        let metadata = CarrierScene.metadata(["documentKind": "decision", "deliveryBy": "2026-12-31T12:00:00Z", "notifyOnDelivery": true])
        var header = CarrierScene.header(id, files: [text])
        header.metadata = metadata
        let good = try scene.carry("good", header: Array(try EAddressMessages.encode(header)), properties: CarrierScene.properties(id), files: [text])

        for (r, as4Id) in zip(refusals, sent) {
            let m = try scene.settled(as4Id)
            XCTAssertEqual(m.status, .failed, r.id)
            XCTAssertEqual(m.outbound?.lastError?.code, "EBMS:0004", "\(r.id): \(String(describing: m.outbound?.lastError))")
            XCTAssertTrue(m.outbound?.lastError?.reason.contains(r.says) ?? false, "\(r.id): \(String(describing: m.outbound?.lastError))")
            XCTAssertNil(try scene.h.message("gw-b", as4Id, .inbound), "\(r.id): nothing stored at B")
        }
        XCTAssertEqual(try scene.settled(good).status, .delivered)
        try scene.h.waitUntil(timeout: 30, "the document in the person's mailbox") { try scene.inbox(CarrierScene.person) == [id] }

        let item = try XCTUnwrap((try scene.mailboxes.get("/api/v1/inbox?address=\(CarrierScene.person)").json["items"] as? [[String: Any]])?.first)
        let href = try XCTUnwrap((item["files"] as? [[String: Any]])?.first?["href"] as? String)
        XCTAssertEqual(href, "/api/v1/messages/doc%5B1%5D%2B%C4%81;x:y@gw-a/files/1")
        let download = try scene.mailboxes.get(href)
        XCTAssertEqual(download.status, 200, download.text)
        XCTAssertEqual(download.body, text)
        let path = String(href.dropLast("/files/1".count))
        let shown = try scene.mailboxes.get(path)
        XCTAssertEqual(shown.status, 200, shown.text)
        XCTAssertEqual(shown.json["messageId"] as? String, id)
        let served = try XCTUnwrap(shown.json["metadata"] as? [String: Any])
        let sentMetadata = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(metadata.utf8)) as? [String: Any])
        XCTAssertEqual(served as NSDictionary, sentMetadata as NSDictionary)
        let answered = try scene.mailboxes.post(path + "/confirm", json: "{\"decision\": \"accept\"}")
        XCTAssertEqual(answered.status, 200, answered.text)
        XCTAssertEqual(answered.json["status"] as? String, "RecipientAccepted")
        XCTAssertFalse(scene.h.nodes["gw-b"]!.log.contains("document-intake-refused"))
        try scene.assertNoPersonalCodeLogged()
    }

    /// A pulled document takes the same receive path: B, pulling, refuses one whose file differs
    /// from its header before the receipt and pushes the error back, so A's message ends Failed
    /// with EBMS:0003; a good one is pulled, receipted and placed in the mailbox.
    func testAPulledDocumentWhoseFileDiffersFromItsHeaderIsRefusedBeforeTheReceipt() throws {
        let scene = try CarrierScene(pulled: true)
        let text = Array("Lēmums Nr. 8".utf8)
        var header = CarrierScene.header("doc-pulled-bad", files: [text])
        header.files[0].sha256 = CarrierScene.sha256(Array("something else".utf8))
        let bad = try scene.carry("doc-pulled-bad", header: Array(try EAddressMessages.encode(header)),
                                  properties: CarrierScene.properties("doc-pulled-bad"), files: [text])
        let good = try scene.carry("doc-pulled-good", header: Array(try EAddressMessages.encode(CarrierScene.header("doc-pulled-good", files: [text]))),
                                   properties: CarrierScene.properties("doc-pulled-good"), files: [text])
        XCTAssertNotNil(try scene.h.message("gw-a", bad, .outbound)?.outbound?.pullMPC, "held for pulling")

        let refused = try scene.settled(bad)
        XCTAssertEqual(refused.status, .failed)
        XCTAssertEqual(refused.outbound?.lastError?.code, "EBMS:0003", "\(String(describing: refused.outbound?.lastError))")
        let reason = refused.outbound?.lastError?.reason ?? ""
        XCTAssertTrue(reason.contains("file 1 of 1") && reason.contains("SHA-256 \(header.files[0].sha256.prefix(12))…"), reason)
        XCTAssertNil(try scene.h.message("gw-b", bad, .inbound), "nothing stored at B")
        XCTAssertEqual(try scene.settled(good).status, .delivered)
        try scene.h.waitUntil(timeout: 30, "the good document in the person's mailbox") { try scene.inbox(CarrierScene.person) == ["doc-pulled-good"] }
        XCTAssertFalse(scene.h.nodes["gw-b"]!.log.contains("document-intake-refused"))
        try scene.assertNoPersonalCodeLogged()
    }
}

import AS4Crypto
import Foundation
import MessageStore
import XCTest

/// A DMS at gateway A sends through the backend API to addresses whose mailboxes are on hub B;
/// the recipients' DMSs read and answer there; A's DMS follows every step. Real processes.
final class BackendAPIExchangeTests: XCTestCase {
    static let sender = "DVS@90000048472"
    static let company = "_DEFAULT@40003032949"
    static let institution = "_DEFAULT@90000048472"

    func testDocumentToTwoMailboxesOnAHubIsReadAcceptedAndRejectedWithReceiptsAtTheSender() throws {
        let h = try GatewayHarness()
        try h.configure(["gw-a", "gw-b"], legs: GatewayHarness.eAddressLegs)
        try h.importDirectory("gw-a", [h.remoteEntry(Self.company, ownerId: "40003032949", kind: "company", party: "gw-b"),
                                       h.remoteEntry(Self.institution, ownerId: "90000048472", kind: "institution", party: "gw-b")])
        try h.importDirectory("gw-b", [GatewayHarness.localEntry(Self.company, ownerId: "40003032949", kind: "company"),
                                       GatewayHarness.localEntry(Self.institution, ownerId: "90000048472", kind: "institution")])
        let dmsA = try BackendClient(port: h.nodes["gw-a"]!.submitPort, token: try h.addConnection("gw-a", name: "dms-a", addresses: [Self.sender]))
        let dmsCompany = try BackendClient(port: h.nodes["gw-b"]!.submitPort, token: try h.addConnection("gw-b", name: "company", addresses: [Self.company]))
        let dmsInstitution = try BackendClient(port: h.nodes["gw-b"]!.submitPort,
                                               token: try h.addConnection("gw-b", name: "institution", addresses: [Self.institution]))
        try h.start("gw-a")
        try h.start("gw-b")

        let document = Array("<lemums>Nr. 7</lemums>".utf8)
        let sent = try dmsA.submit(metadata: BackendClient.metadata(from: Self.sender, to: [Self.company, Self.institution]),
                                   files: [("lemums.xml", document), ("pielikums.txt", Array("pielikums".utf8))])
        XCTAssertEqual(sent.status, 202, sent.text)
        let id = try XCTUnwrap(sent.json["messageId"] as? String)
        XCTAssertEqual((sent.json["recipients"] as? [[String: Any]])?.map { $0["route"] as? String }, ["remoteAccessPoint", "remoteAccessPoint"])

        // Both AS4 messages receipted by B: Accepted at A.
        func statuses() throws -> [String: String] {
            let r = try dmsA.get("/api/v1/messages/\(id)")
            XCTAssertEqual(r.status, 200, r.text)
            return Dictionary(uniqueKeysWithValues: ((r.json["recipients"] as? [[String: Any]]) ?? []).map { ($0["address"] as! String, $0["status"] as! String) })
        }
        try h.waitUntil(timeout: 30, "Accepted for both recipients at A") { try statuses().values.allSatisfy { $0 == "Accepted" } }

        // The company reads its mailbox at B, takes the file and accepts.
        var inbox = try dmsCompany.get("/api/v1/inbox?address=\(Self.company)")
        try h.waitUntil(timeout: 30, "the document in the company's mailbox") {
            inbox = try dmsCompany.get("/api/v1/inbox?address=\(Self.company)")
            return (inbox.json["items"] as? [[String: Any]])?.count == 1
        }
        let item = try XCTUnwrap((inbox.json["items"] as? [[String: Any]])?.first)
        XCTAssertEqual(item["messageId"] as? String, id)
        XCTAssertEqual(item["sender"] as? String, Self.sender)
        XCTAssertEqual((item["metadata"] as? [String: Any])?["subject"] as? String, "Lēmums Nr. 7")
        let file = try dmsCompany.get("/api/v1/messages/\(id)/files/1")
        XCTAssertEqual(file.status, 200)
        XCTAssertEqual(file.body, document)
        // RFC 9530's Repr-Digest, as uploads' Content-Digest; RFC 3230's Digest until the next release.
        let digest = Data(try Digest.sha256(document)).base64EncodedString()
        XCTAssertEqual(file.headers.first { $0.0.lowercased() == "repr-digest" }?.1, "sha-256=:\(digest):")
        XCTAssertEqual(file.headers.first { $0.0.lowercased() == "digest" }?.1, "sha-256=\(digest)")
        XCTAssertEqual(try dmsCompany.get("/api/v1/messages/\(id)/files/3").status, 404)
        let accept = try dmsCompany.post("/api/v1/messages/\(id)/confirm", json: "{\"decision\": \"accept\", \"code\": \"OK\"}")
        XCTAssertEqual(accept.status, 200, accept.text)
        let again = try dmsCompany.post("/api/v1/messages/\(id)/confirm", json: "{\"decision\": \"reject\", \"reason\": \"changed my mind\"}")
        XCTAssertEqual(again.status, 409, again.text)
        XCTAssertEqual(again.contentType, "application/problem+json")
        // The company sees only its own recipient, never the institution's.
        let companyView = try dmsCompany.get("/api/v1/messages/\(id)")
        XCTAssertEqual((companyView.json["recipients"] as? [[String: Any]])?.compactMap { $0["address"] as? String }, [Self.company])

        // The institution rejects without fetching anything: a reason is required, and answering
        // is reading (recorded first, at the answer's moment).
        let noReason = try dmsInstitution.post("/api/v1/messages/\(id)/confirm", json: "{\"decision\": \"reject\"}")
        XCTAssertEqual(noReason.status, 422, noReason.text)
        XCTAssertEqual(try dmsInstitution.post("/api/v1/messages/\(id)/confirm", json: "{\"decision\": \"reject\", \"code\": \"WRONG-ADDRESSEE\", \"reason\": \"not ours\"}").status, 200)

        // At A: RecipientAccepted and RecipientRejected, each with its history, and the receipts.
        try h.waitUntil(timeout: 30, "the answers at A") { try statuses() == [Self.company: "RecipientAccepted", Self.institution: "RecipientRejected"] }
        let view = try dmsA.get("/api/v1/messages/\(id)").json
        let company = try XCTUnwrap((view["recipients"] as? [[String: Any]])?.first { $0["address"] as? String == Self.company })
        XCTAssertEqual((company["events"] as? [[String: Any]])?.compactMap { $0["status"] as? String }, ["Submitted", "Accepted", "Delivered", "RecipientAccepted"])
        let institution = try XCTUnwrap((view["recipients"] as? [[String: Any]])?.first { $0["address"] as? String == Self.institution })
        XCTAssertEqual((institution["decision"] as? [String: Any])?["code"] as? String, "WRONG-ADDRESSEE")
        XCTAssertEqual((institution["events"] as? [[String: Any]])?.compactMap { $0["status"] as? String },
                       ["Submitted", "Accepted", "Delivered", "RecipientRejected"], "\(institution)")
        XCTAssertNotNil(institution["retrievedAt"] as? String, "the reading B recorded with the answer: \(institution)")
        let atB = try dmsInstitution.get("/api/v1/messages/\(id)").json
        let atBInstitution = try XCTUnwrap((atB["recipients"] as? [[String: Any]])?.first)
        XCTAssertEqual(atBInstitution["retrievedAt"] as? String, (atBInstitution["decision"] as? [String: Any])?["at"] as? String,
                       "read at the moment of the answer: \(atBInstitution)")
        XCTAssertEqual((atBInstitution["events"] as? [[String: Any]])?.compactMap { $0["status"] as? String }, ["Accepted", "Delivered", "RecipientRejected"])
        let receipt = try dmsA.get("/api/v1/messages/\(id)/receipt")
        XCTAssertEqual(receipt.status, 200, receipt.text)
        XCTAssertEqual(receipt.json["sent"] as? Bool, true, receipt.text)
        for r in (receipt.json["recipients"] as? [[String: Any]]) ?? [] {
            XCTAssertEqual((r["verification"] as? [String: Any])?["valid"] as? Bool, true, "\(r)")
            let xml = String(decoding: Data(base64Encoded: ((r["receipt"] as? [String: Any])?["base64"] as? String) ?? "") ?? Data(), as: UTF8.self)
            XCTAssertTrue(xml.contains("Receipt"), xml)
        }
        XCTAssertNotNil((receipt.json["statement"] as? String)?.range(of: "signed AS4 receipt"))
        // Recipients never read the sender's receipts.
        XCTAssertEqual(try dmsCompany.get("/api/v1/messages/\(id)/receipt").status, 403)

        // Each step is a log line where it happens: the reading and the answers at B (naming the
        // AS4 message that brought the document), the reports applied at A.
        let logB = h.nodes["gw-b"]!.log.split(separator: "\n")
        func line(_ lines: [Substring], _ parts: String...) -> Bool { lines.contains { l in parts.allSatisfy { l.contains($0) } } }
        let storeA = try h.store("gw-a")
        let carriers = try storeA.listMessages(status: nil, since: nil, direction: .outbound, limit: 10)
            .filter { $0.metadata.action == "EAddressDocument" }.map(\.metadata.messageId)
        storeA.close()
        XCTAssertEqual(carriers.count, 2)
        XCTAssertTrue(line(logB, "event=document-read", "document_id=\(id)", "status=Delivered", "recipient=\(Self.company)", "connection=company", "from=gw-a"),
                      h.nodes["gw-b"]!.log)
        XCTAssertTrue(logB.contains { l in l.contains("event=document-read") && carriers.contains { l.contains("message_id=\($0)") } }, "\(carriers) \(logB)")
        XCTAssertTrue(line(logB, "event=document-answered", "document_id=\(id)", "status=RecipientAccepted", "recipient=\(Self.company)"), h.nodes["gw-b"]!.log)
        XCTAssertTrue(line(logB, "event=document-answered", "status=RecipientRejected", "recipient=\(Self.institution)", "reason=\"WRONG-ADDRESSEE: not ours\""),
                      h.nodes["gw-b"]!.log)
        // A logs each report after its store takes it, which is what the statuses above showed:
        // the lines are waited for, not read at once.
        let applied = [(Self.company, "Delivered"), (Self.company, "RecipientAccepted"), (Self.institution, "RecipientRejected")]
        try? h.waitUntil(timeout: 30, "A to log the reports applied") {
            let lines = h.nodes["gw-a"]!.log.split(separator: "\n")
            return applied.allSatisfy { line(lines, "event=status-report-applied", "document_id=\(id)", "recipient=\($0.0)", "status=\($0.1)") }
        }
        let atA = h.nodes["gw-a"]!.log.split(separator: "\n")
        for (recipient, status) in applied {
            XCTAssertTrue(line(atA, "event=status-report-applied", "document_id=\(id)", "recipient=\(recipient)", "status=\(status)", "from=gw-b", "ref_to="),
                          "\(recipient) \(status): \(h.nodes["gw-a"]!.log)")
        }

        // A's notifications in order, confirmed away.
        let feed = try dmsA.get("/api/v1/notifications")
        let kinds = ((feed.json["items"] as? [[String: Any]]) ?? []).map { "\($0["kind"] as! String) \($0["recipient"] as! String)" }
        XCTAssertEqual(Set(kinds), ["accepted \(Self.company)", "accepted \(Self.institution)", "delivered \(Self.company)",
                                    "delivered \(Self.institution)", "recipientAccepted \(Self.company)", "recipientRejected \(Self.institution)"],
                       "\(kinds)")
        XCTAssertLessThan(kinds.firstIndex(of: "accepted \(Self.company)")!, kinds.firstIndex(of: "recipientAccepted \(Self.company)")!)
        let last = try XCTUnwrap(((feed.json["items"] as? [[String: Any]])?.last?["id"] as? NSNumber)?.int64Value)
        XCTAssertEqual(try dmsA.post("/api/v1/notifications/confirm", json: "{\"upTo\": \(last)}").status, 204)
        XCTAssertEqual((try dmsA.get("/api/v1/notifications").json["items"] as? [Any])?.count, 0)
        // The company's feed announced the new message.
        let companyFeed = try dmsCompany.get("/api/v1/notifications")
        XCTAssertEqual(((companyFeed.json["items"] as? [[String: Any]]) ?? []).map { $0["kind"] as? String }, ["newMessage"])
    }
}

/// Hub mode: gateway B serves neither recipient's mailbox; it forwards one to C (whose DMS reads
/// and accepts, the news travelling back through B to A) and reports the other, unknown to it,
/// as Failed.
final class BackendAPIHubTests: XCTestCase {
    func testHubForwardsToTheServingAccessPointAndRelaysTheAnswers() throws {
        let sender = "DVS@90000048472", served = "_DEFAULT@40003032949", unknown = "_DEFAULT@90000048472"
        let h = try GatewayHarness()
        try h.configure(["gw-a", "gw-b", "gw-c"], legs: GatewayHarness.eAddressLegs)
        try h.importDirectory("gw-a", [h.remoteEntry(served, ownerId: "40003032949", kind: "company", party: "gw-b"),
                                       h.remoteEntry(unknown, ownerId: "90000048472", kind: "institution", party: "gw-b")])
        try h.importDirectory("gw-b", [h.remoteEntry(served, ownerId: "40003032949", kind: "company", party: "gw-c")])
        try h.importDirectory("gw-c", [GatewayHarness.localEntry(served, ownerId: "40003032949", kind: "company")])
        let dmsA = try BackendClient(port: h.nodes["gw-a"]!.submitPort, token: try h.addConnection("gw-a", name: "dms-a", addresses: [sender]))
        let dmsC = try BackendClient(port: h.nodes["gw-c"]!.submitPort, token: try h.addConnection("gw-c", name: "dms-c", addresses: [served]))
        for node in ["gw-a", "gw-b", "gw-c"] { try h.start(node) }

        let sent = try dmsA.submit(metadata: BackendClient.metadata(from: sender, to: [served, unknown]), files: [("x.txt", Array("via hub".utf8))])
        XCTAssertEqual(sent.status, 202, sent.text)
        let id = try XCTUnwrap(sent.json["messageId"] as? String)
        func statuses() throws -> [String: String] {
            let list = (try dmsA.get("/api/v1/messages/\(id)").json["recipients"] as? [[String: Any]]) ?? []
            return Dictionary(uniqueKeysWithValues: list.map { ($0["address"] as! String, $0["status"] as! String) })
        }
        try h.waitUntil(timeout: 30, "the unknown recipient reported Failed by the hub") { try statuses()[unknown] == "Failed" }
        var inbox: [[String: Any]] = []
        try h.waitUntil(timeout: 30, "the document in the mailbox at C") {
            inbox = (try dmsC.get("/api/v1/inbox?address=\(served)").json["items"] as? [[String: Any]]) ?? []
            return !inbox.isEmpty
        }
        XCTAssertEqual(inbox.first?["messageId"] as? String, id)
        XCTAssertEqual(inbox.first?["sender"] as? String, sender)
        // The hub forwarded it naming only the recipient C serves: C never learns of the other.
        let atC = try SQLiteMailboxStore(dataDirectory: h.nodes["gw-c"]!.data)
        defer { atC.close() }
        let metadataAtC = try XCTUnwrap(try atC.document(messageId: id)).metadata
        XCTAssertEqual((try JSONSerialization.jsonObject(with: Data(metadataAtC.utf8)) as? [String: Any])?["recipients"] as? [String], [served], metadataAtC)
        XCTAssertEqual(try dmsC.get("/api/v1/messages/\(id)/files/1").body, Array("via hub".utf8))
        XCTAssertEqual(try dmsC.post("/api/v1/messages/\(id)/confirm", json: "{\"decision\": \"accept\"}").status, 200)
        try h.waitUntil(timeout: 30, "the answer relayed to A") { try statuses()[served] == "RecipientAccepted" }
        let view = try dmsA.get("/api/v1/messages/\(id)").json
        let servedView = try XCTUnwrap((view["recipients"] as? [[String: Any]])?.first { $0["address"] as? String == served })
        XCTAssertEqual((servedView["events"] as? [[String: Any]])?.compactMap { $0["status"] as? String },
                       ["Submitted", "Accepted", "Delivered", "RecipientAccepted"])
        let unknownView = try XCTUnwrap((view["recipients"] as? [[String: Any]])?.first { $0["address"] as? String == unknown })
        XCTAssertTrue(((unknownView["events"] as? [[String: Any]])?.last?["detail"] as? String ?? "").contains("not in the e-address directory"), "\(unknownView)")
        // The hub's receipt for the AS4 message is valid, but it refused the recipient: not sent,
        // nobody deemed notified (the served recipient is).
        XCTAssertEqual(unknownView["sent"] as? Bool, false, "\(unknownView)")
        XCTAssertTrue(unknownView["deemedNotifiedOn"] is NSNull, "\(unknownView)")
        XCTAssertTrue((unknownView["sentStatement"] as? String ?? "").contains("Not sent: \(unknown) is Failed ("), "\(unknownView)")
        XCTAssertEqual(servedView["sent"] as? Bool, true, "\(servedView)")
        let receipts = try dmsA.get("/api/v1/messages/\(id)/receipt").json
        XCTAssertEqual(receipts["sent"] as? Bool, false)
        let unknownReceipt = try XCTUnwrap((receipts["recipients"] as? [[String: Any]])?.first { $0["address"] as? String == unknown })
        XCTAssertEqual(unknownReceipt["sent"] as? Bool, false, "\(unknownReceipt)")
        XCTAssertEqual((unknownReceipt["verification"] as? [String: Any])?["valid"] as? Bool, true, "\(unknownReceipt)")
        let servedReceipt = try XCTUnwrap((receipts["recipients"] as? [[String: Any]])?.first { $0["address"] as? String == served })
        XCTAssertEqual(servedReceipt["sent"] as? Bool, true, "\(servedReceipt)")
        let evidence = String(decoding: try dmsA.get("/api/v1/messages/\(id)/evidence").body, as: UTF8.self)
        let unknownElement = try XCTUnwrap(evidence.range(of: "address=\"\(unknown)\"").map { String(evidence[$0.lowerBound...].prefix { $0 != ">" }) }, evidence)
        XCTAssertTrue(unknownElement.contains("sent=\"false\""), unknownElement)
        XCTAssertFalse(unknownElement.contains("deemedNotifiedOn="), unknownElement)
    }
}

/// A receiving gateway that cannot answer (no P-Mode for status reports back) logs that and goes
/// on: later documents still reach their mailboxes.
final class BackendAPIUnansweredTests: XCTestCase {
    func testAnUnanswerableRefusalDoesNotBlockLaterDocuments() throws {
        let sender = "DVS@90000048472", known = "_DEFAULT@40003032949", unknown = "_DEFAULT@90000048472"
        let h = try GatewayHarness()
        try h.configure(["gw-a", "gw-b"], legs: GatewayHarness.eAddressLegs)
        try h.start("gw-a")  // writes the development PKI both directories share
        let bDir = h.root.appendingPathComponent("pmode-b").path
        try FileManager.default.createDirectory(atPath: bDir, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: h.pmodeDirectory + "/certs", toPath: bDir + "/certs")
        try h.configure(["gw-a", "gw-b"], legs: [.init(), .init(action: "EAddressDocument")], directory: bDir)
        try h.importDirectory("gw-a", [h.remoteEntry(known, ownerId: "40003032949", kind: "company", party: "gw-b"),
                                       h.remoteEntry(unknown, ownerId: "90000048472", kind: "institution", party: "gw-b")])
        try h.importDirectory("gw-b", [GatewayHarness.localEntry(known, ownerId: "40003032949", kind: "company")])
        let dmsA = try BackendClient(port: h.nodes["gw-a"]!.submitPort, token: try h.addConnection("gw-a", name: "a", addresses: [sender]))
        let dmsB = try BackendClient(port: h.nodes["gw-b"]!.submitPort, token: try h.addConnection("gw-b", name: "b", addresses: [known]))
        try h.start("gw-b", pmode: bDir)

        XCTAssertEqual(try dmsA.submit(metadata: BackendClient.metadata(from: sender, to: [unknown]), files: [("1.txt", [1])]).status, 202)
        try h.waitUntil(timeout: 30, "gw-b to log the refusal it cannot send") { h.nodes["gw-b"]!.log.contains("event=document-intake-unanswered") }
        let later = try dmsA.submit(metadata: BackendClient.metadata(from: sender, to: [known]), files: [("2.txt", [2])])
        let id = try XCTUnwrap(later.json["messageId"] as? String, later.text)
        try h.waitUntil(timeout: 30, "the later document in its mailbox") {
            ((try dmsB.get("/api/v1/inbox?address=\(known)").json["items"] as? [[String: Any]]) ?? []).contains { $0["messageId"] as? String == id }
        }
    }
}

/// Legal proof outlives the receiver's certificate: a receipt is judged as of when it arrived, so
/// a document stays sent (status, receipt route, evidence bundle) after the signing certificate
/// of the receiving access point has expired.
final class BackendAPIExpiredReceiverCertificateTests: XCTestCase {
    func testADocumentStaysSentAfterTheReceiversSigningCertificateExpires() throws {
        let sender = "DVS@90000048472", company = "_DEFAULT@40003032949"
        let h = try GatewayHarness()
        try h.configure(["gw-a", "gw-b"], legs: GatewayHarness.eAddressLegs)
        try h.start("gw-a")  // writes the development PKI
        let certs = h.pmodeDirectory + "/certs"
        // gw-b signs with a certificate that expires a few seconds from now.
        let caKey = try PrivateKey(pemEncoded: try String(contentsOfFile: certs + "/dev-ca.key", encoding: .utf8))
        let ca = try CertificateAuthority(key: caKey, certificate: try Certificate(pemEncoded: try String(contentsOfFile: certs + "/dev-ca.pem", encoding: .utf8)))
        let key = try PrivateKey.generateRSA(bits: 2048)
        let expiresAt = Date() + 10
        let short = try ca.issueCertificate(for: key.publicKey, subject: .init(commonName: "gw-b signing, short-lived"),
                                            validFrom: Date() - 60, validUntil: expiresAt, keyUsage: [.digitalSignature, .nonRepudiation])
        try Data(try short.pemEncoded().utf8).write(to: URL(fileURLWithPath: certs + "/gw-b.signing-short.pem"))
        try Data(try key.pemEncoded().utf8).write(to: URL(fileURLWithPath: certs + "/gw-b.signing-short.key"))
        let parties = h.pmodeDirectory + "/parties.json"
        let text = try String(contentsOfFile: parties, encoding: .utf8)
        XCTAssertTrue(text.contains("\"signing\": [\"certs/gw-b.signing.pem\"]"))
        try text.replacingOccurrences(of: "\"signing\": [\"certs/gw-b.signing.pem\"]", with: "\"signing\": [\"certs/gw-b.signing-short.pem\"]")
            .write(toFile: parties, atomically: true, encoding: .utf8)
        let config = try h.configWithSigningKey("gw-b", key: certs + "/gw-b.signing-short.key", certificate: certs + "/gw-b.signing-short.pem",
                                                file: "b-short.json")
        h.nodes["gw-b"]!.extraArguments = ["--config", config]
        h.stop("gw-a")  // to read the changed parties.json
        let dms = try h.companyMailboxOnB(company, ownerId: "40003032949", dmsOf: sender)

        let sent = try dms.submit(metadata: BackendClient.metadata(from: sender, to: [company]), files: [("x.txt", Array("proof".utf8))])
        XCTAssertEqual(sent.status, 202, sent.text)
        let id = try XCTUnwrap(sent.json["messageId"] as? String)
        func recipient() throws -> [String: Any] { try dms.recipient(of: id) }
        try h.waitUntil(timeout: 30, "the receipt held") { try recipient()["status"] as? String == "Accepted" }
        let first = try recipient()
        XCTAssertEqual(first["sent"] as? Bool, true, "\(first)")
        let deemed = first["deemedNotifiedOn"] as? String
        XCTAssertNotNil(deemed)

        Thread.sleep(forTimeInterval: max(0, expiresAt.timeIntervalSinceNow) + 1)
        let later = try recipient()
        XCTAssertEqual(later["sent"] as? Bool, true, "\(later)")
        XCTAssertEqual(later["deemedNotifiedOn"] as? String, deemed)
        let receipts = try dms.get("/api/v1/messages/\(id)/receipt").json
        XCTAssertEqual(receipts["sent"] as? Bool, true, "\(receipts)")
        let bundle = h.root.appendingPathComponent("evidence.xml").path
        try Data(try dms.get("/api/v1/messages/\(id)/evidence").body).write(to: URL(fileURLWithPath: bundle))
        let check = try GatewayProcess.run(["evidence", "verify", bundle, "--truststore", certs + "/dev-ca.pem"])
        XCTAssertEqual(check.status, 0, check.stderr + check.stdout)
        XCTAssertTrue(check.stdout.contains("1 receipts verified"), check.stdout)
        XCTAssertTrue(check.stdout.contains("\(company): sent"), check.stdout)
    }
}

/// Under an agreement without signing the document is delivered (a reception-awareness receipt),
/// but nothing proves it was sent: no signed receipt, no deemed notification.
final class BackendAPIUnsignedAgreementTests: XCTestCase {
    func testAnUnsignedReceiptDeliversButProvesNothing() throws {
        let sender = "DVS@90000048472", company = "_DEFAULT@40003032949"
        let h = try GatewayHarness()
        try h.configure(["gw-a", "gw-b"], legs: GatewayHarness.eAddressLegs.map { var leg = $0; leg.sign = false; leg.encrypt = false; return leg })
        let dms = try h.companyMailboxOnB(company, ownerId: "40003032949", dmsOf: sender)
        let sent = try dms.submit(metadata: BackendClient.metadata(from: sender, to: [company]), files: [("u.txt", Array("unsigned".utf8))])
        let id = try XCTUnwrap(sent.json["messageId"] as? String, sent.text)
        func recipient() throws -> [String: Any] { try dms.recipient(of: id) }
        try h.waitUntil(timeout: 30, "the document accepted") { try recipient()["status"] as? String == "Accepted" }
        let view = try recipient()
        XCTAssertEqual(view["sent"] as? Bool, false, "\(view)")
        XCTAssertTrue(view["deemedNotifiedOn"] is NSNull, "\(view)")
        XCTAssertTrue((view["sentStatement"] as? String ?? "").contains("not proof of sending"), "\(view)")
    }
}

/// Personal codes are personal data the log has no need of: a person's address appears in every
/// log line with its code replaced by the same pseudonym, also inside reasons.
final class LogPseudonymTests: XCTestCase {
    func testNoLogLineCarriesAPersonalCode() throws {
        let sender = "DVS@90000048472", person = "_PRIVATE@16117519997"
        let h = try GatewayHarness()
        try h.configure(["gw-a", "gw-b"], legs: GatewayHarness.eAddressLegs)
        let dms = try h.companyMailboxOnB(person, ownerId: "16117519997", dmsOf: sender, kind: "naturalPerson")
        // Written with the hyphen, as people write it.
        let sent = try dms.submit(metadata: BackendClient.metadata(from: sender, to: ["_PRIVATE@161175-19997"]), files: [("p.txt", Array("hi".utf8))])
        XCTAssertEqual(sent.status, 202, sent.text)
        let id = try XCTUnwrap(sent.json["messageId"] as? String)
        try h.waitUntil(timeout: 30, "accepted") { try dms.recipient(of: id)["status"] as? String == "Accepted" }
        // Accepted comes with B's receipt, before B's mailbox worker takes the document in and logs it.
        try h.waitUntil(timeout: 30, "B's mailbox delivery logged") { h.nodes["gw-b"]!.log.contains("event=mailbox-delivery") }
        // Refused for an unknown person: the reason names the address, masked.
        let refused = try dms.submit(metadata: BackendClient.metadata(from: sender, to: ["_PRIVATE@32123456789"]), files: [("p.txt", Array("hi".utf8))])
        XCTAssertEqual(refused.status, 422, refused.text)
        let logA = h.nodes["gw-a"]!.log, logB = h.nodes["gw-b"]!.log
        for code in ["16117519997", "161175-19997", "32123456789"] {
            XCTAssertFalse(logA.contains(code), "gw-a logs \(code)")
            XCTAssertFalse(logB.contains(code), "gw-b logs \(code)")
        }
        let delivery = try XCTUnwrap(logB.split(separator: "\n").first { $0.contains("event=mailbox-delivery") }, logB)
        let pseudonym = try XCTUnwrap(delivery.split(separator: " ").first { $0.hasPrefix("recipient=_PRIVATE@~") }, String(delivery))
        XCTAssertEqual(pseudonym.count, "recipient=_PRIVATE@~".count + 10, String(pseudonym))
        // The same person, the same pseudonym, after a restart too (the key is kept).
        h.stop("gw-b")
        try h.start("gw-b")
        let again = try dms.submit(metadata: BackendClient.metadata(from: sender, to: [person]), files: [("q.txt", Array("again".utf8))])
        let againId = try XCTUnwrap(again.json["messageId"] as? String, again.text)
        try h.waitUntil(timeout: 30, "accepted again") { try dms.recipient(of: againId)["status"] as? String == "Accepted" }
        try h.waitUntil(timeout: 30, "B's second mailbox delivery logged") {
            h.nodes["gw-b"]!.log.components(separatedBy: "event=mailbox-delivery").count - 1 >= 2
        }
        let deliveries = h.nodes["gw-b"]!.log.split(separator: "\n").filter { $0.contains("event=mailbox-delivery") }
        XCTAssertEqual(deliveries.count, 2)
        XCTAssertTrue(deliveries.allSatisfy { $0.contains(String(pseudonym)) }, deliveries.joined(separator: "\n"))
        let key = h.nodes["gw-b"]!.data + "/log-pseudonym.key"
        XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: key)[.posixPermissions] as? Int, 0o600)
    }
}

/// A hub that cannot encrypt to the access point serving a recipient (its only encryption
/// certificate has expired) cannot make the AS4 message: the recipient is Failed with the reason
/// and the sender told, not left Submitted and retried every minute.
final class BackendAPIUnqueueableTests: XCTestCase {
    func testAHubThatCannotSealForTheServingAccessPointReportsFailed() throws {
        let sender = "DVS@90000048472", served = "_DEFAULT@40003032949"
        let h = try GatewayHarness()
        try h.configure(["gw-a", "gw-b", "gw-c"], legs: GatewayHarness.eAddressLegs)
        // The development CA made here, so that gw-c's encryption certificate can be an expired one.
        let ca = try h.makeDevelopmentCA(validFrom: Date() - 86400 * 3)
        try h.issue(try PrivateKey.generateRSA(bits: 2048), by: ca, as: "gw-c.encryption", commonName: "gw-c encryption",
                    keyUsage: [.keyEncipherment], validFrom: Date() - 86400 * 2, validUntil: Date() - 86400)
        try h.importDirectory("gw-a", [h.remoteEntry(served, ownerId: "40003032949", kind: "company", party: "gw-b")])
        try h.importDirectory("gw-b", [h.remoteEntry(served, ownerId: "40003032949", kind: "company", party: "gw-c")])
        try h.importDirectory("gw-c", [GatewayHarness.localEntry(served, ownerId: "40003032949", kind: "company")])
        let dms = try BackendClient(port: h.nodes["gw-a"]!.submitPort, token: try h.addConnection("gw-a", name: "dms-a", addresses: [sender]))
        for node in ["gw-a", "gw-b", "gw-c"] { try h.start(node) }

        let sent = try dms.submit(metadata: BackendClient.metadata(from: sender, to: [served]), files: [("x.txt", Array("nowhere".utf8))])
        XCTAssertEqual(sent.status, 202, sent.text)
        let id = try XCTUnwrap(sent.json["messageId"] as? String)
        try h.waitUntil(timeout: 30, "the recipient reported Failed by the hub") { try dms.recipient(of: id)["status"] as? String == "Failed" }
        let events = try dms.recipient(of: id)["events"] as? [[String: Any]] ?? []
        XCTAssertTrue((events.last?["detail"] as? String ?? "").contains("no valid encryption certificate for gw-c"), "\(events)")
        // The hub logs after its store marks the recipient Failed, and the owed report may go
        // out from the mailbox worker before that line is written: waited for, not read at once.
        try? h.waitUntil(timeout: 30, "the hub to log the unqueueable document") { h.nodes["gw-b"]!.log.contains("event=document-unqueueable") }
        let hubLog = h.nodes["gw-b"]!.log
        XCTAssertTrue(hubLog.contains("event=document-unqueueable"), hubLog)
        XCTAssertFalse(hubLog.contains("event=document-requeue-failed"), hubLog)
    }
}

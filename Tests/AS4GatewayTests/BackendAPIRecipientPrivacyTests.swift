import Foundation
import MessageStore
import XCTest

/// Who learns which recipients of a document: the sender's connection all of them; a
/// recipient's connection those it holds (message view, inbox, evidence bundle); an access point
/// those it serves (the document header it receives). A person's address carries the personal
/// code, so a list shown to everyone would give every recipient the others' codes.
final class BackendAPIRecipientPrivacyTests: XCTestCase {
    static let sender = "DVS@90000048472"
    /// A company's mailbox on gw-a.
    static let local = "_DEFAULT@50003000001"
    /// A company and a person served by gw-b.
    static let company = "_DEFAULT@40003032949", person = "_PRIVATE@16117519997"

    func metadataRecipients(_ reply: BackendClient.Reply, file: StaticString = #filePath, line: UInt = #line) -> [String]? {
        XCTAssertEqual(reply.status, 200, reply.text, file: file, line: line)
        return (reply.json["metadata"] as? [String: Any])?["recipients"] as? [String]
    }

    func inboxRecipients(_ client: BackendClient, _ address: String) throws -> [[String]] {
        ((try client.get("/api/v1/inbox?address=\(address)").json["items"] as? [[String: Any]]) ?? []).map {
            ($0["metadata"] as? [String: Any])?["recipients"] as? [String] ?? []
        }
    }

    func testEachRecipientAndAccessPointLearnsOnlyOfTheRecipientsItHoldsOrServes() throws {
        let h = try GatewayHarness()
        try h.configure(["gw-a", "gw-b"], legs: GatewayHarness.eAddressLegs)
        try h.importDirectory("gw-a", [GatewayHarness.localEntry(Self.local, ownerId: "50003000001", kind: "company"),
                                       h.remoteEntry(Self.company, ownerId: "40003032949", kind: "company", party: "gw-b"),
                                       h.remoteEntry(Self.person, ownerId: "16117519997", kind: "naturalPerson", party: "gw-b")])
        try h.importDirectory("gw-b", [GatewayHarness.localEntry(Self.company, ownerId: "40003032949", kind: "company"),
                                       GatewayHarness.localEntry(Self.person, ownerId: "16117519997", kind: "naturalPerson")])
        let portA = h.nodes["gw-a"]!.submitPort, portB = h.nodes["gw-b"]!.submitPort
        let dms = try BackendClient(port: portA, token: try h.addConnection("gw-a", name: "ministry", addresses: [Self.sender]))
        let local = try BackendClient(port: portA, token: try h.addConnection("gw-a", name: "local", addresses: [Self.local]))
        let company = try BackendClient(port: portB, token: try h.addConnection("gw-b", name: "company", addresses: [Self.company]))
        let person = try BackendClient(port: portB, token: try h.addConnection("gw-b", name: "person", addresses: [Self.person]))
        try h.start("gw-a")
        try h.start("gw-b")

        // Stored in canonical spelling, whatever the DMS wrote.
        let sent = try dms.submit(metadata: BackendClient.metadata(from: Self.sender, to: [Self.local, "_default@40003032949", Self.person]),
                                  files: [("lemums.txt", Array("Lēmums".utf8))])
        XCTAssertEqual(sent.status, 202, sent.text)
        let id = try XCTUnwrap(sent.json["messageId"] as? String)
        let all = [Self.local, Self.company, Self.person]

        // The sender sees its whole list, in its message view and its bundle.
        XCTAssertEqual(metadataRecipients(try dms.get("/api/v1/messages/\(id)")), all)
        let senderBundle = try dms.get("/api/v1/messages/\(id)/evidence").text
        XCTAssertTrue(senderBundle.contains("<ev:Metadata>"), "the sender's metadata, whole and unmarked")
        for address in all { XCTAssertTrue(senderBundle.contains(address), "the sender's bundle names \(address)") }

        // The mailbox recipient here sees itself only: message view, inbox, evidence.
        XCTAssertEqual(metadataRecipients(try local.get("/api/v1/messages/\(id)")), [Self.local])
        XCTAssertEqual(try inboxRecipients(local, Self.local), [[Self.local]])
        let localView = try local.get("/api/v1/messages/\(id)").text + (try local.get("/api/v1/inbox?address=\(Self.local)").text)
        for other in ["16117519997", "40003032949"] { XCTAssertFalse(localView.contains(other), "\(other) shown to the local recipient: \(localView)") }
        let localBundle = try local.get("/api/v1/messages/\(id)/evidence")
        XCTAssertEqual(localBundle.status, 200, localBundle.text)
        XCTAssertTrue(localBundle.text.contains("<ev:Metadata view=\"recipient\">"), localBundle.text)
        for other in ["16117519997", "40003032949"] { XCTAssertFalse(localBundle.text.contains(other), "\(other) in the local recipient's bundle") }
        // Still sealed and verifiable as the gateway's evidence.
        let anchors = h.pmodeDirectory + "/certs/dev-ca.pem", sealer = h.pmodeDirectory + "/certs/gw-a.signing.pem"
        let verified = try GatewayProcess.run(["evidence", "verify", try h.file("local.xml", localBundle.body), "--truststore", anchors, "--sealer", sealer])
        XCTAssertEqual(verified.status, 0, verified.stderr + verified.stdout)

        // gw-b is told of the two recipients it serves, not of gw-a's mailbox: that is the
        // metadata it stores from the document header.
        for (client, address) in [(company, Self.company), (person, Self.person)] {
            try h.waitUntil(timeout: 30, "the document in \(address)'s mailbox at gw-b") { try inboxRecipients(client, address).count == 1 }
        }
        let stored = try SQLiteMailboxStore(dataDirectory: h.nodes["gw-b"]!.data)
        defer { stored.close() }
        let atB = try XCTUnwrap(try stored.document(messageId: id))
        let header = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(atB.metadata.utf8)) as? [String: Any])
        XCTAssertEqual(header["recipients"] as? [String], [Self.company, Self.person], atB.metadata)
        XCTAssertEqual(header["subject"] as? String, "Lēmums Nr. 7", "the rest of the metadata travels as it was")
        XCTAssertFalse(atB.metadata.contains(Self.local), atB.metadata)

        // …and each of its recipients sees itself only.
        XCTAssertEqual(metadataRecipients(try company.get("/api/v1/messages/\(id)")), [Self.company])
        XCTAssertEqual(try inboxRecipients(company, Self.company), [[Self.company]])
        XCTAssertEqual(metadataRecipients(try person.get("/api/v1/messages/\(id)")), [Self.person])
        let companyBundle = try company.get("/api/v1/messages/\(id)/evidence")
        XCTAssertEqual(companyBundle.status, 200, companyBundle.text)
        XCTAssertFalse(companyBundle.text.contains("16117519997"), "the person's code in the company's bundle")
        let verifiedAtB = try GatewayProcess.run(["evidence", "verify", try h.file("company.xml", companyBundle.body), "--truststore", anchors,
                                                  "--sealer", h.pmodeDirectory + "/certs/gw-b.signing.pem"])
        XCTAssertEqual(verifiedAtB.status, 0, verifiedAtB.stderr + verifiedAtB.stdout)
    }
}

@testable import AS4Gateway
import EnvelopeXML
import Foundation
import HTTPClient
import HTTPServer
import MessageStore
import XCTest

/// A party listed with several `partyIds` (PMODES.md allows it; a Domibus P-Mode's party with two
/// identifiers imports so) is named by one of them on the wire: eDelivery allows exactly one
/// eb:PartyId in eb:From and in eb:To (AS4-WIRE §1.3), phase4 refuses a message with more
/// (EBMS:0003, "More than one PartyId"), and so does our own receiver.
final class SentPartyIdTests: XCTestCase {
    var harness: GatewayHarness!
    var a: InProcessNode!
    var b: InProcessNode!

    override func tearDown() {
        a = nil
        b = nil
        harness = nil
        super.tearDown()
    }

    /// gw-a and gw-b each get a second id after their first, in parties.json.
    func start() throws {
        harness = try GatewayHarness()
        try harness.configure(["gw-a", "gw-b"])
        let file = harness.pmodeDirectory + "/parties.json"
        var parties = try String(contentsOfFile: file, encoding: .utf8)
        for name in ["gw-a", "gw-b"] {
            let first = "{\"value\": \"\(name)\", \"type\": \"urn:oasis:names:tc:ebcore:partyid-type:unregistered\"}"
            XCTAssertTrue(parties.contains(first))
            parties = parties.replacingOccurrences(of: first, with: first + ", {\"value\": \"0088:\(name)-gln\", \"type\": \"urn:oasis:names:tc:ebcore:partyid-type:iso6523\"}")
        }
        try parties.write(toFile: file, atomically: true, encoding: .utf8)
        a = try InProcessNode(harness, party: "gw-a")
        b = try InProcessNode(harness, party: "gw-b")
    }

    func testAMessageNamesEachPartyByItsFirstIdOnly() throws {
        try start()
        XCTAssertEqual(a.context.pmodes.party(named: "gw-b")?.partyIds.count, 2, "the set lists both ids")
        let id = try a.submit(to: "gw-b")
        let job = try a.claim()
        let sent = try job.messageBytes.map { [UInt8]($0) } ?? [UInt8](Data(contentsOf: URL(fileURLWithPath: job.messagePath)))
        let user = try XCTUnwrap(try AS4Message.read(try MessageInput.load(bytes: sent, contentType: job.contentType)).messaging.userMessage)
        XCTAssertEqual(user.from.ids.map(\.description), [PartyId("gw-a", type: "urn:oasis:names:tc:ebcore:partyid-type:unregistered").description])
        XCTAssertEqual(user.to.ids.map(\.description), [PartyId("gw-b", type: "urn:oasis:names:tc:ebcore:partyid-type:unregistered").description])

        // Our own receiver, strict as phase4 on this point, takes it and acknowledges it.
        let answer = b.post(InboundProcessor(context: b.context), path: "/as4", contentType: job.contentType, body: sent)
        XCTAssertEqual(answer.status, 200, String(decoding: answer.bodyBytes, as: UTF8.self))
        XCTAssertNotNil(try b.store.findMessage(id: id, direction: .inbound))
        // And gw-a takes gw-b's receipt for it.
        let judged = OutboundWorkers(context: a.context).judge(HTTPClientResponse(status: answer.status, headers: answer.headers.map { ($0.name, $0.value) },
                                                                                 body: answer.bodyBytes, elapsed: 0, newConnections: 0), job)
        if case .failure(let failure) = judged { XCTFail("gw-a refused the receipt: \(failure)") }
    }
}

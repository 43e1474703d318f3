@testable import AS4Gateway
import EnvelopeXML
import Foundation
import HTTPClient
import HTTPServer
import MessageStore
import WSSecurity
import XCTest

/// What we send, in the forms phase4 reads (its header checks are the strictest we met):
/// - a party listed with several `partyIds` (PMODES.md allows it; a Domibus P-Mode's party with
///   two identifiers imports so) is named by one of them on the wire: eDelivery allows exactly
///   one eb:PartyId in eb:From and in eb:To (AS4-WIRE §1.3), and phase4 refuses a message with
///   more (EBMS:0003, "More than one PartyId");
/// - a pull on the default MPC names it: phase4 resolves a PullRequest's `mpc` attribute without
///   ebMS3's default (its MPC manager's plain lookup, not the "or default" one its user-message
///   path uses) and answers a PullRequest without the attribute with EBMS:0001.
final class SentHeaderFormTests: XCTestCase {
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
    func startWithSecondIds() throws {
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
        try startWithSecondIds()
        XCTAssertEqual(a.context.pmodes.party(named: "gw-b")?.partyIds.count, 2, "the set lists both ids")
        let id = try a.submit(to: "gw-b")
        let job = try a.claim()
        let sent = try job.messageBytes.map { [UInt8]($0) } ?? [UInt8](Data(contentsOf: URL(fileURLWithPath: job.messagePath)))
        let user = try XCTUnwrap(try AS4Message.read(try MessageInput.load(bytes: sent, contentType: job.contentType)).messaging.userMessage)
        XCTAssertEqual(user.from.ids.map(\.description), [PartyId("gw-a", type: "urn:oasis:names:tc:ebcore:partyid-type:unregistered").description])
        XCTAssertEqual(user.to.ids.map(\.description), [PartyId("gw-b", type: "urn:oasis:names:tc:ebcore:partyid-type:unregistered").description])

        // Our own receiver takes it and acknowledges it.
        let answer = b.post(InboundProcessor(context: b.context), path: "/as4", contentType: job.contentType, body: sent)
        XCTAssertEqual(answer.status, 200, String(decoding: answer.bodyBytes, as: UTF8.self))
        XCTAssertNotNil(try b.store.findMessage(id: id, direction: .inbound))
        // And gw-a takes gw-b's receipt for it.
        let judged = OutboundWorkers(context: a.context).judge(HTTPClientResponse(status: answer.status, headers: answer.headers.map { ($0.name, $0.value) },
                                                                                 body: answer.bodyBytes, elapsed: 0, newConnections: 0), job)
        if case .failure(let failure) = judged { XCTFail("gw-a refused the receipt: \(failure)") }
    }

    func testAPullRequestOnTheDefaultMPCCarriesItsURI() throws {
        harness = try GatewayHarness()
        try harness.configure(["gw-a", "gw-b"], pull: [.init(mpc: EbmsConstants.defaultMPC)])
        a = try InProcessNode(harness, party: "gw-a")
        b = try InProcessNode(harness, party: "gw-b")
        let target = try XCTUnwrap(PullWorker(context: b.context).targets().first)
        XCTAssertEqual(target.mpc, EbmsConstants.defaultMPC)

        let signal = PullWorker.pullRequest(target, id: "\(UUID().uuidString)@gw-b")
        let envelope = try MessageSealer(signer: try b.context.signatureBuilder(for: target.security)).seal(signal: signal).envelope
        let soap = MultipartWriter.soapContentType
        let read = try AS4Message.read(try MessageInput.load(bytes: envelope, contentType: soap))
        guard case .pullRequest(let request) = read.messaging.signals.first?.kind else { return XCTFail("not a PullRequest") }
        XCTAssertEqual(request.mpc, EbmsConstants.defaultMPC, "the attribute is written, not left to the default")

        // The holder (as4gw, like Domibus and Holodeck) reads the named default as the default.
        let id = try a.submit(to: "gw-b", action: "Notify")
        let pulled = a.post(InboundProcessor(context: a.context), path: "/as4", contentType: soap, body: envelope)
        XCTAssertEqual(pulled.status, 200, String(decoding: pulled.bodyBytes, as: UTF8.self))
        let message = try AS4Message.read(try MessageInput.load(bytes: pulled.bodyBytes, contentType: pulled.headers["Content-Type"],
                                                                spoolDirectory: b.context.spoolDirectory))
        XCTAssertEqual(message.messaging.userMessage?.messageInfo.messageId, id)
    }
}

@testable import AS4Gateway
import EnvelopeXML
import Foundation
import HTTPServer
import MessageStore
import WSSecurity
import XCTest

/// A pull on the default MPC names it: phase4 resolves a PullRequest's `mpc` attribute without
/// ebMS3's default (its MPC manager's plain lookup, not the "or default" one its user-message
/// path uses) and answers a PullRequest without the attribute with EBMS:0001.
final class DefaultMPCPullRequestTests: XCTestCase {
    var harness: GatewayHarness!
    var a: InProcessNode!
    var b: InProcessNode!

    override func tearDown() {
        a = nil
        b = nil
        harness = nil
        super.tearDown()
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

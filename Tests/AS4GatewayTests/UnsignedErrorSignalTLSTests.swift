@testable import AS4Gateway
import AS4Crypto
import EnvelopeXML
import Foundation
import HTTPServer
import MessageStore
import WSSecurity
import XCTest

/// An error signal pushed to us about a message sent under an agreement without signing comes
/// unsigned; where the AS4 listener asks for TLS client certificates and the P-Modes list the
/// receiver's, that certificate is all that says the error is the receiver's. Another access
/// point of the same CA (gw-c) posting one about gw-a's message to gw-b must not fail it.
final class UnsignedErrorSignalTLSTests: XCTestCase {
    var harness: GatewayHarness!
    var a: InProcessNode!

    override func setUpWithError() throws {
        harness = try GatewayHarness()
        try harness.configure(["gw-a", "gw-b", "gw-c"], legs: [.init(), .init(action: "Plain", encrypt: false, sign: false)])
        let certs = harness.pmodeDirectory + "/certs"
        a = try InProcessNode(harness, party: "gw-a") { config in
            config.as4Listener.tls = .init(certificate: certs + "/gw-a.tls.pem", key: certs + "/gw-a.tls.key", clientAuthentication: .optional)
        }
    }

    override func tearDown() {
        a = nil
        harness = nil
    }

    /// gw-a's Plain message to gw-b after its first attempt got no receipt (waiting for its retry).
    func sentOnce() throws -> String {
        let id = try a.submit(to: "gw-b", action: "Plain")
        let job = try a.claim()
        XCTAssertEqual(try a.store.markRetry(messageId: id, owner: job.owner, error: DeliveryError(code: "EBMS:0301", reason: "no receipt"),
                                             nextAttemptAt: Date().addingTimeInterval(600), at: Date()), .submitted)
        return id
    }

    /// An unsigned error signal about `ref`, posted with `party`'s TLS client certificate (nil: none).
    func push(about ref: String, tlsOf party: String?) throws -> HTTPResponse {
        let error = ErrorDetail(errorCode: "EBMS:0004", severity: "failure", origin: "ebMS", category: "Content", refToMessageInError: ref,
                                shortDescription: "Other", description: PartDescription("payload unreadable", lang: "en"))
        let signal = SignalMessage(messageInfo: MessageInfo(messageId: "\(UUID().uuidString)@err", refToMessageId: ref), kind: .errors([error]))
        let envelope = try MessageSealer(signer: nil).seal(signal: signal).envelope
        let certificate = try party.map { try Certificate(pemEncoded: try String(contentsOfFile: harness.pmodeDirectory + "/certs/\($0).tls.pem", encoding: .utf8)) }
        let head = HTTPRequestHead(method: "POST", path: "/as4", headers: HTTPHeaders([("Content-Type", MultipartWriter.soapContentType)]),
                                   contentLength: UInt64(envelope.count), clientCertificate: certificate, remoteAddress: "127.0.0.1")
        let handler = InboundProcessor(context: a.context)
        if let refused = handler.admit(head) { return refused }
        return handler.handle(HTTPRequest(head: head, body: .bytes(envelope)))
    }

    func testAnUnsignedErrorCountsOnlyFromTheReceiversTLSCertificate() throws {
        let id = try sentOnce()
        for (party, what) in [("gw-c", "another access point's certificate"), (nil, "no certificate")] as [(String?, String)] {
            let refused = try push(about: id, tlsOf: party)
            XCTAssertEqual(refused.status, 500, "\(what): \(refused.bodyText)")
            XCTAssertEqual(refused.ebmsErrorCode, "EBMS:0101", "\(what): \(refused.bodyText)")
            XCTAssertEqual(try a.store.findMessage(id: id, direction: .outbound)?.status, .submitted, "\(what): the message waits for its retry")
        }
        XCTAssertTrue(a.log.contains("is not one the P-Modes list for gw-b"), a.log)
        let answered = try push(about: id, tlsOf: "gw-b")
        XCTAssertEqual(answered.status, 200, answered.bodyText)
        XCTAssertEqual(try a.store.findMessage(id: id, direction: .outbound)?.status, .failed)
    }
}

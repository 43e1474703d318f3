@testable import AS4Gateway
import AS4Crypto
import EnvelopeXML
import Foundation
import HTTPClient
import HTTPServer
import MessageStore
import WSSecurity
import XCTest

/// How our certificates are named in what we sign (AS4-WIRE §3.5), leg by leg: our signing
/// certificate by `security.keyReference`, in user messages and in the receipts and error
/// signals we answer them with. Both gateways run in this process: gw-a seals and judges the
/// answer as its delivery worker would, gw-b receives.
final class KeyReferenceTests: XCTestCase {
    var harness: GatewayHarness!
    var a: InProcessNode!
    var b: InProcessNode!

    override func tearDown() {
        a = nil
        b = nil
        harness = nil
    }

    func start(_ legs: [GatewayHarness.Leg]) throws {
        harness = try GatewayHarness()
        try harness.configure(["gw-a", "gw-b"], legs: legs)
        a = try InProcessNode(harness, party: "gw-a")  // also completes the development PKI
        b = try InProcessNode(harness, party: "gw-b")
    }

    func certificate(_ name: String) throws -> Certificate { try KeyMaterial.certificate(harness.pmodeDirectory + "/certs/\(name).pem") }

    /// The Security header of a SOAP or multipart message.
    func securityHeader(_ bytes: [UInt8], contentType: String) throws -> SecurityHeader {
        let message = try AS4Message.read(try MessageInput.load(bytes: bytes, contentType: contentType))
        return try SecurityHeader.read(try XCTUnwrap(message.envelope.securityHeaders.first, "no wsse:Security header"))
    }

    struct Exchange {
        var id: String
        var job: OutboundJob
        var sent: [UInt8]
        var answer: HTTPResponse
    }

    /// gw-a submits and seals a message on `action`'s leg; gw-b receives its bytes, with `damage`
    /// applied first.
    func exchange(_ action: String, damage: (inout [UInt8]) -> Void = { _ in }) throws -> Exchange {
        let id = try a.submit(to: "gw-b", action: action)
        let job = try a.claim()
        var sent = try job.messageBytes.map { [UInt8]($0) } ?? [UInt8](Data(contentsOf: URL(fileURLWithPath: job.messagePath)))
        damage(&sent)
        let answer = b.post(InboundProcessor(context: b.context), path: "/as4", contentType: job.contentType, body: sent)
        return Exchange(id: id, job: job, sent: sent, answer: answer)
    }

    /// gw-a's judgement of gw-b's answer: the receipt's envelope when it verified.
    func judged(_ e: Exchange) -> Result<[UInt8], AttemptFailure> {
        OutboundWorkers(context: a.context).judge(HTTPClientResponse(status: e.answer.status, headers: e.answer.headers.map { ($0.name, $0.value) },
                                                                     body: e.answer.bodyBytes, elapsed: 0, newConnections: 0), e.job)
    }

    /// The receipt's signature names gw-b's signing certificate as the leg says, and gw-a, which
    /// finds that certificate in the P-Modes, verifies it (Delivered, not EBMS:0302).
    func testReceiptsAreSignedWithTheLegsKeyReference() throws {
        try start([.init(action: "SignSKI", keyReference: "ski"), .init(action: "SignIssuerSerial", keyReference: "issuer-serial"),
                   .init(action: "SignBST", keyReference: "bst")])
        let signing = try certificate("gw-b.signing")
        for (action, expected) in [("SignSKI", KeyReference.subjectKeyIdentifier(try XCTUnwrap(signing.subjectKeyIdentifier))),
                                   ("SignIssuerSerial", .issuerSerial(issuer: signing.issuer, serial: signing.serialNumber))] {
            let e = try exchange(action)
            XCTAssertEqual(e.answer.status, 200, "\(action): \(e.answer.bodyText)")
            let receipt = try securityHeader(e.answer.bodyBytes, contentType: e.answer.headers["Content-Type"] ?? "")
            XCTAssertEqual(receipt.signatures.first?.keyReference, expected, action)
            XCTAssertTrue(receipt.tokens.isEmpty, "\(action): no BinarySecurityToken beside a \(expected) reference")
            guard case .success = judged(e) else { return XCTFail("\(action): gw-a does not accept the receipt: \(judged(e)); \(a.log)") }
        }
        // A bst leg still carries the certificate in a token (the default, unchanged).
        let e = try exchange("SignBST")
        let receipt = try securityHeader(e.answer.bodyBytes, contentType: e.answer.headers["Content-Type"] ?? "")
        let token = try XCTUnwrap(receipt.tokens.first)
        XCTAssertEqual(receipt.signatures.first?.keyReference, .tokenReference(id: token.id ?? "", valueType: Alg.x509v3))
        XCTAssertEqual(token.der, signing.derBytes)
        guard case .success = judged(e) else { return XCTFail("SignBST: \(judged(e))") }
    }

    /// An error signal about a message that matched a leg is signed as that leg's receipt would be.
    func testErrorSignalsAreSignedWithTheLegsKeyReference() throws {
        try start([.init(action: "SignSKI", keyReference: "ski")])
        // The last byte of the encrypted attachment, before the closing boundary: its GCM tag fails.
        let e = try exchange("SignSKI") { bytes in
            let marker = Array("\r\n--".utf8)
            guard let at = (0...(bytes.count - marker.count)).reversed().first(where: { Array(bytes[$0..<($0 + marker.count)]) == marker })
            else { return XCTFail("not a multipart message") }
            bytes[at - 1] ^= 0x01
        }
        XCTAssertEqual(e.answer.status, 500, e.answer.bodyText)
        XCTAssertEqual(e.answer.ebmsErrorCode, "EBMS:0102", e.answer.bodyText)
        let error = try securityHeader(e.answer.bodyBytes, contentType: e.answer.headers["Content-Type"] ?? "")
        let signing = try certificate("gw-b.signing")
        XCTAssertEqual(error.signatures.first?.keyReference, .subjectKeyIdentifier(try XCTUnwrap(signing.subjectKeyIdentifier)))
        XCTAssertTrue(error.tokens.isEmpty)
    }
}

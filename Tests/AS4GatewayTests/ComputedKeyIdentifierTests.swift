@testable import AS4Gateway
import AS4Crypto
import EnvelopeXML
import Foundation
import HTTPClient
import HTTPServer
import MessageStore
import WSSecurity
import XCTest

/// A partner whose certificate has no subjectKeyIdentifier extension, as Harmony's blue_gw, and
/// whose WSS4J names it by an SKI KeyIdentifier all the same, holding the value computed from its
/// key. gw-b accepts gw-a's user message so signed (not EBMS:0101), gw-a accepts gw-b's receipt
/// so signed, and gw-b finds its decryption key when the EncryptedKey names its certificate
/// without the extension so.
///
/// Both gateways run in this process. Each signs (and gw-b decrypts) with configured keys whose
/// certificate has the extension, which makes our own builders write exactly WSS4J's value,
/// while parties.json, which the other side resolves against, lists the same key without it.
final class ComputedKeyIdentifierTests: XCTestCase {
    var harness: GatewayHarness!
    var a: InProcessNode!
    var b: InProcessNode!

    override func tearDown() {
        a = nil
        b = nil
        harness = nil
    }

    var certs: String { harness.pmodeDirectory + "/certs" }
    var own: String { harness.root.appendingPathComponent("own").path }

    /// `partnersWithout`: whose signing certificate parties.json lists without the extension;
    /// `decryptWithout`: gw-b's own decryption certificate has none (parties.json keeps it).
    func start(_ leg: GatewayHarness.Leg, partnersWithout: [String] = [], decryptWithout: Bool = false) throws {
        harness = try GatewayHarness()
        try harness.configure(["gw-a", "gw-b"], legs: [leg])
        try harness.seedDevelopmentPKI()
        try FileManager.default.createDirectory(atPath: own, withIntermediateDirectories: true)
        let ca = try CertificateAuthority(key: try KeyMaterial.privateKey(certs + "/dev-ca.key"),
                                          certificate: try KeyMaterial.certificate(certs + "/dev-ca.pem"))
        func withoutExtension(_ file: String) throws -> Certificate {
            let original = try KeyMaterial.certificate(certs + "/\(file).pem")
            let key = try KeyMaterial.privateKey(certs + "/\(file).key")
            let certificate = try ca.issueCertificate(for: key.publicKey, subject: .init(commonName: "\(file) without SKI"),
                                                      validFrom: Date() - 3600, validUntil: Date() + 86_400 * 30,
                                                      keyUsage: original.keyUsage ?? [], subjectKeyIdentifier: false)
            XCTAssertNil(certificate.subjectKeyIdentifier)
            XCTAssertEqual(original.subjectKeyIdentifier, certificate.subjectPublicKeySHA1, "the value the partner's WSS4J computes")
            return certificate
        }
        for party in ["gw-a", "gw-b"] {
            try FileManager.default.copyItem(atPath: certs + "/\(party).signing.pem", toPath: own + "/\(party).signing.pem")
            try FileManager.default.copyItem(atPath: certs + "/\(party).encryption.pem", toPath: own + "/\(party).encryption.pem")
        }
        for party in partnersWithout {
            try withoutExtension("\(party).signing").pemEncoded().write(toFile: certs + "/\(party).signing.pem", atomically: true, encoding: .utf8)
        }
        if decryptWithout {
            try withoutExtension("gw-b.encryption").pemEncoded().write(toFile: own + "/gw-b.encryption.pem", atomically: true, encoding: .utf8)
        }
        func keys(_ party: String) -> (inout GatewayConfiguration) -> Void {
            { config in
                config.keys = .init(signingKey: self.certs + "/\(party).signing.key", signingCertificate: self.own + "/\(party).signing.pem",
                                    encryptionKey: self.certs + "/\(party).encryption.key", encryptionCertificate: self.own + "/\(party).encryption.pem")
            }
        }
        a = try InProcessNode(harness, party: "gw-a", configure: keys("gw-a"))
        b = try InProcessNode(harness, party: "gw-b", configure: keys("gw-b"))
    }

    struct Exchange {
        var id: String
        var job: OutboundJob
        var sent: [UInt8]
        var answer: HTTPResponse
    }

    /// gw-a seals a message to gw-b, and gw-b receives it.
    func exchange() throws -> Exchange {
        let id = try a.submit(to: "gw-b")
        let job = try a.claim()
        let sent = try job.messageBytes.map { [UInt8]($0) } ?? [UInt8](Data(contentsOf: URL(fileURLWithPath: job.messagePath)))
        let answer = b.post(InboundProcessor(context: b.context), path: "/as4", contentType: job.contentType, body: sent)
        return Exchange(id: id, job: job, sent: sent, answer: answer)
    }

    /// gw-a's judgement of gw-b's answer, as its delivery worker makes it.
    func judged(_ e: Exchange) -> Result<[UInt8], AttemptFailure> {
        OutboundWorkers(context: a.context).judge(HTTPClientResponse(status: e.answer.status, headers: e.answer.headers.map { ($0.name, $0.value) },
                                                                     body: e.answer.bodyBytes, elapsed: 0, newConnections: 0), e.job)
    }

    func securityHeader(_ bytes: [UInt8], contentType: String) throws -> SecurityHeader {
        let message = try AS4Message.read(try MessageInput.load(bytes: bytes, contentType: contentType))
        return try SecurityHeader.read(try XCTUnwrap(message.envelope.securityHeaders.first, "no wsse:Security header"))
    }

    func computed(_ file: String) throws -> KeyReference {
        let held = try KeyMaterial.certificate(certs + "/\(file).pem")
        XCTAssertNil(held.subjectKeyIdentifier, file)
        return .subjectKeyIdentifier(held.subjectPublicKeySHA1)
    }

    /// gw-b holds gw-a's signing certificate without the extension: gw-a's user message, named
    /// by the computed value, is taken in and its receipt accepted.
    func testAUserMessageSignedByTheComputedValueIsTakenIn() throws {
        try start(.init(keyReference: "ski"), partnersWithout: ["gw-a"])
        let e = try exchange()
        XCTAssertEqual(try securityHeader(e.sent, contentType: e.job.contentType).signatures.first?.keyReference, try computed("gw-a.signing"))
        XCTAssertEqual(e.answer.status, 200, "\(e.answer.bodyText)\n\(b.log)")
        XCTAssertNotNil(try b.store.findMessage(id: e.id, direction: .inbound), "gw-b kept nothing")
        guard case .success = judged(e) else { return XCTFail("gw-a does not accept the receipt: \(judged(e))") }
    }

    /// gw-a holds gw-b's signing certificate without the extension: gw-b's receipt, named by the
    /// computed value, is accepted (not refused with EBMS:0302, the message retried).
    func testAReceiptSignedByTheComputedValueIsAccepted() throws {
        try start(.init(keyReference: "ski"), partnersWithout: ["gw-b"])
        let e = try exchange()
        XCTAssertEqual(e.answer.status, 200, e.answer.bodyText)
        let receipt = try securityHeader(e.answer.bodyBytes, contentType: e.answer.headers["Content-Type"] ?? "")
        XCTAssertEqual(receipt.signatures.first?.keyReference, try computed("gw-b.signing"))
        guard case .success = judged(e) else { return XCTFail("gw-a does not accept the receipt: \(judged(e)); \(a.log)") }
    }

    /// gw-b's decryption certificate has no extension; gw-a, whose copy of it has one, names it
    /// by that value, which is the computed one: gw-b finds its key (not EBMS:0102).
    func testAnEncryptedKeyNamingOurCertificateByTheComputedValueDecrypts() throws {
        try start(.init(encryptionKeyReference: "ski"), decryptWithout: true)
        let e = try exchange()
        let named = try securityHeader(e.sent, contentType: e.job.contentType).encryptedKeys.first?.recipient
        let ours = try KeyMaterial.certificate(own + "/gw-b.encryption.pem")
        XCTAssertNil(ours.subjectKeyIdentifier)
        XCTAssertEqual(named, KeyReference.subjectKeyIdentifier(ours.subjectPublicKeySHA1))
        XCTAssertEqual(e.answer.status, 200, "\(e.answer.bodyText)\n\(b.log)")
        let received = try XCTUnwrap(try b.store.findMessage(id: e.id, direction: .inbound), "gw-b kept nothing")
        XCTAssertEqual(try received.parts.map(storedPayload), [Array("<doc>in process</doc>".utf8)])
        guard case .success = judged(e) else { return XCTFail("gw-a does not accept the receipt: \(judged(e))") }
    }
}

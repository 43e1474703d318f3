@testable import AS4Gateway
import AS4Crypto
import EnvelopeXML
import Foundation
import MessageStore
import WSSecurity
import XCTest

/// Certificates the operator lists as gw-a's signing certificates but that are not fit to sign
/// (AS4-WIRE §7.3, `CertificatePurpose`), or not valid now: each is refused (EBMS:0101) with its
/// own reason, never as "not the expected party's certificate".
final class SignerCertificateTests: XCTestCase {
    let mpc = "urn:as4gw:mpc:held-for-gw-a"
    var harness: GatewayHarness!
    var b: InProcessNode!
    var certs: String { harness.pmodeDirectory + "/certs" }

    override func setUpWithError() throws {
        harness = try GatewayHarness()
        try harness.configure(["gw-a", "gw-b"], legs: [.init(encrypt: false)], pull: [.init(holder: "gw-b", puller: "gw-a", mpc: mpc)])
        b = try InProcessNode(harness, party: "gw-b")  // writes the development PKI
    }

    override func tearDown() {
        b = nil
        harness = nil
    }

    /// A certificate for a new RSA key, issued by the development CA (or self-signed), written
    /// to certs/NAME.pem and .key, and listed among gw-a's signing certificates.
    func listed(_ name: String, keyUsage: KeyUsage = [.digitalSignature, .nonRepudiation], isCA: Bool = false, selfSigned: Bool = false,
                from: Date = Date() - 3600, until: Date = Date() + 30 * 86_400) throws -> SignatureBuilder {
        let key = try PrivateKey.generateRSA()
        let subject = CertificateSubject(commonName: "gw-a \(name)", organization: "as4gw tests")
        let certificate: Certificate
        if selfSigned {
            certificate = try CertificateAuthority.selfSignedCertificate(subject: subject, key: key, validFrom: from, validUntil: until,
                                                                         keyUsage: keyUsage, isCA: isCA)
        } else {
            let ca = try CertificateAuthority(key: try KeyMaterial.privateKey(certs + "/dev-ca.key"), certificate: try KeyMaterial.certificate(certs + "/dev-ca.pem"))
            certificate = try ca.issueCertificate(for: key.publicKey, subject: subject, validFrom: from, validUntil: until, keyUsage: keyUsage, isCA: isCA)
        }
        try certificate.pemEncoded().write(toFile: certs + "/\(name).pem", atomically: true, encoding: .utf8)
        let path = harness.pmodeDirectory + "/parties.json"
        var document = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
        var parties = try XCTUnwrap(document["parties"] as? [[String: Any]])
        let a = try XCTUnwrap(parties.firstIndex { $0["name"] as? String == "gw-a" })
        var roles = try XCTUnwrap(parties[a]["certificates"] as? [String: Any])
        roles["signing"] = (roles["signing"] as? [String] ?? []) + ["certs/\(name).pem"]
        parties[a]["certificates"] = roles
        document["parties"] = parties
        try JSONSerialization.data(withJSONObject: document).write(to: URL(fileURLWithPath: path))
        XCTAssertEqual(b.context.registry.reload(from: harness.pmodeDirectory, requiredParties: ["gw-b"]), [])
        return try SignatureBuilder(identity: SigningIdentity(privateKey: key, certificate: certificate))
    }

    func assertRefused(_ signer: SignatureBuilder, _ reason: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let message = CraftedMessage()
        let answer = try b.receive(message, signedBy: signer)
        XCTAssertEqual(answer.ebmsErrorCode, "EBMS:0101", answer.bodyText, file: file, line: line)
        XCTAssertTrue(answer.bodyText.contains(reason), "\(reason): \(answer.bodyText)", file: file, line: line)
        XCTAssertFalse(answer.bodyText.contains("not by the expected party's certificate"), file: file, line: line)
        XCTAssertNil(try b.store.findMessage(id: message.id, direction: .inbound), file: file, line: line)
    }

    func testASigningCertificateWhoseKeyUsageForbidsSigningSignsNothing() throws {
        try assertRefused(try listed("encipher-only", keyUsage: [.keyEncipherment]),
                          "may not sign messages: its keyUsage (keyEncipherment) allows neither digitalSignature nor nonRepudiation")
    }

    func testACACertificateSignsNoMessages() throws {
        try assertRefused(try listed("sub-ca", keyUsage: [.digitalSignature, .keyCertSign, .cRLSign], isCA: true),
                          "may not sign messages: it is a CA certificate (keyUsage keyCertSign)")
        try assertRefused(try listed("ca-flag", keyUsage: [], isCA: true), "may not sign messages: it is a CA certificate (basicConstraints CA:TRUE)")
    }

    /// What `openssl req -x509` and the Holodeck and Domibus sample partners sign with.
    func testASelfSignedCertificateMarkedCAWithoutKeyCertSignSigns() throws {
        let message = CraftedMessage()
        let answer = try b.receive(message, signedBy: try listed("self-signed", keyUsage: [], isCA: true, selfSigned: true))
        XCTAssertEqual(answer.status, 200, answer.bodyText)
        XCTAssertNotNil(try b.store.findMessage(id: message.id, direction: .inbound))
    }

    func testAnExpiredOrNotYetValidSigningCertificateIsRefusedAsSuch() throws {
        try assertRefused(try listed("expired", from: Date() - 30 * 86_400, until: Date() - 86_400), "expired on")
        try assertRefused(try listed("future", from: Date() + 86_400, until: Date() + 30 * 86_400), "is not valid before")
    }

    func testAPullRequestSignedWithAnExpiredCertificateIsRefusedAsSuch() throws {
        let signer = try listed("expired", from: Date() - 30 * 86_400, until: Date() - 86_400)
        let request = SignalMessage(messageInfo: MessageInfo(messageId: "\(UUID().uuidString)@gw-a"), kind: .pullRequest(PullRequest(mpc: mpc)))
        let envelope = try MessageSealer(signer: signer).seal(signal: request).envelope
        let answer = b.post(InboundProcessor(context: b.context), path: "/as4", contentType: MultipartWriter.soapContentType, body: envelope)
        XCTAssertEqual(answer.ebmsErrorCode, "EBMS:0101", answer.bodyText)
        XCTAssertTrue(answer.bodyText.contains("expired on"), answer.bodyText)
    }
}

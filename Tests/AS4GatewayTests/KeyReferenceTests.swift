@testable import AS4Gateway
import AS4Crypto
import EnvelopeXML
import Foundation
import HTTPClient
import HTTPServer
import MessageStore
import WSSecurity
import XCTest

/// How our certificates are named in what we sign and encrypt (AS4-WIRE §3.5), leg by leg: our
/// signing certificate by `security.keyReference`, in user messages and in the receipts and error
/// signals we answer them with; the recipient's encryption certificate by
/// `security.encryptionKeyReference`, in the EncryptedKey. Both gateways run in this process:
/// gw-a seals and judges the answer as its delivery worker would, gw-b receives.
final class KeyReferenceTests: XCTestCase {
    var harness: GatewayHarness!
    var a: InProcessNode!
    var b: InProcessNode!

    override func tearDown() {
        a = nil
        b = nil
        harness = nil
    }

    func start(_ legs: [GatewayHarness.Leg], profile20: Bool = false,
               signingKey20: () throws -> PrivateKey = { try PrivateKey.generateEd25519() }) throws {
        harness = try GatewayHarness()
        try harness.configure(["gw-a", "gw-b"], legs: legs)
        if profile20 {
            try harness.addProfile20Identities(["gw-a", "gw-b"], by: try harness.makeDevelopmentCA(), signingKey: signingKey20)
        }
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

    /// A pull leg's signals follow its keyReference too: the puller's PullRequest and receipt, the
    /// holder's EBMS:0006 answer; each side resolves the other's reference from the P-Modes.
    func testPullSignalsAreSignedWithThePullLegsKeyReference() throws {
        let mpc = "urn:as4gw:mpc:test-for-gw-b"
        harness = try GatewayHarness()
        try harness.configure(["gw-a", "gw-b"], pull: [.init(mpc: mpc, keyReference: "ski")])
        a = try InProcessNode(harness, party: "gw-a")
        b = try InProcessNode(harness, party: "gw-b")
        let ski = { (party: String) throws -> KeyReference in .subjectKeyIdentifier(try XCTUnwrap(try self.certificate("\(party).signing").subjectKeyIdentifier)) }
        let holder = InboundProcessor(context: a.context)
        let target = try XCTUnwrap(PullWorker(context: b.context).targets().first)
        func pullRequest() throws -> [UInt8] {
            let signal = SignalMessage(messageInfo: MessageInfo(messageId: "\(UUID().uuidString)@gw-b"), kind: .pullRequest(PullRequest(mpc: mpc)))
            return try MessageSealer(signer: try b.context.signatureBuilder(for: target.security)).seal(signal: signal).envelope
        }
        let soap = MultipartWriter.soapContentType

        let id = try a.submit(to: "gw-b", action: "Notify")
        let request = try pullRequest()
        XCTAssertEqual(try securityHeader(request, contentType: soap).signatures.first?.keyReference, try ski("gw-b"))
        let pulled = a.post(holder, path: "/as4", contentType: soap, body: request)
        XCTAssertEqual(pulled.status, 200, pulled.bodyText)
        let message = try AS4Message.read(try MessageInput.load(bytes: pulled.bodyBytes, contentType: pulled.headers["Content-Type"],
                                                                spoolDirectory: b.context.spoolDirectory))
        guard case .success(let receipt) = InboundProcessor(context: b.context).processUserMessage(message, started: Date(), pulled: true,
                                                                                                   pulledMPC: mpc) else {
            return XCTFail("gw-b did not take the pulled message: \(b.log)")
        }
        XCTAssertEqual(try securityHeader(receipt, contentType: soap).signatures.first?.keyReference, try ski("gw-b"))
        let answered = a.post(holder, path: "/as4", contentType: soap, body: receipt)
        XCTAssertEqual(answered.status, 200, answered.bodyText)
        XCTAssertEqual(try a.store.findMessage(id: id, direction: .outbound)?.status, .delivered)

        let empty = a.post(holder, path: "/as4", contentType: soap, body: try pullRequest())
        XCTAssertEqual(empty.ebmsErrorCode, "EBMS:0006", empty.bodyText)
        XCTAssertEqual(try securityHeader(empty.bodyBytes, contentType: soap).signatures.first?.keyReference, try ski("gw-a"))
    }

    /// gw-b took the message in whole and gw-a accepts its receipt.
    func assertDelivered(_ e: Exchange, _ what: String, file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertEqual(e.answer.status, 200, "\(what): \(e.answer.bodyText)", file: file, line: line)
        let received = try XCTUnwrap(try b.store.findMessage(id: e.id, direction: .inbound), "\(what): gw-b kept nothing", file: file, line: line)
        XCTAssertEqual(try received.parts.map(storedPayload), [Array("<doc>in process</doc>".utf8)], what, file: file, line: line)
        guard case .success = judged(e) else { return XCTFail("\(what): gw-a does not accept the receipt: \(judged(e))", file: file, line: line) }
    }

    /// The EncryptedKey names gw-b's encryption certificate as the leg says, and gw-b finds its
    /// key by that reference. A `bst` token holds that certificate, beside the signature's own.
    func testTheEncryptedKeyNamesTheRecipientAsTheLegSays() throws {
        try start([.init(action: "EncBST", encryptionKeyReference: "bst"), .init(action: "EncSKI", encryptionKeyReference: "ski"),
                   .init(action: "EncIssuerSerial", encryptionKeyReference: "issuer-serial"), .init(action: "EncDefault")])
        let recipient = try certificate("gw-b.encryption")
        let ski = KeyReference.subjectKeyIdentifier(try XCTUnwrap(recipient.subjectKeyIdentifier))
        for (action, expected) in [("EncSKI", ski), ("EncDefault", ski),
                                   ("EncIssuerSerial", .issuerSerial(issuer: recipient.issuer, serial: recipient.serialNumber))] {
            let e = try exchange(action)
            try assertDelivered(e, action)
            let header = try securityHeader(e.sent, contentType: e.job.contentType)
            XCTAssertEqual(header.encryptedKeys.first?.recipient, expected, action)
            XCTAssertEqual(header.tokens.map(\.der), [try certificate("gw-a.signing").derBytes], "\(action): the signature's token only")
        }
        let e = try exchange("EncBST")
        try assertDelivered(e, "EncBST")
        let header = try securityHeader(e.sent, contentType: e.job.contentType)
        guard case .tokenReference(let id, let valueType)? = header.encryptedKeys.first?.recipient else {
            return XCTFail("EncBST: \(String(describing: header.encryptedKeys.first?.recipient))")
        }
        XCTAssertEqual(valueType, Alg.x509v3)
        XCTAssertEqual(header.tokens.first { $0.id == id }?.der, recipient.derBytes, "the token referenced holds gw-b's encryption certificate")
        guard case .tokenReference(let signer, _)? = header.signatures.first?.keyReference else { return XCTFail("the signature has no token") }
        XCTAssertNotEqual(signer, id)
        XCTAssertEqual(header.tokens.first { $0.id == signer }?.der, try certificate("gw-a.signing").derBytes)
    }

    /// Profile 2.0: the EncryptedKey's own KeyInfo holds only the AgreementMethod, whose
    /// RecipientKeyInfo names gw-b's X25519 key-agreement certificate (not its Ed25519 signing
    /// one) as the leg says; gw-b agrees the key with the private key of that certificate.
    func testProfile20NamesTheKeyAgreementCertificateInRecipientKeyInfo() throws {
        try start([.init(action: "AgreeBST", profile: "2.0", encryptionKeyReference: "bst"), .init(action: "AgreeSKI", profile: "2.0"),
                   .init(action: "AgreeIssuerSerial", profile: "2.0", encryptionKeyReference: "issuer-serial")], profile20: true)
        let agreement = try certificate("gw-b.encryption20")
        XCTAssertEqual(agreement.keyType, .x25519)
        for action in ["AgreeBST", "AgreeSKI", "AgreeIssuerSerial"] {
            let e = try exchange(action)
            try assertDelivered(e, action)
            let header = try securityHeader(e.sent, contentType: e.job.contentType)
            let key = try XCTUnwrap(header.encryptedKeys.first, action)
            XCTAssertEqual(key.algorithm, Alg.kwAES128, action)
            XCTAssertNil(key.recipient, "\(action): no reference beside the AgreementMethod")
            XCTAssertEqual(key.agreement?.algorithm, Alg.x25519, action)
            let named = try XCTUnwrap(key.agreement?.recipient, action)
            let resolved = try KeyResolver(tokens: header.tokens, candidates: [agreement, try certificate("gw-b.signing20")]).resolve(named)
            XCTAssertEqual(resolved.certificate, agreement, action)
            switch (action, named) {
            case ("AgreeBST", .tokenReference), ("AgreeSKI", .subjectKeyIdentifier), ("AgreeIssuerSerial", .issuerSerial): break
            default: XCTFail("\(action) names its recipient by \(named)")
            }
        }
    }

    /// Profile 2.0, alternative EC option with P-384 signing keys: eDelivery 2.0 names
    /// ecdsa-sha256 whatever the curve, so gw-a signs its message and gw-b its receipt with it,
    /// not with the key's default ecdsa-sha384, which a 2.0 receiver refuses (EBMS:0103).
    func testProfile20SignsWithECDSASHA256WhateverTheCurve() throws {
        try start([.init(action: "SignP384", profile: "2.0")], profile20: true, signingKey20: { try PrivateKey.generateEC(curve: .p384) })
        XCTAssertEqual(try certificate("gw-a.signing20").keyType, .ec(.p384))
        let e = try exchange("SignP384")
        try assertDelivered(e, "SignP384")
        XCTAssertEqual(try securityHeader(e.sent, contentType: e.job.contentType).signatures.first?.signatureMethod, Alg.ecdsaSHA256)
        let receipt = try securityHeader(e.answer.bodyBytes, contentType: e.answer.headers["Content-Type"] ?? "")
        XCTAssertEqual(receipt.signatures.first?.signatureMethod, Alg.ecdsaSHA256)
    }

    /// A 1.15 leg whose agreement allows only rsa-sha512 is signed with it, the message and the
    /// receipt alike; a leg with the profile's own list keeps rsa-sha256.
    func testALegsSignatureAlgorithmsDecideWhatWeSignWith() throws {
        try start([.init(action: "SignSHA512", signatureAlgorithms: [Alg.rsaSHA512]), .init(action: "SignDefault")])
        for (action, expected) in [("SignSHA512", Alg.rsaSHA512), ("SignDefault", Alg.rsaSHA256)] {
            let e = try exchange(action)
            try assertDelivered(e, action)
            XCTAssertEqual(try securityHeader(e.sent, contentType: e.job.contentType).signatures.first?.signatureMethod, expected, action)
            let receipt = try securityHeader(e.answer.bodyBytes, contentType: e.answer.headers["Content-Type"] ?? "")
            XCTAssertEqual(receipt.signatures.first?.signatureMethod, expected, action)
        }
    }
}

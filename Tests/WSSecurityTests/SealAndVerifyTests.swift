import XCTest
import AS4Crypto
import EnvelopeXML
@testable import WSSecurity

/// Messages we seal verify with our verifier for every algorithm and key-reference style; each
/// forgery in the attack corpus is refused with its ebMS error.
final class SealAndVerifyTests: XCTestCase {
    let pki = TestPKI.shared

    static func user(_ id: String = UUID().uuidString.lowercased() + "@as4gw.test") -> UserMessage {
        UserMessage(messageInfo: MessageInfo(messageId: id),
                    from: Party(PartyId("party-a", type: "urn:oasis:names:tc:ebcore:partyid-type:unregistered"), role: "urn:as4gw:sender"),
                    to: Party(PartyId("party-b", type: "urn:oasis:names:tc:ebcore:partyid-type:unregistered"), role: "urn:as4gw:receiver"),
                    collaboration: CollaborationInfo(service: Service("urn:as4gw:test"), action: "Deliver", conversationId: "c1"),
                    properties: [Property("originalSender", "_DEFAULT@40003000001"), Property("finalRecipient", "_DEFAULT@90000000001")])
    }

    static func payloads(_ n: Int) -> [Payload] {
        (0..<n).map { i in
            switch i % 3 {
            case 0: return Payload(mimeType: "application/xml", body: .bytes(Array("<doc n=\"\(i)\">\r\n <a   b='1'/>\n</doc>".utf8)), characterSet: "utf-8")
            case 1: return Payload(mimeType: "text/plain", body: .bytes(Array("line one\nline two\rline three\r\n".utf8)))
            default: return Payload(mimeType: "application/pdf", body: .bytes((0..<5000).map { UInt8(truncatingIfNeeded: $0 * 7) }))
            }
        }
    }

    struct Wire {
        var contentType: String
        var bytes: [UInt8]
    }

    func seal(_ identity: SigningIdentity, style: KeyReferenceStyle = .binarySecurityToken, algorithm: SignatureAlgorithm? = nil,
              attachments: Int = 2, compress: Bool = true) throws -> (Wire, SealedMessage) {
        let signer = try SignatureBuilder(identity: identity, algorithm: algorithm, keyReference: style)
        let sealed = try MessageSealer(signer: signer, compress: compress).seal(Self.user(), payloads: Self.payloads(attachments))
        var sink = MemorySink()
        let ct = try sealed.write(to: &sink)
        return (Wire(contentType: ct, bytes: sink.bytes), sealed)
    }

    func verify(_ wire: Wire, trust: CertificateValidator? = nil, expected: [Certificate]? = nil, revocation: Bool = false,
                policy: SecurityPolicy = .receiving, candidates: [Certificate] = []) throws -> SignatureReport {
        let message = try AS4Message.read(try MessageInput.load(bytes: wire.bytes, contentType: wire.contentType))
        return SignatureVerifier(policy: policy, trust: try trust ?? pki.validator(), candidates: candidates,
                                 expectedSigners: expected, checkRevocation: revocation)
            .verify(message, attachments: message.attachments)
    }

    func testEveryAlgorithmAndKeyReferenceVerifies() throws {
        for identity in [pki.rsa, pki.ed25519, pki.p256] {
            for style in KeyReferenceStyle.allCases {
                for n in [0, 1, 5] {
                    for compress in [true, false] where n > 0 || compress {
                        let (wire, sealed) = try seal(identity, style: style, attachments: n, compress: compress)
                        let report = try verify(wire, candidates: [identity.certificate])
                        XCTAssertNil(report.error, "\(identity.privateKey.keyType) \(style) \(n) compress=\(compress): \(String(describing: report.error))")
                        XCTAssertEqual(report.references.count, n + 2)
                        XCTAssertEqual(report.signer, identity.certificate)
                        XCTAssertEqual(sealed.references.count, n + 2)
                    }
                }
            }
        }
    }

    func testProfileAlgorithmsAreTheDefaults() throws {
        XCTAssertEqual(pki.rsa.defaultAlgorithm, .rsaSHA256)
        XCTAssertEqual(pki.ed25519.defaultAlgorithm, .ed25519)
        XCTAssertEqual(pki.p256.defaultAlgorithm, .ecdsaSHA256)
        let (wire, _) = try seal(pki.rsa)
        XCTAssertNil(try verify(wire, policy: .eDelivery115).error)
        let (wire2, _) = try seal(pki.ed25519)
        XCTAssertNil(try verify(wire2, policy: .eDelivery20).error)
        XCTAssertEqual(try verify(wire2, policy: .eDelivery115).error?.code, .policyNoncompliance)
    }

    func testSKIReferenceNeedsAKnownCertificate() throws {
        let (wire, _) = try seal(pki.rsa, style: .subjectKeyIdentifier)
        let report = try verify(wire, candidates: [])
        XCTAssertEqual(report.error?.code, .failedAuthentication)
    }

    // MARK: - attack corpus

    /// Rewrites the envelope part of a sealed message and repackages it.
    func tamper(_ wire: Wire, _ edit: (String) -> String) throws -> Wire {
        let raw = try MessageInput.load(bytes: wire.bytes, contentType: wire.contentType)
        let envelope = Array(edit(String(decoding: raw.envelope, as: UTF8.self)).utf8)
        var sink = MemorySink()
        if raw.attachments.isEmpty {
            try MultipartWriter.writeSOAPOnly(envelope: envelope, to: &sink)
            return Wire(contentType: MultipartWriter.soapContentType, bytes: sink.bytes)
        }
        let ct = try MultipartWriter().write(envelope: envelope, attachments: raw.attachments.map {
            .init(contentID: $0.contentID!, contentType: $0.headers["Content-Type"]!, body: $0.body)
        }, to: &sink)
        return Wire(contentType: ct, bytes: sink.bytes)
    }

    func assertRefused(_ wire: Wire, _ code: EbmsError.Code, _ text: String, trust: CertificateValidator? = nil,
                       expected: [Certificate]? = nil, revocation: Bool = false, file: StaticString = #filePath, line: UInt = #line) {
        do {
            let report = try verify(wire, trust: trust, expected: expected, revocation: revocation)
            XCTAssertEqual(report.error?.code, code, "\(String(describing: report.error))", file: file, line: line)
            XCTAssertTrue(report.error?.reason.contains(text) ?? false, "\(String(describing: report.error))", file: file, line: line)
        } catch let e as EbmsError {
            XCTAssertEqual(e.code, code, "\(e)", file: file, line: line)
        } catch {
            XCTFail("\(error)", file: file, line: line)
        }
    }

    func testBodyMovedUnderAWrapper() throws {
        let (wire, _) = try seal(pki.rsa, attachments: 0)
        let forged = try tamper(wire) { env in
            // Move the signed Body into a header block and put a fresh Body with content in its place.
            let start = env.range(of: "<env:Body")!.lowerBound
            let body = String(env[start..<env.range(of: "</env:Envelope>")!.lowerBound])
            var out = env.replacingOccurrences(of: body, with: "<env:Body><evil xmlns=\"urn:x\">pay me</evil></env:Body>")
            out = out.replacingOccurrences(of: "</env:Header>", with: "<w:Wrapper xmlns:w=\"urn:w\">\(body)</w:Wrapper></env:Header>")
            return out
        }
        assertRefused(forged, .failedAuthentication, "signature wrapping")
    }

    func testSecondMessagingHeaderWrapped() throws {
        let (wire, _) = try seal(pki.rsa, attachments: 0)
        let forged = try tamper(wire) { env in
            let start = env.range(of: "<eb:Messaging")!.lowerBound
            let end = env.range(of: "</eb:Messaging>")!.upperBound
            let signed = String(env[start..<end])
            let fake = signed.replacingOccurrences(of: "<eb:Action>Deliver</eb:Action>", with: "<eb:Action>Pay</eb:Action>")
                .replacingOccurrences(of: "wsu:Id=\"", with: "wsu:Id=\"fake")
            return env.replacingOccurrences(of: signed, with: "<w:Wrapper xmlns:w=\"urn:w\">\(signed)</w:Wrapper>\(fake)")
        }
        assertRefused(forged, .failedAuthentication, "signature wrapping")
        // A plain second eb:Messaging header is refused by the parser already.
        let twice = try tamper(wire) { env in
            let start = env.range(of: "<eb:Messaging")!.lowerBound
            let end = env.range(of: "</eb:Messaging>")!.upperBound
            return env.replacingOccurrences(of: "</env:Header>", with: String(env[start..<end]).replacingOccurrences(of: "wsu:Id=\"", with: "wsu:Id=\"x") + "</env:Header>")
        }
        XCTAssertThrowsError(try AS4Message.read(try MessageInput.load(bytes: twice.bytes, contentType: twice.contentType))) {
            XCTAssertEqual(($0 as? EbmsError)?.code, .invalidHeader)
        }
    }

    func testDuplicateIdentifier() throws {
        let (wire, sealed) = try seal(pki.rsa, attachments: 0)
        let msgId = String(sealed.references[1].uri.dropFirst())
        let forged = try tamper(wire) { $0.replacingOccurrences(of: "</env:Header>", with: "<x:y xmlns:x=\"urn:x\" Id=\"\(msgId)\"/></env:Header>") }
        assertRefused(forged, .failedAuthentication, "occurs more than once")
    }

    func testTamperedAndSwappedAttachments() throws {
        let (wire, _) = try seal(pki.rsa, attachments: 3, compress: false)
        let raw = try MessageInput.load(bytes: wire.bytes, contentType: wire.contentType)
        func repackage(_ bodies: [PartBody]) throws -> Wire {
            var sink = MemorySink()
            let ct = try MultipartWriter().write(envelope: raw.envelope, attachments: zip(raw.attachments, bodies).map {
                .init(contentID: $0.0.contentID!, contentType: $0.0.headers["Content-Type"]!, body: $0.1)
            }, to: &sink)
            return Wire(contentType: ct, bytes: sink.bytes)
        }
        var bodies = raw.attachments.map(\.body)
        var pdf = try bodies[2].readAll()
        pdf[100] ^= 1
        bodies[2] = .bytes(pdf)
        assertRefused(try repackage(bodies), .failedAuthentication, "digest mismatch")
        bodies = raw.attachments.map(\.body)
        bodies.swapAt(1, 2)
        assertRefused(try repackage(bodies), .failedAuthentication, "digest mismatch")
    }

    func testAttachmentNotSigned() throws {
        // Sign one part, then add a second PartInfo and part the signature never saw.
        let (wire, _) = try seal(pki.rsa, attachments: 1, compress: false)
        let raw = try MessageInput.load(bytes: wire.bytes, contentType: wire.contentType)
        var env = String(decoding: raw.envelope, as: UTF8.self)
        env = env.replacingOccurrences(of: "</eb:PayloadInfo>", with: "<eb:PartInfo href=\"cid:extra@x\"/></eb:PayloadInfo>")
        var sink = MemorySink()
        let ct = try MultipartWriter().write(envelope: Array(env.utf8), attachments: raw.attachments.map {
            .init(contentID: $0.contentID!, contentType: $0.headers["Content-Type"]!, body: $0.body)
        } + [.init(contentID: "extra@x", contentType: "application/pdf", body: .bytes([1, 2, 3]))], to: &sink)
        // The Messaging digest breaks too (it was edited); the unsigned part is named either way.
        let report = try verify(Wire(contentType: ct, bytes: sink.bytes))
        XCTAssertNotNil(report.error)
        XCTAssertTrue(report.references.count == 3)
        let strict = SignatureVerifier(policy: .receiving, trust: try pki.validator())
        var coverage = SignatureReport()
        let message = try AS4Message.read(try MessageInput.load(bytes: sink.bytes, contentType: ct))
        strict.checkCoverage(message, covered: [message.envelope.messagingElement, message.envelope.bodyElement],
                             coveredParts: Set(raw.attachments.compactMap(\.contentID)), &coverage)
        XCTAssertEqual(coverage.error?.code, .policyNoncompliance)
        XCTAssertTrue(coverage.error?.reason.contains("cid:extra@x is not signed") ?? false, "\(String(describing: coverage.error))")
    }

    func testExternalReference() throws {
        let (wire, _) = try seal(pki.rsa, attachments: 0)
        let forged = try tamper(wire) { env in
            let r = env.range(of: "<ds:Reference URI=\"#")!
            return env.replacingCharacters(in: r, with: "<ds:Reference URI=\"http://127.0.0.1/evil#")
        }
        assertRefused(forged, .policyNoncompliance, "external URI")
    }

    func testCertificateChecks() throws {
        assertRefused(try seal(pki.stranger).0, .failedAuthentication, "party-a-impostor")
        assertRefused(try seal(pki.expired).0, .failedAuthentication, "expired")
        assertRefused(try seal(pki.revoked).0, .failedAuthentication, "revoked", trust: try pki.validator(crl: true), revocation: true)
        XCTAssertNil(try verify(try seal(pki.rsa).0, trust: try pki.validator(crl: true), revocation: true).error)
        assertRefused(try seal(pki.rsa).0, .failedAuthentication, "not by the expected party", expected: [pki.rsaB.certificate])
        XCTAssertNil(try verify(try seal(pki.rsa).0, expected: [pki.rsaB.certificate, pki.rsa.certificate]).error)
    }

    func testAlgorithmDowngrades() throws {
        let (wire, _) = try seal(pki.rsa, attachments: 1)
        let sha1Digest = try tamper(wire) { $0.replacingOccurrences(of: Alg.sha256, with: Alg.sha1) }
        assertRefused(sha1Digest, .policyNoncompliance, "not allowed")
        let sha1Signature = try tamper(wire) { $0.replacingOccurrences(of: Alg.rsaSHA256, with: Alg.rsaSHA1) }
        assertRefused(sha1Signature, .policyNoncompliance, "not allowed")
        let inclusive = try tamper(wire) { env in
            let r = env.range(of: "<ds:CanonicalizationMethod Algorithm=\"\(Alg.excC14N)\"")!
            return env.replacingCharacters(in: r, with: "<ds:CanonicalizationMethod Algorithm=\"\(Alg.c14n)\"")
        }
        assertRefused(inclusive, .policyNoncompliance, "not exclusive C14N")
    }

    func testUnsignedMessageIsRefusedWhenSignaturesAreRequired() throws {
        let sealed = try MessageSealer(signer: nil, compress: false).seal(Self.user(), payloads: Self.payloads(1))
        var sink = MemorySink()
        let ct = try sealed.write(to: &sink)
        assertRefused(Wire(contentType: ct, bytes: sink.bytes), .policyNoncompliance, "not signed")
    }
}

/// wsu:Timestamp freshness and signing, judged at the evaluation time.
final class TimestampFreshnessTests: XCTestCase {
    func testCreatedInTheFutureAndExpired() throws {
        let verifier = SignatureVerifier(policy: .receiving, trust: nil)
        let element = try XMLDocument(parsing: "<r/>").root!
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        func check(created: Double?, expires: Double?) -> EbmsError? {
            var report = SignatureReport()
            verifier.checkTimestamp(SecurityTimestamp(element: element, id: nil, created: created.map { Timestamp(now + $0) },
                                                      expires: expires.map { Timestamp(now + $0) }),
                                    signed: [element], at: now, &report)
            return report.error
        }
        XCTAssertNil(check(created: -60, expires: 240))
        XCTAssertNil(check(created: 200, expires: nil))          // within the clock skew
        XCTAssertEqual(check(created: 3600, expires: nil)?.code, .failedAuthentication)
        XCTAssertEqual(check(created: -7200, expires: -3600)?.code, .failedAuthentication)
        XCTAssertNil(check(created: -7200, expires: -100))        // expired, but within the skew
    }

    func testUnsignedTimestampIsRefused() throws {
        let doc = try XMLDocument(parsing: #"<r xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"><t wsu:Id="TS-1"/><u/></r>"#)
        let timestamp = doc.root!.children[0], other = doc.root!.children[1]
        func check(id: String?, signed: Set<XMLElement>) -> EbmsError? {
            var report = SignatureReport()
            SignatureVerifier(policy: .receiving, trust: nil)
                .checkTimestamp(SecurityTimestamp(element: timestamp, id: id, created: Timestamp(), expires: nil), signed: signed,
                                at: Date(), &report)
            return report.error
        }
        XCTAssertEqual(check(id: "TS-1", signed: []), EbmsError(.policyNoncompliance, "wsu:Timestamp is present but not signed"))
        // Without an Id it is no more signed: signed means a reference resolved to this element.
        XCTAssertEqual(check(id: nil, signed: [other]), EbmsError(.policyNoncompliance, "wsu:Timestamp is present but not signed"))
        XCTAssertNil(check(id: nil, signed: [timestamp, other]))
    }
}

/// A wsu:Timestamp in a real Security header counts as signed only when a reference of the
/// SignedInfo resolved to that very element: its Id, or the lack of one, decides nothing.
final class TimestampSigningTests: XCTestCase {
    let pki = TestPKI.shared

    /// party-a's message with `timestamp` added to its Security header, signed again with a
    /// reference to `#signedId` when given (the Timestamp, or whatever element carries that Id).
    func message(timestamp: String, signing signedId: String? = nil) throws -> AS4Message {
        let sealed = try MessageSealer(signer: try SignatureBuilder(identity: pki.rsa), compress: false)
            .seal(SealAndVerifyTests.user(), payloads: SealAndVerifyTests.payloads(1))
        var sink = MemorySink()
        let contentType = try sealed.write(to: &sink)
        var text = String(decoding: sink.bytes, as: UTF8.self)
        let start = try XCTUnwrap(text.range(of: "<wsse:Security "))
        let end = try XCTUnwrap(text.range(of: ">", range: start.upperBound..<text.endIndex))
        text.insert(contentsOf: timestamp, at: end.upperBound)
        func read() throws -> AS4Message { try AS4Message.read(try MessageInput.load(bytes: Array(text.utf8), contentType: contentType)) }
        guard let signedId else { return try read() }
        let unsigned = try read()
        let header = try SecurityHeader.read(try XCTUnwrap(unsigned.envelope.securityHeaders.first))
        let target = try XCTUnwrap(try IdentifierIndex(document: unsigned.envelope.document).element(for: signedId))
        var references = try XCTUnwrap(header.signatures.first).references.map {
            SentReference(uri: $0.uri, transforms: $0.transforms.map(\.algorithm), digestMethod: $0.digestMethod, digestValue: $0.digestValue)
        }
        references.append(SentReference(uri: "#" + signedId, transforms: [Alg.excC14N], digestMethod: DigestAlgorithm.sha256.xmlURI,
                                        digestValue: try Digest.hash(try Canonicalizer.exclusive(target), algorithm: .sha256)))
        let signedInfo = SignatureBuilder.canonicalSignedInfo(references: references, signatureMethod: SignatureAlgorithm.rsaSHA256.uri)
        let value = try Signer.sign(data: signedInfo, key: pki.rsa.privateKey, algorithm: .rsaSHA256)
        for (open, close, replacement) in [("<ds:SignedInfo", "</ds:SignedInfo>", String(decoding: signedInfo, as: UTF8.self)),
                                           ("<ds:SignatureValue>", "</ds:SignatureValue>", "<ds:SignatureValue>\(Base64.encode(value))</ds:SignatureValue>")] {
            let from = try XCTUnwrap(text.range(of: open))
            let to = try XCTUnwrap(text.range(of: close, range: from.upperBound..<text.endIndex))
            text.replaceSubrange(from.lowerBound..<to.upperBound, with: replacement)
        }
        return try read()
    }

    func verify(_ message: AS4Message) throws -> EbmsError? {
        try SignatureVerifier(policy: .receiving, trust: pki.validator(), candidates: [pki.rsa.certificate], expectedSigners: [pki.rsa.certificate])
            .verify(message, attachments: message.attachments).error
    }

    func timestamp(_ idAttribute: String) -> String {
        let now = Date()
        return "<wsu:Timestamp \(idAttribute)><wsu:Created>\(Timestamp(now - 10).lexical)</wsu:Created>"
            + "<wsu:Expires>\(Timestamp(now + 300).lexical)</wsu:Expires></wsu:Timestamp>"
    }

    func testATimestampIsSignedOnlyWhenAReferenceResolvesToIt() throws {
        let unsigned = EbmsError(.policyNoncompliance, "wsu:Timestamp is present but not signed")
        XCTAssertNil(try verify(try message(timestamp: timestamp("wsu:Id=\"TS-1\""), signing: "TS-1")))
        XCTAssertEqual(try verify(try message(timestamp: timestamp("wsu:Id=\"TS-1\""))), unsigned)
        // Without any Id nothing can sign it, so it is not signed.
        XCTAssertEqual(try verify(try message(timestamp: timestamp(""))), unsigned)
        // An Id the header reader does not take for the Timestamp's (xml:id) still names the
        // element a reference resolves to: signed.
        XCTAssertNil(try verify(try message(timestamp: timestamp("xml:id=\"TS-2\""), signing: "TS-2")))
        // A signed neighbour does not sign it.
        let neighbour = timestamp("") + "<wsse:SecurityTokenReference wsu:Id=\"STR-1\"/>"
        XCTAssertEqual(try verify(try message(timestamp: neighbour, signing: "STR-1")), unsigned)
    }
}

/// An attacker chooses how much a SignedInfo costs to check: thousands of references (each a
/// canonicalisation or an attachment digest) are refused before any is computed, and so is a
/// URI named twice.
final class ReferenceCountTests: XCTestCase {
    let pki = TestPKI.shared

    func wire(editing edit: (inout String) -> Void) throws -> AS4Message {
        let sealed = try MessageSealer(signer: try SignatureBuilder(identity: pki.rsa), compress: false)
            .seal(SealAndVerifyTests.user(), payloads: SealAndVerifyTests.payloads(1))
        var sink = MemorySink()
        let contentType = try sealed.write(to: &sink)
        var text = String(decoding: sink.bytes, as: UTF8.self)
        edit(&text)
        return try AS4Message.read(try MessageInput.load(bytes: Array(text.utf8), contentType: contentType))
    }

    /// The first ds:Reference of the SignedInfo, repeated `times` more times with fresh URIs.
    func repeatingFirstReference(_ times: Int, sameURI: Bool = false) -> (inout String) -> Void {
        { text in
            guard let start = text.range(of: "<ds:Reference "), let end = text.range(of: "</ds:Reference>", range: start.upperBound..<text.endIndex) else { return }
            let reference = String(text[start.lowerBound..<end.upperBound])
            let uri = reference.range(of: "URI=\"").map { String(reference[$0.upperBound...].prefix { $0 != "\"" }) } ?? ""
            let copies = (0..<times).map { i in sameURI ? reference : reference.replacingOccurrences(of: "URI=\"\(uri)\"", with: "URI=\"#nothing-\(i)\"") }
            text.insert(contentsOf: copies.joined(), at: end.upperBound)
        }
    }

    func verify(_ message: AS4Message, examining: Bool = false) -> SignatureReport {
        var verifier = SignatureVerifier(policy: .receiving, trust: try? pki.validator(), candidates: [pki.rsa.certificate], expectedSigners: nil)
        verifier.examinesUnauthenticated = examining
        return verifier.verify(message, attachments: message.attachments)
    }

    func testThousandsOfReferencesAreRefusedBeforeAnyIsComputed() throws {
        let report = verify(try wire(editing: repeatingFirstReference(5000)))
        XCTAssertEqual(report.error?.code, .failedAuthentication)
        XCTAssertTrue(report.error?.reason.contains("5003 references; at most 9") ?? false, "\(String(describing: report.error))")
        XCTAssertTrue(report.references.isEmpty, "no reference was computed")
    }

    func testAURINamedTwiceStopsTheCheck() throws {
        let report = verify(try wire(editing: repeatingFirstReference(3, sameURI: true)))
        XCTAssertEqual(report.error?.code, .failedAuthentication)
        XCTAssertTrue(report.error?.reason.contains("appears twice") ?? false, "\(String(describing: report.error))")
        XCTAssertTrue(report.references.isEmpty, "refused before any reference was computed")
    }

    /// `cid:a@b` and `cid:a%40b` name one MIME part: a second reference to it in another
    /// spelling is the same URI twice, not a second thing signed.
    func testAnAttachmentNamedTwiceInTwoSpellingsStopsTheCheck() throws {
        var copied = false
        let report = verify(try wire { text in
            guard let uri = text.range(of: "<ds:Reference URI=\"cid:"),
                  let end = text.range(of: "</ds:Reference>", range: uri.upperBound..<text.endIndex) else { return }
            let reference = String(text[uri.lowerBound..<end.upperBound])
            let respelled = reference.replacingOccurrences(of: "@", with: "%40")
            guard respelled != reference else { return }
            text.insert(contentsOf: respelled, at: end.upperBound)
            copied = true
        })
        XCTAssertTrue(copied, "the sealed message has an attachment reference with an @ in its Content-ID")
        XCTAssertEqual(report.error?.code, .failedAuthentication)
        XCTAssertTrue(report.error?.reason.contains("appears twice") ?? false, "\(String(describing: report.error))")
        XCTAssertTrue(report.references.isEmpty, "refused before any reference was computed")
    }

    func testAFewExtraReferencesBreakTheSignatureBeforeAnyIsComputed() throws {
        let report = verify(try wire(editing: repeatingFirstReference(2)))
        XCTAssertEqual(report.error, EbmsError(.failedAuthentication, "the SignatureValue does not verify with the signer's key"))
        XCTAssertTrue(report.references.isEmpty)
        // Examined (as4gw verify), each is still judged one by one: they point at nothing.
        let examined = verify(try wire(editing: repeatingFirstReference(2)), examining: true)
        XCTAssertEqual(examined.error, report.error)
        XCTAssertEqual(examined.references.count, 5)
        XCTAssertEqual(examined.references.filter { $0.status == .invalid("reference target \($0.uri) does not exist") }.count, 2)
    }
}

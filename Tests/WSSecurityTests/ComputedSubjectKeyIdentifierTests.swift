import AS4Crypto
import EnvelopeXML
import Foundation
import XCTest
@testable import WSSecurity

/// An X509SubjectKeyIdentifier reference to a certificate without the extension: WSS4J (Domibus,
/// Harmony, phase4) writes SHA-1 over the certificate's subjectPublicKey bits for it. We resolve
/// that value against the certificates we hold without the extension: a peer's signing
/// certificate, and our own decryption certificate an EncryptedKey names. A certificate with the
/// extension stays named by its value alone, and one found only in the message by none.
///
/// The messages are made with a twin: a certificate for the peer's key whose extension holds the
/// computed value (OpenSSL's `hash`), so our own builders write the very KeyIdentifier WSS4J
/// would write, while the receiving side holds the certificate without the extension.
final class ComputedSubjectKeyIdentifierTests: XCTestCase {
    let pki = TestPKI.shared
    var spool = ""

    override func setUpWithError() throws { spool = try EncryptionFixtures.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: spool) }

    struct Peer {
        var key: PrivateKey
        /// As the receiving side holds it: no subjectKeyIdentifier extension.
        var held: Certificate
        /// The same key, its extension holding the computed value.
        var twin: Certificate
        var computed: KeyReference { .subjectKeyIdentifier(held.subjectPublicKeySHA1) }
    }

    static let year: TimeInterval = 365 * 86400

    /// Harmony's blue_gw: its own certificate (self-signed, no extensions) and key.
    func blueGateway() throws -> Peer {
        let key = try PrivateKey(pemEncoded: try EncryptionFixtures.pem("harmony/keys/blue_gw.key.pem"))
        let held = try Certificate(pemEncoded: try EncryptionFixtures.pem("harmony/keys/blue_gw.cert.pem"))
        XCTAssertNil(held.subjectKeyIdentifier)
        let twin = try CertificateAuthority.selfSignedCertificate(subject: CertificateSubject(commonName: "blue_gw twin"), key: key,
                                                                  validFrom: Date() - 60, validUntil: Date() + Self.year)
        return Peer(key: key, held: held, twin: twin)
    }

    /// A fresh key, certified by the test CA without and with the extension.
    func issued(_ key: PrivateKey, keyUsage: KeyUsage = [.digitalSignature, .nonRepudiation]) throws -> Peer {
        func issue(_ withExtension: Bool) throws -> Certificate {
            try pki.ca.issueCertificate(for: key.publicKey, subject: CertificateSubject(commonName: "peer \(key.keyType)", organization: "as4gw"),
                                        validFrom: Date() - 60, validUntil: Date() + Self.year, keyUsage: keyUsage,
                                        subjectKeyIdentifier: withExtension)
        }
        return Peer(key: key, held: try issue(false), twin: try issue(true))
    }

    /// The same key, with an extension whose value is not the computed one (as a CA deriving it
    /// otherwise writes it, e.g. RFC 7093's truncated SHA-256).
    func otherExtension(_ peer: Peer) throws -> Certificate {
        let value = Array(try Digest.hash(try peer.key.publicKey.spkiDER, algorithm: .sha256).prefix(20))
        let certificate = try pki.ca.issueCertificate(for: peer.key.publicKey, subject: CertificateSubject(commonName: "own SKI", organization: "as4gw"),
                                                      validFrom: Date() - 60, validUntil: Date() + Self.year,
                                                      keyUsage: peer.held.keyUsage ?? [.digitalSignature, .keyEncipherment],
                                                      subjectKeyIdentifierValue: value)
        XCTAssertNotEqual(certificate.subjectKeyIdentifier, peer.held.subjectPublicKeySHA1)
        return certificate
    }

    func validator(_ anchors: [Certificate]) throws -> CertificateValidator {
        CertificateValidator(trustStore: try TrustStore(anchors: anchors + [pki.ca.certificate]))
    }

    // MARK: Signatures

    /// SOAP-only (no attachments): the envelope bytes.
    func signed(_ peer: Peer, style: KeyReferenceStyle = .subjectKeyIdentifier, certificate: Certificate? = nil) throws -> [UInt8] {
        let signer = try SignatureBuilder(identity: SigningIdentity(privateKey: peer.key, certificate: certificate ?? peer.twin), keyReference: style)
        let sealed = try MessageSealer(signer: signer).seal(SealAndVerifyTests.user(), payloads: [])
        var sink = MemorySink()
        let contentType = try sealed.write(to: &sink)
        return try MessageInput.load(bytes: sink.bytes, contentType: contentType).envelope
    }

    func verify(_ envelope: [UInt8], candidates: [Certificate], trust: CertificateValidator) throws -> SignatureReport {
        var sink = MemorySink()
        try MultipartWriter.writeSOAPOnly(envelope: envelope, to: &sink)
        let message = try AS4Message.read(try MessageInput.load(bytes: sink.bytes, contentType: MultipartWriter.soapContentType))
        return SignatureVerifier(policy: .receiving, trust: trust, candidates: candidates, expectedSigners: candidates)
            .verify(message, attachments: message.attachments)
    }

    func keyReference(_ envelope: [UInt8]) throws -> KeyReference? {
        let message = try AS4Message.read(try MessageInput.load(bytes: envelope, contentType: MultipartWriter.soapContentType))
        return try EncryptionFixtures.header(message).signatures.first?.keyReference
    }

    /// A signature naming the signer by the computed value verifies against the certificate we
    /// hold without the extension, and that certificate is the signer: RSA (Harmony's blue_gw),
    /// P-256 and Ed25519.
    func testASignatureNamingAKeyByItsComputedValueVerifies() throws {
        for peer in [try blueGateway(), try issued(try .generateEC(curve: .p256)), try issued(try .generateEd25519())] {
            let envelope = try signed(peer)
            XCTAssertEqual(try keyReference(envelope), peer.computed, "the KeyIdentifier WSS4J writes")
            let report = try verify(envelope, candidates: [pki.rsa.certificate, peer.held], trust: try validator([peer.held]))
            XCTAssertNil(report.error, "\(peer.held): \(String(describing: report.error))")
            XCTAssertEqual(report.signer, peer.held)
            XCTAssertEqual(report.signatureValueValid, true)
        }
    }

    /// A certificate with the extension is named by the extension's value only: the same key
    /// under another extension value is no match for the computed value (EBMS:0101), nor is a
    /// certificate without the extension that only the message carries (in a token).
    func testTheComputedValueNamesNoCertificateWithTheExtensionNorOneFromTheMessage() throws {
        let peer = try blueGateway()
        let other = try otherExtension(peer)
        let report = try verify(try signed(peer), candidates: [other], trust: try validator([other]))
        XCTAssertEqual(report.error?.code, .failedAuthentication)
        XCTAssertTrue(report.error?.reason.contains("no known certificate has the Subject Key Identifier \(hex(peer.held.subjectPublicKeySHA1))") ?? false,
                      String(describing: report.error))
        XCTAssertNil(report.signer)

        // Signed with a token holding the certificate without the extension, then the KeyInfo
        // (outside what is signed) made to name it by the computed value instead.
        let withToken = String(decoding: try signed(peer, style: .binarySecurityToken, certificate: peer.held), as: UTF8.self)
        let reference = try XCTUnwrap(withToken.range(of: #"<wsse:Reference [^>]*/>"#, options: .regularExpression))
        let keyIdentifier = #"<wsse:KeyIdentifier EncodingType="\#(Alg.base64Binary)" ValueType="\#(Alg.x509SKI)">"#
            + Base64.encode(peer.held.subjectPublicKeySHA1) + "</wsse:KeyIdentifier>"
        let renamed = Array(withToken.replacingCharacters(in: reference, with: keyIdentifier).utf8)
        XCTAssertEqual(try keyReference(renamed), peer.computed)
        XCTAssertEqual(try EncryptionFixtures.header(try AS4Message.read(try MessageInput.load(bytes: renamed, contentType: MultipartWriter.soapContentType)))
            .tokens.map(\.der), [peer.held.derBytes])
        // (Not in the truststore either: its anchors are candidates as well.)
        let unknown = try verify(renamed, candidates: [other], trust: try validator([]))
        XCTAssertEqual(unknown.error?.code, .failedAuthentication)
        XCTAssertTrue(unknown.error?.reason.contains("no known certificate has the Subject Key Identifier") ?? false, String(describing: unknown.error))
        // Held, the same message verifies: only where the certificate came from differed.
        XCTAssertNil(try verify(renamed, candidates: [peer.held], trust: try validator([peer.held])).error)
    }

    /// The extension's value wins over the computed one: with a twin that has the extension
    /// and one without it for the same key, the reference resolves to the twin in either order.
    func testAnExtensionMatchIsPreferredToAComputedOne() throws {
        let peer = try issued(try .generateEC(curve: .p256))
        for candidates in [[peer.held, peer.twin], [peer.twin, peer.held]] {
            XCTAssertEqual(try KeyResolver(tokens: [], candidates: candidates).resolve(peer.computed).certificate, peer.twin)
        }
        XCTAssertEqual(try KeyResolver(tokens: [], candidates: [peer.held]).resolve(peer.computed).certificate, peer.held)
        XCTAssertThrowsError(try KeyResolver(tokens: [], candidates: [peer.held]).resolve(.subjectKeyIdentifier(peer.held.sha1Thumbprint)))
    }

    // MARK: Encrypted keys

    /// One encrypted attachment for `recipient`, named in the EncryptedKey by its SKI (the twin's
    /// extension: the computed value of the certificate the receiver holds).
    func encrypted(to recipient: Certificate, method: KeyEncryptionMethod) throws -> (AS4Message, [UInt8]) {
        let plain = Array("<doc>for a recipient without the extension</doc>".utf8)
        let output = try AttachmentEncryptor.encrypt([.init(contentID: "part-\(UUID().uuidString)@as4gw.test", contentType: "application/xml",
                                                            body: .bytes(plain))],
                                                     recipient: recipient, method: method, keyReference: .subjectKeyIdentifier, spoolDirectory: nil)
        return (try EncryptionFixtures.message(securityXML: output.securityHeaderXML, attachments: output.attachments), plain)
    }

    /// An EncryptedKey naming our decryption certificate, which has no extension, by the
    /// computed value finds our key among several (RSA-OAEP for blue_gw, X25519 key agreement);
    /// the same key under a certificate with another extension value is not found (EBMS:0102).
    func testAnEncryptedKeyNamingOurCertificateByItsComputedValueDecrypts() throws {
        let x25519 = try issued(try .generateX25519(), keyUsage: [.keyAgreement])
        for (peer, method) in [(try blueGateway(), KeyEncryptionMethod.rsaOAEP), (x25519, .x25519HKDF)] {
            let (message, plain) = try encrypted(to: peer.twin, method: method)
            let header = try EncryptionFixtures.header(message)
            let named = method == .rsaOAEP ? header.encryptedKeys.first?.recipient : header.encryptedKeys.first?.agreement?.recipient
            XCTAssertEqual(named, peer.computed, "\(method)")
            let ours = DecryptionKey(privateKey: peer.key, certificate: peer.held)
            let parts = try AttachmentDecryptor.decrypt(message, header: header, keys: EncryptionRecipient.allKeys + [ours],
                                                        policy: EncryptionRecipient.policy(method), spoolDirectory: spool)
            XCTAssertEqual(try parts.first?.body.readAll(), plain, "\(method)")

            let other = DecryptionKey(privateKey: peer.key, certificate: try otherExtension(peer))
            let error = try EncryptionFixtures.decryptionError(message, keys: EncryptionRecipient.allKeys + [other],
                                                               policy: EncryptionRecipient.policy(method), spool: spool)
            XCTAssertEqual(error?.code, .failedDecryption, "\(method)")
            XCTAssertTrue(error?.reason.contains("a certificate we hold no decryption key for") ?? false, "\(method): \(String(describing: error))")
        }
    }
}

import XCTest
import AS4Crypto
import EnvelopeXML
@testable import WSSecurity

/// Sign-then-encrypt under both profiles, read back as a receiver does: decrypt, verify,
/// decompress, and get the original documents.
final class EncryptedExchangeTests: XCTestCase {
    let pki = TestPKI.shared

    struct Recipient {
        var identity: SigningIdentity
        var method: KeyEncryptionMethod
        var policy: SecurityPolicy
    }

    lazy var x25519: SigningIdentity = {
        let key = try! PrivateKey.generateX25519()
        return SigningIdentity(privateKey: key, certificate: try! pki.ca.issueCertificate(
            for: key.publicKey, subject: .init(commonName: "party-b-x25519"), validUntil: Date() + 86400 * 365, keyUsage: [.keyAgreement]))
    }()

    lazy var p256Recipient: SigningIdentity = {
        let key = try! PrivateKey.generateEC(curve: .p256)
        return SigningIdentity(privateKey: key, certificate: try! pki.ca.issueCertificate(
            for: key.publicKey, subject: .init(commonName: "party-b-p256"), validUntil: Date() + 86400 * 365, keyUsage: [.keyAgreement]))
    }()

    func exchange(sender: SigningIdentity, recipient: Recipient, attachments: Int, compress: Bool) throws {
        let payloads = SealAndVerifyTests.payloads(attachments)
        let sealer = MessageSealer(signer: try SignatureBuilder(identity: sender),
                                   encryption: .init(recipient: recipient.identity.certificate, method: recipient.method),
                                   compress: compress, spoolDirectory: NSTemporaryDirectory())
        let sealed = try sealer.seal(SealAndVerifyTests.user(), payloads: payloads)
        defer { sealed.removeSpoolFiles() }
        var sink = MemorySink()
        let ct = try sealed.write(to: &sink)
        let message = try AS4Message.read(try MessageInput.load(bytes: sink.bytes, contentType: ct))
        XCTAssertEqual(message.envelope.encryptedContentIDs.count, attachments)
        let header = try SecurityHeader.read(message.envelope.securityHeaders[0])
        let plain = try AttachmentDecryptor.decrypt(message, header: header,
                                                    keys: [DecryptionKey(privateKey: recipient.identity.privateKey, certificate: recipient.identity.certificate)],
                                                    policy: recipient.policy, spoolDirectory: NSTemporaryDirectory())
        let report = SignatureVerifier(policy: recipient.policy, trust: try pki.validator(), expectedSigners: [sender.certificate])
            .verify(message, attachments: plain)
        XCTAssertNil(report.error, "\(recipient.method) n=\(attachments) compress=\(compress): \(String(describing: report.error))")
        for (i, part) in plain.enumerated() {
            var bytes = try part.body.readAll()
            if compress { bytes = try Gzip.decompress(bytes) }
            XCTAssertEqual(bytes, try payloads[i].body.readAll())
        }
    }

    func testProfile115() throws {
        for n in [0, 1, 5] {
            for compress in [true, false] {
                try exchange(sender: pki.rsa, recipient: Recipient(identity: pki.rsaB, method: .rsaOAEP, policy: .eDelivery115),
                             attachments: n, compress: compress)
            }
        }
    }

    func testProfile20() throws {
        for n in [0, 1, 5] {
            for compress in [true, false] {
                try exchange(sender: pki.ed25519, recipient: Recipient(identity: x25519, method: .x25519HKDF, policy: .eDelivery20),
                             attachments: n, compress: compress)
                try exchange(sender: pki.p256, recipient: Recipient(identity: p256Recipient, method: .ecdhESHKDF, policy: .eDelivery20),
                             attachments: n, compress: compress)
            }
        }
    }

    /// With compression on, an already-compressed payload (an e-document, an image) travels as it
    /// is, without CompressionType, while an XML one is deflated; both verify and decrypt.
    func testAlreadyCompressedPayloadsAreNotDeflatedAgain() throws {
        let edoc = Payload(mimeType: "application/vnd.etsi.asic-e+zip", body: .bytes(Array("PK\u{3}\u{4} edoc".utf8)))
        let jpeg = Payload(mimeType: "IMAGE/JPEG; name=scan.jpg", body: .bytes([0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3]))
        let xml = Payload(mimeType: "application/xml", body: .bytes(Array(String(repeating: "<line>repeated</line>", count: 50).utf8)))
        let sealer = MessageSealer(signer: try SignatureBuilder(identity: pki.rsa),
                                   encryption: .init(recipient: pki.rsaB.certificate, method: .rsaOAEP), compress: true)
        let sealed = try sealer.seal(SealAndVerifyTests.user(), payloads: [edoc, jpeg, xml])
        var sink = MemorySink()
        let ct = try sealed.write(to: &sink)
        let message = try AS4Message.read(try MessageInput.load(bytes: sink.bytes, contentType: ct))
        let partInfos = try XCTUnwrap(message.envelope.messaging.userMessage?.payloads)
        func compression(_ i: Int) -> String? { partInfos[i].properties.first { $0.name == "CompressionType" }?.value }
        XCTAssertNil(compression(0))
        XCTAssertNil(compression(1))
        XCTAssertEqual(compression(2), "application/gzip")
        XCTAssertEqual(partInfos[0].properties.first { $0.name == "MimeType" }?.value, "application/vnd.etsi.asic-e+zip")

        let header = try SecurityHeader.read(message.envelope.securityHeaders[0])
        let plain = try AttachmentDecryptor.decrypt(message, header: header,
                                                    keys: [DecryptionKey(privateKey: pki.rsaB.privateKey, certificate: pki.rsaB.certificate)],
                                                    policy: .eDelivery115, spoolDirectory: NSTemporaryDirectory())
        XCTAssertNil(SignatureVerifier(policy: .eDelivery115, trust: try pki.validator(), expectedSigners: [pki.rsa.certificate])
            .verify(message, attachments: plain).error)
        XCTAssertEqual(try plain[0].body.readAll(), try edoc.body.readAll())
        XCTAssertEqual(try plain[1].body.readAll(), try jpeg.body.readAll())
        XCTAssertEqual(try Gzip.decompress(try plain[2].body.readAll()), try xml.body.readAll())

        for type in ["application/zip", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", "video/mp4",
                     "application/vnd.oasis.opendocument.text", "image/png"] {
            XCTAssertFalse(CompressionChoice.worthCompressing(mimeType: type), type)
        }
        for type in ["application/xml", "application/pdf", "text/plain; charset=utf-8", "application/octet-stream", "image/tiff", ""] {
            XCTAssertTrue(CompressionChoice.worthCompressing(mimeType: type), type)
        }
    }

    /// Compressed or encrypted content labelled application/octet-stream (how a PDF export or an
    /// ASiC container often arrives) is recognised by its bytes and left alone; text, XML and
    /// small or low-entropy bodies are still deflated; a type that is never worth it stays so.
    func testIncompressibleContentIsNotDeflatedWhateverItsType() throws {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        let random = (0..<10_240).map { _ -> UInt8 in
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            return UInt8(truncatingIfNeeded: state)
        }
        let xml = Array(String(repeating: "<cbc:InvoicedQuantity unitCode=\"EA\">3</cbc:InvoicedQuantity>\n", count: 200).utf8)
        XCTAssertGreaterThan(CompressionChoice.entropy(of: random), 7.9)
        XCTAssertLessThan(CompressionChoice.entropy(of: xml), 6)
        XCTAssertFalse(try CompressionChoice.worthCompressing(mimeType: "application/octet-stream", body: .bytes(random)))
        XCTAssertTrue(try CompressionChoice.worthCompressing(mimeType: "application/octet-stream", body: .bytes(xml)))
        // Too short to judge by a sample: the type decides.
        XCTAssertTrue(try CompressionChoice.worthCompressing(mimeType: "application/octet-stream", body: .bytes(Array(random.prefix(1000)))))
        XCTAssertFalse(try CompressionChoice.worthCompressing(mimeType: "application/zip", body: .bytes(xml)))
        // Every byte value equally often, yet periodic: deflate shrinks it, so it is compressed.
        let periodic = (0..<20_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        XCTAssertGreaterThan(CompressionChoice.entropy(of: Array(periodic.prefix(4096))), 7.99)
        XCTAssertTrue(try CompressionChoice.worthCompressing(mimeType: "application/octet-stream", body: .bytes(periodic)))
        XCTAssertGreaterThan(CompressionChoice.repeatedQuadruples(in: Array(periodic.prefix(4096))), 0.5)
        XCTAssertLessThan(CompressionChoice.repeatedQuadruples(in: Array(random.prefix(4096))), 0.01)
        // A file body is judged by its first bytes, read from the file.
        let path = NSTemporaryDirectory() + "/as4gw-entropy-\(UUID().uuidString).bin"
        try Data(random + xml).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        XCTAssertFalse(try CompressionChoice.worthCompressing(mimeType: "application/pdf", body: try .wholeFile(path)))
        XCTAssertTrue(try CompressionChoice.worthCompressing(mimeType: "application/pdf",
                                                             body: PartBody.wholeFile(path).slice(offset: 10_240, length: UInt64(xml.count))))

        // Sealed: the random payload travels as it is, the XML one deflated.
        let sealer = MessageSealer(signer: try SignatureBuilder(identity: pki.rsa),
                                   encryption: .init(recipient: pki.rsaB.certificate, method: .rsaOAEP), compress: true)
        let sealed = try sealer.seal(SealAndVerifyTests.user(), payloads: [
            Payload(contentID: "random@test", mimeType: "application/octet-stream", body: .bytes(random)),
            Payload(contentID: "xml@test", mimeType: "application/octet-stream", body: .bytes(xml)),
        ])
        let infos = sealed.messaging.userMessage?.payloads ?? []
        XCTAssertEqual(infos.count, 2)
        XCTAssertNil(infos[0].properties.first { $0.name == "CompressionType" })
        XCTAssertEqual(infos[1].properties.first { $0.name == "CompressionType" }?.value, "application/gzip")
    }

    func testOAEPDigestOutsideThePolicyIsRefused() throws {
        let sealer = MessageSealer(signer: try SignatureBuilder(identity: pki.rsa),
                                   encryption: .init(recipient: pki.rsaB.certificate, method: .rsaOAEP), compress: true)
        let sealed = try sealer.seal(SealAndVerifyTests.user(), payloads: SealAndVerifyTests.payloads(1))
        // Drop the explicit SHA-256 OAEP digest: the default (SHA-1) applies, which 1.15 does not allow.
        var env = String(decoding: sealed.envelope, as: UTF8.self)
        let dm = "<ds:DigestMethod Algorithm=\"\(Alg.sha256)\"/>"
        XCTAssertTrue(env.contains(dm))
        env = env.replacingOccurrences(of: dm, with: "")
        var forged = sealed
        forged.envelope = Array(env.utf8)
        var sink = MemorySink()
        let ct = try forged.write(to: &sink)
        let message = try AS4Message.read(try MessageInput.load(bytes: sink.bytes, contentType: ct))
        XCTAssertThrowsError(try AttachmentDecryptor.decrypt(message, header: try SecurityHeader.read(message.envelope.securityHeaders[0]),
                                                             keys: [DecryptionKey(privateKey: pki.rsaB.privateKey, certificate: pki.rsaB.certificate)],
                                                             policy: .eDelivery115, spoolDirectory: nil)) { error in
            XCTAssertEqual((error as? EbmsError)?.code, .policyNoncompliance)
            XCTAssertTrue((error as? EbmsError)?.reason.contains("OAEP digest") ?? false, "\(error)")
        }
    }
}

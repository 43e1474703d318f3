import AS4Crypto
import EnvelopeXML
import Foundation
import XCTest
@testable import WSSecurity

/// A recipient's key pair and certificate for the encryption tests.
struct EncryptionRecipient: Sendable {
    let key: PrivateKey
    let certificate: Certificate
    var decryptionKey: DecryptionKey { DecryptionKey(privateKey: key, certificate: certificate) }

    static let validUntil = Date().addingTimeInterval(86_400 * 30)

    /// RSA-2048, self-signed (eDelivery 1.x).
    static let rsa: EncryptionRecipient = {
        let key = try! PrivateKey.generateRSA(bits: 2048)
        let cert = try! CertificateAuthority.selfSignedCertificate(subject: CertificateSubject(commonName: "rsa-recipient"), key: key,
                                                                   validUntil: validUntil, serialNumber: "4242")
        return EncryptionRecipient(key: key, certificate: cert)
    }()

    /// X25519, issued by an Ed25519 CA (an X25519 key cannot sign its own certificate).
    static let x25519: EncryptionRecipient = {
        let caKey = try! PrivateKey.generateEd25519()
        let ca = try! CertificateAuthority.createSelfSigned(subject: CertificateSubject(commonName: "test-ca", country: "EU"),
                                                            key: caKey, validUntil: validUntil)
        let key = try! PrivateKey.generateX25519()
        let cert = try! ca.issueCertificate(for: key.publicKey, subject: CertificateSubject(commonName: "x25519-recipient"),
                                            validUntil: validUntil, keyUsage: [.keyAgreement])
        return EncryptionRecipient(key: key, certificate: cert)
    }()

    /// EC P-256, self-signed (the eDelivery 2.0 EC option).
    static let p256: EncryptionRecipient = {
        let key = try! PrivateKey.generateEC(curve: .p256)
        let cert = try! CertificateAuthority.selfSignedCertificate(subject: CertificateSubject(commonName: "p256-recipient"), key: key,
                                                                   validUntil: validUntil, keyUsage: [.digitalSignature, .keyAgreement])
        return EncryptionRecipient(key: key, certificate: cert)
    }()

    static func `for`(_ method: KeyEncryptionMethod) -> EncryptionRecipient {
        switch method {
        case .rsaOAEP: return rsa
        case .x25519HKDF: return x25519
        case .ecdhESHKDF: return p256
        }
    }

    /// The strict profile each method belongs to: our output must pass it, not just `.receiving`.
    static func policy(_ method: KeyEncryptionMethod) -> SecurityPolicy {
        method == .rsaOAEP ? .eDelivery115 : .eDelivery20
    }

    static var allKeys: [DecryptionKey] { [rsa.decryptionKey, x25519.decryptionKey, p256.decryptionKey] }
}

final class EncryptionRoundTripTests: XCTestCase {
    var work = ""
    var spool = ""

    override func setUpWithError() throws {
        work = try EncryptionFixtures.temporaryDirectory()
        spool = try EncryptionFixtures.temporaryDirectory()
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: work)
        try? FileManager.default.removeItem(atPath: spool)
    }

    /// Payloads of assorted sizes (empty, one byte, several 64 KiB chunks, one over the size up
    /// to which file-backed parts are worked on in memory) and types; optionally file-backed.
    func attachments(_ count: Int, fileBacked: Bool) throws -> [MultipartWriter.Attachment] {
        let sizes = [1000, 0, 1, 1_200_001, 65_536]
        let types = ["application/gzip", "application/xml", "text/plain; charset=utf-8", "application/octet-stream", "image/png"]
        return try (0..<count).map { i in
            let bytes = (0..<sizes[i % sizes.count]).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ i) }
            var body = PartBody.bytes(bytes)
            if fileBacked {
                let path = work + "/payload-\(i)"
                try Data(bytes).write(to: URL(fileURLWithPath: path))
                body = try PartBody.wholeFile(path)
            }
            let extra = i == 1 ? MIMEHeaders(["Content-Disposition": "attachment; filename=\"p1.xml\""]) : MIMEHeaders()
            return MultipartWriter.Attachment(contentID: "part\(i)-\(UUID().uuidString)@as4gw.test", contentType: types[i % types.count],
                                              body: body, extraHeaders: extra)
        }
    }

    func roundTrip(_ method: KeyEncryptionMethod, style: KeyReferenceStyle, parts: Int, fileBacked: Bool,
                   file: StaticString = #filePath, line: UInt = #line) throws {
        let context = "\(method) \(style) \(parts) parts \(fileBacked ? "file" : "memory")"
        let recipient = EncryptionRecipient.for(method)
        let originals = try attachments(parts, fileBacked: fileBacked)
        let output = try AttachmentEncryptor.encrypt(originals, recipient: recipient.certificate, method: method,
                                                     keyReference: style, spoolDirectory: spool)
        XCTAssertEqual(output.attachments.count, parts, context, file: file, line: line)
        XCTAssertEqual(output.securityHeaderXML.isEmpty, parts == 0, context, file: file, line: line)
        for (sent, original) in zip(output.attachments, originals) {
            XCTAssertEqual(sent.contentID, original.contentID, context, file: file, line: line)
            XCTAssertEqual(sent.contentType, "application/octet-stream", context, file: file, line: line)
            XCTAssertEqual(sent.extraHeaders, original.extraHeaders, context, file: file, line: line)
            XCTAssertEqual(sent.body.count, original.body.count + 28, "IV || ciphertext || tag; \(context)", file: file, line: line)
            XCTAssertEqual(isFile(sent.body), fileBacked && original.body.count > PartCipher.smallFileLimit,
                           "ciphertext of large file-backed parts goes to the spool, of small ones to memory; \(context)", file: file, line: line)
        }

        let message = try EncryptionFixtures.message(securityXML: output.securityHeaderXML, attachments: output.attachments,
                                                     fileIn: fileBacked ? work : nil)
        let header = try EncryptionFixtures.header(message)
        // All three recipients' keys are offered: the STR must pick the right one.
        let decrypted = try AttachmentDecryptor.decrypt(message, header: header, keys: EncryptionRecipient.allKeys,
                                                        policy: EncryptionRecipient.policy(method), spoolDirectory: spool)
        XCTAssertEqual(decrypted.count, parts, context, file: file, line: line)
        for (part, original) in zip(decrypted, originals) {
            XCTAssertEqual(part.contentID, original.contentID, context, file: file, line: line)
            XCTAssertEqual(part.headers["Content-Type"], original.contentType, context, file: file, line: line)
            for field in original.extraHeaders {
                XCTAssertEqual(part.headers[field.name], field.value, context, file: file, line: line)
            }
            XCTAssertEqual(try part.body.readAll(), try original.body.readAll(), context, file: file, line: line)
            XCTAssertEqual(isFile(part.body), fileBacked && original.body.count > PartCipher.smallFileLimit,
                           "plaintext of large file-backed parts goes to the spool, of small ones to memory; \(context)", file: file, line: line)
        }
    }

    func isFile(_ body: PartBody) -> Bool {
        if case .file(let path, _, _) = body { return path.hasPrefix(spool) }
        return false
    }

    func testRoundTripsEveryMethodStyleAndStorage() throws {
        for method in KeyEncryptionMethod.allCases {
            for style in KeyReferenceStyle.allCases {
                for parts in [0, 1, 5] {
                    for fileBacked in [false, true] {
                        try roundTrip(method, style: style, parts: parts, fileBacked: fileBacked)
                    }
                }
            }
        }
    }

    /// The fragment is self-contained: inside a root that declares nothing, every element still
    /// resolves to its namespace, and the reader sees what the writer meant.
    func testHeaderFragmentStructure() throws {
        for method in KeyEncryptionMethod.allCases {
            let recipient = EncryptionRecipient.for(method)
            let output = try AttachmentEncryptor.encrypt(try attachments(2, fileBacked: false), recipient: recipient.certificate,
                                                         method: method, keyReference: .binarySecurityToken, spoolDirectory: nil)
            let document = try XMLDocument(parsing: Array("<root>".utf8) + output.securityHeaderXML + Array("</root>".utf8))
            let root = try XCTUnwrap(document.root)
            for element in root.descendantsAndSelf().dropFirst() {
                XCTAssertNotNil(element.namespaceURI, "\(method): \(element.qualifiedName) has no namespace")
            }
            XCTAssertEqual(root.children.map(\.localName), ["BinarySecurityToken", "EncryptedKey", "EncryptedData", "EncryptedData"])

            let header = try SecurityHeader.read(root)
            let key = try XCTUnwrap(header.encryptedKeys.first)
            XCTAssertTrue(key.id?.hasPrefix("EK-") ?? false)
            XCTAssertEqual(key.dataReferences, header.encryptedData.map { "#" + ($0.id ?? "") })
            for data in header.encryptedData {
                XCTAssertTrue(data.id?.hasPrefix("ED-") ?? false)
                XCTAssertEqual(data.type, Alg.attachmentContentOnly)
                XCTAssertEqual(data.algorithm, Alg.aes128GCM)
                XCTAssertEqual(data.keyReference, .encryptedKey(id: key.id ?? ""))
                XCTAssertEqual(data.cipherTransforms, [Alg.attachmentCiphertext])
            }
            XCTAssertEqual(header.encryptedData.map(\.mimeType), ["application/gzip", "application/xml"])
            switch method {
            case .rsaOAEP:
                XCTAssertEqual(key.algorithm, Alg.rsaOAEP11)
                XCTAssertEqual(key.oaepDigest, Alg.sha256)
                XCTAssertEqual(key.mgf, Alg.mgf1SHA256)
                XCTAssertEqual(key.recipient, .tokenReference(id: header.tokens.first?.id ?? "", valueType: Alg.x509v3))
            case .x25519HKDF, .ecdhESHKDF:
                XCTAssertEqual(key.algorithm, Alg.kwAES128)
                let agreement = try XCTUnwrap(key.agreement)
                XCTAssertEqual(agreement.algorithm, method == .x25519HKDF ? Alg.x25519 : Alg.ecdhES)
                XCTAssertEqual(agreement.keyDerivation, Alg.hkdf)
                XCTAssertEqual(agreement.hkdf?.prf, Alg.hmacSHA256)
                XCTAssertEqual(agreement.hkdf?.keyLength, 16)
                XCTAssertGreaterThanOrEqual(agreement.hkdf?.salt.count ?? 0, 16)
                XCTAssertEqual(key.cipherValue.count, 24, "AES-KW of a 16-byte key")
                if case .subjectPublicKeyInfo(let spki) = agreement.originator {
                    XCTAssertEqual(spki.count, 44)
                    XCTAssertEqual(Array(spki.prefix(12)), [0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x03, 0x21, 0x00])
                } else if case .ecPoint(let curve, let point) = agreement.originator {
                    XCTAssertEqual(curve, ECCurve.p256.urn)
                    XCTAssertEqual(point.count, 65)
                    XCTAssertEqual(point.first, 0x04, "uncompressed point")
                }
                XCTAssertNotNil(agreement.recipient)
            }
        }
    }

    /// A recipient certificate without the SKI extension, asked for by SKI: the EncryptedKey names
    /// it by ThumbprintSHA1 (BSP R5206/R5210), no SKI is computed, and the recipient finds its key
    /// by it. Why the P-Mode load does not refuse `encryptionKeyReference: "ski"` for such a partner.
    func testARecipientWithoutSubjectKeyIdentifierIsNamedByThumbprint() throws {
        let key = try PrivateKey.generateRSA(bits: 2048)
        let certificate = try CertificateAuthority.selfSignedCertificate(subject: CertificateSubject(commonName: "recipient without SKI"), key: key,
                                                                         validUntil: EncryptionRecipient.validUntil, subjectKeyIdentifier: false)
        XCTAssertNil(certificate.subjectKeyIdentifier)
        let originals = try attachments(1, fileBacked: false)
        let output = try AttachmentEncryptor.encrypt(originals, recipient: certificate, method: .rsaOAEP,
                                                     keyReference: .subjectKeyIdentifier, spoolDirectory: nil)
        let message = try EncryptionFixtures.message(securityXML: output.securityHeaderXML, attachments: output.attachments, fileIn: nil)
        let header = try EncryptionFixtures.header(message)
        XCTAssertEqual(header.encryptedKeys.first?.recipient, .thumbprintSHA1(certificate.sha1Thumbprint))
        let keys = EncryptionRecipient.allKeys + [DecryptionKey(privateKey: key, certificate: certificate)]
        let decrypted = try AttachmentDecryptor.decrypt(message, header: header, keys: keys, policy: .eDelivery115, spoolDirectory: spool)
        XCTAssertEqual(try decrypted.first?.body.readAll(), try originals[0].body.readAll())
    }

    /// Fresh key material for every message and part: the same payload twice never gives the same bytes.
    func testFreshKeysAndIVs() throws {
        let originals = try attachments(2, fileBacked: false)
        let first = try AttachmentEncryptor.encrypt(originals, recipient: EncryptionRecipient.x25519.certificate, method: .x25519HKDF,
                                                    keyReference: .subjectKeyIdentifier, spoolDirectory: nil)
        let second = try AttachmentEncryptor.encrypt(originals, recipient: EncryptionRecipient.x25519.certificate, method: .x25519HKDF,
                                                     keyReference: .subjectKeyIdentifier, spoolDirectory: nil)
        let ivs = try (first.attachments + second.attachments).map { Array(try $0.body.readAll().prefix(12)) }
        XCTAssertEqual(Set(ivs).count, 4)
        XCTAssertNotEqual(try first.attachments[0].body.readAll(), try second.attachments[0].body.readAll())
    }

    /// Over 8 MiB: the sender needs a spool for in-memory input too; the receiver refuses to
    /// decrypt into memory without one, and streams to the spool with one.
    func testLargePartNeedsSpool() throws {
        let big = MultipartWriter.Attachment(contentID: "big@as4gw.test", contentType: "application/gzip",
                                             body: .bytes([UInt8](repeating: 0x5a, count: 9 << 20)))
        XCTAssertThrowsError(try AttachmentEncryptor.encrypt([big], recipient: EncryptionRecipient.rsa.certificate, method: .rsaOAEP,
                                                             keyReference: .issuerSerial, spoolDirectory: nil))
        let output = try AttachmentEncryptor.encrypt([big], recipient: EncryptionRecipient.rsa.certificate, method: .rsaOAEP,
                                                     keyReference: .issuerSerial, spoolDirectory: work)
        let message = try EncryptionFixtures.message(securityXML: output.securityHeaderXML, attachments: output.attachments)
        let error = try EncryptionFixtures.decryptionError(message, keys: [EncryptionRecipient.rsa.decryptionKey], spool: nil)
        XCTAssertEqual(error?.code, .failedDecryption)
        XCTAssertTrue(error?.reason.contains("too large") ?? false, error?.reason ?? "")

        let parts = try AttachmentDecryptor.decrypt(message, header: try EncryptionFixtures.header(message),
                                                    keys: [EncryptionRecipient.rsa.decryptionKey], policy: .eDelivery115,
                                                    spoolDirectory: spool)
        guard case .file(let path, _, let length) = parts[0].body else { return XCTFail("expected a spool file") }
        XCTAssertTrue(path.hasPrefix(spool))
        XCTAssertEqual(length, 9 << 20)
        XCTAssertEqual(try parts[0].body.readAll(), try big.body.readAll())
    }

    /// Parts that travel in clear keep their place and bytes; encrypted ones between them are
    /// decrypted. A policy requiring encryption refuses the clear ones.
    func testMixedPlainAndEncryptedParts() throws {
        let all = try attachments(3, fileBacked: false)
        let output = try AttachmentEncryptor.encrypt([all[1]], recipient: EncryptionRecipient.rsa.certificate, method: .rsaOAEP,
                                                     keyReference: .subjectKeyIdentifier, spoolDirectory: nil)
        let sent = [all[0], output.attachments[0], all[2]]
        let message = try EncryptionFixtures.message(securityXML: output.securityHeaderXML, attachments: sent)
        let header = try EncryptionFixtures.header(message)
        let parts = try AttachmentDecryptor.decrypt(message, header: header, keys: EncryptionRecipient.allKeys,
                                                    policy: .eDelivery115, spoolDirectory: nil)
        XCTAssertEqual(parts.map(\.contentID), all.map(\.contentID))
        XCTAssertEqual(parts.map { $0.headers["Content-Type"] }, all.map(\.contentType))
        XCTAssertEqual(try parts.map { try $0.body.readAll() }, try all.map { try $0.body.readAll() })
        XCTAssertEqual(parts[0], message.attachments[0], "a clear part is returned unchanged")

        var strict = SecurityPolicy.eDelivery115
        strict.requireEncryption = true
        let error = try EncryptionFixtures.decryptionError(message, keys: EncryptionRecipient.allKeys, policy: strict, spool: nil)
        XCTAssertEqual(error?.code, .policyNoncompliance)
        XCTAssertTrue(error?.reason.contains(all[0].contentID) ?? false, error?.reason ?? "")
    }

    /// 200 MB through encryption, MIME and decryption with bounded memory (peak RSS well below
    /// the payload size). Takes a few seconds, so only with AS4GW_LARGE_TESTS=1.
    func testLargeFileBackedPartStaysOutOfMemory() throws {
        guard ProcessInfo.processInfo.environment["AS4GW_LARGE_TESTS"] == "1" else { throw XCTSkip("set AS4GW_LARGE_TESTS=1") }
        let path = work + "/large"
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: nil))
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        let chunk = Data((0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 7) })
        for _ in 0..<200 { handle.write(chunk) }
        try handle.close()
        let large = MultipartWriter.Attachment(contentID: "large@as4gw.test", contentType: "application/gzip", body: try .wholeFile(path))
        let output = try AttachmentEncryptor.encrypt([large], recipient: EncryptionRecipient.x25519.certificate, method: .x25519HKDF,
                                                     keyReference: .subjectKeyIdentifier, spoolDirectory: spool)

        // The MIME message goes to a file too, so nothing along the way holds 200 MB.
        let user = UserMessage(messageInfo: MessageInfo(messageId: "large@as4gw.test"), from: Party(PartyId("a")), to: Party(PartyId("b")),
                               collaboration: CollaborationInfo(service: Service("s"), action: "a", conversationId: "1"),
                               payloads: [PartInfo(href: "cid:large@as4gw.test")])
        let security = Array(#"<wsse:Security xmlns:wsse="\#(NS.wsse)">"#.utf8) + output.securityHeaderXML + Array("</wsse:Security>".utf8)
        var sink = try FileSink(path: work + "/large-message")
        let contentType = try MultipartWriter().write(envelope: EnvelopeBuilder.envelope(Messaging(user), securityHeader: security),
                                                      attachments: output.attachments, to: &sink)
        try sink.close()

        let message = try AS4Message.read(try MessageInput.load(path: sink.path, contentType: contentType))
        let parts = try AttachmentDecryptor.decrypt(message, header: try EncryptionFixtures.header(message),
                                                    keys: [EncryptionRecipient.x25519.decryptionKey], policy: .eDelivery20,
                                                    spoolDirectory: spool)
        guard case .file(let plaintextPath, 0, let length) = parts[0].body else { return XCTFail("expected a whole spool file") }
        XCTAssertEqual(length, 200 << 20)
        XCTAssertEqual(try Digest.hash(contentsOf: URL(fileURLWithPath: plaintextPath), algorithm: .sha256),
                       try Digest.hash(contentsOf: URL(fileURLWithPath: path), algorithm: .sha256))
        XCTAssertLessThan(try peakResidentKiB(), 150 * 1024)
    }

    /// VmHWM of this process (Linux).
    func peakResidentKiB() throws -> Int {
        let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
        let line = try XCTUnwrap(status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") })
        return try XCTUnwrap(Int(line.split(separator: " ").dropFirst().first ?? ""))
    }

    /// A single key without certificate is tried whatever the STR says (command-line use).
    func testSoleKeyWithoutCertificate() throws {
        let originals = try attachments(1, fileBacked: false)
        let output = try AttachmentEncryptor.encrypt(originals, recipient: EncryptionRecipient.p256.certificate, method: .ecdhESHKDF,
                                                     keyReference: .subjectKeyIdentifier, spoolDirectory: nil)
        let message = try EncryptionFixtures.message(securityXML: output.securityHeaderXML, attachments: output.attachments)
        let parts = try AttachmentDecryptor.decrypt(message, header: try EncryptionFixtures.header(message),
                                                    keys: [DecryptionKey(privateKey: EncryptionRecipient.p256.key)],
                                                    policy: .receiving, spoolDirectory: nil)
        XCTAssertEqual(try parts[0].body.readAll(), try originals[0].body.readAll())
    }

    /// The method must fit the recipient certificate's key.
    func testMethodMustFitRecipientKey() throws {
        let originals = try attachments(1, fileBacked: false)
        XCTAssertThrowsError(try AttachmentEncryptor.encrypt(originals, recipient: EncryptionRecipient.rsa.certificate,
                                                             method: .x25519HKDF, keyReference: .subjectKeyIdentifier, spoolDirectory: nil))
        XCTAssertThrowsError(try AttachmentEncryptor.encrypt(originals, recipient: EncryptionRecipient.x25519.certificate,
                                                             method: .rsaOAEP, keyReference: .subjectKeyIdentifier, spoolDirectory: nil))
    }
}

import AS4Crypto
import EnvelopeXML
import Foundation
import XCTest
@testable import WSSecurity

/// Shared helpers of the encryption tests: interop vectors, keys, and building a real multipart
/// AS4 message around an encryption header fragment.
enum EncryptionFixtures {
    static let vectors: URL = {
        var url = URL(fileURLWithPath: #filePath)
        while url.path != "/" {
            url.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { break }
        }
        return url.deletingLastPathComponent().appendingPathComponent("shared/interop/vectors")
    }()

    static func vectorMessage(_ relative: String) throws -> AS4Message {
        try AS4Message.read(try MessageInput.load(path: vectors.appendingPathComponent(relative).path))
    }

    static func pem(_ relative: String) throws -> String {
        try String(contentsOf: vectors.appendingPathComponent(relative), encoding: .utf8)
    }

    static func decryptionKey(_ name: String, withCertificate: Bool = true) throws -> DecryptionKey {
        let key = try PrivateKey(pemEncoded: try pem("as4net/keys/\(name).key.pem"))
        let cert = withCertificate ? try Certificate(pemEncoded: try pem("as4net/keys/\(name).cert.pem")) : nil
        return DecryptionKey(privateKey: key, certificate: cert)
    }

    static func header(_ message: AS4Message) throws -> SecurityHeader {
        try SecurityHeader.read(try XCTUnwrap(message.envelope.securityHeaders.first))
    }

    /// A fresh empty directory, removed by the caller.
    static func temporaryDirectory() throws -> String {
        let path = NSTemporaryDirectory() + "as4gw-enc-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static func files(in directory: String) -> [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
    }

    /// A complete SwA message: a UserMessage whose PartInfo hrefs name `attachments`, the
    /// encryption fragment wrapped in a `wsse:Security` header. Read back from memory, or from a
    /// file in `directory` (then every attachment is a file range).
    static func message(securityXML: [UInt8], attachments: [MultipartWriter.Attachment],
                        fileIn directory: String? = nil) throws -> AS4Message {
        let user = UserMessage(
            messageInfo: MessageInfo(messageId: UUID().uuidString + "@as4gw.test"),
            from: Party(PartyId("urn:as4gw:sender")), to: Party(PartyId("urn:as4gw:receiver")),
            collaboration: CollaborationInfo(service: Service("urn:as4gw:service"), action: "Deliver", conversationId: "1"),
            payloads: attachments.map { PartInfo(href: "cid:" + $0.contentID) })
        var security = Array(#"<wsse:Security xmlns:wsse="\#(NS.wsse)" xmlns:env="\#(NS.soap12)" env:mustUnderstand="true">"#.utf8)
        security += securityXML
        security += Array("</wsse:Security>".utf8)
        let envelope = EnvelopeBuilder.envelope(Messaging(user), securityHeader: security)
        var sink = MemorySink()
        let contentType = try MultipartWriter().write(envelope: envelope, attachments: attachments, to: &sink)
        if let directory {
            let path = directory + "/message-" + UUID().uuidString + ".mime"
            try Data(sink.bytes).write(to: URL(fileURLWithPath: path))
            return try AS4Message.read(try MessageInput.load(path: path, contentType: contentType))
        }
        return try AS4Message.read(try MessageInput.load(bytes: sink.bytes, contentType: contentType))
    }

    /// Runs the decryptor and returns its EbmsError (failing the test if it succeeded).
    static func decryptionError(_ message: AS4Message, keys: [DecryptionKey], policy: SecurityPolicy = .receiving,
                                spool: String?, file: StaticString = #filePath, line: UInt = #line) throws -> EbmsError? {
        let header = try self.header(message)
        do {
            let parts = try AttachmentDecryptor.decrypt(message, header: header, keys: keys, policy: policy, spoolDirectory: spool)
            XCTFail("decryption succeeded with \(parts.count) parts", file: file, line: line)
            return nil
        } catch {
            return error
        }
    }
}

/// Real messages from other AS4 products (AS4.NET, Holodeck) decrypt, or fail as they must.
final class EncryptionVectorTests: XCTestCase {
    var spool = ""

    override func setUpWithError() throws { spool = try EncryptionFixtures.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: spool) }

    func gunzippedSize(_ body: PartBody) throws -> UInt64 {
        var sink = CountingSink()
        try Gzip.decompress(body, to: &sink)
        return sink.count
    }

    /// rsa-oaep-mgf1p with a SHA-256 OAEP digest; issuer/serial recipient reference; the second
    /// EncryptedData has no KeyInfo and is found through the ReferenceList.
    func testAS4NetSignedEncryptedIssuerSerial() throws {
        let message = try EncryptionFixtures.vectorMessage("as4net/signed-encrypted-mime/as4-encrypted-signed-issuerserial.as4")
        let header = try EncryptionFixtures.header(message)
        let parts = try AttachmentDecryptor.decrypt(message, header: header, keys: [try EncryptionFixtures.decryptionKey("AccessPointB")],
                                                    policy: .receiving, spoolDirectory: spool)
        XCTAssertEqual(parts.count, 2)
        XCTAssertEqual(parts.map(\.contentID), message.attachments.map(\.contentID))
        for part in parts {
            XCTAssertEqual(part.headers["Content-Type"], "application/gzip")
            XCTAssertGreaterThan(try gunzippedSize(part.body), 0)
        }
        // File-backed but small input: the plaintext stays in memory, no spool file is made.
        XCTAssertEqual(EncryptionFixtures.files(in: spool).count, 0)
        XCTAssertTrue(parts.allSatisfy { if case .bytes = $0.body { return true } else { return false } })
    }

    /// xmlenc11 rsa-oaep with no xenc11:MGF (so MGF1-SHA1) and a SHA-256 digest; BST reference;
    /// the EncryptedData KeyInfo is a plain wsse:Reference without TokenType.
    func testAS4NetEncryptedCompressed() throws {
        let message = try EncryptionFixtures.vectorMessage("as4net/encrypted-mime/as4-encrypted-compressed-message.as4")
        let header = try EncryptionFixtures.header(message)
        for key in [try EncryptionFixtures.decryptionKey("partyC"), try EncryptionFixtures.decryptionKey("partyC", withCertificate: false)] {
            let parts = try AttachmentDecryptor.decrypt(message, header: header, keys: [key], policy: .receiving, spoolDirectory: spool)
            XCTAssertEqual(parts.map(\.body.count), [290161, 86])
            for part in parts { XCTAssertGreaterThan(try gunzippedSize(part.body), 0) }
        }
    }

    /// The ciphertext was altered: the CEK unwraps, the GCM tag fails on both parts.
    func testAS4NetTamperedCiphertextFails() throws {
        let message = try EncryptionFixtures.vectorMessage("as4net/tampered/as4-soap-wrong-encrypted-message")
        let key = try EncryptionFixtures.decryptionKey("holodeck-partya")
        let error = try EncryptionFixtures.decryptionError(message, keys: [key], spool: spool)
        XCTAssertEqual(error, DecryptionFailure.generic)
        XCTAssertEqual(EncryptionFixtures.files(in: spool), [], "no plaintext may be left behind")
    }

    /// Another recipient's key (certificate) cannot decrypt: the STR names a certificate we lack.
    func testVectorAddressedToAnotherCertificate() throws {
        let message = try EncryptionFixtures.vectorMessage("as4net/encrypted-mime/as4-encrypted-compressed-message.as4")
        let error = try EncryptionFixtures.decryptionError(message, keys: [try EncryptionFixtures.decryptionKey("AccessPointB")], spool: spool)
        XCTAssertEqual(error?.code, .failedDecryption)
        XCTAssertTrue(error?.reason.contains("hold no decryption key") ?? false, error?.reason ?? "")
    }

    /// eDelivery 1.15 exactly: rsa-oaep-mgf1p is outside the profile.
    func testNarrowedPolicyRefusesMGF1P() throws {
        let message = try EncryptionFixtures.vectorMessage("as4net/signed-encrypted-mime/as4-encrypted-signed-issuerserial.as4")
        let error = try EncryptionFixtures.decryptionError(message, keys: [try EncryptionFixtures.decryptionKey("AccessPointB")],
                                                           policy: .eDelivery115, spool: spool)
        XCTAssertEqual(error?.code, .policyNoncompliance)
        XCTAssertTrue(error?.reason.contains(Alg.rsaOAEPMGF1P) ?? false, error?.reason ?? "")
    }

    /// The eDelivery 1.15 profile also pins the MGF: xmlenc11 rsa-oaep with the default MGF1-SHA1 is refused.
    func testNarrowedPolicyRefusesDefaultMGF() throws {
        let message = try EncryptionFixtures.vectorMessage("as4net/encrypted-mime/as4-encrypted-compressed-message.as4")
        let error = try EncryptionFixtures.decryptionError(message, keys: [try EncryptionFixtures.decryptionKey("partyC")],
                                                           policy: .eDelivery115, spool: spool)
        XCTAssertEqual(error?.code, .policyNoncompliance)
        XCTAssertTrue(error?.reason.contains(Alg.mgf1SHA1) ?? false, error?.reason ?? "")
    }
}

import XCTest
import EnvelopeXML
@testable import WSSecurity

final class SecurityHeaderReadTests: XCTestCase {
    static let vectors: URL = {
        var url = URL(fileURLWithPath: #filePath)
        while url.path != "/" {
            url.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { break }
        }
        return url.deletingLastPathComponent().appendingPathComponent("shared/interop/vectors")
    }()

    func message(_ relative: String) throws -> AS4Message {
        try AS4Message.read(try MessageInput.load(path: Self.vectors.appendingPathComponent(relative).path))
    }

    func testReadsIssuerSerialSignatureAndOAEPKey() throws {
        let m = try message("as4net/signed-encrypted-mime/as4-encrypted-signed-issuerserial.as4")
        let header = try SecurityHeader.read(try XCTUnwrap(m.envelope.securityHeaders.first))
        let sig = try XCTUnwrap(header.signatures.first)
        XCTAssertEqual(sig.signatureMethod, Alg.rsaSHA384)
        XCTAssertEqual(sig.references.count, 4)
        XCTAssertEqual(sig.references.filter { $0.uri.hasPrefix("cid:") }.count, 2)
        guard case .issuerSerial(_, let serial)? = sig.keyReference else { return XCTFail("\(String(describing: sig.keyReference))") }
        XCTAssertFalse(serial.isEmpty)
        let ek = try XCTUnwrap(header.encryptedKeys.first)
        XCTAssertEqual(ek.algorithm, Alg.rsaOAEPMGF1P)
        XCTAssertEqual(ek.oaepDigest, Alg.sha256)
        XCTAssertEqual(ek.dataReferences.count, 2)
        XCTAssertEqual(header.encryptedData.count, 2)
        XCTAssertTrue(header.encryptedData.allSatisfy { $0.cipherTransforms == [Alg.attachmentCiphertext] })
    }

    func testReadsSKIReferenceAndPKIPathToken() throws {
        let holodeck = try message("as4net/signed-mime/signed_holodeck_message.as4")
        let sig = try XCTUnwrap(try SecurityHeader.read(try XCTUnwrap(holodeck.envelope.securityHeaders.first)).signatures.first)
        guard case .subjectKeyIdentifier(let ski)? = sig.keyReference else { return XCTFail("expected SKI") }
        XCTAssertEqual(ski.count, 20)
        let domibus = try message("harmony/signed-encrypted-envelope/bst_X509PKIPathv1_incoming_message.xml")
        let header = try SecurityHeader.read(try XCTUnwrap(domibus.envelope.securityHeaders.first))
        XCTAssertTrue(header.tokens.contains { $0.valueType == Alg.x509PKIPath })
        XCTAssertEqual(header.encryptedKeys.first?.algorithm, Alg.rsaOAEP11)
    }

    func testDuplicateIdentifiersAreRefused() throws {
        let xml = #"<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope" xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"><e:Header><a wsu:Id="x"/></e:Header><e:Body Id="x"/></e:Envelope>"#
        XCTAssertThrowsError(try IdentifierIndex(document: try XMLDocument(parsing: xml))) { error in
            XCTAssertEqual((error as? EbmsError)?.code, .failedAuthentication)
        }
    }
}

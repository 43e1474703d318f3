import AS4Crypto
import Foundation
import XCTest

/// RSA-OAEP (eDelivery 1.x) and X25519/ECDH + HKDF + AES-KW (eDelivery 2.0) key transport.
final class KeyTransportTests: XCTestCase {
    static let rsaKey = try! PrivateKey.generateRSA(bits: 2048)

    func testRSAOAEPRoundTripForEachDigestCombination() throws {
        let cek = try SecureRandom.bytes(16)
        for digest in DigestAlgorithm.allCases {
            for mgf in [DigestAlgorithm.sha1, .sha256, .sha384, .sha512] {
                let parameters = RSAOAEP.Parameters(digest: digest, mgf1Digest: mgf)
                let encrypted = try RSAOAEP.encrypt(cek, publicKey: Self.rsaKey.publicKey, parameters: parameters)
                XCTAssertEqual(encrypted.count, 256)
                XCTAssertEqual(try RSAOAEP.decrypt(encrypted, privateKey: Self.rsaKey, parameters: parameters), cek, "\(digest)/\(mgf)")
            }
        }
    }

    func testRSAOAEPFailuresAreOneGenericError() throws {
        let cek = try SecureRandom.bytes(16)
        let encrypted = try RSAOAEP.encrypt(cek, publicKey: Self.rsaKey.publicKey)
        var tampered = encrypted
        tampered[100] ^= 0x01
        let otherKey = try PrivateKey.generateRSA(bits: 2048)
        XCTAssertThrowsCryptoError(.decryptionFailed, try RSAOAEP.decrypt(tampered, privateKey: Self.rsaKey))
        XCTAssertThrowsCryptoError(.decryptionFailed, try RSAOAEP.decrypt(encrypted, privateKey: otherKey))
        XCTAssertThrowsCryptoError(.decryptionFailed, try RSAOAEP.decrypt(encrypted, privateKey: Self.rsaKey, parameters: .legacyMGF1P))
        XCTAssertThrowsCryptoError(.decryptionFailed, try RSAOAEP.decrypt(encrypted.dropLast(), privateKey: Self.rsaKey))
        XCTAssertThrowsCryptoError(.decryptionFailed, try RSAOAEP.decrypt([UInt8](), privateKey: Self.rsaKey))
        XCTAssertThrowsCryptoError(.decryptionFailed, try RSAOAEP.decrypt(encrypted, privateKey: try .generateEC(curve: .p256)))
        XCTAssertThrowsCryptoError(.keyMismatch, try RSAOAEP.encrypt(cek, publicKey: try PrivateKey.generateX25519().publicKey))
    }

    func testRSAOAEPParametersFromXMLEncryptionURIs() {
        let sha256 = "http://www.w3.org/2001/04/xmlenc#sha256"
        XCTAssertEqual(RSAOAEP.Parameters(algorithmURI: RSAOAEP.Parameters.rsaOAEPURI, digestURI: sha256,
                                          mgfURI: "http://www.w3.org/2009/xmlenc11#mgf1sha256"), .eDelivery)
        XCTAssertEqual(RSAOAEP.Parameters(algorithmURI: RSAOAEP.Parameters.rsaOAEPURI, digestURI: nil, mgfURI: nil), .legacyMGF1P)
        XCTAssertEqual(RSAOAEP.Parameters(algorithmURI: RSAOAEP.Parameters.rsaOAEPMGF1PURI, digestURI: sha256, mgfURI: nil),
                       RSAOAEP.Parameters(digest: .sha256, mgf1Digest: .sha1))
        XCTAssertNil(RSAOAEP.Parameters(algorithmURI: "http://www.w3.org/2001/04/xmlenc#rsa-1_5", digestURI: nil, mgfURI: nil))
        XCTAssertNil(RSAOAEP.Parameters(algorithmURI: RSAOAEP.Parameters.rsaOAEPURI, digestURI: "urn:unknown", mgfURI: nil))
    }

    /// Unwraps the CEK that Domibus (rsa-oaep, SHA-256, MGF1-SHA-256) encrypted for red_gw.
    func testUnwrapsDomibusEncryptedKey() throws {
        let xml = try Vectors.text("harmony/signed-encrypted-envelope/bst_x509v3_incoming_message.xml")
        let key = try PrivateKey(pemEncoded: try Vectors.text("harmony/keys/red_gw.key.pem"))
        let cipherValue = try XCTUnwrap(firstCipherValue(in: xml))
        XCTAssertEqual(try RSAOAEP.decrypt(cipherValue, privateKey: key, parameters: .eDelivery).count, 16)
    }

    /// as4.NET message: OAEP (rsa-oaep-mgf1p with a SHA-256 digest) → CEK → AES-128-GCM attachment,
    /// whose SHA-256 must equal the DigestValue as4.NET signed for that cid: (signing happens before encryption).
    func testDecryptsAS4NETAttachmentEndToEnd() throws {
        let message = try Vectors.data("as4net/signed-encrypted-mime/as4-encrypted-signed-issuerserial.as4")
        let soap = String(decoding: message.prefix(12_000), as: UTF8.self)
        let key = try PrivateKey(pemEncoded: try Vectors.text("as4net/keys/AccessPointB.key.pem"))
        let parameters = try XCTUnwrap(RSAOAEP.Parameters(algorithmURI: RSAOAEP.Parameters.rsaOAEPMGF1PURI,
                                                          digestURI: "http://www.w3.org/2001/04/xmlenc#sha256", mgfURI: nil))
        let cek = try RSAOAEP.decrypt(try XCTUnwrap(firstCipherValue(in: soap)), privateKey: key, parameters: parameters)
        XCTAssertEqual(cek.count, 16)

        let contentID = "b545c3a0-e57f-46aa-862f-381eb4b7009-1650194442@CLT-SMOREELS.mshome.net"
        let body = try XCTUnwrap(mimeBody(of: message, contentID: contentID))
        let plaintext = try AESGCM.open(body, key: cek)
        XCTAssertEqual(Array(plaintext.prefix(2)), [0x1f, 0x8b], "gzip payload")
        let signedDigest = try XCTUnwrap(Data(base64Encoded: "cOBv1c9CVFw50a7h8c0dbIlWlktWq9Cr0bPiptZ/wUc="))
        XCTAssertTrue(soap.contains("cOBv1c9CVFw50a7h8c0dbIlWlktWq9Cr0bPiptZ/wUc="))
        XCTAssertEqual(try Digest.sha256(plaintext), Array(signedDigest))

        var tampered = body
        tampered[tampered.count - 40] ^= 0x01
        XCTAssertThrowsCryptoError(.authenticationFailed, try AESGCM.open(tampered, key: cek))
    }

    func testX25519RFC7748() throws {
        let alice = try PrivateKey(rawPrivateKey: hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"), type: .x25519)
        let bob = try PrivateKey(rawPrivateKey: hex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"), type: .x25519)
        XCTAssertEqual(try alice.publicKey.rawBytes(), hex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"))
        XCTAssertEqual(try bob.publicKey.rawBytes(), hex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"))
        let shared = hex("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742")
        XCTAssertEqual(try KeyAgreement.derive(privateKey: alice, peerPublicKey: bob.publicKey), shared)
        let bobPublic = try PublicKey(rawBytes: hex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"), type: .x25519)
        XCTAssertEqual(try KeyAgreement.derive(privateKey: alice, peerPublicKey: bobPublic), shared)
        XCTAssertEqual(try KeyAgreement.derive(privateKey: bob, peerPublicKey: alice.publicKey), shared)
    }

    func testX25519RejectsLowOrderPoints() throws {
        let own = try PrivateKey.generateX25519()
        for point in [[UInt8](repeating: 0, count: 32), [1] + [UInt8](repeating: 0, count: 31)] {
            let peer = try PublicKey(rawBytes: point, type: .x25519)
            XCTAssertThrowsCryptoError(.invalidSharedSecret, try KeyAgreement.derive(privateKey: own, peerPublicKey: peer))
        }
    }

    func testECDHOnEachCurveAndMismatches() throws {
        for curve in [ECCurve.p256, .p384, .p521] {
            let a = try PrivateKey.generateEC(curve: curve)
            let b = try PrivateKey.generateEC(curve: curve)
            let secret = try KeyAgreement.derive(privateKey: a, peerPublicKey: b.publicKey)
            XCTAssertEqual(secret.count, curve.coordinateByteCount)
            XCTAssertEqual(secret, try KeyAgreement.derive(privateKey: b, peerPublicKey: a.publicKey))
            // Peer key rebuilt from its dsig11:ECKeyValue point works the same.
            let rebuilt = try PublicKey(ecUncompressedPoint: try b.publicKey.ecUncompressedPoint(), curve: curve)
            XCTAssertEqual(try KeyAgreement.derive(privateKey: a, peerPublicKey: rebuilt), secret)
        }
        let p256 = try PrivateKey.generateEC(curve: .p256)
        XCTAssertThrowsCryptoError(.keyMismatch, try KeyAgreement.derive(privateKey: p256, peerPublicKey: try PrivateKey.generateEC(curve: .p384).publicKey))
        XCTAssertThrowsCryptoError(.keyMismatch, try KeyAgreement.derive(privateKey: p256, peerPublicKey: try PrivateKey.generateX25519().publicKey))
        XCTAssertThrowsCryptoError(.keyMismatch, try KeyAgreement.derive(privateKey: try .generateEd25519(), peerPublicKey: try PrivateKey.generateEd25519().publicKey))
    }

    /// The eDelivery AS4 2.0 sender/receiver flow: X25519 → HKDF-SHA256 → AES-128-KW → AES-128-GCM.
    func testEDelivery2KeyAgreementFlow() throws {
        let recipient = try PrivateKey.generateX25519()
        let salt = try SecureRandom.bytes(32)
        let info = Array("AS4 test".utf8)

        // Sender.
        let ephemeral = try PrivateKey.generateX25519()
        let originatorKeyDER = try ephemeral.publicKey.spkiDER  // dsig11:DEREncodedKeyValue
        let senderKEK = try HKDF.deriveKey(inputKeyMaterial: try KeyAgreement.derive(privateKey: ephemeral, peerPublicKey: recipient.publicKey),
                                           salt: salt, info: info, outputByteCount: 16)
        let cek = try SecureRandom.bytes(16)
        let wrapped = try AESKeyWrap.wrap(key: cek, kek: senderKEK)
        let part = try AESGCM.seal(Array("payload".utf8), key: cek)

        // Receiver.
        let originator = try PublicKey(spkiDER: originatorKeyDER)
        let receiverKEK = try HKDF.deriveKey(inputKeyMaterial: try KeyAgreement.derive(privateKey: recipient, peerPublicKey: originator),
                                             salt: salt, info: info, outputByteCount: 16)
        XCTAssertEqual(try AESGCM.open(part, key: try AESKeyWrap.unwrap(wrapped, kek: receiverKEK)), Array("payload".utf8))
    }

    // MARK: Helpers

    /// The first `xenc:CipherValue` (the EncryptedKey's) as bytes; tolerates line breaks and `&#xd;`.
    private func firstCipherValue(in xml: String) -> [UInt8]? {
        guard let start = xml.range(of: "CipherValue>"), let end = xml.range(of: "<", range: start.upperBound..<xml.endIndex) else { return nil }
        let text = xml[start.upperBound..<end.lowerBound].replacingOccurrences(of: "&#xd;", with: "")
        return Data(base64Encoded: text, options: .ignoreUnknownCharacters).map { Array($0) }
    }

    /// Body of the MIME part with `Content-ID: <contentID>` (binary transfer encoding, CRLF line ends).
    private func mimeBody(of message: Data, contentID: String) -> Data? {
        guard let idRange = message.range(of: Data("Content-ID: <\(contentID)>".utf8)),
              let headerEnd = message.range(of: Data("\r\n\r\n".utf8), in: idRange.upperBound..<message.endIndex),
              let next = message.range(of: Data("\r\n--MIMEBoundary_".utf8), in: headerEnd.upperBound..<message.endIndex) else { return nil }
        return message.subdata(in: headerEnd.upperBound..<next.lowerBound)
    }
}

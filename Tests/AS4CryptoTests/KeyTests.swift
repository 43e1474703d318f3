import AS4Crypto
import Foundation
import XCTest

final class KeyTests: XCTestCase {
    /// A throwaway P-256 key in the traditional "EC PRIVATE KEY" format (generated for this test).
    let traditionalECKey = """
        -----BEGIN EC PRIVATE KEY-----
        MHcCAQEEILB1tKVqPCqvXZQiawkhB9jyHWhfO2iu6dCZ2c7IGpNioAoGCCqGSM49
        AwEHoUQDQgAEHSk6RIiv1PKZyGiEncSQGZyQNjtAtlf42QfoTCUeuFjtRtmuiKFX
        7J5t7eMJS92jUA35ipxJacWAWl9apoba3Q==
        -----END EC PRIVATE KEY-----
        """

    func testGenerateEachKeyType() throws {
        let rsa = try PrivateKey.generateRSA(bits: 2048)
        XCTAssertEqual(rsa.keyType, .rsa)
        XCTAssertEqual(rsa.bitCount, 2048)
        for curve in [ECCurve.p256, .p384, .p521] {
            let key = try PrivateKey.generateEC(curve: curve)
            XCTAssertEqual(key.keyType, .ec(curve))
            XCTAssertEqual(key.publicKey.keyType, .ec(curve))
        }
        XCTAssertEqual(try PrivateKey.generateEd25519().keyType, .ed25519)
        XCTAssertEqual(try PrivateKey.generateX25519().keyType, .x25519)
        XCTAssertThrowsCryptoError(.invalidArgument, try PrivateKey.generateRSA(bits: 1024))
    }

    func testPEMRoundTripsAndPasswords() throws {
        let key = try PrivateKey.generateEC(curve: .p256)
        let pem = try key.pemEncoded()
        XCTAssertTrue(pem.hasPrefix("-----BEGIN PRIVATE KEY-----"))
        XCTAssertEqual(try PrivateKey(pemEncoded: pem).publicKey, key.publicKey)

        let encrypted = try key.pemEncoded(password: "s3cret")
        XCTAssertTrue(encrypted.hasPrefix("-----BEGIN ENCRYPTED PRIVATE KEY-----"))
        XCTAssertEqual(try PrivateKey(pemEncoded: encrypted, password: "s3cret").publicKey, key.publicKey)
        XCTAssertThrowsCryptoError(.decoding, try PrivateKey(pemEncoded: encrypted, password: "wrong"))
        // No password given: fails instead of prompting on a terminal.
        XCTAssertThrowsCryptoError(.decoding, try PrivateKey(pemEncoded: encrypted))

        XCTAssertEqual(try PrivateKey(derEncoded: try key.pkcs8DER()).publicKey, key.publicKey)

        let publicPEM = try key.publicKey.pemEncoded()
        XCTAssertTrue(publicPEM.hasPrefix("-----BEGIN PUBLIC KEY-----"))
        XCTAssertEqual(try PublicKey(pemEncoded: publicPEM), key.publicKey)
        XCTAssertThrowsCryptoError(.decoding, try PrivateKey(pemEncoded: "not a key"))
    }

    func testLoadsTraditionalAndVectorKeys() throws {
        let ec = try PrivateKey(pemEncoded: traditionalECKey)
        XCTAssertEqual(ec.keyType, .ec(.p256))

        // PKCS#8 key from the as4.NET vectors, paired with its certificate.
        let key = try PrivateKey(pemEncoded: try Vectors.text("as4net/keys/AccessPointA.key.pem"))
        let certificate = try Certificate(pemEncoded: try Vectors.text("as4net/keys/AccessPointA.cert.pem"))
        XCTAssertEqual(key.keyType, .rsa)
        XCTAssertTrue(key.matches(try certificate.publicKey))
        XCTAssertFalse(ec.matches(try certificate.publicKey))
    }

    func testSubjectPublicKeyInfoDER() throws {
        for key in [try PrivateKey.generateRSA(), try PrivateKey.generateEC(curve: .p384),
                    try PrivateKey.generateEd25519(), try PrivateKey.generateX25519()] {
            let der = try key.publicKey.spkiDER
            XCTAssertEqual(try PublicKey(spkiDER: der), key.publicKey, "\(key.keyType)")
        }
        // X25519 SPKI is 44 bytes: fixed 12-byte header (OID 1.3.101.110) then the raw key.
        let x25519 = try PrivateKey.generateX25519().publicKey
        let der = try x25519.spkiDER
        XCTAssertEqual(der.count, 44)
        XCTAssertEqual(Array(der.prefix(12)), hex("302a300506032b656e032100"))
        XCTAssertEqual(Array(der.suffix(32)), try x25519.rawBytes())
        XCTAssertThrowsCryptoError(.decoding, try PublicKey(spkiDER: der + [0]))
        XCTAssertThrowsCryptoError(.decoding, try PublicKey(spkiDER: Array(der.prefix(40))))
    }

    /// Ed25519 and X25519 SubjectPublicKeyInfo are written and read without OpenSSL's encoder
    /// and decoder; the bytes and keys must be exactly OpenSSL's.
    func testRawKeySubjectPublicKeyInfoMatchesOpenSSL() throws {
        for key in [try PrivateKey.generateEd25519(), try PrivateKey.generateX25519()] {
            let pem = try key.publicKey.pemEncoded()  // PEM_write_bio_PUBKEY: OpenSSL's own encoder
            let body = pem.split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined()
            let openSSLDER = [UInt8](try XCTUnwrap(Data(base64Encoded: body)))
            XCTAssertEqual(try key.publicKey.spkiDER, openSSLDER, "\(key.keyType)")
            let loaded = try PublicKey(pemEncoded: pem)  // PEM_read_bio_PUBKEY: OpenSSL's decoder
            XCTAssertEqual(try loaded.spkiDER, openSSLDER)
            XCTAssertEqual(try PublicKey(spkiDER: openSSLDER), loaded)
            XCTAssertEqual(try PublicKey(spkiDER: openSSLDER).keyType, key.keyType)
        }
        // The public halves made this way work: a signature verifies, both sides agree on a secret.
        let signer = try PrivateKey.generateEd25519()
        let message = Array("eDelivery".utf8)
        let signature = try Signer.sign(data: message, key: signer, algorithm: .ed25519)
        let verifyingKey = try PublicKey(spkiDER: try signer.publicKey.spkiDER)
        XCTAssertTrue(try Verifier.verify(signature: signature, data: message, key: verifyingKey, algorithm: .ed25519))
        XCTAssertFalse(try Verifier.verify(signature: signature, data: message + [0], key: verifyingKey, algorithm: .ed25519))
        let a = try PrivateKey.generateX25519(), b = try PrivateKey.generateX25519()
        XCTAssertEqual(try KeyAgreement.derive(privateKey: a, peerPublicKey: try PublicKey(spkiDER: try b.publicKey.spkiDER)),
                       try KeyAgreement.derive(privateKey: b, peerPublicKey: a.publicKey))
        // A near miss of the fixed prefix is left to OpenSSL: another OID (Ed448's, 1.3.101.113), a longer body.
        var ed448Like = try signer.publicKey.spkiDER
        ed448Like[8] = 0x71
        XCTAssertThrowsError(try PublicKey(spkiDER: ed448Like))
        XCTAssertThrowsCryptoError(.decoding, try PublicKey(spkiDER: try signer.publicKey.spkiDER + [0]))
    }

    func testRawKeys() throws {
        let ed = try PrivateKey.generateEd25519()
        let raw = try ed.publicKey.rawBytes()
        XCTAssertEqual(raw.count, 32)
        XCTAssertEqual(try PublicKey(rawBytes: raw, type: .ed25519), ed.publicKey)
        XCTAssertThrowsCryptoError(.invalidArgument, try PublicKey(rawBytes: raw, type: .rsa))
        XCTAssertThrowsCryptoError(.keyMismatch, try PrivateKey.generateEC(curve: .p256).publicKey.rawBytes())
        XCTAssertThrowsCryptoError(.decoding, try PublicKey(rawBytes: [1, 2, 3], type: .x25519))
    }

    func testECPointExportImport() throws {
        for curve in [ECCurve.p256, .p384, .p521] {
            let key = try PrivateKey.generateEC(curve: curve).publicKey
            let point = try key.ecUncompressedPoint()
            XCTAssertEqual(point.count, 1 + 2 * curve.coordinateByteCount)
            XCTAssertEqual(point.first, 0x04)
            XCTAssertEqual(try PublicKey(ecUncompressedPoint: point, curve: curve), key)
            // The point must lie on the named curve.
            var offCurve = point
            offCurve[offCurve.count - 1] ^= 0x01
            XCTAssertThrowsCryptoError(.decoding, try PublicKey(ecUncompressedPoint: offCurve, curve: curve))
        }
        let p256 = try PrivateKey.generateEC(curve: .p256).publicKey.ecUncompressedPoint()
        XCTAssertThrowsCryptoError(.decoding, try PublicKey(ecUncompressedPoint: p256, curve: .p384))
        var compressedPrefix = p256
        compressedPrefix[0] = 0x02
        XCTAssertThrowsCryptoError(.decoding, try PublicKey(ecUncompressedPoint: compressedPrefix, curve: .p256))
        XCTAssertEqual(ECCurve(urn: "urn:oid:1.3.132.0.35"), .p521)
        XCTAssertEqual(ECCurve.p256.urn, "urn:oid:1.2.840.10045.3.1.7")
        XCTAssertNil(ECCurve(urn: "urn:oid:1.2.3"))
    }
}

import AS4Crypto
import Foundation
import XCTest

final class SignatureTests: XCTestCase {
    /// One RSA key for all RSA cases (key generation dominates test time otherwise).
    static let rsaKey = try! PrivateKey.generateRSA(bits: 2048)

    func testSignAndVerifyEveryAlgorithm() throws {
        let data = Array("<ds:SignedInfo>canonical bytes</ds:SignedInfo>".utf8)
        let cases: [(SignatureAlgorithm, PrivateKey, Int?)] = [
            (.rsaSHA256, Self.rsaKey, 256), (.rsaSHA384, Self.rsaKey, 256), (.rsaSHA512, Self.rsaKey, 256),
            (.ecdsaSHA256, try .generateEC(curve: .p256), 64),
            (.ecdsaSHA384, try .generateEC(curve: .p384), 96),
            (.ecdsaSHA512, try .generateEC(curve: .p521), 132),
            (.ecdsaSHA256, try .generateEC(curve: .p521), 132),
            (.ed25519, try .generateEd25519(), 64),
        ]
        for (algorithm, key, length) in cases {
            let signature = try Signer.sign(data: data, key: key, algorithm: algorithm)
            if let length { XCTAssertEqual(signature.count, length, "\(algorithm) with \(key.keyType)") }
            XCTAssertTrue(try Verifier.verify(signature: signature, data: data, key: key.publicKey, algorithm: algorithm))

            var flippedData = data
            flippedData[3] ^= 0x01
            XCTAssertFalse(try Verifier.verify(signature: signature, data: flippedData, key: key.publicKey, algorithm: algorithm))
            var flippedSignature = signature
            flippedSignature[signature.count / 2] ^= 0x01
            XCTAssertFalse(try Verifier.verify(signature: flippedSignature, data: data, key: key.publicKey, algorithm: algorithm))
            XCTAssertFalse(try Verifier.verify(signature: signature.dropLast(), data: data, key: key.publicKey, algorithm: algorithm))
            XCTAssertFalse(try Verifier.verify(signature: [UInt8](), data: data, key: key.publicKey, algorithm: algorithm))
        }
    }

    func testEd25519RFC8032TestVector1() throws {
        let key = try PrivateKey(rawPrivateKey: hex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"), type: .ed25519)
        XCTAssertEqual(try key.publicKey.rawBytes(), hex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"))
        let expected = hex("""
            e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b
            """)
        XCTAssertEqual(try Signer.sign(data: [UInt8](), key: key, algorithm: .ed25519), expected)
        let publicKey = try PublicKey(rawBytes: hex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"), type: .ed25519)
        XCTAssertTrue(try Verifier.verify(signature: expected, data: [UInt8](), key: publicKey, algorithm: .ed25519))
        XCTAssertFalse(try Verifier.verify(signature: expected, data: [0], key: publicKey, algorithm: .ed25519))
    }

    func testReusableSigningContext() throws {
        let context = try SigningContext(key: Self.rsaKey, algorithm: .rsaSHA256)
        for index in 0..<5 {
            let data = Array("message \(index)".utf8)
            let signature = try context.sign(data)
            // PKCS#1 v1.5 is deterministic: the reused context gives the same bytes as a fresh one.
            XCTAssertEqual(signature, try Signer.sign(data: data, key: Self.rsaKey, algorithm: .rsaSHA256))
            XCTAssertTrue(try Verifier.verify(signature: signature, data: data, key: Self.rsaKey.publicKey, algorithm: .rsaSHA256))
        }
        let ed = try PrivateKey.generateEd25519()
        let edContext = try SigningContext(key: ed, algorithm: .ed25519)
        for index in 0..<3 {
            let data = Array("ed message \(index)".utf8)
            XCTAssertEqual(try edContext.sign(data), try Signer.sign(data: data, key: ed, algorithm: .ed25519))
        }
        let ec = try PrivateKey.generateEC(curve: .p256)
        let ecContext = try SigningContext(key: ec, algorithm: .ecdsaSHA256)
        for _ in 0..<3 {
            XCTAssertTrue(try Verifier.verify(signature: try ecContext.sign([1, 2, 3]), data: [1, 2, 3], key: ec.publicKey, algorithm: .ecdsaSHA256))
        }
    }

    func testDowngradeAndKeyMismatchAreRefused() throws {
        XCTAssertEqual(SignatureAlgorithm(uri: "http://www.w3.org/2000/09/xmldsig#rsa-sha1"), .rsaSHA1)
        XCTAssertTrue(SignatureAlgorithm.rsaSHA1.isLegacy)
        XCTAssertNil(SignatureAlgorithm(uri: "http://www.randomcrypt.com/random"))
        XCTAssertThrowsCryptoError(.unsupportedAlgorithm, try Signer.sign(data: [1], key: Self.rsaKey, algorithm: .rsaSHA1))
        XCTAssertThrowsCryptoError(.unsupportedAlgorithm,
                                   try Verifier.verify(signature: [1], data: [1], key: Self.rsaKey.publicKey, algorithm: .rsaSHA1))
        XCTAssertFalse(try Verifier.verify(signature: [1], data: [1], key: Self.rsaKey.publicKey, algorithm: .rsaSHA1, allowLegacySHA1: true))

        let ec = try PrivateKey.generateEC(curve: .p256)
        XCTAssertThrowsCryptoError(.keyMismatch, try Signer.sign(data: [1], key: ec, algorithm: .rsaSHA256))
        XCTAssertThrowsCryptoError(.keyMismatch, try Signer.sign(data: [1], key: Self.rsaKey, algorithm: .ed25519))
        XCTAssertThrowsCryptoError(.keyMismatch, try Signer.sign(data: [1], key: try .generateX25519(), algorithm: .ed25519))
        XCTAssertThrowsCryptoError(.keyMismatch,
                                   try Verifier.verify(signature: [1], data: [1], key: ec.publicKey, algorithm: .rsaSHA256))
    }

    func testECDSAEncodingConversion() throws {
        let key = try PrivateKey.generateEC(curve: .p384)
        let raw = try Signer.sign(data: [9, 9], key: key, algorithm: .ecdsaSHA384)
        XCTAssertEqual(raw.count, 96)
        let der = try ECDSASignatureEncoding.derFromRaw(raw, coordinateByteCount: 48)
        XCTAssertEqual(der.first, 0x30)
        XCTAssertEqual(try ECDSASignatureEncoding.rawFromDER(der, coordinateByteCount: 48), raw)
        // Small r and s are left-padded.
        let smallDER = hex("3006020101020102")
        XCTAssertEqual(try ECDSASignatureEncoding.rawFromDER(smallDER, coordinateByteCount: 32),
                       [UInt8](repeating: 0, count: 31) + [1] + [UInt8](repeating: 0, count: 31) + [2])
        XCTAssertThrowsCryptoError(.decoding, try ECDSASignatureEncoding.derFromRaw(raw, coordinateByteCount: 32))
        XCTAssertThrowsCryptoError(.decoding, try ECDSASignatureEncoding.rawFromDER(der, coordinateByteCount: 8))
    }
}

import AS4Crypto
import Foundation
import XCTest

/// AES-GCM, AES key wrap and HKDF against published vectors, plus tamper and wrong-key cases.
final class SymmetricTests: XCTestCase {
    // McGrew & Viega, "The Galois/Counter Mode of Operation", test cases 3, 4 and 15.
    let gcmKey128 = hex("feffe9928665731c6d6a8f9467308308")
    let gcmIV = hex("cafebabefacedbaddecaf888")
    let gcmPlaintext = hex("""
        d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72\
        1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255
        """)
    let gcmCiphertext3 = hex("""
        42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e\
        21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091473f5985
        """)
    let gcmTag3 = hex("4d5c2af327cd64a62cf35abd2ba6fab4")

    func testAESGCMKnownAnswer128() throws {
        let sealed = try AESGCM.seal(gcmPlaintext, key: gcmKey128, iv: gcmIV)
        XCTAssertEqual(sealed, gcmIV + gcmCiphertext3 + gcmTag3)
        XCTAssertEqual(try AESGCM.open(sealed, key: gcmKey128), gcmPlaintext)
    }

    func testAESGCMKnownAnswerWithAdditionalData() throws {
        let aad = hex("feedfacedeadbeeffeedfacedeadbeefabaddad2")
        let plaintext = Array(gcmPlaintext.prefix(60))
        let sealed = try AESGCM.seal(plaintext, key: gcmKey128, iv: gcmIV, additionalData: aad)
        XCTAssertEqual(Array(sealed[12..<72]), Array(gcmCiphertext3.prefix(60)))
        XCTAssertEqual(Array(sealed.suffix(16)), hex("5bc94fbc3221a5db94fae95ae7121a47"))
        XCTAssertEqual(try AESGCM.open(sealed, key: gcmKey128, additionalData: aad), plaintext)
        XCTAssertThrowsCryptoError(.authenticationFailed, try AESGCM.open(sealed, key: gcmKey128))
    }

    func testAESGCMKnownAnswer256() throws {
        let key = gcmKey128 + gcmKey128
        let sealed = try AESGCM.seal(gcmPlaintext, key: key, iv: gcmIV)
        XCTAssertEqual(Array(sealed.dropFirst(12).dropLast(16)), hex("""
            522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa\
            8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad
            """))
        XCTAssertEqual(Array(sealed.suffix(16)), hex("b094dac5d93471bdec1a502270e3cc6c"))
    }

    func testAESGCMTamperTruncateAndWrongKey() throws {
        let key = try SecureRandom.bytes(16)
        let sealed = try AESGCM.seal(Array("payload".utf8), key: key)
        XCTAssertEqual(sealed.count, 12 + 7 + 16)
        for index in [0, 12, sealed.count - 1] {  // IV, ciphertext, tag
            var tampered = sealed
            tampered[index] ^= 0x01
            XCTAssertThrowsCryptoError(.authenticationFailed, try AESGCM.open(tampered, key: key))
        }
        XCTAssertThrowsCryptoError(.authenticationFailed, try AESGCM.open(sealed.dropLast(), key: key))
        XCTAssertThrowsCryptoError(.authenticationFailed, try AESGCM.open(Array(sealed.prefix(20)), key: key))
        XCTAssertThrowsCryptoError(.authenticationFailed, try AESGCM.open(sealed, key: try SecureRandom.bytes(16)))
        XCTAssertThrowsCryptoError(.invalidArgument, try AESGCM.seal([1], key: [UInt8](repeating: 0, count: 15)))
        // Fresh random IVs.
        XCTAssertNotEqual(try AESGCM.seal([1], key: key).prefix(12), try AESGCM.seal([1], key: key).prefix(12))
    }

    func testAESGCMStreamingInOddChunks() throws {
        let key = try SecureRandom.bytes(16)
        let plaintext = (0..<70_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let encryptor = try AESGCMEncryptor(key: key)
        var sealed: [UInt8] = []
        var offset = 0
        for size in [0, 1, 5, 16, 17, 4095, 65_536] {
            let end = min(offset + size, plaintext.count)
            sealed += try encryptor.update(plaintext[offset..<end])
            offset = end
        }
        sealed += try encryptor.update(plaintext[offset...])
        sealed += try encryptor.finish()
        XCTAssertEqual(Array(sealed.prefix(12)), encryptor.iv)
        XCTAssertEqual(try AESGCM.open(sealed, key: key), plaintext)

        // Decrypt in chunks small enough to split the IV and the tag.
        for chunkSize in [1, 7, 13, 16, 1000, sealed.count] {
            let decryptor = try AESGCMDecryptor(key: key)
            var output: [UInt8] = []
            for start in stride(from: 0, to: sealed.count, by: chunkSize) {
                output += try decryptor.update(sealed[start..<min(start + chunkSize, sealed.count)])
            }
            try decryptor.finish()
            XCTAssertEqual(output, plaintext, "chunk size \(chunkSize)")
        }

        var tampered = sealed
        tampered[tampered.count / 2] ^= 0x80
        let decryptor = try AESGCMDecryptor(key: key)
        _ = try decryptor.update(tampered)
        XCTAssertThrowsCryptoError(.authenticationFailed, try decryptor.finish())

        let empty = try AESGCMEncryptor(key: key)
        let sealedEmpty = try empty.finish()
        XCTAssertEqual(sealedEmpty.count, 28)
        XCTAssertEqual(try AESGCM.open(sealedEmpty, key: key), [])
    }

    func testAESKeyWrapRFC3394() throws {
        // RFC 3394 §4.1: 128 bits of key data with a 128-bit KEK.
        let kek = hex("000102030405060708090A0B0C0D0E0F")
        let key = hex("00112233445566778899AABBCCDDEEFF")
        let wrapped = try AESKeyWrap.wrap(key: key, kek: kek)
        XCTAssertEqual(wrapped, hex("1FA68B0A8112B447AEF34BD8FB5A7B829D3E862371D2CFE5"))
        XCTAssertEqual(try AESKeyWrap.unwrap(wrapped, kek: kek), key)
        // RFC 3394 §4.6: 256 bits of key data with a 256-bit KEK.
        let kek256 = hex("000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F")
        let key256 = hex("00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F")
        XCTAssertEqual(try AESKeyWrap.wrap(key: key256, kek: kek256),
                       hex("28C9F404C4B810F4CBCCB35CFB87F8263F5786E2D80ED326CBC7F0E71A99F43BFB988B9B7A02DD21"))
    }

    func testAESKeyWrapRejectsWrongKeyAndTampering() throws {
        let kek = try SecureRandom.bytes(16)
        let wrapped = try AESKeyWrap.wrap(key: try SecureRandom.bytes(16), kek: kek)
        XCTAssertEqual(wrapped.count, 24)
        XCTAssertThrowsCryptoError(.authenticationFailed, try AESKeyWrap.unwrap(wrapped, kek: try SecureRandom.bytes(16)))
        var tampered = wrapped
        tampered[3] ^= 1
        XCTAssertThrowsCryptoError(.authenticationFailed, try AESKeyWrap.unwrap(tampered, kek: kek))
        XCTAssertThrowsCryptoError(.authenticationFailed, try AESKeyWrap.unwrap(Array(wrapped.prefix(16)), kek: kek))
        XCTAssertThrowsCryptoError(.invalidArgument, try AESKeyWrap.wrap(key: [UInt8](repeating: 1, count: 12), kek: kek))
    }

    func testHKDFRFC5869() throws {
        // Test case 1.
        let okm = try HKDF.deriveKey(inputKeyMaterial: [UInt8](repeating: 0x0b, count: 22),
                                     salt: hex("000102030405060708090a0b0c"), info: hex("f0f1f2f3f4f5f6f7f8f9"),
                                     outputByteCount: 42)
        XCTAssertEqual(okm, hex("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"))
        // Test case 3: empty salt and info.
        let okm3 = try HKDF.deriveKey(inputKeyMaterial: [UInt8](repeating: 0x0b, count: 22), salt: [UInt8](),
                                      info: [UInt8](), outputByteCount: 42)
        XCTAssertEqual(okm3, hex("8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"))
        // An explicit all-zero salt of HashLen bytes is the same as no salt.
        XCTAssertEqual(try HKDF.deriveKey(inputKeyMaterial: [UInt8](repeating: 0x0b, count: 22),
                                          salt: [UInt8](repeating: 0, count: 32), info: [UInt8](), outputByteCount: 42), okm3)
        XCTAssertThrowsCryptoError(.invalidArgument, try HKDF.deriveKey(inputKeyMaterial: [UInt8](), salt: [UInt8](), info: [UInt8](), outputByteCount: 16))
        XCTAssertThrowsCryptoError(.invalidArgument, try HKDF.deriveKey(inputKeyMaterial: [1], salt: [UInt8](), info: [UInt8](), outputByteCount: 255 * 32 + 1))
    }
}

import AS4Crypto
import EnvelopeXML
import Foundation
import XCTest
@testable import WSSecurity

/// Hostile or broken encrypted messages: each is refused with the right ebMS code, nothing is
/// returned and no decrypted byte is left in the spool directory.
final class EncryptionAttackTests: XCTestCase {
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

    /// Two encrypted parts, big enough to span several chunks.
    func encrypt(_ method: KeyEncryptionMethod, style: KeyReferenceStyle = .subjectKeyIdentifier) throws -> EncryptionOutput {
        let attachments = (0..<2).map { i in
            MultipartWriter.Attachment(contentID: "attack\(i)@as4gw.test", contentType: "application/gzip",
                                       body: .bytes((0..<150_000).map { UInt8(truncatingIfNeeded: $0 &+ i) }))
        }
        return try AttachmentEncryptor.encrypt(attachments, recipient: EncryptionRecipient.for(method).certificate, method: method,
                                               keyReference: style, spoolDirectory: nil)
    }

    /// The message with its header text and part bodies rewritten; read from a file, so that the
    /// decryptor streams into the spool (where leftovers would show).
    func message(_ output: EncryptionOutput, header: (String) throws -> String = { $0 },
                 bodies: ([[UInt8]]) -> [[UInt8]] = { $0 }) throws -> AS4Message {
        let xml = try header(String(decoding: output.securityHeaderXML, as: UTF8.self))
        let newBodies = bodies(try output.attachments.map { try $0.body.readAll() })
        var attachments = output.attachments
        for i in attachments.indices { attachments[i].body = .bytes(newBodies[i]) }
        return try EncryptionFixtures.message(securityXML: Array(xml.utf8), attachments: attachments, fileIn: work)
    }

    func assertRefused(_ message: AS4Message, _ code: EbmsError.Code, reasonContains: String? = nil,
                       keys: [DecryptionKey] = EncryptionRecipient.allKeys, policy: SecurityPolicy = .receiving,
                       file: StaticString = #filePath, line: UInt = #line) throws {
        let error = try EncryptionFixtures.decryptionError(message, keys: keys, policy: policy, spool: spool, file: file, line: line)
        XCTAssertEqual(error?.code, code, error?.reason ?? "", file: file, line: line)
        if let reasonContains {
            XCTAssertTrue(error?.reason.contains(reasonContains) ?? false, "\(error?.reason ?? "") lacks \(reasonContains)",
                          file: file, line: line)
        }
        XCTAssertEqual(EncryptionFixtures.files(in: spool), [], "nothing may be released", file: file, line: line)
    }

    func assertGeneric(_ message: AS4Message, keys: [DecryptionKey] = EncryptionRecipient.allKeys,
                       file: StaticString = #filePath, line: UInt = #line) throws {
        let error = try EncryptionFixtures.decryptionError(message, keys: keys, spool: spool, file: file, line: line)
        XCTAssertEqual(error, DecryptionFailure.generic, file: file, line: line)
        XCTAssertEqual(EncryptionFixtures.files(in: spool), [], "nothing may be released", file: file, line: line)
    }

    /// Replaces the text of every `<tag>...</tag>` with `transform(text)`.
    func rewrite(_ xml: String, element tag: String, _ transform: (String) -> String) throws -> String {
        var out = xml
        var searchFrom = out.startIndex
        while let open = out.range(of: "<\(tag)>", range: searchFrom..<out.endIndex),
              let close = out.range(of: "</\(tag)>", range: open.upperBound..<out.endIndex) {
            let replacement = transform(String(out[open.upperBound..<close.lowerBound]))
            out.replaceSubrange(open.upperBound..<close.lowerBound, with: replacement)
            searchFrom = out.index(open.upperBound, offsetBy: replacement.count + tag.count + 3)
        }
        XCTAssertNotEqual(out, xml, "no <\(tag)> to rewrite")
        return out
    }

    func flipLastByte(_ base64: String) -> String {
        var bytes = [UInt8](Data(base64Encoded: base64)!)
        bytes[bytes.count - 1] ^= 0x01
        return Data(bytes).base64EncodedString()
    }

    // MARK: GCM

    func testTruncatedOrMissingTag() throws {
        let output = try encrypt(.rsaOAEP)
        for cut in [1, 16, 150_016, 150_028] {
            try assertGeneric(try message(output, bodies: { bodies in [bodies[0], Array(bodies[1].dropLast(cut))] }))
        }
    }

    /// The second part is altered, so the first was already decrypted into the spool: it must go too.
    func testFlippedCiphertextByte() throws {
        for method in KeyEncryptionMethod.allCases {
            let output = try encrypt(method)
            try assertGeneric(try message(output, bodies: { bodies in
                var second = bodies[1]
                second[70_000] ^= 0x80
                return [bodies[0], second]
            }))
        }
    }

    /// A modified wrapped key (OAEP or AES-KW) fails exactly like a modified part: same code,
    /// same text, no detail. Anything else would be a padding oracle.
    func testTamperedKeyIsIndistinguishableFromTamperedPart() throws {
        for method in KeyEncryptionMethod.allCases {
            let output = try encrypt(method)
            try assertGeneric(try message(output, header: { try self.rewrite($0, element: "xenc:CipherValue", self.flipLastByte) }))
        }
    }

    // MARK: Recipient

    func testUnknownRecipientCertificate() throws {
        let rsaMessage = try message(try encrypt(.rsaOAEP, style: .issuerSerial))
        try assertRefused(rsaMessage, .failedDecryption, reasonContains: "hold no decryption key",
                          keys: [try EncryptionFixtures.decryptionKey("AccessPointB")])
        let x25519Message = try message(try encrypt(.x25519HKDF, style: .binarySecurityToken))
        try assertRefused(x25519Message, .failedDecryption, reasonContains: "hold no decryption key",
                          keys: [EncryptionRecipient.rsa.decryptionKey, EncryptionRecipient.p256.decryptionKey])
    }

    func testSoleKeyOfWrongType() throws {
        try assertRefused(try message(try encrypt(.x25519HKDF)), .failedDecryption, reasonContains: "needs an X25519 key",
                          keys: [DecryptionKey(privateKey: EncryptionRecipient.rsa.key)])
    }

    // MARK: Algorithms outside the policy

    func testRSA15RefusedEvenIfAllowed() throws {
        let m = try message(try encrypt(.rsaOAEP), header: { $0.replacingOccurrences(of: Alg.rsaOAEP11, with: Alg.rsa15) })
        var lenient = SecurityPolicy.receiving
        lenient.keyEncryptionAlgorithms.insert(Alg.rsa15)
        try assertRefused(m, .policyNoncompliance, reasonContains: Alg.rsa15, policy: lenient)
    }

    func testAESCBCRefused() throws {
        let m = try message(try encrypt(.rsaOAEP), header: { $0.replacingOccurrences(of: Alg.aes128GCM, with: Alg.aes128CBC) })
        try assertRefused(m, .policyNoncompliance, reasonContains: Alg.aes128CBC)
    }

    func testNarrowedPolicies() throws {
        try assertRefused(try message(try encrypt(.rsaOAEP)), .policyNoncompliance, reasonContains: Alg.rsaOAEP11, policy: .eDelivery20)
        try assertRefused(try message(try encrypt(.x25519HKDF)), .policyNoncompliance, reasonContains: Alg.x25519, policy: .eDelivery115)
        var only128 = SecurityPolicy.receiving
        only128.mgfAlgorithms = [Alg.mgf1SHA1]
        try assertRefused(try message(try encrypt(.rsaOAEP)), .policyNoncompliance, reasonContains: Alg.mgf1SHA256, policy: only128)
    }

    func testOAEPLabelRefused() throws {
        let m = try message(try encrypt(.rsaOAEP), header: {
            $0.replacingOccurrences(of: "<xenc11:MGF", with: "<xenc:OAEPparams>AAAA</xenc:OAEPparams><xenc11:MGF")
        })
        try assertRefused(m, .policyNoncompliance, reasonContains: "OAEPparams")
    }

    func testHKDFKeyLength32WithKWAES128() throws {
        let m = try message(try encrypt(.x25519HKDF), header: { try self.rewrite($0, element: "dsig-more:KeyLength") { _ in "32" } })
        try assertRefused(m, .policyNoncompliance, reasonContains: "32 bytes")
    }

    func testHKDFOtherPRFOrKDFRefused() throws {
        let sha1PRF = try message(try encrypt(.ecdhESHKDF), header: {
            $0.replacingOccurrences(of: Alg.hmacSHA256, with: "http://www.w3.org/2000/09/xmldsig#hmac-sha1")
        })
        try assertRefused(sha1PRF, .policyNoncompliance, reasonContains: "hmac-sha1")
        let concat = try message(try encrypt(.x25519HKDF), header: {
            $0.replacingOccurrences(of: Alg.hkdf, with: "http://www.w3.org/2009/xmlenc11#ConcatKDF")
        })
        try assertRefused(concat, .policyNoncompliance, reasonContains: "ConcatKDF")
        let kw256 = try message(try encrypt(.x25519HKDF), header: {
            $0.replacingOccurrences(of: Alg.kwAES128, with: "http://www.w3.org/2001/04/xmlenc#kw-aes256")
        })
        try assertRefused(kw256, .policyNoncompliance, reasonContains: "kw-aes256")
    }

    /// A Salt that is not base64 is named as such, not taken as an empty salt (which would
    /// only surface as the generic decryption failure); an absent one is RFC 5869's default.
    func testHKDFSaltThatIsNotBase64() throws {
        let salt = try message(try encrypt(.x25519HKDF), header: { try self.rewrite($0, element: "dsig-more:Salt") { _ in "not*base64" } })
        let info = try message(try encrypt(.x25519HKDF), header: {
            $0.replacingOccurrences(of: "<dsig-more:KeyLength>", with: "<dsig-more:Info>%%</dsig-more:Info><dsig-more:KeyLength>")
        })
        for (m, element) in [(salt, "Salt"), (info, "Info")] {
            // Refused as the Security header is read, before any key is used.
            let refusal: EbmsError?
            do {
                refusal = try EncryptionFixtures.decryptionError(m, keys: EncryptionRecipient.allKeys, spool: spool)
            } catch let error as EbmsError {
                refusal = error
            }
            XCTAssertEqual(refusal?.code, .failedDecryption, element)
            XCTAssertEqual(refusal?.reason, "HKDFParams \(element) is not valid base64")
            XCTAssertEqual(EncryptionFixtures.files(in: spool), [], "nothing may be released")
        }
    }

    /// Forms of the eDelivery 2.0 sample: `wsu:Id` on the EncryptedKey resolves like `Id`; and an
    /// Info is part of the derivation (one the sender did not use gives another key, so the
    /// generic failure), not ignored because our own sender writes none.
    func testProfile20SampleFormsWsuIdAndInfo() throws {
        let output = try encrypt(.x25519HKDF)
        let wsuId = try message(output, header: { xml in
            let rewritten = xml.replacingOccurrences(of: " Id=\"EK-", with: " xmlns:wsu=\"\(NS.wsu)\" wsu:Id=\"EK-")
            XCTAssertNotEqual(rewritten, xml, "no EncryptedKey Id to rewrite")
            return rewritten
        })
        let plain = try AttachmentDecryptor.decrypt(wsuId, header: try EncryptionFixtures.header(wsuId), keys: EncryptionRecipient.allKeys,
                                                    policy: .eDelivery20, spoolDirectory: spool)
        XCTAssertEqual(try plain.map { try $0.body.readAll().count }, [150_000, 150_000])
        for f in EncryptionFixtures.files(in: spool) { try? FileManager.default.removeItem(atPath: spool + "/" + f) }
        let info = try message(output, header: {
            $0.replacingOccurrences(of: "<dsig-more:KeyLength>", with: "<dsig-more:Info>AAEC</dsig-more:Info><dsig-more:KeyLength>")
        })
        try assertGeneric(info)
    }

    // MARK: Originator keys

    /// u = 0 is of low order: the shared secret would be all zero, i.e. known to the attacker.
    func testX25519LowOrderOriginatorPoint() throws {
        let lowOrder: [UInt8] = [0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x03, 0x21, 0x00] + [UInt8](repeating: 0, count: 32)
        let m = try message(try encrypt(.x25519HKDF), header: {
            try self.rewrite($0, element: "dsig11:DEREncodedKeyValue") { _ in Data(lowOrder).base64EncodedString() }
        })
        try assertRefused(m, .failedDecryption, reasonContains: "low-order")
    }

    func testECPointOffCurve() throws {
        let m = try message(try encrypt(.ecdhESHKDF), header: { try self.rewrite($0, element: "dsig11:PublicKey", self.flipLastByte) })
        try assertRefused(m, .failedDecryption, reasonContains: "not a valid point")
    }

    // MARK: Structure

    func testEncryptedDataPointingToMissingPart() throws {
        let m = try message(try encrypt(.rsaOAEP), header: {
            $0.replacingOccurrences(of: "cid:attack1@as4gw.test", with: "cid:missing@as4gw.test")
        })
        try assertRefused(m, .failedDecryption, reasonContains: "cid:missing@as4gw.test")
    }

    func testPartClaimedByTwoEncryptedData() throws {
        let m = try message(try encrypt(.rsaOAEP), header: {
            $0.replacingOccurrences(of: "cid:attack1@as4gw.test", with: "cid:attack0@as4gw.test")
        })
        try assertRefused(m, .policyNoncompliance, reasonContains: "claimed by both")
    }

    func testWrongTransformOrType() throws {
        let transform = try message(try encrypt(.rsaOAEP), header: {
            $0.replacingOccurrences(of: Alg.attachmentCiphertext, with: Alg.attachmentContentSignature)
        })
        try assertRefused(transform, .policyNoncompliance, reasonContains: "Attachment-Ciphertext-Transform")
        let type = try message(try encrypt(.rsaOAEP), header: {
            $0.replacingOccurrences(of: Alg.attachmentContentOnly, with: Alg.attachmentComplete)
        })
        try assertRefused(type, .policyNoncompliance, reasonContains: Alg.attachmentComplete)
    }

    func testEncryptedDataNamingNoEncryptedKey() throws {
        let m = try message(try encrypt(.rsaOAEP), header: { $0.replacingOccurrences(of: "\"#EK-", with: "\"#EK-bogus-") })
        try assertRefused(m, .failedDecryption, reasonContains: "no xenc:EncryptedKey")
    }

    func testDataReferenceToNonAttachment() throws {
        let m = try message(try encrypt(.rsaOAEP), header: {
            $0.replacingOccurrences(of: "<xenc:ReferenceList>", with: "<xenc:ReferenceList><xenc:DataReference URI=\"#body\"/>")
        })
        try assertRefused(m, .policyNoncompliance, reasonContains: "#body")
    }

    func testMimeTypeInjectionRefused() throws {
        let m = try message(try encrypt(.rsaOAEP), header: {
            $0.replacingOccurrences(of: "MimeType=\"application/gzip\"", with: "MimeType=\"text/plain&#xD;&#xA;X-Evil: 1\"")
        })
        try assertRefused(m, .policyNoncompliance, reasonContains: "MimeType")
    }

    /// `count` parts, each encrypted under an EncryptedKey of its own (RSA-OAEP to our certificate),
    /// with a CipherValue of `cipherValue` when given: one private-key operation each, if tried.
    func separatelyKeyed(_ count: Int, cipherValue: String? = nil) throws -> AS4Message {
        var header: [UInt8] = []
        var attachments: [MultipartWriter.Attachment] = []
        for i in 0..<count {
            let part = MultipartWriter.Attachment(contentID: "keyed\(i)@as4gw.test", contentType: "application/gzip", body: .bytes([UInt8](repeating: 7, count: 64)))
            let output = try AttachmentEncryptor.encrypt([part], recipient: EncryptionRecipient.for(.rsaOAEP).certificate, method: .rsaOAEP,
                                                         keyReference: .subjectKeyIdentifier, spoolDirectory: nil)
            var xml = String(decoding: output.securityHeaderXML, as: UTF8.self)
            if let cipherValue { xml = try rewrite(xml, element: "xenc:CipherValue") { _ in cipherValue } }
            header += Array(xml.utf8)
            attachments += output.attachments
        }
        return try EncryptionFixtures.message(securityXML: header, attachments: attachments, fileIn: work)
    }

    /// Each EncryptedKey in use costs a private-key operation, so their number is bounded before
    /// any key is selected: a header with more is refused whatever the keys hold.
    func testMoreEncryptedKeysThanAllowedAreRefusedBeforeAnyKeyIsUsed() throws {
        let limit = DecryptionPlan.maxEncryptedKeys
        let reason = "the Security header carries \(limit + 1) xenc:EncryptedKey elements; at most \(limit) are accepted (eDelivery uses one per message)"
        // Valid keys: without the bound, this message decrypts.
        try assertRefused(try separatelyKeyed(limit + 1), .policyNoncompliance, reasonContains: reason)
        // Keys no RSA operation could open: refused for their number, not by the generic failure
        // that trying them would end in.
        let garbage = Data(repeating: 0x5a, count: 256).base64EncodedString()
        try assertRefused(try separatelyKeyed(limit + 1, cipherValue: garbage), .policyNoncompliance, reasonContains: reason)
        // Up to the bound, each part is decrypted with its own key.
        let allowed = try separatelyKeyed(limit)
        let plain = try AttachmentDecryptor.decrypt(allowed, header: try EncryptionFixtures.header(allowed), keys: EncryptionRecipient.allKeys,
                                                    policy: .receiving, spoolDirectory: spool)
        XCTAssertEqual(try plain.map { try $0.body.readAll() }, Array(repeating: [UInt8](repeating: 7, count: 64), count: limit))
        for f in EncryptionFixtures.files(in: spool) { try? FileManager.default.removeItem(atPath: spool + "/" + f) }
    }
}

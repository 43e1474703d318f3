import AS4Crypto
import Foundation
import XCTest

/// `Certificate.subjectPublicKeySHA1`: SHA-1 over the subjectPublicKey bits (RFC 5280 §4.2.1.2
/// method (1)), the Subject Key Identifier WS-Security peers compute for a certificate without
/// the extension. Each check compares with a value other software computed.
final class SubjectPublicKeyHashTests: XCTestCase {
    /// Certificates without the extension from the interop vectors: Harmony's blue_gw (v3, no
    /// extensions at all) and phase4's ph-as4 (v1). The values are pyca/cryptography's
    /// (`x509.SubjectKeyIdentifier.from_public_key`), computed once and written down here.
    func testVectorCertificatesWithoutTheExtension() throws {
        for (file, expected) in [("harmony/keys/blue_gw.cert.pem", "e159a889c71c6bc7fdc2709ac7c3aada10580df9"),
                                 ("phase4/keys/dummy-pw-test.ph-as4.cert.pem", "9d0c5c0d2b056b3c9f12087c3513681074cb6865")] {
            let certificate = try Certificate(pemEncoded: try Vectors.text(file))
            XCTAssertNil(certificate.subjectKeyIdentifier, file)
            XCTAssertEqual(certificate.subjectPublicKeySHA1.hexString, expected, file)
            // Not a hash of something near it: the DER, the whole SubjectPublicKeyInfo.
            XCTAssertNotEqual(certificate.subjectPublicKeySHA1, certificate.sha1Thumbprint, file)
            XCTAssertNotEqual(certificate.subjectPublicKeySHA1, try Digest.hash(try certificate.publicKey.spkiDER, algorithm: .sha1), file)
        }
    }

    /// Certificates whose CAs (other products' test CAs, keytool, the Peppol test CA) wrote the
    /// extension by method (1): our value is theirs, for RSA keys of 1024, 2048 and 4096 bits.
    func testEqualsTheExtensionOtherCertificateAuthoritiesComputed() throws {
        var checked = Set<Int>()
        for file in ["as4net/keys/AccessPointA.cert.pem", "as4net/keys/holodeck-partya.cert.pem", "harmony/keys/red_gw.cert.pem",
                     "holodeck/keys/holodeck-example-parties.certs.pem", "phase4/keys/peppol-expired-ap-cert.chain.pem"] {
            for certificate in try Certificate.certificates(fromFile: Vectors.path(file)) {
                XCTAssertEqual(certificate.subjectPublicKeySHA1, try XCTUnwrap(certificate.subjectKeyIdentifier, file), "\(file): \(certificate)")
                checked.insert(try certificate.publicKey.bitCount)
            }
        }
        XCTAssertEqual(checked, [1024, 2048, 4096])
    }

    /// Fresh keys of every type we handle, certified without the extension, against
    /// pyca/cryptography run now on the same certificates.
    func testFreshKeysOfEveryTypeAgreeWithAnIndependentImplementation() throws {
        let now = Date()
        let ca = try CertificateAuthority.createSelfSigned(subject: CertificateSubject(commonName: "hash test CA"), key: try .generateEd25519(),
                                                           validFrom: now - 60, validUntil: now + 3600)
        let keys: [PublicKey] = [try PrivateKey.generateRSA(bits: 2048).publicKey, try PrivateKey.generateRSA(bits: 3072).publicKey,
                                 try PrivateKey.generateEC(curve: .p256).publicKey, try PrivateKey.generateEC(curve: .p384).publicKey,
                                 try PrivateKey.generateEd25519().publicKey, try PrivateKey.generateX25519().publicKey]
        let certificates = try keys.map { key in
            try ca.issueCertificate(for: key, subject: CertificateSubject(commonName: "\(key.keyType)"), validFrom: now - 60, validUntil: now + 3600,
                                    keyUsage: key.keyType == .x25519 ? [.keyAgreement] : [.digitalSignature], subjectKeyIdentifier: false)
        }
        XCTAssertTrue(certificates.allSatisfy { $0.subjectKeyIdentifier == nil })
        let independent = try pythonKeyIdentifiers(certificates)
        XCTAssertEqual(certificates.map(\.subjectPublicKeySHA1.hexString), independent)
        XCTAssertEqual(Set(independent).count, keys.count)

        // OpenSSL's own "hash" extension on a twin with the same key says the same.
        for key in keys {
            let twin = try ca.issueCertificate(for: key, subject: CertificateSubject(commonName: "twin"), validFrom: now - 60, validUntil: now + 3600,
                                               keyUsage: key.keyType == .x25519 ? [.keyAgreement] : [.digitalSignature])
            XCTAssertEqual(twin.subjectKeyIdentifier, twin.subjectPublicKeySHA1, "\(key.keyType)")
        }
    }

    /// A given subjectKeyIdentifier value (as CAs that derive it otherwise write it) is written
    /// as given and leaves the key hash alone; giving one without the extension is an error.
    func testAGivenSubjectKeyIdentifierValue() throws {
        let key = try PrivateKey.generateEC(curve: .p256)
        let value: [UInt8] = [0x42] + Array(repeating: 0x07, count: 7)
        let certificate = try CertificateAuthority.selfSignedCertificate(subject: CertificateSubject(commonName: "own SKI"), key: key,
                                                                         validUntil: Date() + 3600, subjectKeyIdentifierValue: value)
        XCTAssertEqual(certificate.subjectKeyIdentifier, value)
        XCTAssertEqual(certificate.subjectPublicKeySHA1.count, 20)
        XCTAssertNotEqual(certificate.subjectPublicKeySHA1, value)
        XCTAssertThrowsCryptoError(.invalidArgument, try CertificateAuthority.selfSignedCertificate(
            subject: CertificateSubject(commonName: "x"), key: key, validUntil: Date() + 3600, subjectKeyIdentifier: false,
            subjectKeyIdentifierValue: value))
    }

    /// pyca/cryptography's method (1) identifier of each certificate, in hex.
    private func pythonKeyIdentifiers(_ certificates: [Certificate]) throws -> [String] {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("as4gw-ski-\(UUID().uuidString).pem")
        try certificates.map { try $0.pemEncoded() }.joined().write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let script = """
            import sys
            from cryptography import x509
            for c in x509.load_pem_x509_certificates(open(sys.argv[1], 'rb').read()):
                print(x509.SubjectKeyIdentifier.from_public_key(c.public_key()).digest.hex())
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script, file.path]
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let problem = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        if process.terminationStatus != 0, problem.contains("No module named") || process.terminationStatus == 127 {
            throw XCTSkip("python3 with cryptography is not installed: \(problem)")
        }
        XCTAssertEqual(process.terminationStatus, 0, problem)
        return text.split(separator: "\n").map(String.init)
    }
}

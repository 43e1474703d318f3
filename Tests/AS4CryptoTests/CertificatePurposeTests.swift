import AS4Crypto
import Foundation
import XCTest

/// The one rule for which certificates may sign messages and be encrypted to.
final class CertificatePurposeTests: XCTestCase {
    func testKeyUsageDecidesWhenPresent() throws {
        let key = try PrivateKey.generateEd25519()
        let ca = try CertificateAuthority.createSelfSigned(subject: .init(commonName: "CA"), key: key, validUntil: Date() + 86_400)
        func leaf(_ usage: KeyUsage, isCA: Bool = false) throws -> Certificate {
            try ca.issueCertificate(for: try PrivateKey.generateEd25519().publicKey, subject: .init(commonName: "leaf"),
                                    validUntil: Date() + 86_400, keyUsage: usage, isCA: isCA)
        }
        XCTAssertNil(CertificatePurpose.signingRefusal(try leaf([.digitalSignature])))
        XCTAssertNil(CertificatePurpose.signingRefusal(try leaf([.nonRepudiation])))
        XCTAssertNil(CertificatePurpose.signingRefusal(try leaf([])), "no keyUsage: no restriction")
        XCTAssertEqual(CertificatePurpose.signingRefusal(try leaf([.keyEncipherment, .dataEncipherment])),
                       "its keyUsage (keyEncipherment, dataEncipherment) allows neither digitalSignature nor nonRepudiation")
        XCTAssertEqual(CertificatePurpose.signingRefusal(try leaf([.digitalSignature, .keyCertSign])),
                       "it is a CA certificate (keyUsage keyCertSign): a key that certifies others does not sign messages")
        XCTAssertEqual(CertificatePurpose.signingRefusal(try leaf([], isCA: true)),
                       "it is a CA certificate (basicConstraints CA:TRUE): a key that certifies others does not sign messages")
        // CA:TRUE with a keyUsage that lacks keyCertSign certifies nothing (RFC 5280 §4.2.1.3;
        // OpenSSL refuses it as an issuer): its key is a signer's like any other.
        XCTAssertNil(CertificatePurpose.signingRefusal(try leaf([.digitalSignature], isCA: true)))
        XCTAssertNotNil(CertificatePurpose.signingRefusal(ca.certificate), "a CA's own certificate (keyCertSign) signs no messages")

        XCTAssertNil(CertificatePurpose.encryptionRefusal(try leaf([.keyEncipherment])))
        XCTAssertNil(CertificatePurpose.encryptionRefusal(try leaf([.keyAgreement])))
        XCTAssertNil(CertificatePurpose.encryptionRefusal(try leaf([])))
        XCTAssertEqual(CertificatePurpose.encryptionRefusal(try leaf([.digitalSignature])),
                       "its keyUsage (digitalSignature) allows neither keyEncipherment nor keyAgreement")
    }

    /// An X25519 key agreement certificate must allow keyAgreement when it has a keyUsage:
    /// keyEncipherment alone names key transport, which such a key cannot do (RFC 8410 §5).
    func testAnX25519CertificateMustAllowKeyAgreement() throws {
        let ca = try CertificateAuthority.createSelfSigned(subject: .init(commonName: "CA"), key: try PrivateKey.generateEd25519(),
                                                          validUntil: Date() + 86_400)
        func leaf(_ key: PrivateKey, _ usage: KeyUsage) throws -> Certificate {
            try ca.issueCertificate(for: key.publicKey, subject: .init(commonName: "leaf"), validUntil: Date() + 86_400, keyUsage: usage)
        }
        let key = try PrivateKey.generateX25519()
        XCTAssertNil(CertificatePurpose.encryptionRefusal(try leaf(key, [.keyAgreement])))
        XCTAssertNil(CertificatePurpose.encryptionRefusal(try leaf(key, [])), "no keyUsage: no restriction")
        XCTAssertEqual(CertificatePurpose.encryptionRefusal(try leaf(key, [.keyEncipherment])),
                       "its keyUsage (keyEncipherment) does not allow keyAgreement, the only use of its X25519 key")
        for other in [try PrivateKey.generateRSA(bits: 2048), try PrivateKey.generateEC(curve: .p256)] {
            XCTAssertNil(CertificatePurpose.encryptionRefusal(try leaf(other, [.keyEncipherment])), "\(other.keyType): unchanged")
        }
    }

    func testASelfSignedCertificateMarkedCAWithoutKeyCertSignMaySign() throws {
        let key = try PrivateKey.generateEd25519()
        let marked = try CertificateAuthority.selfSignedCertificate(subject: .init(commonName: "partner"), key: key, validUntil: Date() + 86_400,
                                                                   keyUsage: [], isCA: true)
        XCTAssertTrue(marked.isCA)
        XCTAssertNil(CertificatePurpose.signingRefusal(marked))
    }

    /// The certificates real AS4 partners sign with, from the interop vectors: TLS-only extended
    /// key usages (Peppol: clientAuth alone, critical), self-signed CA:TRUE samples, v1
    /// certificates without extensions. Every one may sign.
    func testTheInteropSignersMaySign() throws {
        let files = ["as4net/keys/AccessPointA.cert.pem", "as4net/keys/AccessPointB.cert.pem", "as4net/keys/holodeck-partya.cert.pem",
                     "as4net/keys/partyC.cert.pem", "as4net/keys/certificate-as4.cert.pem", "phase4/keys/dummy-pw-test.ph-as4.cert.pem",
                     "phase4/keys/peppol-expired-ap-cert.chain.pem", "harmony/keys/red_gw.cert.pem", "harmony/keys/blue_gw.cert.pem",
                     "holodeck/keys/holodeck-example-parties.certs.pem"]
        for file in files {
            guard FileManager.default.fileExists(atPath: Vectors.path(file)) else { throw XCTSkip("interop vectors not present: \(file)") }
            let certificate = try XCTUnwrap(try Certificate.certificates(fromFile: Vectors.path(file)).first, file)
            XCTAssertNil(CertificatePurpose.signingRefusal(certificate), file)
        }
    }
}

import AS4Crypto
import Foundation
import XCTest

final class CertificateAuthorityTests: XCTestCase {
    let now = Date()
    let year: TimeInterval = 365 * 24 * 3600

    func testIssuesCertificatesForEveryKeyKind() throws {
        for caKey in [try PrivateKey.generateEd25519(), try PrivateKey.generateEC(curve: .p384), try PrivateKey.generateRSA()] {
            let ca = try CertificateAuthority.createSelfSigned(subject: CertificateSubject(commonName: "Dev CA", organization: "as4gw", country: "BE"),
                                                               key: caKey, validFrom: now - 60, validUntil: now + year, serialNumber: "1")
            XCTAssertEqual(ca.certificate.subject, "CN=Dev CA,O=as4gw,C=BE")
            XCTAssertTrue(ca.certificate.isCA)
            XCTAssertTrue(ca.certificate.isSelfSigned)
            XCTAssertEqual(ca.certificate.keyUsage, [.keyCertSign, .cRLSign, .digitalSignature])
            XCTAssertNotNil(ca.certificate.subjectKeyIdentifier)

            for subjectKey in [try PrivateKey.generateX25519(), try PrivateKey.generateEd25519(), try PrivateKey.generateEC(curve: .p256)] {
                let usage: KeyUsage = subjectKey.keyType == .x25519 ? [.keyAgreement] : [.digitalSignature, .nonRepudiation]
                let certificate = try ca.issueCertificate(for: subjectKey.publicKey,
                                                          subject: CertificateSubject(commonName: "ap-\(subjectKey.keyType)", organization: "Partner", country: "NL"),
                                                          validFrom: now - 60, validUntil: now + year / 2,
                                                          serialNumber: "123456789012345678901234567890", keyUsage: usage)
                XCTAssertEqual(certificate.keyType, subjectKey.keyType)
                XCTAssertEqual(certificate.issuerName, ca.certificate.subjectName)
                XCTAssertEqual(certificate.serialNumber, "123456789012345678901234567890")
                XCTAssertEqual(certificate.keyUsage, usage)
                XCTAssertFalse(certificate.isCA)
                XCTAssertNotNil(certificate.subjectKeyIdentifier)
                XCTAssertTrue(try certificate.publicKey == subjectKey.publicKey)
                XCTAssertEqual(certificate.notAfter.timeIntervalSince1970, (now + year / 2).timeIntervalSince1970.rounded(.down))
                let result = CertificateValidator(trustStore: try TrustStore(anchors: [ca.certificate])).validate(leaf: certificate)
                XCTAssertTrue(result.isValid, "\(caKey.keyType) CA → \(subjectKey.keyType): \(result.message)")
            }
        }
    }

    func testAuthorityKeyIdentifierLinksToTheCA() throws {
        let ca = try CertificateAuthority.createSelfSigned(subject: CertificateSubject(commonName: "Dev CA"), key: try .generateEC(curve: .p256),
                                                           validUntil: now + year)
        let certificate = try ca.issueCertificate(for: try PrivateKey.generateX25519().publicKey,
                                                  subject: CertificateSubject(commonName: "x25519-ap"), validUntil: now + year, keyUsage: [.keyAgreement])
        // The AKI extension (OID 2.5.29.35) carries the CA's SKI: look for its key identifier in the DER.
        let caSKI = try XCTUnwrap(ca.certificate.subjectKeyIdentifier)
        let akiPrefix: [UInt8] = [0x06, 0x03, 0x55, 0x1d, 0x23]
        let der = certificate.derBytes
        let akiOffset = try XCTUnwrap((0..<(der.count - akiPrefix.count)).first { Array(der[$0..<($0 + akiPrefix.count)]) == akiPrefix })
        let tail = Array(der[akiOffset...].prefix(40))
        XCTAssertNotNil((0...(tail.count - caSKI.count)).first { Array(tail[$0..<($0 + caSKI.count)]) == caSKI })
    }

    /// Certificates without the subjectKeyIdentifier extension, as some partner CAs issue them
    /// (the Domibus sample blue_gw): self-signed or issued, they still chain and stay self-signed.
    func testCertificatesWithoutSubjectKeyIdentifier() throws {
        let key = try PrivateKey.generateRSA()
        let pinned = try CertificateAuthority.selfSignedCertificate(subject: CertificateSubject(commonName: "no SKI"), key: key,
                                                                    validFrom: now - 60, validUntil: now + year, subjectKeyIdentifier: false)
        XCTAssertNil(pinned.subjectKeyIdentifier)
        XCTAssertTrue(pinned.isSelfSigned)
        XCTAssertTrue(CertificateValidator(trustStore: try TrustStore(anchors: [pinned])).validate(leaf: pinned).isValid)

        let ca = try CertificateAuthority.createSelfSigned(subject: CertificateSubject(commonName: "Dev CA"), key: try .generateEC(curve: .p256),
                                                           validFrom: now - 60, validUntil: now + year)
        let issued = try ca.issueCertificate(for: key.publicKey, subject: CertificateSubject(commonName: "issued without SKI"),
                                             validFrom: now - 60, validUntil: now + year, subjectKeyIdentifier: false)
        XCTAssertNil(issued.subjectKeyIdentifier)
        let result = CertificateValidator(trustStore: try TrustStore(anchors: [ca.certificate])).validate(leaf: issued)
        XCTAssertTrue(result.isValid, result.message)
    }

    func testPEMExportAndReload() throws {
        let key = try PrivateKey.generateEC(curve: .p256)
        let ca = try CertificateAuthority.createSelfSigned(subject: CertificateSubject(commonName: "Dev CA"), key: key, validUntil: now + year)
        let reloaded = try CertificateAuthority(key: try PrivateKey(pemEncoded: try key.pemEncoded()),
                                                certificate: try Certificate(pemEncoded: try ca.certificate.pemEncoded()))
        XCTAssertEqual(reloaded.certificate, ca.certificate)
        XCTAssertThrowsCryptoError(.keyMismatch, try CertificateAuthority(key: try .generateEC(curve: .p256), certificate: ca.certificate))
        let crl = try reloaded.issueCRL(revokedSerialNumbers: ["5", "6"], nextUpdate: now + 3600, crlNumber: 42)
        XCTAssertTrue(try CertificateRevocationList(pemEncoded: try crl.pemEncoded()).isSigned(by: ca.certificate))
        XCTAssertEqual(crl.revokedSerialNumbers, ["5", "6"])
    }

    func testRejectsBadInput() throws {
        let ca = try CertificateAuthority.createSelfSigned(subject: CertificateSubject(commonName: "Dev CA"), key: try .generateEd25519(), validUntil: now + year)
        let key = try PrivateKey.generateX25519().publicKey
        XCTAssertThrowsCryptoError(.invalidArgument, try ca.issueCertificate(for: key, subject: CertificateSubject(commonName: "x"),
                                                                              validUntil: now + year, serialNumber: "-5"))
        XCTAssertThrowsCryptoError(.invalidArgument, try ca.issueCertificate(for: key, subject: CertificateSubject(commonName: "x"),
                                                                              validFrom: now, validUntil: now - 1))
        XCTAssertThrowsError(try ca.issueCertificate(for: key, subject: CertificateSubject(commonName: "x", country: "Belgium"), validUntil: now + year))
        // X25519 keys cannot sign, so they cannot make a self-signed certificate.
        XCTAssertThrowsError(try CertificateAuthority.selfSignedCertificate(subject: CertificateSubject(commonName: "x"),
                                                                            key: try .generateX25519(), validUntil: now + year))
    }
}

import AS4Crypto
import Foundation
import XCTest

/// Chain validation against vector certificates and a generated PKI.
final class ValidationTests: XCTestCase {
    static let now = Date()
    static let year: TimeInterval = 365 * 24 * 3600
    static let ca = try! CertificateAuthority.createSelfSigned(
        subject: CertificateSubject(commonName: "AS4 Test CA", organization: "as4gw", country: "BE"),
        key: try! PrivateKey.generateEC(curve: .p256), validFrom: now - year, validUntil: now + 10 * year)
    static let leafKey = try! PrivateKey.generateEC(curve: .p256)

    private func leaf(_ name: String, serial: String, from: Date = now - year, until: Date = now + year,
                      issuer: CertificateAuthority = ca) throws -> Certificate {
        try issuer.issueCertificate(for: Self.leafKey.publicKey, subject: CertificateSubject(commonName: name, organization: "Partner"),
                                    validFrom: from, validUntil: until, serialNumber: serial)
    }

    func testPeppolChainValidAtThenExpiredNow() throws {
        let chain = try Certificate.certificates(fromFile: Vectors.path("phase4/keys/peppol-expired-ap-cert.chain.pem"))
        let validator = CertificateValidator(trustStore: try TrustStore(anchors: [chain[2]]))

        let then = validator.validate(leaf: chain[0], intermediates: [chain[1]], at: utc("2020-01-01"))
        XCTAssertTrue(then.isValid, then.message)
        XCTAssertEqual(then.chain, chain)

        let today = validator.validate(leaf: chain[0], intermediates: [chain[1]], at: Date())
        XCTAssertFalse(today.isValid)
        XCTAssertEqual(today.reason, .expired)
        XCTAssertEqual(today.openSSLCode, 10)  // X509_V_ERR_CERT_HAS_EXPIRED
        XCTAssertEqual(today.errorDepth, 0)
        XCTAssertEqual(today.failingCertificate, chain[0])
        XCTAssertTrue(today.message.contains("POP000306") && today.message.contains("expired"), today.message)

        let missingIntermediate = validator.validate(leaf: chain[0], at: utc("2020-01-01"))
        XCTAssertEqual(missingIntermediate.reason, .unknownIssuer, missingIntermediate.message)
        // Intermediates configured in the trust store are used for chain building too.
        let withStoreIntermediate = CertificateValidator(trustStore: try TrustStore(anchors: [chain[2]], intermediates: [chain[1]]))
        XCTAssertTrue(withStoreIntermediate.validate(leaf: chain[0], at: utc("2020-01-01")).isValid)
        XCTAssertEqual(validator.validate(leaf: chain[0], intermediates: [chain[1]], at: utc("2019-06-30")).reason, .notYetValid)
    }

    func testSelfSignedPartnerCertificateAsItsOwnAnchor() throws {
        let redGW = try Certificate(pemEncoded: try Vectors.text("harmony/keys/red_gw.cert.pem"))
        let validator = CertificateValidator(trustStore: try TrustStore(anchors: [redGW]))
        XCTAssertTrue(validator.validate(leaf: redGW, at: utc("2023-10-05")).isValid)
        let now = validator.validate(leaf: redGW, at: Date())
        XCTAssertEqual(now.reason, .expired, now.message)

        let accessPointA = try Certificate(pemEncoded: try Vectors.text("as4net/keys/AccessPointA.cert.pem"))
        let notAnchor = validator.validate(leaf: accessPointA)
        XCTAssertEqual(notAnchor.reason, .unknownIssuer, notAnchor.message)
        XCTAssertEqual(notAnchor.openSSLCode, 18)  // X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT

        // A generated self-signed partner certificate, pinned.
        let partner = try CertificateAuthority.selfSignedCertificate(subject: CertificateSubject(commonName: "partner-ap"),
                                                                     key: Self.leafKey, validUntil: Date() + Self.year)
        XCTAssertTrue(partner.isSelfSigned)
        XCTAssertTrue(CertificateValidator(trustStore: try TrustStore(anchors: [partner])).validate(leaf: partner).isValid)
    }

    func testGeneratedPKIWithRevocation() throws {
        let good = try leaf("good-ap", serial: "1001")
        let revoked = try leaf("revoked-ap", serial: "1002")
        let crl = try Self.ca.issueCRL(revokedSerialNumbers: ["1002"], thisUpdate: Self.now - 3600, nextUpdate: Self.now + 7 * 24 * 3600)
        XCTAssertEqual(crl.revokedSerialNumbers, ["1002"])
        XCTAssertTrue(crl.isSigned(by: Self.ca.certificate))
        XCTAssertFalse(crl.isSigned(by: good))

        let validator = CertificateValidator(trustStore: try TrustStore(anchors: [Self.ca.certificate], crls: [crl]))
        XCTAssertTrue(validator.validate(leaf: good, checkRevocation: true).isValid)
        let refused = validator.validate(leaf: revoked, checkRevocation: true)
        XCTAssertEqual(refused.reason, .revoked, refused.message)
        XCTAssertEqual(refused.openSSLCode, 23)  // X509_V_ERR_CERT_REVOKED
        XCTAssertTrue(validator.validate(leaf: revoked, checkRevocation: false).isValid, "revocation only when asked")
        let valid = validator.validate(leaf: good)
        XCTAssertEqual(valid.chain, [good, Self.ca.certificate])

        // Fail closed: no CRL, or a CRL that is out of date at the evaluation time.
        let noCRL = CertificateValidator(trustStore: try TrustStore(anchors: [Self.ca.certificate]))
        XCTAssertEqual(noCRL.validate(leaf: good, checkRevocation: true).reason, .revocationStatusUnknown)
        XCTAssertEqual(validator.validate(leaf: good, at: Self.now + 30 * 24 * 3600, checkRevocation: true).reason, .revocationStatusUnknown)
    }

    func testUnknownCANotYetValidAndBadSignature() throws {
        let otherCA = try CertificateAuthority.createSelfSigned(subject: CertificateSubject(commonName: "Other CA"),
                                                                key: try .generateEd25519(), validUntil: Self.now + Self.year)
        let validator = CertificateValidator(trustStore: try TrustStore(anchors: [Self.ca.certificate]))
        let foreign = try leaf("foreign-ap", serial: "7", issuer: otherCA)
        XCTAssertTrue(CertificateValidator(trustStore: try TrustStore(anchors: [otherCA.certificate])).validate(leaf: foreign).isValid)
        let unknown = validator.validate(leaf: foreign)
        XCTAssertEqual(unknown.reason, .unknownIssuer, unknown.message)
        XCTAssertEqual(unknown.openSSLCode, 20)  // X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY

        let future = try leaf("future-ap", serial: "8", from: Self.now + 3600, until: Self.now + Self.year)
        XCTAssertEqual(validator.validate(leaf: future).reason, .notYetValid)
        XCTAssertTrue(validator.validate(leaf: future, at: Self.now + 7200).isValid)

        // Flip a bit in the signature value (the last byte of the DER).
        var der = try leaf("tampered-ap", serial: "9").derBytes
        der[der.count - 1] ^= 0x01
        let tampered = try Certificate(derEncoded: der)
        let bad = validator.validate(leaf: tampered)
        XCTAssertEqual(bad.reason, .badSignature, bad.message)
        XCTAssertEqual(bad.openSSLCode, 7)  // X509_V_ERR_CERT_SIGNATURE_FAILURE
    }

    /// harmony/keys/test.crl and gateway_keystore_crl.ut.cert.pem are shipped as a pair, but do not
    /// relate: the CRL's issuer (C=GB, O=Alice Ltd, CN=edelivery) is not the certificate's issuer
    /// (CN=ut, ... C=BE). The CRL is therefore only a parsing vector.
    func testHarmonyCRLParsesButDoesNotCoverItsCompanionCertificate() throws {
        let crl = try XCTUnwrap(CertificateRevocationList.crls(fromFile: Vectors.path("harmony/keys/test.crl")).first)
        XCTAssertEqual(crl.issuerName.commonName, "edelivery")
        XCTAssertEqual(crl.issuerName.values(for: "O"), ["Alice Ltd"])
        XCTAssertEqual(crl.thisUpdate, utc("2017-06-08T06:43:31Z"))
        XCTAssertEqual(crl.nextUpdate, utc("2017-07-08T06:43:31Z"))
        XCTAssertEqual(crl.revokedSerialNumbers, ["4096", "4097"])  // 0x1000, 0x1001
        XCTAssertEqual(try CertificateRevocationList(derEncoded: crl.derBytes).revokedSerialNumbers, ["4096", "4097"])
        XCTAssertEqual(try CertificateRevocationList(pemEncoded: try crl.pemEncoded()).derBytes, crl.derBytes)

        let companion = try Certificate(pemEncoded: try Vectors.text("harmony/keys/gateway_keystore_crl.ut.cert.pem"))
        XCTAssertFalse(companion.issuerName.matches(crl.issuerName))
        XCTAssertFalse(crl.isSigned(by: companion))
    }

    func testTrustStoreFromDirectory() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("as4crypto-trust-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let revoked = try leaf("revoked-ap", serial: "2002")
        let crl = try Self.ca.issueCRL(revokedSerialNumbers: ["2002"], nextUpdate: Self.now + 3600)
        try Self.ca.certificate.pemEncoded().write(to: directory.appendingPathComponent("ca.pem"), atomically: true, encoding: .utf8)
        try Data(crl.derBytes).write(to: directory.appendingPathComponent("ca.crl"))
        try "ignored".write(to: directory.appendingPathComponent("README.txt"), atomically: true, encoding: .utf8)

        try crl.pemEncoded().write(to: directory.appendingPathComponent("ca-crl.pem"), atomically: true, encoding: .utf8)

        // Certificates and CRLs share the directory; PEM files are told apart by content.
        let store = try TrustStore(anchorPaths: [directory.path], crlPaths: [directory.path])
        XCTAssertEqual(store.anchors, [Self.ca.certificate])
        XCTAssertEqual(store.crls.count, 2)
        XCTAssertEqual(CertificateValidator(trustStore: store).validate(leaf: revoked, checkRevocation: true).reason, .revoked)
        XCTAssertThrowsCryptoError(.invalidArgument, try TrustStore(anchorPaths: [directory.appendingPathComponent("missing").path]))
        // A file named explicitly must parse as what it is listed for.
        XCTAssertThrowsCryptoError(.decoding, try TrustStore(anchorPaths: [directory.appendingPathComponent("ca-crl.pem").path]))
    }

    func testConcurrentValidationAndSigningShareObjects() throws {
        let good = try leaf("shared-ap", serial: "3003")
        let validator = CertificateValidator(trustStore: try TrustStore(anchors: [Self.ca.certificate]))
        let failures = UnsafeSendableCounter()
        DispatchQueue.concurrentPerform(iterations: 16) { index in
            if !validator.validate(leaf: good).isValid { failures.increment() }
            let data = Array("message \(index)".utf8)
            guard let signature = try? Signer.sign(data: data, key: Self.leafKey, algorithm: .ecdsaSHA256),
                  (try? Verifier.verify(signature: signature, data: data, key: good.publicKey, algorithm: .ecdsaSHA256)) == true else {
                failures.increment()
                return
            }
        }
        XCTAssertEqual(failures.value, 0)
    }
}

/// A counter for the concurrency test (NSLock-protected).
final class UnsafeSendableCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func increment() { lock.withLock { count += 1 } }
    var value: Int { lock.withLock { count } }
}

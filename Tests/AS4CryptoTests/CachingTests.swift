import AS4Crypto
import Foundation
import XCTest

/// Parsed certificates and successful validations are reused; neither reuse may change a verdict.
final class CachingTests: XCTestCase {
    static let now = Date()
    static let day: TimeInterval = 24 * 3600
    static let ca = try! CertificateAuthority.createSelfSigned(
        subject: CertificateSubject(commonName: "Cache Test CA"), key: try! PrivateKey.generateEC(curve: .p256),
        validFrom: now - 400 * day, validUntil: now + 4000 * day)
    static let key = try! PrivateKey.generateEC(curve: .p256)

    private func leaf(_ serial: String, from: Date = now - 10 * day, until: Date = now + 10 * day) throws -> Certificate {
        try Self.ca.issueCertificate(for: Self.key.publicKey, subject: CertificateSubject(commonName: "ap-\(serial)"),
                                     validFrom: from, validUntil: until, serialNumber: serial)
    }

    func testTheSameDERGivesTheSameParsedCertificate() throws {
        let der = try leaf("11").derBytes
        let first = try CertificateCache.certificate(derEncoded: der)
        let second = try CertificateCache.certificate(derEncoded: der)
        XCTAssertTrue(first === second)
        XCTAssertEqual(first.derBytes, der)

        let path = PKIPath.encode([Self.ca.certificate, first])
        let leafFirst = try CertificateCache.pkiPathLeafFirst(path)
        XCTAssertEqual(leafFirst, [first, Self.ca.certificate])
        XCTAssertTrue(try CertificateCache.pkiPathLeafFirst(path)[0] === leafFirst[0])
        // A path and a single certificate of the same bytes are told apart.
        XCTAssertThrowsError(try CertificateCache.pkiPathLeafFirst(der))
    }

    func testInvalidInputIsRefusedEveryTimeAndNotKept() throws {
        var der = try leaf("12").derBytes
        der.append(0)  // trailing garbage: the whole input must be one certificate
        let before = CertificateCache.count
        XCTAssertThrowsError(try CertificateCache.certificate(derEncoded: der))
        XCTAssertThrowsError(try CertificateCache.certificate(derEncoded: der))
        XCTAssertThrowsError(try CertificateCache.certificate(derEncoded: [0x30, 0x03, 0x02, 0x01]))
        XCTAssertLessThanOrEqual(CertificateCache.count, before)
    }

    func testTheCacheStaysBounded() throws {
        for serial in 0..<(CertificateCache.capacity + 20) {
            _ = try CertificateCache.certificate(derEncoded: leaf("\(1000 + serial)").derBytes)
            XCTAssertLessThanOrEqual(CertificateCache.count, CertificateCache.capacity)
            XCTAssertLessThanOrEqual(CertificateCache.byteCount, CertificateCache.capacityBytes)
        }
        // A path larger than an entry may be is parsed every time and never kept.
        let names = (0..<60).map { "DNS:host-\($0)-with-a-long-label.partner-access-point.example" }
        let bulky = try (0..<12).map { i in
            try Self.ca.issueCertificate(for: Self.key.publicKey, subject: CertificateSubject(commonName: "bulky-\(i)"),
                                         validUntil: Self.now + Self.day, serialNumber: "\(5000 + i)", subjectAlternativeNames: names)
        }
        let big = PKIPath.encode(bulky)
        XCTAssertGreaterThan(big.count, CertificateCache.maxEntryBytes)
        let before = CertificateCache.count
        XCTAssertEqual(try CertificateCache.pkiPathLeafFirst(big).count, 12)
        XCTAssertFalse(try CertificateCache.pkiPathLeafFirst(big)[0] === CertificateCache.pkiPathLeafFirst(big)[0])
        XCTAssertEqual(CertificateCache.count, before)
    }

    /// A valid result is reused only inside the validity of every certificate in its path.
    func testARememberedValidationDoesNotOutliveThePath() throws {
        let validator = CertificateValidator(trustStore: try TrustStore(anchors: [Self.ca.certificate]))
        let certificate = try leaf("21", from: Self.now - Self.day, until: Self.now + Self.day)
        XCTAssertTrue(validator.validate(leaf: certificate, at: Self.now).isValid)
        XCTAssertTrue(validator.validate(leaf: certificate, at: Self.now + 3600).isValid)
        XCTAssertEqual(validator.validate(leaf: certificate, at: Self.now + 2 * Self.day).reason, .expired)
        XCTAssertEqual(validator.validate(leaf: certificate, at: Self.now - 2 * Self.day).reason, .notYetValid)
        XCTAssertTrue(validator.validate(leaf: certificate, at: Self.now).isValid)
        // The anchor's own validity bounds it too.
        XCTAssertEqual(validator.validate(leaf: try leaf("22", from: Self.now - 500 * Self.day, until: Self.now + 5000 * Self.day),
                                          at: Self.now + 4100 * Self.day).reason, .expired)
        // Another store (another set of anchors) shares nothing.
        let stranger = CertificateValidator(trustStore: try TrustStore(anchors: [try leaf("23")]))
        XCTAssertEqual(stranger.validate(leaf: certificate, at: Self.now).reason, .unknownIssuer)
    }

    /// With revocation checked, the CRL's own period bounds the reuse: fail closed after nextUpdate.
    func testARememberedRevocationCheckEndsWithTheCRL() throws {
        let certificate = try leaf("31")
        let crl = try Self.ca.issueCRL(revokedSerialNumbers: ["32"], thisUpdate: Self.now - 3600, nextUpdate: Self.now + Self.day)
        let validator = CertificateValidator(trustStore: try TrustStore(anchors: [Self.ca.certificate], crls: [crl]))
        XCTAssertTrue(validator.validate(leaf: certificate, at: Self.now, checkRevocation: true).isValid)
        XCTAssertTrue(validator.validate(leaf: certificate, at: Self.now + 60, checkRevocation: true).isValid)
        XCTAssertEqual(validator.validate(leaf: certificate, at: Self.now + 2 * Self.day, checkRevocation: true).reason,
                       .revocationStatusUnknown)
        XCTAssertEqual(validator.validate(leaf: certificate, at: Self.now - 7200, checkRevocation: true).reason,
                       .revocationStatusUnknown)
        // Without revocation the same leaf is valid after the CRL's end: the two checks are kept apart.
        XCTAssertTrue(validator.validate(leaf: certificate, at: Self.now + 2 * Self.day).isValid)
        XCTAssertEqual(validator.validate(leaf: try leaf("32"), at: Self.now, checkRevocation: true).reason, .revoked)
    }

    /// The untrusted certificates offered are part of what was validated.
    func testIntermediatesArePartOfTheKey() throws {
        let subCAKey = try PrivateKey.generateEC(curve: .p256)
        let subCA = try CertificateAuthority(
            key: subCAKey,
            certificate: try Self.ca.issueCertificate(for: subCAKey.publicKey, subject: CertificateSubject(commonName: "Sub CA"),
                                                      validFrom: Self.now - Self.day, validUntil: Self.now + 100 * Self.day,
                                                      serialNumber: "41", keyUsage: [.keyCertSign, .cRLSign], isCA: true))
        let certificate = try subCA.issueCertificate(for: Self.key.publicKey, subject: CertificateSubject(commonName: "ap-42"),
                                                     validFrom: Self.now - Self.day, validUntil: Self.now + Self.day, serialNumber: "42")
        let validator = CertificateValidator(trustStore: try TrustStore(anchors: [Self.ca.certificate]))
        XCTAssertTrue(validator.validate(leaf: certificate, intermediates: [subCA.certificate], at: Self.now).isValid)
        XCTAssertEqual(validator.validate(leaf: certificate, at: Self.now).reason, .unknownIssuer)
    }
}

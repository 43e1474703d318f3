import AS4Crypto
import Foundation
import XCTest

final class CertificateTests: XCTestCase {
    func testAccessPointA() throws {
        let certificate = try Certificate(pemEncoded: try Vectors.text("as4net/keys/AccessPointA.cert.pem"))
        XCTAssertEqual(certificate.subject, "CN=AccessPointA")
        XCTAssertEqual(certificate.issuer, "CN=AccessPointA")
        XCTAssertEqual(certificate.subjectName.commonName, "AccessPointA")
        XCTAssertEqual(certificate.serialNumber, "8207205864034169939")  // 0x71E5DA3FEC427453
        XCTAssertEqual(certificate.notBefore, utc("2016-11-15T00:00:00Z"))
        XCTAssertEqual(certificate.notAfter, utc("2066-11-15T00:00:00Z"))
        XCTAssertEqual(certificate.subjectKeyIdentifier, hex("55D8B515EA0A7ADC2F11894DAAF6FDA943C08A7B"))
        XCTAssertEqual(certificate.sha1Thumbprint, hex("5E320E3A1DDAC6606E12816B2744AE1EE2EE7BF5"))
        XCTAssertEqual(certificate.keyType, .rsa)
        XCTAssertEqual(try certificate.publicKey.bitCount, 2048)
        XCTAssertTrue(certificate.isSelfSigned)
        XCTAssertTrue(certificate.isValid(at: utc("2026-01-01")))
        XCTAssertFalse(certificate.isValid(at: utc("2016-11-14")))
        XCTAssertFalse(certificate.isValid(at: utc("2066-11-16")))
        // The IssuerSerial the as4.NET message uses for its signer.
        XCTAssertTrue(certificate.matches(issuerName: "CN=AccessPointA", serialNumber: "8207205864034169939"))
        XCTAssertFalse(certificate.matches(issuerName: "CN=AccessPointA", serialNumber: "8207205864034169938"))
        XCTAssertFalse(certificate.matches(issuerName: "CN=AccessPointB", serialNumber: "8207205864034169939"))
        XCTAssertFalse(certificate.matches(issuerName: "CN=AccessPointA", serialNumber: "0x71E5"))
    }

    func testEncodingsRoundTripAndEqualityByDER() throws {
        let pem = try Vectors.text("as4net/keys/AccessPointA.cert.pem")
        let certificate = try Certificate(pemEncoded: pem)
        let fromDER = try Certificate(derEncoded: certificate.derBytes)
        let fromBase64 = try Certificate(base64DER: "\n  " + certificate.base64DER.enumerated().map { $0.offset % 64 == 63 ? "\($0.element)\n" : "\($0.element)" }.joined())
        XCTAssertEqual(certificate, fromDER)
        XCTAssertEqual(certificate, fromBase64)
        XCTAssertEqual(Set([certificate, fromDER, fromBase64]).count, 1)
        XCTAssertEqual(try Certificate(pemEncoded: try certificate.pemEncoded()), certificate)
        let other = try Certificate(pemEncoded: try Vectors.text("as4net/keys/AccessPointB.cert.pem"))
        XCTAssertNotEqual(certificate, other)
        XCTAssertThrowsCryptoError(.decoding, try Certificate(derEncoded: certificate.derBytes + [0]))
        XCTAssertThrowsCryptoError(.decoding, try Certificate(derEncoded: Array(certificate.derBytes.dropLast(5))))
        XCTAssertThrowsCryptoError(.decoding, try Certificate(base64DER: "!!!"))
        XCTAssertThrowsCryptoError(.decoding, try Certificate.certificates(fromPEM: "no certificates here"))
    }

    func testRedGatewayExpiredNowButValidThen() throws {
        let certificate = try Certificate(pemEncoded: try Vectors.text("harmony/keys/red_gw.cert.pem"))
        // This certificate's DER lists CN first, so RFC 2253 (reverse DER order) puts C first.
        XCTAssertEqual(certificate.subject, "C=BE,O=eDelivery,CN=red_gw")
        XCTAssertEqual(certificate.notAfter, utc("2025-12-01T07:26:47Z"))
        XCTAssertFalse(certificate.isValid(at: Date()))
        XCTAssertTrue(certificate.isValid(at: utc("2023-10-05")))
        XCTAssertEqual(certificate.subjectKeyIdentifier, hex("EC025E02710BE4413997794B73E12816939F242A"))
        XCTAssertEqual(certificate.serialNumber, "10922018999856918860")
        for spelling in ["CN=red_gw,O=eDelivery,C=BE", "CN=red_gw, O=eDelivery, C=BE", "C=BE,O=eDelivery,CN=red_gw",
                         "cn = RED_GW ; o = edelivery ; c = be", "CN=\"red_gw\",O=eDelivery,C=BE",
                         "CN=red\\5Fgw,O=eDelivery,C=BE", "2.5.4.3=red_gw,OID.2.5.4.10=eDelivery,C=BE",
                         "CN=#0c067265645f6777,O=eDelivery,C=BE", "CN=  red_gw ,O=eDelivery,C=BE"] {
            XCTAssertTrue(certificate.matches(issuerName: spelling, serialNumber: " 010922018999856918860 "), spelling)
        }
        for wrong in ["CN=red_gw,O=eDelivery", "CN=red_gw,O=eDelivery,C=DE", "CN=red_gw+O=eDelivery,C=BE",
                      "O=eDelivery,CN=red_gw,C=BE", "CN=red_gw,,C=BE", "", "CN"] {
            XCTAssertFalse(certificate.matches(issuerName: wrong, serialNumber: "10922018999856918860"), wrong)
        }
    }

    func testDistinguishedNameParsing() throws {
        let name = try DistinguishedName(parsing: #"CN=Doe\, John+UID=jd, O="Acme, Inc.", E=jd@example.org, C=BE"#)
        XCTAssertEqual(name.values(for: "CN"), ["Doe, John"])
        XCTAssertEqual(name.values(for: "O"), ["Acme, Inc."])
        XCTAssertEqual(name.values(for: "emailAddress"), ["jd@example.org"])
        // DER sorts the members of a multi-valued RDN, so UID may come before CN.
        XCTAssertEqual(name.rfc2253, #"UID=jd+CN=Doe\, John,O=Acme\, Inc.,emailAddress=jd@example.org,C=BE"#)
        XCTAssertEqual(try DistinguishedName(parsing: name.rfc2253), name)
        XCTAssertEqual(try DistinguishedName(parsing: "CN=Zoë Test,O=Ünïcode").commonName, "Zoë Test")
        XCTAssertEqual(try DistinguishedName(parsing: "CN=Zo\\C3\\AB").commonName, "Zoë")
        XCTAssertTrue(try DistinguishedName(parsing: "CN=a,O=b").matches(try DistinguishedName(parsing: "O=b,CN=a")))
        XCTAssertFalse(try DistinguishedName(parsing: "CN=a,O=b") == (try DistinguishedName(parsing: "O=b,CN=a")))
        XCTAssertThrowsCryptoError(.decoding, try DistinguishedName(parsing: "XYZZY=1"))
        XCTAssertThrowsCryptoError(.decoding, try DistinguishedName(parsing: "CN=\"open"))
        // A three-letter country is kept (as UTF8String) rather than refused, so it can still be compared.
        XCTAssertEqual(try DistinguishedName(parsing: "C=BEL").values(for: "C"), ["BEL"])
    }

    func testSubjectKeyIdentifierAbsent() throws {
        let certificate = try Certificate(pemEncoded: try Vectors.text("harmony/keys/blue_gw.cert.pem"))
        XCTAssertEqual(certificate.subject, "CN=blue_gw,O=edelivery,C=BE")
        XCTAssertNil(certificate.subjectKeyIdentifier)
        XCTAssertEqual(certificate.sha1Thumbprint.count, 20)
    }

    func testPEMChainFile() throws {
        let chain = try Certificate.certificates(fromFile: Vectors.path("phase4/keys/peppol-expired-ap-cert.chain.pem"))
        XCTAssertEqual(chain.count, 3)
        XCTAssertEqual(chain[0].subjectName.commonName, "POP000306")
        XCTAssertEqual(chain[1].subjectName.commonName, "PEPPOL ACCESS POINT TEST CA - G2")
        XCTAssertEqual(chain[2].subjectName.commonName, "PEPPOL Root TEST CA - G2")
        XCTAssertTrue(chain[0].issuerName == chain[1].subjectName)
        XCTAssertTrue(chain[2].isSelfSigned)
        XCTAssertFalse(chain[0].isCA)
        XCTAssertTrue(chain[1].isCA)
        XCTAssertEqual(chain[0].serialNumber, "54662268794783774828441281762803086102")  // 0x291F91ED7C777E209B42A2EB5BEC7316

        // A corrupt block later in the file is an error, not a silently shorter chain.
        let pem = try Vectors.text("phase4/keys/peppol-expired-ap-cert.chain.pem")
        let secondBlock = try XCTUnwrap(pem.range(of: "-----BEGIN CERTIFICATE-----", range: pem.index(after: pem.startIndex)..<pem.endIndex))
        var corrupt = pem
        corrupt.replaceSubrange(secondBlock.upperBound..<pem.index(secondBlock.upperBound, offsetBy: 8), with: "\n!!!!!!!")
        XCTAssertThrowsCryptoError(.decoding, try Certificate.certificates(fromPEM: corrupt))
    }

    func testPKCS12() throws {
        let bundle = try PKCS12Bundle(contentsOfFile: Vectors.path("as4net/keys/AccessPointB.pfx"), password: "Pz4cZK4SULUwmraZb")
        let key = try XCTUnwrap(bundle.privateKey)
        let certificate = try XCTUnwrap(bundle.certificate)
        XCTAssertEqual(certificate.subject, "CN=AccessPointB")
        XCTAssertTrue(key.matches(try certificate.publicKey))
        XCTAssertEqual(certificate, try Certificate(pemEncoded: try Vectors.text("as4net/keys/AccessPointB.cert.pem")))
        XCTAssertThrowsCryptoError(.decoding, try PKCS12Bundle(contentsOfFile: Vectors.path("as4net/keys/AccessPointB.pfx"), password: "wrong"))
    }

    /// partyC.p12 encrypts its certificate bag with RC2-40 (OpenSSL 3 legacy provider).
    func testPKCS12WithLegacyEncryption() throws {
        let bundle = try PKCS12Bundle(contentsOfFile: Vectors.path("as4net/keys/partyC.p12"), password: "ExampleC")
        let certificate = try XCTUnwrap(bundle.certificate)
        XCTAssertEqual(certificate.subjectName.commonName, "PartyC")
        let key = try XCTUnwrap(bundle.privateKey)
        XCTAssertTrue(key.matches(try certificate.publicKey))
        // The re-imported key works in the default context.
        let signature = try Signer.sign(data: [1, 2, 3], key: key, algorithm: .rsaSHA256)
        XCTAssertTrue(try Verifier.verify(signature: signature, data: [1, 2, 3], key: try certificate.publicKey, algorithm: .rsaSHA256))
    }

    /// The X509PKIPathv1 BinarySecurityToken of a Domibus message: root first, signing leaf last.
    func testPKIPathFromDomibusMessage() throws {
        let xml = try Vectors.text("harmony/signed-encrypted-envelope/bst_X509PKIPathv1_incoming_message.xml")
        let attribute = try XCTUnwrap(xml.range(of: "X509PKIPathv1\""))
        let marker = try XCTUnwrap(xml.range(of: ">", range: attribute.upperBound..<xml.endIndex))
        let end = try XCTUnwrap(xml.range(of: "<", range: marker.upperBound..<xml.endIndex))
        let base64 = xml[marker.upperBound..<end.lowerBound].replacingOccurrences(of: "&#xd;", with: "")
        let der = try XCTUnwrap(Data(base64Encoded: base64, options: .ignoreUnknownCharacters))

        let path = try PKIPath.decode(der)
        XCTAssertEqual(path.map { $0.subjectName.commonName }, ["CA CERTIFICATE", "ICA CERTIFICATE", "LEAF CERTIFICATE"])
        XCTAssertEqual(try PKIPath.decodeLeafFirst(der).first?.subjectName.commonName, "LEAF CERTIFICATE")
        XCTAssertEqual(PKIPath.encode(path), Array(der))

        XCTAssertThrowsCryptoError(.decoding, try PKIPath.decode(Array(der) + [0]))
        XCTAssertThrowsCryptoError(.decoding, try PKIPath.decode(Array(der.dropLast())))
        XCTAssertThrowsCryptoError(.decoding, try PKIPath.decode([0x30, 0x00]))
        XCTAssertThrowsCryptoError(.decoding, try PKIPath.decode(path[0].derBytes))  // a certificate, not a SEQUENCE OF
    }
}

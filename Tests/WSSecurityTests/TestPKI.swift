import AS4Crypto
import Foundation
@testable import WSSecurity

/// A small PKI made fresh for the tests: a CA, party certificates for each key type, an expired
/// and a revoked certificate, a CRL, and an unrelated CA.
final class TestPKI: @unchecked Sendable {  // immutable after init; OpenSSL objects are read-only here
    static let shared = try! TestPKI()

    let ca: CertificateAuthority
    let otherCA: CertificateAuthority
    let rsa: SigningIdentity
    let rsaB: SigningIdentity
    let ed25519: SigningIdentity
    let p256: SigningIdentity
    let expired: SigningIdentity
    let revoked: SigningIdentity
    let stranger: SigningIdentity
    let crl: CertificateRevocationList

    init() throws {
        let now = Date()
        let year: TimeInterval = 365 * 86400
        ca = try .createSelfSigned(subject: .init(commonName: "as4gw test CA", organization: "as4gw", country: "LV"),
                                   key: try .generateEC(curve: .p256), validFrom: now - year, validUntil: now + 10 * year)
        otherCA = try .createSelfSigned(subject: .init(commonName: "Some other CA"), key: try .generateEC(curve: .p256),
                                        validFrom: now - year, validUntil: now + 10 * year)
        func issue(_ ca: CertificateAuthority, _ key: PrivateKey, _ cn: String, from: Date = now - 86400,
                   until: Date = now + 2 * 365 * 86400, serial: String? = nil) throws -> SigningIdentity {
            SigningIdentity(privateKey: key, certificate: try ca.issueCertificate(for: key.publicKey, subject: .init(commonName: cn, organization: "as4gw"),
                                                                                 validFrom: from, validUntil: until, serialNumber: serial))
        }
        rsa = try issue(ca, try .generateRSA(bits: 2048), "party-a")
        rsaB = try issue(ca, try .generateRSA(bits: 2048), "party-b")
        ed25519 = try issue(ca, try .generateEd25519(), "party-a-ed25519")
        p256 = try issue(ca, try .generateEC(curve: .p256), "party-a-p256")
        expired = try issue(ca, rsa.privateKey, "party-a-old", from: now - 3 * year, until: now - year)
        revoked = try issue(ca, rsa.privateKey, "party-a-revoked", serial: "4242")
        stranger = try issue(otherCA, rsa.privateKey, "party-a-impostor")
        crl = try ca.issueCRL(revokedSerialNumbers: ["4242"], thisUpdate: now - 3600, nextUpdate: now + 30 * 86400)
    }

    func validator(crl: Bool = false) throws -> CertificateValidator {
        CertificateValidator(trustStore: try TrustStore(anchors: [ca.certificate], crls: crl ? [self.crl] : []))
    }
}

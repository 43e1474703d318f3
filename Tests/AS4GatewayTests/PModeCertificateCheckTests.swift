@testable import AS4Gateway
import AS4Crypto
import Foundation
import XCTest

/// P-Mode certificates that will not serve their role are reported by `as4gw pmode check` and
/// logged by the daemon at every load, without stopping either (`PModeCertificateCheck`).
final class PModeCertificateCheckTests: XCTestCase {
    var harness: GatewayHarness!
    var certs: String { harness.pmodeDirectory + "/certs" }

    override func setUpWithError() throws {
        harness = try GatewayHarness()
        try harness.configure(["gw-a", "gw-b"])
    }

    override func tearDown() { harness = nil }

    /// Writes certs/NAME.pem (and .key) for a new RSA key, issued by `ca`.
    func write(_ name: String, by ca: CertificateAuthority, keyUsage: KeyUsage = [.digitalSignature, .nonRepudiation],
               until: Date = Date() + 365 * 86_400) throws {
        let key = try PrivateKey.generateRSA()
        let certificate = try ca.issueCertificate(for: key.publicKey, subject: .init(commonName: name), validFrom: Date() - 7 * 86_400,
                                                  validUntil: until, keyUsage: keyUsage)
        try certificate.pemEncoded().write(toFile: certs + "/\(name).pem", atomically: true, encoding: .utf8)
        try key.pemEncoded().write(toFile: certs + "/\(name).key", atomically: true, encoding: .utf8)
    }

    func testPModeCheckWarnsOfCertificatesUnfitForTheirRoleOrExpiring() throws {
        try FileManager.default.createDirectory(atPath: certs, withIntermediateDirectories: true)
        let ca = try CertificateAuthority.createSelfSigned(subject: .init(commonName: "test CA"), key: try .generateRSA(), validUntil: Date() + 3650 * 86_400)
        try write("gw-a.signing", by: ca, until: Date() + 10.5 * 86_400)
        try write("gw-a.encryption", by: ca, keyUsage: [.digitalSignature])
        try write("gw-a.tls", by: ca, keyUsage: [.digitalSignature, .keyEncipherment])
        try write("gw-b.signing", by: ca, keyUsage: [.keyEncipherment])
        try write("gw-b.encryption", by: ca, keyUsage: [.keyEncipherment])
        try write("gw-b.tls", by: ca, keyUsage: [.digitalSignature, .keyEncipherment], until: Date() - 86_400)

        let dir = harness.pmodeDirectory
        let r = try GatewayProcess.run(["pmode", "check", dir])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout, "\(dir): 2 parties, 2 P-Modes: OK with 4 warnings\n")
        let lines = r.stderr.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 4, r.stderr)
        func warned(_ text: String) -> Bool { lines.contains { $0.hasPrefix("\(dir): warning: ") && $0.contains(text) } }
        XCTAssertTrue(warned("signing certificate certs/gw-a.signing.pem of gw-a: expires on "), r.stderr)
        XCTAssertTrue(warned(", in 10 day(s)"), r.stderr)
        XCTAssertTrue(warned("encryption certificate certs/gw-a.encryption.pem of gw-a: cannot be encrypted to: its keyUsage (digitalSignature) "
                             + "allows neither keyEncipherment nor keyAgreement"), r.stderr)
        XCTAssertTrue(warned("signing certificate certs/gw-b.signing.pem of gw-b: messages it signs are refused: its keyUsage (keyEncipherment) "
                             + "allows neither digitalSignature nor nonRepudiation"), r.stderr)
        XCTAssertTrue(warned("tls certificate certs/gw-b.tls.pem of gw-b: expired on "), r.stderr)
        XCTAssertEqual(try GatewayProcess.run(["pmode", "check", dir, "--strict"]).status, 1)
    }

    /// With CRLs configured, a signer whose issuer has none is refused as of unknown revocation
    /// status (fail-closed): the daemon says so whenever it loads the P-Modes (at start and, as
    /// here, at a SIGHUP reload), and keeps serving.
    func testTheDaemonWarnsOfSigningCertificatesNoConfiguredCRLCovers() throws {
        var first: InProcessNode? = try InProcessNode(harness, party: "gw-b")  // writes the development PKI
        Gateway.reloadPModes(first!.context)
        XCTAssertFalse(first!.log.contains("pmode-certificate"), "nothing to warn of without CRLs: \(first!.log)")
        first = nil
        let ca = try CertificateAuthority(key: try KeyMaterial.privateKey(certs + "/dev-ca.key"), certificate: try KeyMaterial.certificate(certs + "/dev-ca.pem"))
        let crl = harness.root.appendingPathComponent("dev.crl.pem").path
        try ca.issueCRL(revokedSerialNumbers: [], nextUpdate: Date() + 86_400).pemEncoded().write(toFile: crl, atomically: true, encoding: .utf8)
        let pinned = try CertificateAuthority.selfSignedCertificate(subject: .init(commonName: "gw-a pinned"), key: try .generateRSA(),
                                                                    validUntil: Date() + 90 * 86_400)
        try pinned.pemEncoded().write(toFile: certs + "/pinned.pem", atomically: true, encoding: .utf8)
        let parties = harness.pmodeDirectory + "/parties.json"
        let text = try String(contentsOfFile: parties, encoding: .utf8)
        let listed = text.replacingOccurrences(of: "\"signing\": [\"certs/gw-a.signing.pem\"]",
                                               with: "\"signing\": [\"certs/gw-a.signing.pem\", \"certs/pinned.pem\"]")
        XCTAssertNotEqual(listed, text)
        try listed.write(toFile: parties, atomically: true, encoding: .utf8)

        let node = try InProcessNode(harness, party: "gw-b") { $0.crls = [crl] }
        Gateway.reloadPModes(node.context)
        let warnings = node.log.split(separator: "\n").filter { $0.contains("event=pmode-certificate") }
        XCTAssertEqual(warnings.count, 1, node.log)
        XCTAssertTrue(warnings.first?.contains("file=certs/pinned.pem") ?? false, node.log)
        XCTAssertTrue(warnings.first?.contains("no configured CRL is from its issuer CN=gw-a pinned (it is self-signed)") ?? false, node.log)
        XCTAssertTrue(node.log.contains("event=pmodes-reloaded"), "a warning, not a refusal: \(node.log)")
    }
}

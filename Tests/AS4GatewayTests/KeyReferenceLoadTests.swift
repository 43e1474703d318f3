@testable import AS4Gateway
import AS4Crypto
import Foundation
import Routing
import XCTest

/// A leg with `keyReference: "ski"` under which we sign with a certificate that has no Subject
/// Key Identifier extension could sign nothing: the daemon refuses such a set when it loads it
/// (at start; at a SIGHUP reload it keeps the set in force), `serve --check-config` and
/// `pmode check --party` report it at the `keyReference`, instead of the first message failing.
final class KeyReferenceLoadTests: XCTestCase {
    var harness: GatewayHarness!
    var certs: String { harness.pmodeDirectory + "/certs" }

    override func tearDown() { harness = nil }

    /// gw-a and gw-b on the development PKI, but gw-a's signing certificate (with its key) issued
    /// without the extension, as some partner CAs issue them.
    func startWithoutSKI(keyReference: String?) throws {
        harness = try GatewayHarness()
        try harness.configure(["gw-a", "gw-b"], legs: [.init(keyReference: keyReference)])
        try harness.seedDevelopmentPKI()
        let ca = try CertificateAuthority(key: try KeyMaterial.privateKey(certs + "/dev-ca.key"),
                                          certificate: try KeyMaterial.certificate(certs + "/dev-ca.pem"))
        let key = try PrivateKey.generateRSA(bits: 2048)
        let certificate = try ca.issueCertificate(for: key.publicKey, subject: .init(commonName: "gw-a signing without SKI"),
                                                  validFrom: Date() - 3600, validUntil: Date() + 86_400 * 30,
                                                  keyUsage: [.digitalSignature, .nonRepudiation], subjectKeyIdentifier: false)
        XCTAssertNil(certificate.subjectKeyIdentifier)
        try certificate.pemEncoded().write(toFile: certs + "/gw-a.signing.pem", atomically: true, encoding: .utf8)
        try key.pemEncoded().write(toFile: certs + "/gw-a.signing.key", atomically: true, encoding: .utf8)
    }

    /// The P-Modes of gw-a's messages to gw-b (the first in test.pmode.json) and back (the second).
    static let toB = "test.pmode.json:4:65: "
    static let fromB = "test.pmode.json:11:65: "
    static let problem = "pmodes[0].legs[0].security.keyReference is \"ski\", but party \"gw-a\" (this gateway) signs under this leg "
        + "(profile 1.15) with the certificate certs/gw-a.signing.pem, which has no Subject Key Identifier extension"

    func testAReloadThatWouldSignWithAnSKIReferenceToACertificateWithoutOneKeepsTheSetInForce() throws {
        try startWithoutSKI(keyReference: nil)
        let a = try InProcessNode(harness, party: "gw-a")
        let before = a.context.registry.current.pmodes.map { $0.legs[0].security.keyReference }
        XCTAssertEqual(before, [.bst, .bst])

        try harness.configure(["gw-a", "gw-b"], legs: [.init(keyReference: "ski")])
        Gateway.reloadPModes(a.context)
        let refused = a.log.split(separator: "\n").filter { $0.contains("event=pmodes-refused") }
        XCTAssertEqual(refused.count, 1, a.log)
        // Both directions: gw-a signs its messages to gw-b and its receipts for gw-b's messages.
        XCTAssertTrue(refused.first?.contains(Self.toB) ?? false, a.log)
        XCTAssertTrue(refused.first?.contains(Self.problem.replacingOccurrences(of: "\"", with: "\\\"")) ?? false, a.log)
        XCTAssertTrue(refused.first?.contains(Self.fromB) ?? false, a.log)
        XCTAssertTrue(refused.first?.contains("Use \\\"bst\\\" or \\\"issuer-serial\\\"") ?? false, a.log)
        XCTAssertEqual(a.context.registry.current.pmodes.map { $0.legs[0].security.keyReference }, before, "the set in force stays")

        // gw-b signs with a certificate that has the extension: the same set is fine for it.
        let b = try InProcessNode(harness, party: "gw-b")
        XCTAssertEqual(b.context.registry.current.pmodes.map { $0.legs[0].security.keyReference }, [.ski, .ski])
    }

    func testAStartWithSuchASetIsRefusedAndCheckConfigSaysWhere() throws {
        try startWithoutSKI(keyReference: "ski")
        XCTAssertThrowsError(try InProcessNode(harness, party: "gw-a")) { error in
            XCTAssertTrue("\(error)".contains(Self.problem), "\(error)")
        }
        var config = GatewayConfiguration()
        config.party = "gw-a"
        config.pmodeDirectory = harness.pmodeDirectory
        config.dataDirectory = harness.root.appendingPathComponent("check").path
        let problems = ConfigurationCheck.problems(config).problems
        XCTAssertEqual(problems.filter { $0.contains("keyReference") }.count, 2, "\(problems)")
        XCTAssertTrue(problems.contains { $0.hasPrefix(harness.pmodeDirectory + "/" + Self.toB) && $0.contains(Self.problem) }, "\(problems)")

        // Configured keys are what gw-a signs with: one with the extension passes.
        config.keys = GatewayConfiguration.Keys(signingKey: certs + "/gw-b.signing.key", signingCertificate: certs + "/gw-b.signing.pem",
                                                encryptionKey: certs + "/gw-a.encryption.key", encryptionCertificate: certs + "/gw-a.encryption.pem")
        XCTAssertEqual(ConfigurationCheck.problems(config).problems.filter { $0.contains("keyReference") }, [])
    }

    func testPModeCheckReportsItForTheNamedPartyAndWarnsWithoutOne() throws {
        try startWithoutSKI(keyReference: "ski")
        let dir = harness.pmodeDirectory
        let named = try GatewayProcess.run(["pmode", "check", dir, "--party", "gw-a"])
        XCTAssertEqual(named.status, 1, named.stderr)
        let lines = named.stderr.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 2, named.stderr)
        XCTAssertTrue(lines.first?.hasPrefix(dir + "/" + Self.toB) ?? false, named.stderr)
        XCTAssertTrue(lines.first?.contains(Self.problem) ?? false, named.stderr)
        XCTAssertEqual(try GatewayProcess.run(["pmode", "check", dir, "--party", "gw-b"]).status, 0)
        XCTAssertEqual(try GatewayProcess.run(["pmode", "check", dir, "--party", "gw-x"]).status, 1)

        let unnamed = try GatewayProcess.run(["pmode", "check", dir])
        XCTAssertEqual(unnamed.status, 0, unnamed.stderr)
        let warnings = unnamed.stderr.split(separator: "\n").filter { $0.contains("keyReference") }
        XCTAssertEqual(warnings.count, 2, unnamed.stderr)
        XCTAssertTrue(warnings.allSatisfy { $0.hasPrefix("\(dir): warning: test.pmode.json:") && $0.contains("party \"gw-a\" signs under this leg")
            && $0.hasSuffix("(an error when gw-a is this gateway's party: --party gw-a)") }, unnamed.stderr)
        XCTAssertEqual(try GatewayProcess.run(["pmode", "check", dir, "--strict"]).status, 1)
    }
}

import AS4Crypto
@testable import AS4Gateway
import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Certificates about to end are told in the log, at start and daily (the review's gateway ran
/// on a signing certificate valid for two more days and said nothing), and `as4gw certs
/// --config` lists the certificates the daemon itself uses, not only parties.json's.
final class CertificateExpiryTests: XCTestCase {
    func entry(_ party: String, _ role: String, _ source: String, until: Date) throws -> CertificateInventory.Entry {
        let key = try PrivateKey.generateEC(curve: .p256)
        let certificate = try CertificateAuthority.selfSignedCertificate(subject: .init(commonName: "\(party) \(role)"), key: key,
                                                                         validFrom: until - 400 * 86_400, validUntil: until)
        return .init(party: party, role: role, source: source, certificate: certificate)
    }

    func testWithinThirtyDaysIsAWarningExpiredAnErrorLaterNothing() throws {
        let now = Date()
        let soon = try entry("gw-a", "signing", "keys", until: now + 2 * 86_400 - 60)
        let gone = try entry("gw-b", "tls", "pmode", until: now - 86_400)
        let later = try entry("gw-c", "encryption", "pmode", until: now + 31 * 86_400)
        let edge = try entry("gw-a", "tls", "listener", until: now + 30 * 86_400)
        let findings = CertificateExpiryWatch.findings([soon, gone, later, edge], now: now)
        XCTAssertEqual(findings.map(\.event), ["certificate-expiring", "certificate-expired", "certificate-expiring"])
        XCTAssertEqual(findings.map(\.level), [.warning, .error, .warning])
        XCTAssertEqual(findings[0].fields["days_left"], "1")
        XCTAssertEqual(findings[0].fields["source"], "keys")
        XCTAssertTrue((findings[0].fields["reason"] ?? "")?.hasPrefix("our signing certificate (keys) expires ") ?? false, "\(findings[0])")
        XCTAssertTrue((findings[1].fields["reason"] ?? "")?.hasPrefix("party gw-b's tls certificate in parties.json expired ") ?? false, "\(findings[1])")
        XCTAssertEqual(findings[1].fields["party"], "gw-b")
    }

    func testAShortLivedSigningCertificateIsWarnedOfAtStartAndListedByCerts() throws {
        let h = try GatewayHarness()
        try h.configure(["gw-a", "gw-b"])
        // parties.json's files, which serve makes itself only when it uses them as its own keys.
        var files: [String: [String: String]] = [:]
        for party in ["gw-a", "gw-b"] {
            for role in ["signing", "encryption", "tls"] { files[party, default: [:]][role] = h.pmodeDirectory + "/certs/\(party).\(role).pem" }
        }
        _ = try DevelopmentPKI.ensure(pmodeDirectory: h.pmodeDirectory, parties: files)
        let folder = h.root.appendingPathComponent("own-keys").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        func write(_ name: String, days: Double) throws -> (key: String, certificate: String) {
            let key = try PrivateKey.generateRSA(bits: 2048)
            let certificate = try CertificateAuthority.selfSignedCertificate(subject: .init(commonName: "gw-a \(name)"), key: key,
                                                                             validFrom: Date() - 3600, validUntil: Date() + days * 86_400)
            let paths = (folder + "/\(name).key", folder + "/\(name).pem")
            try Data(try key.pemEncoded().utf8).write(to: URL(fileURLWithPath: paths.0))
            try Data(try certificate.pemEncoded().utf8).write(to: URL(fileURLWithPath: paths.1))
            return paths
        }
        let signing = try write("signing", days: 2), encryption = try write("encryption", days: 365)
        let config = h.root.appendingPathComponent("short.json").path
        try """
        {"party": "gw-a", "pmodeDirectory": "\(h.pmodeDirectory)", "truststore": ["\(h.pmodeDirectory)/certs/dev-ca.pem"],
         "keys": {"signingKey": "\(signing.key)", "signingCertificate": "\(signing.certificate)",
                  "encryptionKey": "\(encryption.key)", "encryptionCertificate": "\(encryption.certificate)"}}
        """.write(toFile: config, atomically: true, encoding: .utf8)
        h.nodes["gw-a"]!.extraArguments = ["--config", config]
        try h.start("gw-a")

        let lines = h.nodes["gw-a"]!.log.split(separator: "\n")
        let expiring = lines.filter { $0.contains("event=certificate-expiring") }
        XCTAssertEqual(expiring.count, 1, "only the short one; partners' run two years:\n" + lines.joined(separator: "\n"))
        XCTAssertTrue(expiring.first?.contains("level=warn") ?? false, "\(expiring)")
        XCTAssertTrue(expiring.first?.contains("source=keys") ?? false, "\(expiring)")
        XCTAssertTrue(expiring.first?.contains("role=signing") ?? false, "\(expiring)")
        XCTAssertTrue(expiring.first?.contains("days_left=1") ?? false, "\(expiring)")

        let listed = try GatewayProcess.run(["certs", "--config", config, "--json"])
        XCTAssertEqual(listed.status, 0, listed.stderr)
        let certificates = (listed.json?["certificates"] as? [[String: Any]]) ?? []
        let ours = certificates.filter { $0["source"] as? String == "keys" }
        XCTAssertEqual(ours.map { $0["role"] as? String }, ["signing", "encryption"], "\(certificates)")
        XCTAssertEqual(ours.first?["state"] as? String, "EXPIRING", "\(ours)")
        XCTAssertEqual(ours.first?["file"] as? String, signing.certificate)
        XCTAssertTrue(certificates.contains { $0["source"] as? String == "pmode" && $0["party"] as? String == "gw-b" }, "\(certificates)")
        let text = try GatewayProcess.run(["certs", "--config", config])
        XCTAssertTrue(text.stdout.split(separator: "\n").first?.hasPrefix("EXPIRING  gw-a  signing (keys)  CN=gw-a signing") ?? false, text.stdout)
        // --pmode lists parties.json alone, as before.
        let pmodeOnly = try GatewayProcess.run(["certs", "--pmode", h.pmodeDirectory, "--json"])
        XCTAssertFalse(((pmodeOnly.json?["certificates"] as? [[String: Any]]) ?? []).contains { $0["source"] as? String != "pmode" })
    }

    /// A SIGHUP that loads a partner's new certificates checks their expiry at once, not at the
    /// next daily round: one ending in days is a warning, one already ended an error. Our own
    /// certificates, which a reload does not change, are not told again.
    func testASIGHUPReloadChecksTheExpiryOfTheCertificatesItLoaded() throws {
        let h = try GatewayHarness()
        try h.configure(["gw-a", "gw-b"])
        try h.start("gw-a")
        let node = h.nodes["gw-a"]!
        XCTAssertFalse(node.log.contains("event=certificate-expir"), "the development PKI's certificates run two years: \(node.log)")
        let certs = h.pmodeDirectory + "/certs"
        let ca = try CertificateAuthority(key: try KeyMaterial.privateKey(certs + "/dev-ca.key"), certificate: try KeyMaterial.certificate(certs + "/dev-ca.pem"))
        for (name, until) in [("gw-b.signing-soon", Date() + 5.5 * 86_400), ("gw-b.encryption-gone", Date() - 86_400)] {
            let key = try PrivateKey.generateRSA(bits: 2048)
            let certificate = try ca.issueCertificate(for: key.publicKey, subject: .init(commonName: name), validFrom: Date() - 30 * 86_400,
                                                      validUntil: until, keyUsage: name.contains("signing") ? [.digitalSignature, .nonRepudiation] : [.keyEncipherment])
            try certificate.pemEncoded().write(toFile: certs + "/\(name).pem", atomically: true, encoding: .utf8)
        }
        let parties = h.pmodeDirectory + "/parties.json"
        let text = try String(contentsOfFile: parties, encoding: .utf8)
        let listed = text.replacingOccurrences(of: "\"signing\": [\"certs/gw-b.signing.pem\"]",
                                               with: "\"signing\": [\"certs/gw-b.signing.pem\", \"certs/gw-b.signing-soon.pem\"]")
            .replacingOccurrences(of: "\"encryption\": [\"certs/gw-b.encryption.pem\"]",
                                  with: "\"encryption\": [\"certs/gw-b.encryption.pem\", \"certs/gw-b.encryption-gone.pem\"]")
        XCTAssertEqual(listed.components(separatedBy: "-soon.pem").count + listed.components(separatedBy: "-gone.pem").count, 4, listed)
        try listed.write(toFile: parties, atomically: true, encoding: .utf8)

        kill(try XCTUnwrap(node.process).processIdentifier, SIGHUP)
        try h.waitUntil(timeout: 10, "pmodes-reloaded") { node.log.contains("event=pmodes-reloaded") }
        try h.waitUntil(timeout: 10, "the expiry check after the reload") { node.log.contains("event=certificate-expired") }
        let lines = node.log.split(separator: "\n").map(String.init).filter { $0.contains("event=certificate-expir") }
        XCTAssertEqual(lines.count, 2, lines.joined(separator: "\n"))
        let soon = lines.first { $0.contains("event=certificate-expiring") } ?? ""
        XCTAssertTrue(soon.contains("level=warn") && soon.contains("party=gw-b") && soon.contains("role=signing") && soon.contains("days_left=5")
                      && soon.contains("source=pmode") && soon.contains("CN=gw-b.signing-soon"), soon)
        let gone = lines.first { $0.contains("event=certificate-expired") } ?? ""
        XCTAssertTrue(gone.contains("level=error") && gone.contains("role=encryption") && gone.contains("CN=gw-b.encryption-gone"), gone)
    }
}

@testable import AS4Gateway
import Foundation
import XCTest

/// `serve --check-config` and `serve` run the same checks before anything starts, so a
/// configuration the check passes is not refused at start for a missing file, and file problems
/// read as the setting and the path (not an NSCocoaErrorDomain dump).
final class ConfigurationPreflightTests: XCTestCase {
    var dir: URL!
    let pmode = GatewayProcess.projectRoot.appendingPathComponent("pmode").path

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("as4gw-preflight-\(getpid())-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: dir)
    }

    func testMissingFilesAndBadPathsAreListedByCheckAndRefusedByServe() throws {
        let folder = dir.appendingPathComponent("a-folder").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let config = dir.appendingPathComponent("gateway.json").path
        try """
        {"as4Listener": {"address": "127.0.0.1", "port": 0, "path": "as4",
                         "tls": {"certificate": "missing-cert.pem", "key": "a-folder", "clientAuthentication": "required"}},
         "apiListener": {"address": "127.0.0.1", "port": 0, "path": "/submit",
                         "tls": {"certificate": "a-folder", "key": "missing-key.pem"}},
         "truststore": ["missing-ca.pem"], "crls": ["missing.crl"],
         "selfService": {"registrationTrust": ["missing-registration-ca"]}}
        """.write(toFile: config, atomically: true, encoding: .utf8)
        let expected = ["as4Listener.path: as4 does not start with /",
                        "as4Listener.tls.certificate: cannot read certificate: \(dir.path)/missing-cert.pem does not exist",
                        "as4Listener.tls.key: cannot read private key: \(folder) is a folder, not a file",
                        "apiListener.tls.certificate: cannot read certificate: \(folder) is a folder, not a file",
                        "apiListener.tls.key: cannot read private key: \(dir.path)/missing-key.pem does not exist",
                        "truststore[0]: \(dir.path)/missing-ca.pem does not exist",
                        "crls[0]: cannot read CRL: \(dir.path)/missing.crl does not exist",
                        "selfService.registrationTrust[0]: \(dir.path)/missing-registration-ca does not exist"]
        let data = dir.appendingPathComponent("data").path
        let checked = try GatewayProcess.run(["serve", "--check-config", "--config", config, "--pmode", pmode, "--data", data])
        let served = try GatewayProcess.run(["serve", "--config", config, "--pmode", pmode, "--data", data, "--admin-port", "0"])
        for (name, r) in [("--check-config", checked), ("serve", served)] {
            XCTAssertEqual(r.status, 2, "\(name): \(r.stderr)")
            for line in expected { XCTAssertTrue(r.stderr.contains(line), "\(name) misses \(line) in:\n\(r.stderr)") }
            XCTAssertFalse(r.stderr.contains("Error Domain"), r.stderr)
        }
        // serve says it as a log line: one, at error level, every problem in its reason.
        XCTAssertTrue(served.stderr.contains(" level=error event=start-failed reason=\""), served.stderr)
        XCTAssertEqual(served.stderr.split(separator: "\n").count, 1, served.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: data), "serve refused before creating anything")
    }

    /// The check reads the same files serve reads: present and valid ones pass.
    func testCheckPassesPresentFiles() throws {
        // The development PKI of a copy of the shipped P-Modes provides real PEM files.
        let copy = dir.appendingPathComponent("pmode").path
        try FileManager.default.copyItem(atPath: pmode, toPath: copy)
        _ = try DevelopmentPKI.ensure(pmodeDirectory: copy, parties: ["gw-a": ["tls": copy + "/certs/gw-a.tls.pem"]])
        let config = dir.appendingPathComponent("ok.json").path
        try """
        {"pmodeDirectory": "pmode",
         "apiListener": {"address": "127.0.0.1", "port": 0, "path": "/submit",
                         "tls": {"certificate": "pmode/certs/gw-a.tls.pem", "key": "pmode/certs/gw-a.tls.key", "clientAuthentication": "optional"}},
         "truststore": ["pmode/certs"]}
        """.write(toFile: config, atomically: true, encoding: .utf8)
        let r = try GatewayProcess.run(["serve", "--check-config", "--config", config, "--data", dir.appendingPathComponent("d").path])
        XCTAssertEqual(r.status, 0, r.stderr)
    }
}

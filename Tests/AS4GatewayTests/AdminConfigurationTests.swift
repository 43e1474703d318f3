@testable import AS4Gateway
import Foundation
import XCTest

/// The `adminListener` setting and `serve --check-config`.
final class AdminConfigurationTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("as4gw-admincfg-\(getpid())-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: dir)
    }

    func load(_ json: String) throws -> GatewayConfiguration {
        let path = dir.appendingPathComponent("g.json").path
        try json.write(toFile: path, atomically: true, encoding: .utf8)
        return try GatewayConfiguration.load(path: path)
    }

    func testAdminListenerDefaultNullAndExplicit() throws {
        XCTAssertEqual(try load("{}").adminListener.map { "\($0.address):\($0.port)" }, "127.0.0.1:9090")
        XCTAssertNil(try load("{\"adminListener\": null}").adminListener)
        XCTAssertEqual(try load("{\"adminListener\": {\"address\": \"0.0.0.0\", \"port\": 9100}}").adminListener.map { "\($0.address):\($0.port)" },
                       "0.0.0.0:9100")
        XCTAssertThrowsError(try load("{\"adminListener\": {\"address\": \"0.0.0.0\"}}")) { error in
            XCTAssertTrue("\(error)".contains("adminListener"), "\(error)")
        }
        XCTAssertThrowsError(try load("{\"adminListener\": {\"address\": \"0.0.0.0\", \"port\": 70000}}"))
        XCTAssertThrowsError(try load("{\"adminListener\": 9090}"))
    }

    /// The free space `/readyz` asks of each directory: 1 GiB by default, 0 turns the check off,
    /// a negative or absurd figure is refused, naming the setting.
    func testMinimumFreeBytes() throws {
        XCTAssertEqual(try load("{}").adminListener?.minimumFreeBytes, 1 << 30)
        let small = try load("{\"adminListener\": {\"address\": \"127.0.0.1\", \"port\": 9100, \"minimumFreeBytes\": 1048576}}")
        XCTAssertEqual(small.adminListener?.minimumFreeBytes, 1 << 20)
        XCTAssertEqual(DiskSpace(config: small).reserve, 1 << 20)
        XCTAssertEqual(try load("{\"adminListener\": {\"address\": \"127.0.0.1\", \"port\": 9100, \"minimumFreeBytes\": 0}}").adminListener?.minimumFreeBytes, 0)
        XCTAssertThrowsError(try load("{\"adminListener\": {\"address\": \"127.0.0.1\", \"port\": 9100, \"minimumFreeBytes\": 1.5}}"))
        for bad in ["-1", "1125899906842625", "\"1G\""] {
            XCTAssertThrowsError(try load("{\"adminListener\": {\"address\": \"127.0.0.1\", \"port\": 9100, \"minimumFreeBytes\": \(bad)}}"), bad) { error in
                XCTAssertTrue("\(error)".contains("minimumFreeBytes"), "\(bad): \(error)")
            }
        }
    }

    func testStoreURLForms() {
        XCTAssertNil(ConfigurationCheck.storeURLProblem("sqlite:/var/lib/as4gw"))
        XCTAssertNil(ConfigurationCheck.storeURLProblem("postgres://as4gw:secret@db:5432/as4gw"))
        XCTAssertNil(ConfigurationCheck.storeURLProblem("postgresql://db/as4gw"))
        XCTAssertNotNil(ConfigurationCheck.storeURLProblem("sqlite:"))
        XCTAssertNotNil(ConfigurationCheck.storeURLProblem("postgres://db:5432/"))
        XCTAssertNotNil(ConfigurationCheck.storeURLProblem("postgres:///as4gw"))
        let unknown = ConfigurationCheck.storeURLProblem("mysql://u:secret@db/x")
        XCTAssertNotNil(unknown)
        XCTAssertFalse(unknown!.contains("secret"), "passwords stay out of messages: \(unknown!)")
    }

    func testCheckConfigAcceptsTheExampleAndExitsWithoutStarting() throws {
        let example = GatewayProcess.projectRoot.appendingPathComponent("examples/gateway.json").path
        let r = try GatewayProcess.run(["serve", "--check-config", "--config", example, "--data", dir.appendingPathComponent("data").path])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("party gw-a"), r.stdout)
        XCTAssertTrue(r.stdout.hasSuffix(": OK\n"), r.stdout)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("data").path), "nothing is created")
    }

    func testCheckConfigListsEveryProblem() throws {
        let path = dir.appendingPathComponent("bad.json").path
        try """
        {"party": "nobody", "pmodeDirectory": "\(GatewayProcess.projectRoot.appendingPathComponent("pmode").path)",
         "store": "redis://cache/0",
         "submissionListener": {"address": "127.0.0.1", "port": 9090, "path": "/submit"},
         "keys": {"signingKey": "missing.key", "signingCertificate": "missing.pem",
                  "encryptionKey": "missing.key", "encryptionCertificate": "missing.pem"},
         "developmentPKI": true, "selfService": {"template": "ghost"}, "leaseSeconds": 60, "requestTimeoutSeconds": 120,
         "pollIntervalSeconds": 0, "outboundWorkers": 0,
         "notices": {"smtp": "mail.example.lv", "from": "e-adrese", "startTLS": "sometimes", "maxAttempts": 0}}
        """.write(toFile: path, atomically: true, encoding: .utf8)
        let r = try GatewayProcess.run(["serve", "--check-config", "--config", path])
        XCTAssertEqual(r.status, 2)
        for expected in ["store: redis://cache/0 is neither", "party nobody is not defined", "keys.signingKey:", "keys.encryptionCertificate:",
                         "apiListener and adminListener both listen on port 9090", "selfService.template: party ghost is not defined",
                         "notices.smtp mail.example.lv: expected smtp://",
                         "notices.from e-adrese: not an e-mail address", "notices.startTLS sometimes", "notices.maxAttempts must be at least 1",
                         "pollIntervalSeconds (0.0) must be from 0.01 to 3600.0", "outboundWorkers (0) must be from 1 to 256"] {
            XCTAssertTrue(r.stderr.contains(expected), "missing \(expected) in:\n\(r.stderr)")
        }
        // serve itself refuses such leases before it starts anything.
        let short = try GatewayProcess.run(["serve", "--lease-seconds", "5", "--data", dir.appendingPathComponent("short").path])
        XCTAssertEqual(short.status, 2)
        XCTAssertTrue(short.stderr.contains("event=start-failed reason=\"leaseSeconds (5.0) must exceed connectTimeoutSeconds + requestTimeoutSeconds (10.0 + 120.0)"),
                      short.stderr)
        let huge = try GatewayProcess.run(["serve", "--lease-seconds", "1e17", "--data", dir.appendingPathComponent("huge").path])
        XCTAssertEqual(huge.status, 2)
        XCTAssertTrue(huge.stderr.contains("leaseSeconds (1e+17) must be from"), huge.stderr)
        let broken = try GatewayProcess.run(["serve", "--check-config", "--pmode", dir.path])
        XCTAssertEqual(broken.status, 2)
        XCTAssertTrue(broken.stderr.contains("parties.json"), broken.stderr)
    }

    /// A start that fails was plain text on stderr even with --log-format json, and carried
    /// libpq's tabs and the P-Mode loader's newlines raw: now it is one start-failed line in the
    /// format asked for (the configuration's or --log-format's), its reason escaped.
    func testAFailedStartIsOneLogLineInTheConfiguredFormat() throws {
        let short = try GatewayProcess.run(["serve", "--lease-seconds", "5", "--log-format", "json", "--data", dir.appendingPathComponent("short").path])
        XCTAssertEqual(short.status, 2)
        let lines = short.stderr.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, short.stderr)
        let line = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data((lines.first ?? "").utf8)) as? [String: Any], short.stderr)
        XCTAssertEqual(line["level"] as? String, "error")
        XCTAssertEqual(line["event"] as? String, "start-failed")
        XCTAssertTrue((line["reason"] as? String ?? "").hasPrefix("leaseSeconds (5.0) must exceed"), short.stderr)

        // P-Modes that do not load: a reason of several lines, one log line.
        let pmode = dir.appendingPathComponent("pmode").path
        try FileManager.default.createDirectory(atPath: pmode, withIntermediateDirectories: true)
        try "{\"parties\": [{\"name\": \"gw-a\"}\t]".write(toFile: pmode + "/parties.json", atomically: true, encoding: .utf8)
        let config = dir.appendingPathComponent("json.json").path
        try "{\"logFormat\": \"json\", \"pmodeDirectory\": \"pmode\"}".write(toFile: config, atomically: true, encoding: .utf8)
        let broken = try GatewayProcess.run(["serve", "--config", config, "--data", dir.appendingPathComponent("broken").path])
        XCTAssertEqual(broken.status, 2)
        XCTAssertEqual(broken.stderr.split(separator: "\n").count, 1, broken.stderr)
        let refused = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(broken.stderr.utf8)) as? [String: Any], broken.stderr)
        XCTAssertEqual(refused["event"] as? String, "start-failed")
        XCTAssertTrue((refused["reason"] as? String ?? "").contains("parties.json"), broken.stderr)

        // And a configuration that cannot be read at all, in the format the options ask for.
        let unreadable = try GatewayProcess.run(["serve", "--config", dir.appendingPathComponent("none.json").path])
        XCTAssertEqual(unreadable.status, 2)
        XCTAssertTrue(unreadable.stderr.hasPrefix("time=") && unreadable.stderr.contains(" level=error event=start-failed reason="), unreadable.stderr)
    }

    func testAdminPortOptionCannotReviveADisabledListener() throws {
        let path = dir.appendingPathComponent("off.json").path
        try "{\"adminListener\": null}".write(toFile: path, atomically: true, encoding: .utf8)
        let r = try GatewayProcess.run(["serve", "--config", path, "--admin-port", "9999", "--check-config"])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains("turns the admin listener off"), r.stderr)
        XCTAssertEqual(try GatewayProcess.run(["serve", "--admin-port", "x", "--check-config"]).status, 2)
    }
}

/// Development TLS certificates also name the party, so containers reaching each other by
/// service name (docker/compose.yaml) verify each other's TLS.
final class DevelopmentTLSNameTests: XCTestCase {
    func testPartyNameIsAddedOnlyWhenItIsADNSLabel() {
        XCTAssertEqual(DevelopmentPKI.tlsNames(party: "hub"), ["IP:127.0.0.1", "DNS:localhost", "DNS:hub"])
        XCTAssertEqual(DevelopmentPKI.tlsNames(party: "GW-A"), ["IP:127.0.0.1", "DNS:localhost", "DNS:gw-a"])
        for notALabel in ["red gw", "-gw", "gw-", "gw.example", "", String(repeating: "a", count: 64), "localhost"] {
            XCTAssertEqual(DevelopmentPKI.tlsNames(party: notALabel), ["IP:127.0.0.1", "DNS:localhost"], notALabel)
        }
    }
}

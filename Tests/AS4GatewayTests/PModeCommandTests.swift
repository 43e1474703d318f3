import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// `as4gw pmode check` / `pmode import domibus`, and the example configuration, run through the
/// built binary as a user would.
final class PModeCommandTests: XCTestCase {
    private var temporary: URL!

    override func setUpWithError() throws {
        temporary = FileManager.default.temporaryDirectory.appendingPathComponent("as4gw-pmodecli-\(getpid())-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: temporary, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: temporary)
    }

    private var shippedPModes: String { GatewayProcess.projectRoot.appendingPathComponent("pmode").path }
    private let blue = GatewayProcess.vector("harmony/pmode/domibus-pmode-blue.xml")
    private let xxe = GatewayProcess.vector("harmony/pmode/domibus-pmode-red-xxe-vulnerability.xml")

    /// A copy of the shipped P-Modes without any certificates the development PKI may have written.
    private func copyOfShippedPModes() throws -> String {
        let copy = temporary.appendingPathComponent("pmode")
        try FileManager.default.createDirectory(at: copy, withIntermediateDirectories: true)
        for name in try FileManager.default.contentsOfDirectory(atPath: shippedPModes) where name.hasSuffix(".json") {
            try FileManager.default.copyItem(atPath: shippedPModes + "/" + name, toPath: copy.appendingPathComponent(name).path)
        }
        return copy.path
    }

    // MARK: check

    func testHelpAndUsage() throws {
        let help = try GatewayProcess.run(["pmode", "--help"])
        XCTAssertEqual(help.status, 0)
        XCTAssertTrue(help.stdout.contains("Usage: as4gw pmode check DIR"))
        XCTAssertTrue(help.stdout.contains("Exit status"))
        XCTAssertTrue(try GatewayProcess.run(["--help"]).stdout.contains("pmode check DIR"))
        XCTAssertEqual(try GatewayProcess.run(["pmode"]).status, 2)
        XCTAssertEqual(try GatewayProcess.run(["pmode", "lint"]).status, 2)
        XCTAssertEqual(try GatewayProcess.run(["pmode", "check"]).status, 2)
        XCTAssertEqual(try GatewayProcess.run(["pmode", "check", shippedPModes, "--bogus"]).status, 2)
        XCTAssertEqual(try GatewayProcess.run(["pmode", "import", "holodeck", blue]).status, 2)
        let missing = try GatewayProcess.run(["pmode", "check", "/nonexistent/as4gw-pmodes"])
        XCTAssertEqual(missing.status, 2)
        XCTAssertTrue(missing.stderr.contains("cannot read the P-Mode directory"), missing.stderr)
    }

    func testShippedPModesPass() throws {
        let dir = try copyOfShippedPModes()
        let r = try GatewayProcess.run(["pmode", "check", dir, "--allow-missing-certificates"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout, "\(dir): 2 parties, 8 P-Modes: OK\n")
        XCTAssertEqual(r.stderr, "")
        // The same directory from the repository, as a user would run it.
        XCTAssertEqual(try GatewayProcess.run(["pmode", "check", shippedPModes, "--allow-missing-certificates"]).status, 0)
    }

    func testShippedPModesWithoutCertificatesFail() throws {
        let dir = try copyOfShippedPModes()
        let r = try GatewayProcess.run(["pmode", "check", dir])
        XCTAssertEqual(r.status, 1)
        XCTAssertEqual(r.stdout, "")
        XCTAssertTrue(r.stderr.contains("\(dir)/parties.json:"), r.stderr)
        XCTAssertTrue(r.stderr.contains("certs/gw-a.signing.pem does not exist"), r.stderr)
    }

    func testBrokenCopyReportsEveryProblemWithItsPosition() throws {
        let dir = try copyOfShippedPModes()
        let file = dir + "/delivery.pmode.json"
        var text = try String(contentsOfFile: file, encoding: .utf8)
        text = text.replacingOccurrences(of: "\"binding\": \"push\"", with: "\"binding\": \"puhs\"")  // line 9
        text = text.replacingOccurrences(of: "\"sign\": true, \"encrypt\"", with: "\"sign\": true, \"encrpyt\"")  // line 16
        try text.write(toFile: file, atomically: true, encoding: .utf8)

        let r = try GatewayProcess.run(["pmode", "check", dir, "--allow-missing-certificates"])
        XCTAssertEqual(r.status, 1)
        XCTAssertEqual(r.stdout, "")
        let lines = r.stderr.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines, [
            "\(dir)/delivery.pmode.json:9:7: pmodes[0].binding must be \"push\", \"pull\" or \"pushAndPush\"",
            "\(dir)/delivery.pmode.json:16:58: pmodes[0].legs[0].security.encrpyt is not a known key (did you mean \"encrypt\"?)",
        ])
    }

    /// The case the loader refuses, as an operator meets it: a leg that encrypts but does not
    /// sign fails the check at the line of its `sign`, with the reason.
    func testALegThatEncryptsWithoutSigningFailsTheCheck() throws {
        let dir = try copyOfShippedPModes()
        let file = dir + "/delivery.pmode.json"
        let text = try String(contentsOfFile: file, encoding: .utf8)
        let changed = text.replacingOccurrences(of: "\"sign\": true, \"encrypt\": true", with: "\"sign\": false, \"encrypt\": true")  // line 16
        XCTAssertNotEqual(changed, text)
        try changed.write(toFile: file, atomically: true, encoding: .utf8)
        let r = try GatewayProcess.run(["pmode", "check", dir, "--allow-missing-certificates"])
        XCTAssertEqual(r.status, 1)
        XCTAssertEqual(r.stdout, "")
        XCTAssertTrue(r.stderr.hasPrefix("\(dir)/delivery.pmode.json:16:44: pmodes[0].legs[0].security.sign is false while encrypt is true, "
                                         + "which as4gw refuses: a receiver would decrypt messages nobody is authenticated for"), r.stderr)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
    }

    func testSyntaxErrorAndMisnamedFile() throws {
        let dir = try copyOfShippedPModes()
        try "{\n  \"id\": \"x\",\n}\n".write(toFile: dir + "/broken.pmode.json", atomically: true, encoding: .utf8)
        try "{}".write(toFile: dir + "/acme.pmod.json", atomically: true, encoding: .utf8)
        let r = try GatewayProcess.run(["pmode", "check", dir + "/", "--allow-missing-certificates"])
        XCTAssertEqual(r.status, 1)
        let lines = r.stderr.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 2, r.stderr)
        XCTAssertEqual(lines.first, "\(dir)/acme.pmod.json: is neither parties.json nor a *.pmode.json file (misnamed P-Mode file?)")
        XCTAssertTrue(lines.last?.hasPrefix("\(dir)/broken.pmode.json:3:1: JSON: ") == true, r.stderr)
    }

    // MARK: import domibus

    func testImportBlueWritesFilesThatPassTheCheck() throws {
        let out = temporary.appendingPathComponent("imported").path
        let r = try GatewayProcess.run(["pmode", "import", "domibus", blue, "--out", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        let written = r.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(written.first, out + "/parties.json")
        XCTAssertGreaterThan(written.count, 1)
        for path in written { XCTAssertTrue(FileManager.default.fileExists(atPath: path), path) }
        XCTAssertTrue(written.dropFirst().allSatisfy { $0.hasSuffix(".pmode.json") })
        // Domibus' own test file has an untyped agreement that is not a URI: left out, with a warning.
        XCTAssertTrue(r.stderr.contains("domibus-pmode-blue.xml: warning: line "), r.stderr)

        // The Domibus sample's endpoints are http://localhost..., hence --allow-insecure-endpoints.
        let check = try GatewayProcess.run(["pmode", "check", out, "--allow-missing-certificates", "--allow-insecure-endpoints"])
        XCTAssertEqual(check.status, 0, check.stderr)
        XCTAssertTrue(check.stdout.hasPrefix("\(out): 6 parties, "), check.stdout)
        XCTAssertTrue(check.stdout.hasSuffix(": OK\n"), check.stdout)
        let strict = try GatewayProcess.run(["pmode", "check", out, "--allow-missing-certificates"])
        XCTAssertEqual(strict.status, 1)
        XCTAssertTrue(strict.stderr.contains("endpoint must be an https URL"), strict.stderr)

        // A second import into the same directory does not replace the files unless asked to.
        let again = try GatewayProcess.run(["pmode", "import", "domibus", blue, "--out", out])
        XCTAssertEqual(again.status, 2)
        XCTAssertTrue(again.stderr.contains("not replacing existing"), again.stderr)
        XCTAssertEqual(try GatewayProcess.run(["pmode", "import", "domibus", blue, "--out", out, "--force"]).status, 0)
    }

    func testImportToStandardOutputHasFileHeaders() throws {
        let r = try GatewayProcess.run(["pmode", "import", "domibus", blue])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.hasPrefix("==> parties.json <==\n{"), String(r.stdout.prefix(200)))
        XCTAssertTrue(r.stdout.contains(".pmode.json <==\n{"))
        XCTAssertFalse(r.stderr.isEmpty)  // the warnings
    }

    func testXXESampleIsRefused() throws {
        let out = temporary.appendingPathComponent("xxe").path
        let r = try GatewayProcess.run(["pmode", "import", "domibus", xxe, "--out", out])
        XCTAssertEqual(r.status, 1)
        XCTAssertEqual(r.stdout, "")
        XCTAssertTrue(r.stderr.contains("domibus-pmode-red-xxe-vulnerability.xml: refused as XML"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
        XCTAssertEqual(try GatewayProcess.run(["pmode", "import", "domibus", "/nonexistent/domibus.xml"]).status, 2)
    }

    // MARK: examples/gateway.json

    /// Starts the daemon with the example configuration (ports, data and P-Mode directory
    /// overridden so the repository stays untouched), waits for it to start, and stops it.
    func testExampleConfigurationStartsTheDaemon() throws {
        let example = GatewayProcess.projectRoot.appendingPathComponent("examples/gateway.json").path
        let pmode = try copyOfShippedPModes()
        let data = temporary.appendingPathComponent("data").path
        let log = temporary.appendingPathComponent("serve.log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let process = Process()
        process.executableURL = GatewayProcess.binary
        process.arguments = ["serve", "--config", example, "--data", data, "--pmode", pmode,
                             "--as4-port", String(GatewayHarness.freePort()), "--submit-port", String(GatewayHarness.freePort()),
                             "--admin-port", String(GatewayHarness.freePort())]
        let handle = try FileHandle(forWritingTo: log)
        process.standardError = handle
        process.standardOutput = handle
        try process.run()
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() } }
        func output() -> String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }

        let deadline = Date().addingTimeInterval(30)
        while !output().contains("event=started"), process.isRunning, Date() < deadline {
            Thread.sleep(forTimeInterval: 0.1)
        }
        XCTAssertTrue(output().contains("event=started"), output())
        XCTAssertTrue(output().contains("party=gw-a"), output())
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, output())
        XCTAssertTrue(output().contains("event=stopped"), output())
    }

    /// The `_`-prefixed explanations must stay ignorable, and the example must name every setting
    /// the daemon reads (and nothing it does not).
    func testExampleConfigurationCoversEverySetting() throws {
        let example = GatewayProcess.projectRoot.appendingPathComponent("examples/gateway.json")
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: example)) as? [String: Any])
        let settings = Set(json.keys.filter { !$0.hasPrefix("_") })
        XCTAssertEqual(settings, ["party", "dataDirectory", "pmodeDirectory", "store", "payloadDirectory", "as4Listener", "apiListener", "adminListener", "keys",
                                  "truststore", "crls", "logFormat", "logLevel", "maxMessageBytes", "outboundWorkers",
                                  "pollIntervalSeconds", "pullIntervalSeconds", "connectTimeoutSeconds", "requestTimeoutSeconds", "leaseSeconds",
                                  "shutdownGraceSeconds", "developmentPKI", "retention", "holidayCalendar", "notices", "selfService",
                                  "messagingPolicy", "refuseUnlistedSenders"])
        for key in settings { XCTAssertNotNil(json["_" + key], "no explanation for \(key)") }
        let config = String(decoding: try Data(contentsOf: example), as: UTF8.self)
        let doc = try String(contentsOf: GatewayProcess.projectRoot.appendingPathComponent("docs/CONFIG.md"), encoding: .utf8)
        for key in settings { XCTAssertTrue(doc.contains("`\(key)`"), "docs/CONFIG.md does not describe \(key)") }
        XCTAssertTrue(config.contains("\"_comment\""))
    }

    /// docs/config.schema.json accepts the example, names the same settings, and catches a typo.
    func testSchemaAcceptsTheExample() throws {
        let probe = Process()
        probe.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        probe.arguments = ["python3", "-c", "import jsonschema"]
        probe.standardError = FileHandle.nullDevice
        try probe.run()
        probe.waitUntilExit()
        guard probe.terminationStatus == 0 else { throw XCTSkip("python3 with jsonschema is not installed") }

        let schema = GatewayProcess.projectRoot.appendingPathComponent("docs/config.schema.json").path
        let example = GatewayProcess.projectRoot.appendingPathComponent("examples/gateway.json").path
        let typo = temporary.appendingPathComponent("typo.json").path
        try "{\"_comment\": \"fine\", \"prot\": 1}".write(toFile: typo, atomically: true, encoding: .utf8)
        let script = """
        import json, sys, jsonschema
        schema = json.load(open(sys.argv[1]))
        jsonschema.Draft202012Validator.check_schema(schema)
        validator = jsonschema.Draft202012Validator(schema)
        example = json.load(open(sys.argv[2]))
        errors = [e.message for e in validator.iter_errors(example)]
        settings = sorted(k for k in example if not k.startswith("_"))
        if sorted(schema["properties"]) != settings: errors.append("schema properties differ from the example's settings")
        if not list(validator.iter_errors(json.load(open(sys.argv[3])))): errors.append("a misspelt key was accepted")
        print("\\n".join(errors))
        sys.exit(1 if errors else 0)
        """
        let run = Process()
        run.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        run.arguments = ["python3", "-c", script, schema, example, typo]
        let output = Pipe()
        run.standardOutput = output
        try run.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        run.waitUntilExit()
        XCTAssertEqual(run.terminationStatus, 0, text)
    }

    /// A `tls` object without `clientAuthentication` decodes (default none), as docs/CONFIG.md says;
    /// the start then fails only because the certificate file does not exist.
    func testListenerTLSClientAuthenticationDefaults() throws {
        let pmode = try copyOfShippedPModes()
        let config = temporary.appendingPathComponent("tls.json").path
        try """
        {"as4Listener": {"address": "127.0.0.1", "port": 0, "path": "/as4",
                         "tls": {"certificate": "missing-cert.pem", "key": "missing-key.pem"}},
         "apiListener": {"address": "127.0.0.1", "port": 0, "path": "/submit"}}
        """.write(toFile: config, atomically: true, encoding: .utf8)
        let r = try GatewayProcess.run(["serve", "--config", config, "--data", temporary.appendingPathComponent("data").path, "--pmode", pmode])
        XCTAssertEqual(r.status, 2)
        XCTAssertFalse(r.stderr.contains("clientAuthentication"), r.stderr)
        XCTAssertTrue(r.stderr.contains("event=start-failed"), r.stderr)
    }
}

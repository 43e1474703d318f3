@testable import AS4Gateway
import AS4Crypto
import Foundation
import HTTPServer
import XCTest

/// The configuration file is read strictly: a word, key or number the daemon does not know stops
/// `serve` and `serve --check-config` alike, with a message naming the setting. A typo once
/// meant a listener without client-certificate checks (`"require"`) or without TLS (`"tsl"`).
final class ConfigurationStrictnessTests: XCTestCase {
    var dir: URL!
    let pmode = GatewayProcess.projectRoot.appendingPathComponent("pmode").path

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("as4gw-strict-\(getpid())-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: dir)
    }

    func write(_ json: String, _ name: String = "g.json") throws -> String {
        let path = dir.appendingPathComponent(name).path
        try json.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// The error `GatewayConfiguration.load` gives for `json`, without the file name.
    func refusal(_ json: String, file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let path = try write(json)
        do {
            _ = try GatewayConfiguration.load(path: path)
            XCTFail("accepted: \(json)", file: file, line: line)
            return ""
        } catch {
            let text = "\(error)"
            XCTAssertTrue(text.hasPrefix(path + ": "), text, file: file, line: line)
            return text.replacingOccurrences(of: path + ": ", with: "")
        }
    }

    /// `serve --check-config` and `serve` both exit 2 naming `expected`, and serve creates nothing.
    func assertServeAndCheckRefuse(_ json: String, _ expected: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let path = try write(json)
        let data = dir.appendingPathComponent("data").path
        let checked = try GatewayProcess.run(["serve", "--check-config", "--config", path, "--pmode", pmode, "--data", data])
        XCTAssertEqual(checked.status, 2, checked.stderr, file: file, line: line)
        XCTAssertTrue(checked.stderr.contains(expected), checked.stderr, file: file, line: line)
        let served = try GatewayProcess.run(["serve", "--config", path, "--pmode", pmode, "--data", data, "--as4-port", "0", "--submit-port", "0", "--admin-port", "0"])
        XCTAssertEqual(served.status, 2, served.stderr, file: file, line: line)
        XCTAssertTrue(served.stderr.contains(expected), served.stderr, file: file, line: line)
        XCTAssertFalse(FileManager.default.fileExists(atPath: data), "serve started something", file: file, line: line)
    }

    static let tls = #"{"certificate": "c.pem", "key": "k.pem", "clientAuthentication": "require"}"#

    // MARK: clientAuthentication

    func testUnknownClientAuthenticationIsRefusedOnBothListeners() throws {
        for listener in ["as4Listener", "apiListener"] {
            let json = #"{"\#(listener)": {"address": "127.0.0.1", "port": 0, "path": "/p", "tls": \#(Self.tls)}}"#
            XCTAssertEqual(try refusal(json), "\(listener).tls.clientAuthentication: require is not one of none, optional, required")
            try assertServeAndCheckRefuse(json, "\(listener).tls.clientAuthentication: require is not one of none, optional, required")
        }
        for word in ["none", "optional", "required"] {
            let path = try write(#"{"apiListener": {"address": "127.0.0.1", "port": 0, "path": "/p", "tls": {"certificate": "c", "key": "k", "clientAuthentication": "\#(word)"}}}"#)
            XCTAssertEqual(try GatewayConfiguration.load(path: path).apiListener.tls?.clientAuthentication.rawValue, word)
        }
    }

    /// Every setting reaches the listener as itself; none turns into "no check".
    func testClientAuthenticationMapsOneToOne() throws {
        let key = try PrivateKey.generateEC(curve: .p256)
        let anchor = try CertificateAuthority.selfSignedCertificate(subject: CertificateSubject(commonName: "test CA"), key: key,
                                                                    validUntil: Date().addingTimeInterval(3600))
        let validator = CertificateValidator(trustStore: try TrustStore(anchors: [anchor], crls: []))
        guard case .none = Gateway.clientAuthentication(.none, validator) else { return XCTFail("none") }
        guard case .optional = Gateway.clientAuthentication(.optional, validator) else { return XCTFail("optional") }
        guard case .required = Gateway.clientAuthentication(.required, validator) else { return XCTFail("required") }
    }

    // MARK: unknown keys

    func testUnknownKeysAreRefusedAtEveryLevelNamingTheirPath() throws {
        let listener = #""address": "127.0.0.1", "port": 0, "path": "/p""#
        let cases: [(String, String)] = [
            (#"{"prot": 1}"#, "prot: unknown setting"),
            (#"{"apiListener": {\#(listener), "tsl": {"certificate": "c", "key": "k"}}}"#, "apiListener.tsl: unknown setting (did you mean tls?)"),
            (#"{"as4Listener": {\#(listener), "adress": "x"}}"#, "as4Listener.adress: unknown setting (did you mean address?)"),
            (#"{"submissionListener": {\#(listener), "tsl": null}}"#, "submissionListener.tsl: unknown setting (did you mean tls?)"),
            (#"{"as4Listener": {\#(listener), "tls": {"certificate": "c", "key": "k", "clientAuth": "required"}}}"#, "as4Listener.tls.clientAuth: unknown setting"),
            (#"{"adminListener": {"address": "127.0.0.1", "port": 0, "path": "/metrics"}}"#, "adminListener.path: unknown setting"),
            (#"{"keys": {"signingKey": "a", "signingCertificate": "b", "encryptionKey": "c", "encryptionCertificate": "d", "tlsKey": "e"}}"#,
             "keys.tlsKey: unknown setting"),
            (#"{"notices": {"smtp": "smtp://relay", "from": "a@example.lv", "password": "x"}}"#, "notices.password: unknown setting"),
            (#"{"retention": {"company": 10, "persons": 5}}"#, "retention.persons: unknown setting"),
            (#"{"selfService": {"templat": "gw-b"}}"#, "selfService.templat: unknown setting (did you mean template?)"),
            (#"{"messagingPolicy": {"personToPersons": true}}"#, "messagingPolicy.personToPersons: unknown setting (did you mean personToPerson?)"),
        ]
        for (json, expected) in cases { XCTAssertEqual(try refusal(json), expected, json) }
        // Several in one object: one line each.
        XCTAssertEqual(try refusal(#"{"prot": 1, "logFromat": "json"}"#), "logFromat: unknown setting (did you mean logFormat?)\nprot: unknown setting")
        try assertServeAndCheckRefuse(#"{"apiListener": {\#(listener), "tsl": null}}"#, "apiListener.tsl: unknown setting")
    }

    /// `_` keys stay explanations at every level, and the older `submissionListener` still counts.
    func testExplanationsAndTheOlderListenerNameAreAccepted() throws {
        let path = try write("""
        {"_comment": "x", "submissionListener": {"_why": "x", "address": "127.0.0.1", "port": 8081, "path": "/submit",
                                                 "tls": {"_": "x", "certificate": "c", "key": "k"}},
         "adminListener": {"_": 1, "address": "127.0.0.1", "port": 9091}, "retention": {"_": 1}, "messagingPolicy": {"_": 1},
         "selfService": {"_": 1}, "notices": {"_": 1, "smtp": "smtp://relay", "from": "a@example.lv"}}
        """)
        let config = try GatewayConfiguration.load(path: path)
        XCTAssertEqual(config.apiListener.port, 8081)
        XCTAssertEqual(config.apiListener.tls?.clientAuthentication, GatewayConfiguration.ClientAuthentication.none)
    }

    // MARK: worded errors

    func testDecodeErrorsNameTheSettingInWords() throws {
        let listener = #""address": "127.0.0.1", "path": "/as4""#
        let cases: [(String, String)] = [
            (#"{"as4Listener": {\#(listener), "port": 70000}}"#, "as4Listener.port: 70000 is not a port number (0-65535; 0 lets the system choose)"),
            (#"{"as4Listener": {\#(listener), "port": "8443"}}"#, "as4Listener.port: expected a number, found a string"),
            (#"{"as4Listener": {\#(listener), "port": -1}}"#, "as4Listener.port: -1 is not a port number (0-65535; 0 lets the system choose)"),
            (#"{"as4Listener": {\#(listener)}}"#, "as4Listener.port: missing (required in as4Listener)"),
            (#"{"adminListener": {"address": "127.0.0.1", "port": 8443.5}}"#, "adminListener.port: 8443.5 is not a port number (0-65535; 0 lets the system choose)"),
            (#"{"outboundWorkers": 2.5}"#, "outboundWorkers: expected a whole number, found 2.5"),
            (#"{"outboundWorkers": 1e19}"#, "outboundWorkers: 1e+19 is not a whole number from \(Int.min) to \(Int.max)"),
            // Integer settings all name themselves; Foundation's own Int decoding called 1.5 "not valid JSON".
            (#"{"as4Listener": {\#(listener), "port": 8443, "maxConnections": 1.5}}"#, "as4Listener.maxConnections: expected a whole number, found 1.5"),
            (#"{"apiListener": {\#(listener), "port": 8080, "maxConnectionsPerClient": 0.5}}"#,
             "apiListener.maxConnectionsPerClient: expected a whole number, found 0.5"),
            (#"{"apiListener": {\#(listener), "port": 8080, "idleTimeoutSeconds": 2.5}}"#, "apiListener.idleTimeoutSeconds: expected a whole number, found 2.5"),
            (#"{"as4Listener": {\#(listener), "port": 8443, "minimumBodyBytesPerSecond": 1024.5}}"#,
             "as4Listener.minimumBodyBytesPerSecond: expected a whole number, found 1024.5"),
            (#"{"apiListener": {\#(listener), "port": 8080, "bodyGraceSeconds": "30"}}"#, "apiListener.bodyGraceSeconds: expected a number, found a string"),
            (#"{"as4Listener": {\#(listener), "port": 8443, "maxConnections": 1e30}}"#,
             "as4Listener.maxConnections: 1e+30 is not a whole number from \(Int.min) to \(Int.max)"),
            (#"{"adminListener": {"address": "127.0.0.1", "port": 9090, "minimumFreeBytes": 1.5}}"#,
             "adminListener.minimumFreeBytes: expected a whole number, found 1.5"),
            (#"{"retention": {"institution": 365.25}}"#, "retention.institution: expected a whole number, found 365.25"),
            (#"{"notices": {"smtp": "smtp://relay", "from": "a@example.lv", "maxAttempts": 2.5}}"#, "notices.maxAttempts: expected a whole number, found 2.5"),
            (#"{"maxMessageBytes": 100000.5}"#, "maxMessageBytes: expected a whole number, found 100000.5"),
            (#"{"maxMessageBytes": "1 MiB"}"#, "maxMessageBytes: expected a number, found a string"),
            (#"{"developmentPKI": "yes"}"#, "developmentPKI: expected true or false, found a string"),
            (#"{"truststore": "ca.pem"}"#, "truststore: expected an array, found a string"),
            (#"{"crls": ["a.crl", 7]}"#, "crls[1]: expected a string, found a number"),
            (#"{"keys": {"signingKey": null, "signingCertificate": "b", "encryptionKey": "c", "encryptionCertificate": "d"}}"#,
             "keys.signingKey: expected a string, found null"),
            (#"{"retention": {"company": -1}}"#, "retention.company: retention days cannot be negative (0: purged at the next run)"),
            (#"{"payloadDirectory": ""}"#, "payloadDirectory: must not be empty (null: dataDirectory/payloads)"),
            ("[]", "the file must hold one JSON object (expected an object, found an array)"),
        ]
        for (json, expected) in cases { XCTAssertEqual(try refusal(json), expected, json) }
        XCTAssertTrue(try refusal(#"{"party": "gw-a""#).hasPrefix("not valid JSON: "))
        let checked = try GatewayProcess.run(["serve", "--check-config", "--config", try write(#"{"as4Listener": {\#(listener), "port": 70000}}"#, "gateway.json")])
        XCTAssertEqual(checked.status, 2)
        XCTAssertTrue(checked.stderr.contains("gateway.json: as4Listener.port: 70000 is not a port number"), checked.stderr)
    }

    // MARK: body floor

    /// `minimumBodyBytesPerSecond` and `bodyGraceSeconds` are read on both listeners, their bounds
    /// pass and one step outside is a worded problem; left out, the listener keeps the HTTP
    /// server's defaults (1 KiB/s after 30 s).
    func testBodyFloorSettingsAreReadAndBounded() throws {
        let listener = #""address": "127.0.0.1", "path": "/p""#
        func problems(_ as4: String, _ api: String) throws -> [String] {
            try GatewayConfiguration.load(path: try write(#"{"as4Listener": {\#(listener), "port": 1\#(as4)}, "apiListener": {\#(listener), "port": 2\#(api)}}"#))
                .settingProblems
        }
        let bounds = try GatewayConfiguration.load(path: try write(#"{"as4Listener": {\#(listener), "port": 1, "minimumBodyBytesPerSecond": 0, "bodyGraceSeconds": 0}, "apiListener": {\#(listener), "port": 2, "minimumBodyBytesPerSecond": 1073741824, "bodyGraceSeconds": 3600}}"#))
        XCTAssertEqual(bounds.settingProblems, [])
        XCTAssertEqual(bounds.as4Listener.minimumBodyBytesPerSecond, 0)
        XCTAssertEqual(bounds.apiListener.minimumBodyBytesPerSecond, 1 << 30)
        XCTAssertEqual(bounds.apiListener.bodyGraceSeconds, 3600)
        XCTAssertEqual(try problems(#", "minimumBodyBytesPerSecond": -1, "bodyGraceSeconds": -0.5"#, #", "minimumBodyBytesPerSecond": 1073741825, "bodyGraceSeconds": 3600.5"#), [
            "as4Listener.minimumBodyBytesPerSecond (-1) must be from 0 (no floor) to 1073741824",
            "as4Listener.bodyGraceSeconds (-0.5) must be from 0 to 3600 seconds",
            "apiListener.minimumBodyBytesPerSecond (1073741825) must be from 0 (no floor) to 1073741824",
            "apiListener.bodyGraceSeconds (3600.5) must be from 0 to 3600 seconds",
        ])
        let defaults = try GatewayConfiguration.load(path: try write(#"{"as4Listener": {\#(listener), "port": 1}}"#))
        XCTAssertNil(defaults.as4Listener.minimumBodyBytesPerSecond)
        XCTAssertNil(defaults.as4Listener.bodyGraceSeconds)
        XCTAssertEqual(HTTPServerConfiguration().minimumBodyBytesPerSecond, 1024)
        XCTAssertEqual(HTTPServerConfiguration().bodyGracePeriod, 30)
        try assertServeAndCheckRefuse(#"{"as4Listener": {\#(listener), "port": 0, "bodyGraceSeconds": -1}}"#, "as4Listener.bodyGraceSeconds (-1.0) must be from 0 to 3600 seconds")
    }

    // MARK: log settings

    /// The file refuses what the options refuse, instead of falling back to logfmt/info.
    func testUnknownLogFormatAndLevelAreRefused() throws {
        XCTAssertEqual(try refusal(#"{"logFormat": "JSON"}"#), "logFormat: JSON is not one of logfmt, json")
        XCTAssertEqual(try refusal(#"{"logLevel": "verbose"}"#), "logLevel: verbose is not one of debug, info, warn (or warning), error")
        try assertServeAndCheckRefuse(#"{"logFormat": "JSON"}"#, "logFormat: JSON is not one of logfmt, json")
        let option = try GatewayProcess.run(["serve", "--check-config", "--pmode", pmode, "--log-level", "verbose"])
        XCTAssertEqual(option.status, 2)
        XCTAssertTrue(option.stderr.contains("--log-level is debug, info, warn"), option.stderr)
        XCTAssertEqual(try GatewayConfiguration.load(path: try write(#"{"logFormat": "json", "logLevel": "warning"}"#)).logLevel, "warning")
    }
}

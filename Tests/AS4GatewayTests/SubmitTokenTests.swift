@testable import AS4Gateway
import Foundation
import HTTPServer
import XCTest

/// The operators' submission endpoint signs whatever it is given as this gateway's own, so a
/// loopback peer must also hold the data directory's token, a relayed request is refused, and no
/// configured key or password file can be a payload.
final class SubmitTokenTests: XCTestCase {
    var harness: GatewayHarness!

    override func setUpWithError() throws {
        harness = try GatewayHarness()
        try harness.configure(["gw-a", "gw-b"])
    }

    override func tearDown() { harness = nil }

    private func body(_ payload: String) -> [UInt8] {
        Array("""
            {"to": "gw-b", "service": "urn:eadrese:services:delivery", "action": "DeliverDocument", "payloads": [{"path": "\(payload)"}]}
            """.utf8)
    }

    private func document() throws -> String {
        let path = harness.root.appendingPathComponent("\(UUID().uuidString).xml").path
        try Data("<doc/>".utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    func testOnlyTheDataDirectorysTokenIsAdmittedAndRelayedRequestsAreRefused() throws {
        let a = try InProcessNode(harness, party: "gw-a")
        let api = APIHandler(context: a.context)
        let tokenFile = a.context.config.dataDirectory + "/" + SubmitToken.fileName
        let token = try XCTUnwrap(SubmitToken.read(path: tokenFile))
        XCTAssertEqual(token, a.context.submitToken)
        XCTAssertEqual(token.count, 64)
        let mode = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: tokenFile)[.posixPermissions] as? Int)
        XCTAssertEqual(mode & 0o077, 0, "readable by the daemon's user only")

        for headers in [[], [("Authorization", "Bearer " + String(repeating: "0", count: 64))], [("Authorization", token)],
                        [("Authorization", "Basic " + token)]] {
            let refused = a.post(api, path: "/submit", contentType: "application/json", body: body(try document()), headers: headers)
            XCTAssertEqual(refused.status, 401, "\(headers): \(refused.bodyText)")
            XCTAssertTrue(refused.bodyText.contains(SubmitToken.fileName), refused.bodyText)
        }
        for proxy in ["Forwarded", "X-Forwarded-For", "X-Real-IP", "Via"] {
            let relayed = a.post(api, path: "/submit", contentType: "application/json", body: body(try document()),
                                 headers: [("Authorization", "Bearer " + token), (proxy, "203.0.113.9")])
            XCTAssertEqual(relayed.status, 403, "\(proxy): \(relayed.bodyText)")
        }
        XCTAssertEqual(try a.store.queueDepth().total, 0, "nothing refused was queued")

        let accepted = a.post(api, path: "/submit", contentType: "application/json", body: body(try document()),
                              headers: [("Authorization", "bearer " + token)])
        XCTAssertEqual(accepted.status, 202, accepted.bodyText)
        XCTAssertEqual(try a.store.queueDepth().total, 1)

        // The same token after a restart (the file is kept), a new one for another data directory.
        XCTAssertEqual(try SubmitToken.load(dataDirectory: a.context.config.dataDirectory), token)
        let other = try InProcessNode(harness, party: "gw-b")
        XCTAssertNotEqual(other.context.submitToken, token)
    }

    /// README: "Every refused request is a line too". The operators' endpoint refused without a
    /// word in the log (no token, bad JSON, a payload in the gateway's own folder, an unknown
    /// party): each is an `api-refused` line now, with status, path, client and why.
    func testEveryRefusedSubmissionIsLogged() throws {
        let a = try InProcessNode(harness, party: "gw-a")
        let api = APIHandler(context: a.context)
        let headers = [("Authorization", "Bearer " + a.context.submitToken)]
        let own = a.context.config.dataDirectory + "/" + SubmitToken.fileName
        let unknown = Array("""
            {"to": "gw-x", "messageId": "m-1@test", "service": "urn:eadrese:services:delivery", "action": "DeliverDocument", "payloads": [{"path": "\(try document())"}]}
            """.utf8)
        let cases: [(status: Int, body: [UInt8], headers: [(String, String)], says: String)] = [
            (401, body(try document()), [], "token"),
            (400, Array("{not json".utf8), headers, "not valid JSON"),
            (403, body(own), headers, "own data or P-Mode folder"),
            (422, unknown, headers, "gw-x"),
        ]
        for c in cases {
            XCTAssertEqual(a.post(api, path: "/submit", contentType: "application/json", body: c.body, headers: c.headers).status, c.status)
        }
        let refused = a.log.split(separator: "\n").filter { $0.contains("event=api-refused") }
        XCTAssertEqual(refused.count, cases.count, a.log)
        for (line, c) in zip(refused, cases) {
            XCTAssertTrue(line.contains("status=\(c.status)") && line.contains("path=/submit") && line.contains("client=127.0.0.1")
                          && line.contains(c.says), "\(c.status): \(line)")
        }
        XCTAssertTrue(refused.last?.contains("message_id=m-1@test") ?? false, "\(refused)")
        XCTAssertTrue(refused.last?.contains("to=gw-x") ?? false, "\(refused)")
    }

    /// A key outside the data and P-Mode folders (here the API listener's TLS key) is no payload.
    func testAConfiguredKeyFileIsNoPayload() throws {
        let secrets = harness.root.appendingPathComponent("secrets").path
        try FileManager.default.createDirectory(atPath: secrets, withIntermediateDirectories: true)
        let key = secrets + "/api-tls.key"
        try Data("-----BEGIN PRIVATE KEY-----\n".utf8).write(to: URL(fileURLWithPath: key))
        let a = try InProcessNode(harness, party: "gw-a") { config in
            config.apiListener.tls = .init(certificate: secrets + "/api-tls.pem", key: key)
        }
        let api = APIHandler(context: a.context)
        let headers = [("Authorization", "Bearer " + a.context.submitToken)]
        let refused = a.post(api, path: "/submit", contentType: "application/json", body: body(key), headers: headers)
        XCTAssertEqual(refused.status, 403, refused.bodyText)
        XCTAssertTrue(refused.bodyText.contains("keys or secrets"), refused.bodyText)
        // Through a symbolic link too: the real path is compared.
        let link = harness.root.appendingPathComponent("innocent.txt").path
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: key)
        XCTAssertEqual(a.post(api, path: "/submit", contentType: "application/json", body: body(link), headers: headers).status, 403)
        XCTAssertEqual(try a.store.queueDepth().total, 0)
    }

    /// `as4gw send --config` finds the URL and the token from the daemon's configuration.
    func testSendFindsTheEndpointAndTokenInTheConfiguration() throws {
        let file = harness.root.appendingPathComponent("gw.json").path
        try Data("""
            {"dataDirectory": "/srv/as4/data", "apiListener": {"address": "0.0.0.0", "port": 8181, "path": "/ops/submit"}}
            """.utf8).write(to: URL(fileURLWithPath: file))
        let found = try SendCommand.endpoint(config: file, submit: nil, tokenFile: nil)
        XCTAssertEqual(found.url, "http://127.0.0.1:8181/ops/submit")
        XCTAssertEqual(found.tokenFile, "/srv/as4/data/submit.token")
        let explicit = try SendCommand.endpoint(config: file, submit: "http://127.0.0.1:1/x", tokenFile: "/t")
        XCTAssertEqual(explicit.url, "http://127.0.0.1:1/x")
        XCTAssertEqual(explicit.tokenFile, "/t")
        let missing = try GatewayProcess.run(["send", "--to", "gw-b", "--service", "s", "--action", "a", "--token-file",
                                              harness.root.appendingPathComponent("none").path, try document()])
        XCTAssertEqual(missing.status, 2, missing.stderr)
        XCTAssertTrue(missing.stderr.contains("cannot read the submission token"), missing.stderr)
        let bare = try SendCommand.endpoint(config: nil, submit: nil, tokenFile: nil)
        XCTAssertEqual(bare.url, "http://127.0.0.1:8080/submit")
        XCTAssertEqual(bare.tokenFile, "./data/submit.token")
    }
}

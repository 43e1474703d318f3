import Foundation
import HTTPClient
import XCTest

/// HTTPS against the fixture: server verification (chain and host name), mutual TLS, and the
/// mapping of every TLS failure to `.tls`.
final class HTTPClientTLSTests: HTTPClientFixtureTestCase {
    private func client(trusting caFile: String?, certificate: String? = nil, key: String? = nil,
                        verifyPeer: Bool = true) throws -> HTTPClient {
        var configuration = HTTPClientConfiguration(trustedCAFile: caFile, clientCertificateFile: certificate, clientKeyFile: key)
        configuration.verifyPeer = verifyPeer
        configuration.connectTimeout = 3
        configuration.totalTimeout = 5
        return try HTTPClient(configuration: configuration)
    }

    private func assertTLSError(_ expression: @autoclosure () throws -> HTTPClientResponse, mentioning text: String,
                                file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try expression(), file: file, line: line) { error in
            guard case HTTPClientError.tls(let detail)? = error as? HTTPClientError else {
                return XCTFail("expected .tls, got \(error)", file: file, line: line)
            }
            XCTAssertTrue(detail.contains(text), "\(detail) does not mention \(text)", file: file, line: line)
        }
    }

    func testTrustedServerOverOneKeptAliveConnection() throws {
        let server = try server
        let client = try client(trusting: server.file("ca.pem"))
        let responses = try (1...3).map { _ in
            try client.post(url: server.url("https", "/tls"), headers: [], body: .bytes(Array("hello".utf8)))
        }
        XCTAssertEqual(responses.map(\.status), [200, 200, 200])
        XCTAssertEqual(responses.map(\.newConnections), [1, 0, 0])
        let echoes = try responses.map { try FixtureEcho($0.body) }
        XCTAssertEqual(Set(echoes.map(\.connection)).count, 1)
        XCTAssertEqual(echoes[0].length, 5)
        XCTAssertNil(echoes[0].clientCN)
    }

    func testServerCertificateFromAnotherCAIsRejected() throws {
        let server = try server
        assertTLSError(try client(trusting: server.file("other-ca.pem")).get(url: server.url("https"), headers: []),
                       mentioning: "curl 60")
        // The system store does not know the fixture CA either.
        assertTLSError(try client(trusting: nil).get(url: server.url("https"), headers: []), mentioning: "curl 60")
    }

    func testHostNameMismatchIsRejected() throws {
        let server = try server
        assertTLSError(try client(trusting: server.file("ca.pem")).get(url: server.url("wrongname"), headers: []),
                       mentioning: "127.0.0.1")
    }

    func testTLSToAPlainHTTPPortFails() throws {
        let server = try server
        assertTLSError(try client(trusting: server.file("ca.pem")).get(url: "https://127.0.0.1:\(server.port("http"))/", headers: []),
                       mentioning: "curl 35")
    }

    func testMutualTLSWithTrustedClientCertificate() throws {
        let server = try server
        let client = try client(trusting: server.file("ca.pem"), certificate: server.file("client.pem"),
                                key: server.file("client.key"))
        let response = try client.post(url: server.url("mtls", "/as4"), headers: [], body: .bytes([1, 2, 3]))
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(try FixtureEcho(response.body).clientCN, "as4gw test client")
        XCTAssertEqual(try client.get(url: server.url("mtls"), headers: []).newConnections, 0)
    }

    /// Under TLS 1.3 the server's refusal arrives as an alert after the client's handshake ended:
    /// still `.tls`, not a connection failure.
    func testMutualTLSWithoutClientCertificateFails() throws {
        let server = try server
        assertTLSError(try client(trusting: server.file("ca.pem")).get(url: server.url("mtls"), headers: []),
                       mentioning: "certificate required")
    }

    func testMutualTLSWithForeignClientCertificateFails() throws {
        let server = try server
        let client = try client(trusting: server.file("ca.pem"), certificate: server.file("other-client.pem"),
                                key: server.file("other-client.key"))
        assertTLSError(try client.post(url: server.url("mtls"), headers: [], body: .bytes([1])), mentioning: "unknown ca")
    }

    func testUnreadableCertificateFilesFailAtInit() throws {
        let server = try server
        for (ca, certificate, key) in [("/nonexistent/ca.pem", nil, nil), (server.file("ca.pem"), "/nonexistent/c.pem", nil),
                                       (server.file("ca.pem"), server.file("client.pem"), "/nonexistent/c.key")] {
            XCTAssertThrowsError(try client(trusting: ca, certificate: certificate, key: key)) { error in
                guard case HTTPClientError.tls(let detail)? = error as? HTTPClientError else { return XCTFail("\(error)") }
                XCTAssertTrue(detail.contains("/nonexistent/"), detail)
            }
        }
        XCTAssertThrowsError(try client(trusting: nil, certificate: nil, key: server.file("client.key")))
    }

    /// The test-only escape hatch: without verification the foreign chain and wrong name pass.
    func testVerifyPeerOffSkipsVerification() throws {
        let server = try server
        let client = try client(trusting: server.file("other-ca.pem"), verifyPeer: false)
        XCTAssertEqual(try client.get(url: server.url("https"), headers: []).status, 200)
        XCTAssertEqual(try client.get(url: server.url("wrongname"), headers: []).status, 200)
    }
}

import AS4Crypto
import Foundation
import HTTPClient
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// Plain HTTP against the fixture: bodies, methods, statuses, keep-alive, limits and failures.
final class HTTPClientPlainTests: HTTPClientFixtureTestCase {
    private func client(_ adjust: (inout HTTPClientConfiguration) -> Void = { _ in }) throws -> HTTPClient {
        var configuration = HTTPClientConfiguration()
        configuration.connectTimeout = 2
        configuration.totalTimeout = 5
        adjust(&configuration)
        return try HTTPClient(configuration: configuration)
    }

    private func hexSHA256(_ bytes: [UInt8]) throws -> String {
        try Digest.sha256(bytes).map { String(format: "%02x", $0) }.joined()
    }

    func testPostBytesIsEchoedWithLengthAndDigest() throws {
        let body = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let response = try client().post(url: server.url("http", "/as4"), headers: [("Content-Type", "application/soap+xml")],
                                          body: .bytes(body))
        XCTAssertEqual(response.status, 200)
        let echo = try FixtureEcho(response.body)
        XCTAssertEqual(echo.method, "POST")
        XCTAssertEqual(echo.path, "/as4")
        XCTAssertEqual(echo.length, body.count)
        XCTAssertEqual(echo.sha256, try hexSHA256(body))
        XCTAssertEqual(echo.headers["content-length"], "100000")
        XCTAssertEqual(echo.headers["content-type"], "application/soap+xml")
        XCTAssertNil(echo.headers["expect"], "no Expect: 100-continue round trip")
        XCTAssertEqual(echo.headers["user-agent"], "as4gw")
        XCTAssertGreaterThan(response.elapsed, 0)
    }

    func testEmptyPostSendsContentLengthZero() throws {
        let echo = try FixtureEcho(try client().post(url: server.url("http"), headers: [], body: .bytes([])).body)
        XCTAssertEqual(echo.method, "POST")
        XCTAssertEqual(echo.headers["content-length"], "0")
        XCTAssertEqual(echo.length, 0)
    }

    func testGetAndResponseHeaderLookup() throws {
        let response = try client().get(url: server.url("http", "/status"), headers: [("X-Trace", "abc"), ("X-Empty", "")])
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.header("x-fixture"), "as4gw")
        XCTAssertEqual(response.header("CONTENT-TYPE"), "application/json")
        XCTAssertEqual(response.headers(named: "X-Fixture"), ["as4gw"])
        XCTAssertNil(response.header("X-Missing"))
        let echo = try FixtureEcho(response.body)
        XCTAssertEqual(echo.method, "GET")
        XCTAssertEqual(echo.headers["x-trace"], "abc")
        XCTAssertEqual(echo.headers["x-empty"], "")
        XCTAssertNil(echo.headers["content-length"])
    }

    func testFoldedResponseHeaderIsJoined() throws {
        let response = try client().get(url: server.url("http", "/?fold=1"), headers: [])
        XCTAssertEqual(response.header("X-Folded"), "first second")
        XCTAssertEqual(response.header("Content-Length"), String(response.body.count), "the field after the fold is intact")
    }

    /// Options are per request: a GET after a POST sends no body and none of the POST's headers.
    func testRequestsDoNotLeakIntoTheNextOne() throws {
        let client = try client()
        _ = try client.post(url: server.url("http", "/first"), headers: [("X-Only-First", "1")], body: .bytes(Array("payload".utf8)))
        let echo = try FixtureEcho(try client.get(url: server.url("http", "/second"), headers: []).body)
        XCTAssertEqual(echo.method, "GET")
        XCTAssertEqual(echo.length, 0)
        XCTAssertNil(echo.headers["content-length"])
        XCTAssertNil(echo.headers["x-only-first"])
        XCTAssertNil(echo.headers["content-type"])
        let again = try FixtureEcho(try client.post(url: server.url("http"), headers: [], body: .bytes([1, 2, 3])).body)
        XCTAssertEqual(again.method, "POST")
        XCTAssertEqual(again.length, 3)
    }

    func testErrorStatusesAreResponsesWithTheirBody() throws {
        let response = try client().post(url: server.url("http", "/?status=500&size=321"), headers: [], body: .bytes([1]))
        XCTAssertEqual(response.status, 500)
        XCTAssertEqual(response.body.count, 321)
        let notFound = try client().get(url: server.url("http", "/?status=404"), headers: [])
        XCTAssertEqual(notFound.status, 404)
        XCTAssertEqual(try FixtureEcho(notFound.body).path, "/")
    }

    /// Keep-alive: the handle keeps its connection, so the server sees one connection for three
    /// requests, and curl reports one new connection for the first and none after.
    func testThreeRequestsReuseOneConnection() throws {
        let client = try client()
        let first = try client.post(url: server.url("http", "/1"), headers: [], body: .bytes([1]))
        let second = try client.get(url: server.url("http", "/2"), headers: [])
        let third = try client.post(url: server.url("http", "/3"), headers: [], body: .bytes([3, 3]))
        XCTAssertEqual([first, second, third].map(\.newConnections), [1, 0, 0])
        let connections = try [first, second, third].map { try FixtureEcho($0.body).connection }
        XCTAssertEqual(Set(connections).count, 1, "server saw connections \(connections)")
    }

    /// A server that closes after answering (`Connection: close`) costs a new connection, no error.
    func testServerClosingTheConnectionIsHandled() throws {
        let client = try client()
        let closing = try client.get(url: server.url("http", "/?close=1"), headers: [])
        let next = try client.post(url: server.url("http"), headers: [], body: .bytes([7]))
        XCTAssertEqual(next.newConnections, 1)
        XCTAssertNotEqual(try FixtureEcho(closing.body).connection, try FixtureEcho(next.body).connection)
    }

    func testConnectionRefused() throws {
        // A bound socket that never listens: connecting to it is refused, and no one else can take the port.
        let socket = try BoundSocket()
        defer { socket.close() }
        XCTAssertThrowsError(try client().get(url: "http://127.0.0.1:\(socket.port)/", headers: [])) { error in
            guard case HTTPClientError.connectionFailed(let detail)? = error as? HTTPClientError else {
                return XCTFail("expected connectionFailed, got \(error)")
            }
            XCTAssertTrue(detail.contains("curl 7"), detail)
        }
    }

    func testServerClosingWithoutAnswerIsConnectionFailed() throws {
        XCTAssertThrowsError(try client().post(url: server.url("http", "/?drop=1"), headers: [], body: .bytes([1]))) { error in
            guard case HTTPClientError.connectionFailed? = error as? HTTPClientError else {
                return XCTFail("expected connectionFailed, got \(error)")
            }
        }
    }

    func testSlowServerTimesOutAfterTotalTimeout() throws {
        let client = try client { $0.totalTimeout = 1 }
        let start = Date()
        XCTAssertThrowsError(try client.post(url: server.url("http", "/?delay=4"), headers: [], body: .bytes([1]))) { error in
            guard case HTTPClientError.timedOut? = error as? HTTPClientError else {
                return XCTFail("expected timedOut, got \(error)")
            }
        }
        let elapsed = Date().timeIntervalSince(start)
        XCTAssertGreaterThanOrEqual(elapsed, 0.95)
        XCTAssertLessThan(elapsed, 2)
        // The handle is still usable afterwards.
        XCTAssertEqual(try client.get(url: server.url("http"), headers: []).status, 200)
    }

    /// A declared Content-Length over the limit is refused before the body is read…
    func testResponseOverLimitWithContentLength() throws {
        let client = try client { $0.maxResponseBytes = 10_000 }
        XCTAssertEqual(try client.get(url: server.url("http", "/?size=10000"), headers: []).body.count, 10_000)
        XCTAssertThrowsError(try client.get(url: server.url("http", "/?size=10001"), headers: [])) { error in
            XCTAssertEqual(error as? HTTPClientError, .responseTooLarge)
        }
    }

    /// …and a chunked body (no length up front) is cut off in the write callback.
    func testChunkedResponseOverLimitIsAbortedWhileReceiving() throws {
        let client = try client { $0.maxResponseBytes = 100_000 }
        XCTAssertEqual(try client.get(url: server.url("http", "/?size=100000&chunked=1"), headers: []).body.count, 100_000)
        XCTAssertThrowsError(try client.get(url: server.url("http", "/?size=300000&chunked=1"), headers: [])) { error in
            XCTAssertEqual(error as? HTTPClientError, .responseTooLarge)
        }
        XCTAssertEqual(try client.get(url: server.url("http"), headers: []).status, 200, "usable after an abort")
    }

    func testInvalidHeadersAreRejectedBeforeSending() throws {
        let client = try client()
        let url = try server.url("http")
        for headers in [[("X-Bad", "a\r\nInjected: yes")], [("Bad Name", "v")], [("", "v")], [("Content-Length", "5")]] {
            XCTAssertThrowsError(try client.post(url: url, headers: headers, body: .bytes([1]))) { error in
                guard case HTTPClientError.other? = error as? HTTPClientError else { return XCTFail("\(headers): \(error)") }
            }
        }
    }

    func testUnsupportedSchemeAndMissingBodyFile() throws {
        let client = try client()
        XCTAssertThrowsError(try client.get(url: "ftp://127.0.0.1/x", headers: [])) { error in
            guard case HTTPClientError.other? = error as? HTTPClientError else { return XCTFail("\(error)") }
        }
        // A body file that is not there is this machine's fault, told apart from the server's.
        XCTAssertThrowsError(try client.post(url: server.url("http"), headers: [], body: .file(path: "/nonexistent/body"))) { error in
            guard case let HTTPClientError.requestBodyUnreadable(path, reason)? = error as? HTTPClientError else { return XCTFail("\(error)") }
            XCTAssertEqual(path, "/nonexistent/body")
            XCTAssertTrue(reason.contains("No such file or directory"), reason)
        }
        let directory = FileManager.default.temporaryDirectory.path
        XCTAssertThrowsError(try client.post(url: server.url("http"), headers: [], body: .file(path: directory))) { error in
            XCTAssertEqual(error as? HTTPClientError, .requestBodyUnreadable(path: directory, reason: "not a regular file"))
        }
    }
}

/// A TCP socket bound to a free loopback port without listening.
struct BoundSocket {
    let descriptor: Int32
    let port: Int

    init() throws {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                bind(descriptor, socketAddress, length) == 0 && getsockname(descriptor, socketAddress, &length) == 0
            }
        }
        guard descriptor >= 0, bound else { throw FixtureError("cannot bind a loopback socket") }
        self.descriptor = descriptor
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    func close() { _ = Glibc.close(descriptor) }
}

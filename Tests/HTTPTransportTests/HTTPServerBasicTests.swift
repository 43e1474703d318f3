import Foundation
import Synchronization
@testable import HTTPServer
import XCTest

/// Plain HTTP on 127.0.0.1: heads, small bodies, early refusal, responses from memory and files.
final class HTTPServerBasicTests: XCTestCase {
    private var directory: ServerTestDirectory!

    override func setUpWithError() throws {
        self.directory = try ServerTestDirectory()
    }

    override func tearDown() {
        self.directory.remove()
    }

    private func configuration() -> HTTPServerConfiguration {
        HTTPServerConfiguration(spoolDirectory: self.directory.path)
    }

    func testGetDeliversTheHeadToTheHandler() throws {
        let handler = ServerTestHandler { request in
            var response = HTTPResponse.text(200, "path=\(request.head.path)")
            response.headers.add(name: "X-Reply", value: "one")
            response.headers.add(name: "X-Reply", value: "two")
            return response
        }
        let (server, base) = try startTestServer(self.configuration(), handler: handler)
        defer { server.stop(gracePeriod: 1) }
        XCTAssertNotEqual(server.port, 0)

        let result = try ServerTestCurl.run(["-H", "X-Test: Hello", "-H", "x-test: again",
                                             base + "/items/a%20b?x=1&y=two&flag"])
        XCTAssertEqual(result.exitCode, 0, result.errorText)
        XCTAssertEqual(result.status, 200)
        XCTAssertEqual(result.text, "path=/items/a b")
        XCTAssertEqual(result.headers["content-type"], "text/plain; charset=utf-8")
        XCTAssertEqual(result.headers.values(for: "X-Reply"), ["one", "two"])

        let request = try XCTUnwrap(handler.requests.first)
        XCTAssertEqual(request.head.method, "GET")
        XCTAssertEqual(request.head.path, "/items/a b")
        XCTAssertEqual(request.head.query, ["x": "1", "y": "two", "flag": ""])
        XCTAssertEqual(request.head.headers.values(for: "X-TEST"), ["Hello", "again"])
        XCTAssertEqual(request.head.headers["host"], "127.0.0.1:\(server.port)")
        XCTAssertEqual(request.head.remoteAddress, "127.0.0.1")
        XCTAssertNil(request.head.contentLength)
        XCTAssertNil(request.head.clientCertificate)
        XCTAssertEqual(request.body, .empty)
    }

    /// An escaped `/` is data, not a separator: the handler gets the path as sent beside the
    /// decoded one, so a route can split first and decode each segment after. Query names and
    /// values are decoded as before (`+` a space, a `%` without two hex digits kept).
    func testThePathArrivesAsSentBesideItsDecodedForm() throws {
        let handler = ServerTestHandler { _ in .text(200, "ok") }
        let (server, base) = try startTestServer(self.configuration(), handler: handler)
        defer { server.stop(gracePeriod: 1) }
        let result = try ServerTestCurl.run([base + "/items/a%2Fb%3Fc%23d%25/x%20y%zz?q=x%26y+z&n%3D=%zz&%C4%81=%c4%81"])
        XCTAssertEqual(result.status, 200, result.errorText)
        let head = try XCTUnwrap(handler.requests.first).head
        XCTAssertEqual(head.rawPath, "/items/a%2Fb%3Fc%23d%25/x%20y%zz")
        XCTAssertEqual(head.path, "/items/a/b?c#d%/x y%zz")
        XCTAssertEqual(head.rawPath.split(separator: "/").map { PercentEncoding.decode(String($0)) }, ["items", "a/b?c#d%", "x y%zz"])
        XCTAssertEqual(head.query, ["q": "x&y z", "n=": "%zz", "ā": "ā"])
        XCTAssertEqual(PercentEncoding.pathSegment("a/b?c#d%e f+ā@x:y"), "a%2Fb%3Fc%23d%25e%20f%2B%C4%81@x:y")
        XCTAssertEqual(PercentEncoding.decode(PercentEncoding.pathSegment("weird/id?x#y%")), "weird/id?x#y%")
    }

    /// `%00` would reach the handler as a NUL inside the decoded path or a query value, which C
    /// strings (libpq, file names) cut short; no resource is named with a control character, so
    /// the server refuses such a target before `admit` and the handler, its body unread. The
    /// refusal's head carries the path as sent, so no control character reaches a log line.
    func testAControlCharacterInTheDecodedTargetIsRefusedBeforeTheHandler() throws {
        let admitted = Mutex(0)
        let refusedPaths = Mutex<[String]>([])
        struct Handler: HTTPHandler {
            let admitted: @Sendable () -> Void
            let refusedPath: @Sendable (String) -> Void
            func admit(_ head: HTTPRequestHead) -> HTTPResponse? { admitted(); return nil }
            func handle(_ request: HTTPRequest) -> HTTPResponse { .text(200, "handled") }
            func refused(_ head: HTTPRequestHead, status: Int, reason: String) -> HTTPResponse {
                refusedPath(head.path)
                return .text(status, reason + "\n")
            }
        }
        let handler = Handler(admitted: { admitted.withLock { $0 += 1 } }, refusedPath: { p in refusedPaths.withLock { $0.append(p) } })
        let (server, base) = try startTestServer(self.configuration(), handler: handler)
        defer { server.stop(gracePeriod: 1) }
        let targets: [(String, String)] = [("/items/abc%00def", "U+0000"), ("/items/a%0Ab", "U+000A"), ("/items/%7f", "U+007F"),
                                           ("/items/a%09", "U+0009"), ("/items/%C2%85x", "U+0085"), ("/items/x?q=a%00b", "U+0000"),
                                           ("/items/x?n%0D=1", "U+000D")]
        for (target, shown) in targets {
            let result = try ServerTestCurl.run(["--data-binary", "body", base + target])
            XCTAssertEqual(result.status, 400, target)
            XCTAssertTrue(result.text.contains("control character \(shown) once percent-decoded"), "\(target): \(result.text)")
        }
        XCTAssertEqual(admitted.withLock { $0 }, 0, "refused before admit")
        XCTAssertEqual(refusedPaths.withLock { $0 }, targets.map { String($0.0.prefix { $0 != "?" }) }, "the path as sent, escapes kept")
        XCTAssertEqual(self.directory.contents(), [], "no body was spooled")

        // Text and an encoded slash are data as before.
        let fine = try ServerTestCurl.run([base + "/items/a%2Fb%20c?q=%C4%81"])
        XCTAssertEqual(fine.status, 200, fine.text)
        XCTAssertEqual(admitted.withLock { $0 }, 1)
    }

    func testPostEchoesASmallBodyFromMemory() throws {
        let handler = ServerTestHandler.echo()
        let (server, base) = try startTestServer(self.configuration(), handler: handler)
        defer { server.stop(gracePeriod: 1) }

        let payload = "<Envelope>héllo</Envelope>"
        let result = try ServerTestCurl.run(["-H", "Content-Type: application/soap+xml", "--data-binary", payload, base + "/as4"])
        XCTAssertEqual(result.status, 200, result.errorText)
        XCTAssertEqual(result.text, payload)
        XCTAssertEqual(result.headers["Content-Type"], "application/soap+xml")
        XCTAssertEqual(result.headers["Content-Length"], String(payload.utf8.count))

        let request = try XCTUnwrap(handler.requests.first)
        XCTAssertEqual(request.head.method, "POST")
        XCTAssertEqual(request.head.contentLength, UInt64(payload.utf8.count))
        XCTAssertEqual(request.body, .bytes(Array(payload.utf8)))
        XCTAssertEqual(self.directory.contents(), [], "small bodies are not spooled")
    }

    func testKeepAliveServesSeveralRequestsOnOneConnection() throws {
        let handler = ServerTestHandler.echo()
        let (server, base) = try startTestServer(self.configuration(), handler: handler)
        defer { server.stop(gracePeriod: 1) }

        let result = try ServerTestCurl.run(["--data-binary", "first", base + "/a", "--next", "--data-binary", "second", base + "/b"])
        XCTAssertEqual(result.exitCode, 0, result.errorText)
        XCTAssertEqual(handler.requests.map(\.body), [.bytes(Array("first".utf8)), .bytes(Array("second".utf8))])
        XCTAssertEqual(handler.requests.map(\.head.path), ["/a", "/b"])
    }

    func testAdmitRefusesBeforeTheBodyIsRead() throws {
        let handler = ServerTestHandler(admit: { head in
            guard head.path == "/as4" else { return .text(404, "no such endpoint") }
            guard head.method == "POST" else {
                var response = HTTPResponse.text(405, "POST only")
                response.headers["Allow"] = "POST"
                return response
            }
            return nil
        }, handle: { _ in .empty(202) })
        let (server, base) = try startTestServer(self.configuration(), handler: handler)
        defer { server.stop(gracePeriod: 1) }

        let notFound = try ServerTestCurl.run(["--data-binary", "x", base + "/elsewhere"])
        XCTAssertEqual(notFound.status, 404)
        XCTAssertEqual(notFound.text, "no such endpoint")

        let wrongMethod = try ServerTestCurl.run([base + "/as4"])
        XCTAssertEqual(wrongMethod.status, 405)
        XCTAssertEqual(wrongMethod.headers["Allow"], "POST")

        // A 2 MiB body announced with Expect: 100-continue is never sent: the refusal comes first.
        let body = self.directory.file("body")
        try Data(count: 2 << 20).write(to: URL(fileURLWithPath: body))
        let refusedUpload = try ServerTestCurl.run(["-X", "PUT", "-H", "Expect: 100-continue", "--data-binary", "@" + body, base + "/as4"])
        XCTAssertEqual(refusedUpload.status, 405)
        XCTAssertEqual(refusedUpload.uploadedBytes, 0)

        let accepted = try ServerTestCurl.run(["--data-binary", "x", base + "/as4"])
        XCTAssertEqual(accepted.status, 202)
        XCTAssertEqual(handler.admitCount, 4)
        XCTAssertEqual(handler.requests.count, 1, "handle() runs only for the admitted request")
    }

    func testResponseBodyFromAFile() throws {
        let path = self.directory.file("reply.xml")
        let content = String(repeating: "<receipt/>\n", count: 50_000)
        try content.write(toFile: path, atomically: true, encoding: .utf8)
        let handler = ServerTestHandler { _ in .file(200, contentType: "application/xml", path: path) }
        let (server, base) = try startTestServer(self.configuration(), handler: handler)
        defer { server.stop(gracePeriod: 1) }

        let result = try ServerTestCurl.run([base + "/"])
        XCTAssertEqual(result.status, 200)
        XCTAssertEqual(result.headers["Content-Type"], "application/xml")
        XCTAssertEqual(result.text, content)
    }

    func testMissingResponseFileAndBadStatusBecome500() throws {
        let handler = ServerTestHandler { request in
            request.head.path == "/missing" ? .file(200, contentType: "text/plain", path: "/nonexistent/file") : .empty(42)
        }
        let messages = ServerTestLog(), errors = ServerTestLog()
        var configuration = self.configuration()
        configuration.logger = { messages.append($0) }
        configuration.errorLogger = { errors.append($0) }
        let (server, base) = try startTestServer(configuration, handler: handler)
        defer { server.stop(gracePeriod: 1) }

        XCTAssertEqual(try ServerTestCurl.run([base + "/missing"]).status, 500)
        XCTAssertEqual(try ServerTestCurl.run([base + "/odd"]).status, 500)
        // Each 500 the server made is one report to the error logger, naming the request and why.
        XCTAssertEqual(errors.all.count, 2, "\(errors.all)")
        XCTAssertTrue(errors.all.contains { $0.contains("GET /missing") && $0.contains("/nonexistent/file") }, "\(errors.all)")
        XCTAssertTrue(errors.all.contains { $0.contains("GET /odd") && $0.contains("status 42") }, "\(errors.all)")
        XCTAssertFalse(messages.all.contains { $0.contains("/nonexistent/file") }, "not only a diagnostic: \(messages.all)")
    }

    func testWithoutAnErrorLoggerThe500ReportsGoToTheLogger() throws {
        let handler = ServerTestHandler { _ in .file(200, contentType: "text/plain", path: "/nonexistent/file") }
        let messages = ServerTestLog()
        var configuration = self.configuration()
        configuration.logger = { messages.append($0) }
        let (server, base) = try startTestServer(configuration, handler: handler)
        defer { server.stop(gracePeriod: 1) }
        XCTAssertEqual(try ServerTestCurl.run([base + "/gone"]).status, 500)
        XCTAssertTrue(messages.all.contains { $0.contains("GET /gone") && $0.contains("/nonexistent/file") }, "\(messages.all)")
    }

    func testListensOnLoopbackOnly() throws {
        let (server, _) = try startTestServer(self.configuration(), handler: ServerTestHandler.echo())
        defer { server.stop(gracePeriod: 1) }
        // /proc/net/tcp: "sl local_address rem_address st ..." with addresses as little-endian hex; 0A = LISTEN.
        // Read to its end: `String(contentsOfFile:)` trusts the size the file reports and returns
        // only its first page, which other processes' sockets can fill before ours is listed.
        let handle = try XCTUnwrap(FileHandle(forReadingAtPath: "/proc/net/tcp"))
        defer { try? handle.close() }
        let table = String(decoding: try handle.readToEnd() ?? Data(), as: UTF8.self)
        let portHex = String(format: "%04X", server.port)
        var listeners: [String] = []
        for line in table.split(separator: "\n") {
            let fields = line.split(separator: " ").map(String.init)
            if fields.count > 3, fields[1].hasSuffix(":" + portHex), fields[3] == "0A" {
                listeners.append(fields[1])
            }
        }
        XCTAssertEqual(listeners, ["0100007F:" + portHex])
    }

    func testConfigurationIsCheckedUpFront() {
        XCTAssertThrowsError(try HTTPServer(configuration: .init(bindAddress: "localhost", spoolDirectory: self.directory.path),
                                            handler: ServerTestHandler.echo()))
        XCTAssertThrowsError(try HTTPServer(configuration: .init(spoolDirectory: self.directory.file("missing")),
                                            handler: ServerTestHandler.echo()))
        XCTAssertThrowsError(try HTTPServer(configuration: .init(spoolDirectory: self.directory.path, threads: 0),
                                            handler: ServerTestHandler.echo()))
    }

    func testStartTwiceAndAfterStopIsRefused() throws {
        let server = try HTTPServer(configuration: self.configuration(), handler: ServerTestHandler.echo())
        server.stop(gracePeriod: 1)  // before start: nothing to do
        try server.start()
        XCTAssertThrowsError(try server.start()) { XCTAssertEqual($0 as? HTTPServerError, .invalidState("start() may be called once, before stop()")) }
        server.stop(gracePeriod: 1)
        XCTAssertEqual(server.port, 0)
        XCTAssertThrowsError(try server.start())
    }

    func testPortInUseFailsToStart() throws {
        let (first, _) = try startTestServer(self.configuration(), handler: ServerTestHandler.echo())
        defer { first.stop(gracePeriod: 1) }
        var configuration = self.configuration()
        configuration.port = first.port
        let second = try HTTPServer(configuration: configuration, handler: ServerTestHandler.echo())
        XCTAssertThrowsError(try second.start()) { error in
            guard case .startFailed(let text)? = error as? HTTPServerError else { return XCTFail("\(error)") }
            XCTAssertTrue(text.contains("Address already in use"), text)
        }
    }

    func testHeadersAreOrderedAndCaseInsensitive() {
        var headers: HTTPHeaders = ["Content-Type": "text/xml", "X-A": "1"]
        headers.add(name: "x-a", value: "2")
        XCTAssertEqual(headers["CONTENT-TYPE"], "text/xml")
        XCTAssertEqual(headers.values(for: "X-a"), ["1", "2"])
        headers["X-A"] = "3"
        XCTAssertEqual(headers.map(\.name), ["Content-Type", "X-A"])
        XCTAssertEqual(headers.values(for: "x-a"), ["3"])
        headers["content-type"] = nil
        XCTAssertFalse(headers.contains("Content-Type"))
        XCTAssertEqual(headers, ["x-a": "3"])
    }
}

/// Collects logger messages from server threads.
final class ServerTestLog: @unchecked Sendable {
    // @unchecked: `messages` is guarded by `lock`.
    private let lock = NSLock()
    private var messages: [String] = []

    func append(_ message: String) {
        self.lock.withLock { self.messages.append(message) }
    }

    var all: [String] { self.lock.withLock { self.messages } }
}

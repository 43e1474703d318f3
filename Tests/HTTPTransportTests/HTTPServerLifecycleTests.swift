import Foundation
import HTTPServer
import XCTest

/// Graceful stop: requests in flight finish, new connections are refused.
final class HTTPServerLifecycleTests: XCTestCase {
    private var directory: ServerTestDirectory!

    override func setUpWithError() throws {
        self.directory = try ServerTestDirectory()
    }

    override func tearDown() {
        self.directory.remove()
    }

    /// Waits up to `seconds` for `condition`.
    private func eventually(_ seconds: Double = 5, _ condition: () -> Bool) -> Bool {
        let deadline = Date(timeIntervalSinceNow: seconds)
        while !condition() {
            guard Date() < deadline else { return false }
            usleep(5_000)
        }
        return true
    }

    func testGracefulStopLetsTheRequestInFlightFinish() throws {
        let entered = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        let handler = ServerTestHandler { request in
            entered.signal()
            _ = release.wait(timeout: .now() + 5)
            return .text(200, "finished \(request.head.path)")
        }
        let (server, base) = try startTestServer(HTTPServerConfiguration(spoolDirectory: self.directory.path), handler: handler)
        let port = server.port

        let inFlight = try ServerTestCurl.start(["--data-binary", "in flight", base + "/slow"])
        XCTAssertEqual(entered.wait(timeout: .now() + 5), .success, "the handler was reached")

        let stopped = DispatchSemaphore(value: 0)
        let stopper = Thread {
            server.stop(gracePeriod: 5)
            stopped.signal()
        }
        stopper.start()
        XCTAssertTrue(self.eventually { !server.isAcceptingConnections })

        // While the slow request is still in its handler, a new connection is refused...
        let refused = try ServerTestCurl.run(["--connect-timeout", "2", "http://127.0.0.1:\(port)/"])
        XCTAssertEqual(refused.exitCode, 7, "connection refused expected: \(refused.errorText)")
        XCTAssertEqual(stopped.wait(timeout: .now() + 0.2), .timedOut, "stop waits for the request in flight")

        // ...and once the handler returns, its response still arrives and stop completes.
        release.signal()
        let result = inFlight.wait()
        XCTAssertEqual(result.status, 200, result.errorText)
        XCTAssertEqual(result.text, "finished /slow")
        XCTAssertEqual(result.headers["Connection"], "close")
        XCTAssertEqual(stopped.wait(timeout: .now() + 5), .success)

        let afterwards = try ServerTestCurl.run(["--connect-timeout", "2", "http://127.0.0.1:\(port)/"])
        XCTAssertEqual(afterwards.exitCode, 7, afterwards.errorText)
        XCTAssertEqual(handler.requests.count, 1)
    }

    /// A request that arrives while the server drains, on a connection opened before the stop,
    /// is answered 503 with `Retry-After` (a few seconds: the node restarts, or another answers),
    /// so the sender neither treats it as final nor waits its own long back-off; a handler's own
    /// `Retry-After` is kept.
    func testARequestWhileStoppingGets503WithRetryAfter() throws {
        struct Handler: HTTPHandler {
            let ownRetryAfter: String?
            let uploadBegan: DispatchSemaphore
            func admit(_ head: HTTPRequestHead) -> HTTPResponse? {
                if head.path == "/upload" { uploadBegan.signal() }
                return nil
            }
            func handle(_ request: HTTPRequest) -> HTTPResponse { .empty(204) }
            func refused(_ head: HTTPRequestHead, status: Int, reason: String) -> HTTPResponse {
                var response = HTTPResponse.text(status, reason + "\n")
                if let ownRetryAfter { response.headers["Retry-After"] = ownRetryAfter }
                return response
            }
        }
        for own in [nil, "30"] {
            let uploadBegan = DispatchSemaphore(value: 0)
            let (server, _) = try startTestServer(HTTPServerConfiguration(spoolDirectory: self.directory.path),
                                                  handler: Handler(ownRetryAfter: own, uploadBegan: uploadBegan))
            let open = try XCTUnwrap(ServerTestSocket.connect(port: server.port))
            defer { open.close() }
            XCTAssertTrue(open.send("GET /first HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"))
            XCTAssertTrue(open.receive(timeout: 5).hasPrefix("HTTP/1.1 204"))
            // An upload still arriving keeps the stop draining without holding a pool thread (a
            // handler blocking its thread could hold the one that serves the open connection).
            let uploading = try XCTUnwrap(ServerTestSocket.connect(port: server.port))
            defer { uploading.close() }
            XCTAssertTrue(uploading.send("POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 6\r\n\r\nabc"))
            XCTAssertEqual(uploadBegan.wait(timeout: .now() + 30), .success, "the server has the upload's head")
            let stopped = DispatchSemaphore(value: 0)
            Thread { server.stop(gracePeriod: 60); stopped.signal() }.start()
            XCTAssertTrue(self.eventually { !server.isAcceptingConnections })

            XCTAssertTrue(open.send("GET /second HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"))
            let answer = open.receive(timeout: 15)
            XCTAssertTrue(answer.hasPrefix("HTTP/1.1 503"), answer)
            let retryAfter = answer.components(separatedBy: "\r\n").first { $0.lowercased().hasPrefix("retry-after:") }
            XCTAssertEqual(retryAfter, "Retry-After: \(own ?? String(HTTPServer.retryAfterWhileStoppingSeconds))", answer)
            XCTAssertTrue(uploading.send("def"))
            XCTAssertTrue(uploading.receive(timeout: 15).hasPrefix("HTTP/1.1 204"), "the upload under way is still served")
            XCTAssertEqual(stopped.wait(timeout: .now() + 30), .success)
        }
        XCTAssertEqual(HTTPServer.retryAfterWhileStoppingSeconds, 5, "docs/CONFIG.md (shutdownGraceSeconds) names this value")
    }

    func testStopGivesUpWaitingAfterTheGracePeriod() throws {
        let entered = DispatchSemaphore(value: 0)
        let handler = ServerTestHandler { _ in
            entered.signal()
            usleep(1_500_000)
            return .empty(204)
        }
        let log = ServerTestLog()
        let configuration = HTTPServerConfiguration(spoolDirectory: self.directory.path, logger: { log.append($0) })
        let (server, base) = try startTestServer(configuration, handler: handler)
        let inFlight = try ServerTestCurl.start([base + "/slow"])
        XCTAssertEqual(entered.wait(timeout: .now() + 5), .success)

        let started = Date()
        let clean = server.stop(gracePeriod: 0.1)
        let elapsed = Date().timeIntervalSince(started)
        // The grace period holds: stop does not wait for the handler, which cannot be interrupted...
        XCTAssertFalse(clean, "a handler was still running")
        XCTAssertLessThan(elapsed, 0.8)
        XCTAssertTrue(log.all.contains { $0.contains("still in flight") && $0.contains("1 handler(s) running") }, "\(log.all)")
        XCTAssertFalse(server.isAcceptingConnections)
        XCTAssertEqual(server.port, 0)
        // ...and once it returns, its connection is closed without the response.
        let result = inFlight.wait()
        XCTAssertEqual(result.status, 0, "the late request's connection is closed without a response")
    }

    func testIdleServerStopsAtOnce() throws {
        let (server, base) = try startTestServer(HTTPServerConfiguration(spoolDirectory: self.directory.path),
                                                 handler: ServerTestHandler.echo())
        XCTAssertEqual(try ServerTestCurl.run([base + "/"]).status, 204)
        let started = Date()
        server.stop(gracePeriod: 10)
        XCTAssertLessThan(Date().timeIntervalSince(started), 1)
        server.stop(gracePeriod: 10)  // a second stop is a no-op
    }
}

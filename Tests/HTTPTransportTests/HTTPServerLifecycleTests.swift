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

import Foundation
import HTTPServer
import XCTest

/// The floor under a body's arrival rate: a client that drips its body (each byte within the
/// inactivity timeout) is cut off once the grace is over, its spool file removed, and reported;
/// a body that keeps above the floor, a slow start within the grace, and a handler slower than the
/// grace are served. Small settings (grace 1 s, floor 1,000 B/s) keep each test to a few seconds.
final class HTTPServerBodyProgressTests: XCTestCase {
    private var directory: ServerTestDirectory!

    override func setUpWithError() throws {
        self.directory = try ServerTestDirectory()
    }

    override func tearDown() {
        self.directory.remove()
    }

    private func configuration(floor: UInt64, grace: Double, warnings: ServerTestLog) -> HTTPServerConfiguration {
        var configuration = HTTPServerConfiguration(spoolDirectory: self.directory.path, inMemoryBodyLimit: 16, connectionTimeout: 30,
                                                    minimumBodyBytesPerSecond: floor, bodyGracePeriod: grace, refusalLogInterval: 60)
        configuration.warningLogger = { warnings.append($0) }
        return configuration
    }

    /// Sends a head announcing `length` bytes and the first 200 of them (spooled: over the
    /// in-memory limit), then waits for the spool file to appear.
    private func startUpload(to server: HTTPServer, length: Int) throws -> ServerTestSocket {
        let spooled = self.directory.contents().count
        let client = try XCTUnwrap(ServerTestSocket.connect(port: server.port))
        XCTAssertTrue(client.send("POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: \(length)\r\n\r\n" + String(repeating: "x", count: 200)))
        let spooledBy = Date(timeIntervalSinceNow: 2)
        while self.directory.contents().count == spooled, Date() < spooledBy { usleep(10_000) }
        return client
    }

    /// One byte every 250 ms (each well within the 30 s inactivity timeout): before the floor such
    /// a client kept its connection, its pool thread's attention and its spool file until its body
    /// reached the limit. Now it is closed shortly after the 1 s grace, without an answer, the
    /// spool file goes with it, and two such clients make one report.
    func testADrippingBodyIsCutOffAfterTheGraceAndItsSpoolFileRemoved() throws {
        let warnings = ServerTestLog()
        let handler = ServerTestHandler { _ in .text(200, "served") }
        let (server, _) = try startTestServer(self.configuration(floor: 1000, grace: 1, warnings: warnings), handler: handler)
        defer { server.stop(gracePeriod: 0) }

        let clients = [try self.startUpload(to: server, length: 100_000), try self.startUpload(to: server, length: 100_000)]
        defer { clients.forEach { $0.close() } }
        XCTAssertEqual(self.directory.contents().count, 2, "both bodies are being spooled")
        let started = Date()
        var open = clients
        var answers = ""
        while !open.isEmpty, Date().timeIntervalSince(started) < 6 {
            usleep(250_000)
            open = open.filter { client in
                guard client.send("x"), !client.isClosedByPeer() else {
                    answers += client.receive(timeout: 0.1)
                    return false
                }
                return true
            }
        }
        // Without the floor nothing ends these connections before the 30 s inactivity timeout or
        // the body's end (100,000 bytes at 4 a second); 6 s tells the two apart without asking a
        // loaded machine to be quick.
        XCTAssertTrue(open.isEmpty, "\(open.count) dripping connection(s) still open after 6 s")
        XCTAssertFalse(answers.contains("HTTP/1.1"), "a cut-off gets no answer: \(answers)")
        XCTAssertEqual(handler.requests.count, 0)

        let removedBy = Date(timeIntervalSinceNow: 2)
        while !self.directory.contents().isEmpty, Date() < removedBy { usleep(10_000) }
        XCTAssertEqual(self.directory.contents(), [], "spool files left behind")

        let reportBy = Date(timeIntervalSinceNow: 2)
        while !warnings.all.contains(where: { $0.contains("request body arrived slower") }), Date() < reportBy { usleep(10_000) }
        usleep(500_000)  // a second line, were there one per connection, would follow at once
        let reports = warnings.all.filter { $0.contains("request body arrived slower") }
        XCTAssertEqual(reports.count, 1, "one report for both connections: \(warnings.all)")
        XCTAssertTrue(reports.first?.contains("slower than 1000 bytes/s (averaged after a grace of 1.0 s)") ?? false, "\(reports)")
        XCTAssertTrue(reports.first?.hasPrefix("closed 1 connection(s)") ?? false, "the first is reported at once, the second counted: \(reports)")

        // The listener serves others as before.
        let result = try ServerTestCurl.run(["--data-binary", "hello", "http://127.0.0.1:\(server.port)/"])
        XCTAssertEqual(result.status, 200, result.errorText)
    }

    /// A body that starts late (within the grace) and then keeps above the floor is served in full,
    /// and so is a small body whose handler takes longer than the grace: the handler's time is not
    /// the body's. Nothing is reported.
    func testABodyAboveTheFloorAndASlowHandlerAreServed() throws {
        let warnings = ServerTestLog()
        let handler = ServerTestHandler { request in
            if request.head.path == "/slow" { usleep(2_500_000) }
            switch request.body {
            case .empty: return .text(200, "0")
            case .bytes(let bytes): return .text(200, "\(bytes.count)")
            case .file(_, let length): return .text(200, "\(length)")
            }
        }
        let (server, base) = try startTestServer(self.configuration(floor: 1000, grace: 1, warnings: warnings), handler: handler)
        defer { server.stop(gracePeriod: 0) }

        let client = try XCTUnwrap(ServerTestSocket.connect(port: server.port))
        defer { client.close() }
        XCTAssertTrue(client.send("POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 9000\r\n\r\n"))
        usleep(800_000)  // nothing yet, within the grace
        // 300 bytes every 100 ms: about 3,000 B/s for 3 s, three times the floor.
        for _ in 0..<30 {
            XCTAssertTrue(client.send(String(repeating: "y", count: 300)), "cut off while above the floor")
            usleep(100_000)
        }
        let answer = client.receive(timeout: 5)
        XCTAssertTrue(answer.hasPrefix("HTTP/1.1 200"), answer)
        XCTAssertEqual(handler.requests.count, 1)
        XCTAssertEqual(handler.requests.first.map { request -> UInt64 in
            if case .file(_, let length) = request.body { return length }
            return 0
        }, 9000)

        let slow = try ServerTestCurl.run(["--max-time", "10", "--data-binary", "hello", base + "/slow"])
        XCTAssertEqual(slow.status, 200, slow.errorText)
        XCTAssertEqual(slow.text, "5")
        usleep(500_000)  // a report, were there one, follows the watchdog's tick
        XCTAssertEqual(warnings.all, [])
    }

    /// Floor 0 turns the bound off: the dripping client keeps its connection past the grace, as
    /// before (the inactivity timeout is its only limit).
    func testNoFloorLeavesADrippingBodyToTheInactivityTimeout() throws {
        let warnings = ServerTestLog()
        let (server, _) = try startTestServer(self.configuration(floor: 0, grace: 1, warnings: warnings),
                                              handler: ServerTestHandler { _ in .text(200, "served") })
        defer { server.stop(gracePeriod: 0) }
        let client = try self.startUpload(to: server, length: 100_000)
        defer { client.close() }
        for _ in 0..<10 {
            usleep(250_000)
            XCTAssertTrue(client.send("x"))
        }
        XCTAssertFalse(client.isClosedByPeer())
        XCTAssertEqual(self.directory.contents().count, 1)
        XCTAssertEqual(warnings.all, [])
    }
}

import Foundation
import HTTPServer
import XCTest

/// Slow and idle clients must not starve the listener: per-client connection limit, request head
/// deadline, inactivity timeout not counting handler time, strict framing.
final class HTTPServerConnectionLimitTests: XCTestCase {
    private var directory: ServerTestDirectory!

    override func setUpWithError() throws {
        self.directory = try ServerTestDirectory()
    }

    override func tearDown() {
        self.directory.remove()
    }

    /// More idle connections from 127.0.0.1 than the per-client limit (and than the total): a
    /// client from another address (127.0.0.2) still gets its answer at once, and the refusals are
    /// reported once, not once per connection.
    func testIdleConnectionsFromOneClientDoNotStarveOthers() throws {
        let warnings = ServerTestLog()
        var configuration = HTTPServerConfiguration(spoolDirectory: self.directory.path, connectionTimeout: 60,
                                                    maxConnections: 40, maxConnectionsPerClient: 4,
                                                    requestHeadTimeout: 0, refusalLogInterval: 60)
        configuration.warningLogger = { warnings.append($0) }
        let (server, base) = try startTestServer(configuration, handler: ServerTestHandler { _ in .text(200, "served") })
        defer { server.stop(gracePeriod: 0) }

        let idle = (0..<50).compactMap { _ in ServerTestSocket.connect(port: server.port) }
        defer { idle.forEach { $0.close() } }
        XCTAssertEqual(idle.count, 50, "the kernel accepts the TCP handshakes")
        usleep(300_000)  // let MHD accept (and refuse) them

        let started = Date()
        let result = try ServerTestCurl.run(["--interface", "127.0.0.2", "--max-time", "5", base + "/"])
        XCTAssertEqual(result.status, 200, result.errorText)
        XCTAssertEqual(result.text, "served")
        XCTAssertLessThan(Date().timeIntervalSince(started), 2)

        let reports = warnings.all.filter { $0.contains("connection limit") }
        XCTAssertEqual(reports.count, 1, "\(warnings.all)")
        XCTAssertTrue(reports.first?.contains("4 per client address") ?? false, "\(reports)")
    }

    /// A client dripping header lines (each within the inactivity timeout) is cut off at the head deadline.
    func testDrippingHeadIsClosedAtTheDeadline() throws {
        let warnings = ServerTestLog()
        var configuration = HTTPServerConfiguration(spoolDirectory: self.directory.path, connectionTimeout: 30,
                                                    requestHeadTimeout: 1, refusalLogInterval: 60)
        configuration.warningLogger = { warnings.append($0) }
        let handler = ServerTestHandler { _ in .text(200, "served") }
        let (server, _) = try startTestServer(configuration, handler: handler)
        defer { server.stop(gracePeriod: 0) }

        let client = try XCTUnwrap(ServerTestSocket.connect(port: server.port))
        defer { client.close() }
        let started = Date()
        var closed = !client.send("POST / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        while !closed, Date().timeIntervalSince(started) < 6 {
            usleep(250_000)
            closed = !client.send("X-Drip: \(Int(Date().timeIntervalSince(started) * 1000))\r\n") || client.isClosedByPeer()
        }
        XCTAssertTrue(closed, "the connection is still open after 6 s")
        XCTAssertLessThan(Date().timeIntervalSince(started), 3)
        XCTAssertEqual(handler.admitCount, 0)
        // The report follows the shutdown, so it may come a moment after the client saw the close.
        let reportBy = Date(timeIntervalSinceNow: 2)
        while !warnings.all.contains(where: { $0.contains("no complete request head within") }), Date() < reportBy { usleep(10_000) }
        XCTAssertTrue(warnings.all.contains { $0.contains("no complete request head within") }, "\(warnings.all)")

        // A normal request on a new connection is unaffected.
        let result = try ServerTestCurl.run(["http://127.0.0.1:\(server.port)/"])
        XCTAssertEqual(result.status, 200, result.errorText)
    }

    /// A client's kept-alive connection between requests is no slow head: it may wait longer
    /// than the head timeout (up to the inactivity timeout) and send its next request, MHD
    /// closes it once idle for the inactivity timeout, and none of that is reported. Before,
    /// every kept-alive connection was cut at the head timeout and logged as a refusal.
    func testAKeptAliveConnectionIdlesUntilTheInactivityTimeoutUnreported() throws {
        let warnings = ServerTestLog()
        var configuration = HTTPServerConfiguration(spoolDirectory: self.directory.path, connectionTimeout: 3,
                                                    requestHeadTimeout: 1, refusalLogInterval: 60)
        configuration.warningLogger = { warnings.append($0) }
        let handler = ServerTestHandler { _ in .text(200, "served") }
        let (server, _) = try startTestServer(configuration, handler: handler)
        defer { server.stop(gracePeriod: 0) }

        let client = try XCTUnwrap(ServerTestSocket.connect(port: server.port))
        defer { client.close() }
        XCTAssertTrue(client.send("GET /one HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"))
        XCTAssertTrue(client.receive(timeout: 5).contains("HTTP/1.1 200"))
        usleep(2_000_000)  // past the head timeout, within the inactivity timeout
        XCTAssertFalse(client.isClosedByPeer(), "closed at the head timeout")
        XCTAssertTrue(client.send("GET /two HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"))
        XCTAssertTrue(client.receive(timeout: 5).contains("HTTP/1.1 200"))
        XCTAssertEqual(handler.requests.count, 2)

        // Idle now: MHD closes it after its inactivity timeout, and that is no refusal.
        let idleSince = Date()
        while !client.isClosedByPeer(), Date().timeIntervalSince(idleSince) < 8 { usleep(100_000) }
        XCTAssertTrue(client.isClosedByPeer(), "still open after 8 s idle")
        usleep(1_500_000)  // a report, were there one, follows the watchdog's tick
        XCTAssertEqual(warnings.all, [])
    }

    /// A kept-alive connection dripping its next head is still cut off (by the inactivity
    /// timeout plus the head timeout after its previous response), and that is reported.
    func testAKeptAliveConnectionDrippingItsNextHeadIsClosedAndReported() throws {
        let warnings = ServerTestLog()
        var configuration = HTTPServerConfiguration(spoolDirectory: self.directory.path, connectionTimeout: 2,
                                                    requestHeadTimeout: 1, refusalLogInterval: 60)
        configuration.warningLogger = { warnings.append($0) }
        let handler = ServerTestHandler { _ in .text(200, "served") }
        let (server, _) = try startTestServer(configuration, handler: handler)
        defer { server.stop(gracePeriod: 0) }

        let client = try XCTUnwrap(ServerTestSocket.connect(port: server.port))
        defer { client.close() }
        XCTAssertTrue(client.send("GET /one HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"))
        XCTAssertTrue(client.receive(timeout: 5).contains("HTTP/1.1 200"))
        let started = Date()
        var closed = !client.send("POST / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        while !closed, Date().timeIntervalSince(started) < 10 {
            usleep(250_000)
            closed = !client.send("X-Drip: \(Int(Date().timeIntervalSince(started) * 1000))\r\n") || client.isClosedByPeer()
        }
        XCTAssertTrue(closed, "the connection is still open after 10 s")
        XCTAssertLessThan(Date().timeIntervalSince(started), 5.5)
        XCTAssertEqual(handler.requests.count, 1)
        let reportBy = Date(timeIntervalSinceNow: 2)
        while !warnings.all.contains(where: { $0.contains("kept-alive connection(s) that sent no complete request head") }), Date() < reportBy {
            usleep(10_000)
        }
        XCTAssertTrue(warnings.all.contains { $0.contains("kept-alive connection(s) that sent no complete request head within 3.0 s") }, "\(warnings.all)")
    }

    /// The handler's time is not inactivity: a handler slower than the timeout still gets its
    /// response to the client.
    func testHandlerSlowerThanTheInactivityTimeoutIsAnswered() throws {
        let configuration = HTTPServerConfiguration(spoolDirectory: self.directory.path, connectionTimeout: 1)
        let (server, base) = try startTestServer(configuration, handler: ServerTestHandler { _ in
            usleep(2_500_000)
            return .text(200, "slow but sure")
        })
        defer { server.stop(gracePeriod: 0) }
        let result = try ServerTestCurl.run(["--data-binary", "x", base + "/"])
        XCTAssertEqual(result.status, 200, result.errorText)
        XCTAssertEqual(result.text, "slow but sure")
    }

    /// RFC 9112 §6.3: two different Content-Length values are refused with 400, the body unread.
    func testConflictingContentLengthsAreRefused() throws {
        let handler = ServerTestHandler { _ in .text(200, "processed") }
        let (server, _) = try startTestServer(HTTPServerConfiguration(spoolDirectory: self.directory.path), handler: handler)
        defer { server.stop(gracePeriod: 0) }
        let client = try XCTUnwrap(ServerTestSocket.connect(port: server.port))
        defer { client.close() }
        XCTAssertTrue(client.send("POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"))
        let answer = client.receive(timeout: 5)
        XCTAssertTrue(answer.hasPrefix("HTTP/1.1 400"), answer)
        XCTAssertEqual(handler.requests.count, 0)

        // The same value twice is one length (RFC 9112 allows accepting it).
        let same = try XCTUnwrap(ServerTestSocket.connect(port: server.port))
        defer { same.close() }
        XCTAssertTrue(same.send("POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello"))
        XCTAssertTrue(same.receive(timeout: 5).hasPrefix("HTTP/1.1 200"))
    }

    /// RFC 9112 §6.1: Content-Length beside Transfer-Encoding is refused with 400 and the
    /// connection closed, so a request smuggled behind the body is never answered; a transfer
    /// coding other than chunked alone gets 501.
    func testAmbiguousOrUnsupportedTransferFramingIsRefusedAndTheConnectionClosed() throws {
        let handler = ServerTestHandler { _ in .text(200, "processed") }
        let (server, _) = try startTestServer(HTTPServerConfiguration(spoolDirectory: self.directory.path), handler: handler)
        defer { server.stop(gracePeriod: 0) }

        let chunked = "b\r\n{\"upTo\": 1}\r\n0\r\n\r\n"
        let smuggled = "GET /smuggled HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        let client = try XCTUnwrap(ServerTestSocket.connect(port: server.port))
        defer { client.close() }
        XCTAssertTrue(client.send("POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: \(chunked.utf8.count)\r\n"
                                  + "Transfer-Encoding: chunked\r\n\r\n" + chunked + smuggled))
        let answer = client.receive(timeout: 5)
        XCTAssertTrue(answer.hasPrefix("HTTP/1.1 400"), answer)
        XCTAssertTrue(answer.lowercased().contains("connection: close"), answer)
        // Nothing more comes: no answer to the smuggled GET, and the server closes.
        let rest = client.receive(timeout: 2)
        XCTAssertFalse(rest.contains("HTTP/1.1"), rest)
        XCTAssertTrue(client.isClosedByPeer())
        XCTAssertEqual(handler.requests.count, 0)

        for coding in ["gzip", "gzip, chunked", "chunked, chunked", "identity"] {
            let other = try XCTUnwrap(ServerTestSocket.connect(port: server.port))
            defer { other.close() }
            XCTAssertTrue(other.send("POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: \(coding)\r\n\r\n" + chunked))
            let refused = other.receive(timeout: 5)
            XCTAssertTrue(refused.hasPrefix("HTTP/1.1 501"), "\(coding): \(refused)")
        }
        XCTAssertEqual(handler.requests.count, 0)

        // Chunked alone is still served.
        let plain = try XCTUnwrap(ServerTestSocket.connect(port: server.port))
        defer { plain.close() }
        XCTAssertTrue(plain.send("POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: Chunked\r\nConnection: close\r\n\r\n" + chunked))
        XCTAssertTrue(plain.receive(timeout: 5).hasPrefix("HTTP/1.1 200"))
        XCTAssertEqual(handler.requests.count, 1)
    }
}

/// A plain blocking TCP client socket for tests that need to misbehave at the byte level.
final class ServerTestSocket {
    private var descriptor: Int32

    private init(descriptor: Int32) {
        self.descriptor = descriptor
    }

    /// Connects to 127.0.0.1:`port`; nil when the connection fails.
    static func connect(port: UInt16) -> ServerTestSocket? {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { return nil }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            Glibc.close(descriptor)
            return nil
        }
        var noSignal: Int32 = 1
        _ = setsockopt(descriptor, SOL_SOCKET, SO_KEEPALIVE, &noSignal, socklen_t(MemoryLayout<Int32>.size))
        return ServerTestSocket(descriptor: descriptor)
    }

    /// Sends `text`; false when the peer has closed the connection.
    func send(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBytes { Glibc.send(self.descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } == bytes.count
    }

    /// Whether the peer has closed (a read would return end of file or an error at once).
    func isClosedByPeer() -> Bool {
        var poller = pollfd(fd: self.descriptor, events: Int16(POLLIN), revents: 0)
        guard poll(&poller, 1, 0) == 1 else { return false }
        var byte: UInt8 = 0
        return recv(self.descriptor, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT)) <= 0
    }

    /// Everything received until the peer closes or `timeout` seconds pass without data.
    func receive(timeout: Double) -> String {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            var poller = pollfd(fd: self.descriptor, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, Int32(timeout * 1000)) == 1 else { break }
            let count = recv(self.descriptor, &buffer, buffer.count, 0)
            guard count > 0 else { break }
            received += buffer[0..<count]
            if String(decoding: received, as: UTF8.self).contains("\r\n\r\n") { break }
        }
        return String(decoding: received, as: UTF8.self)
    }

    /// What a non-blocking send did.
    enum Offer {
        case sent
        /// The send buffer is full: the server is not reading.
        case wouldBlock
        case closedByPeer
    }

    /// Sends `text` without waiting for room in the send buffer.
    func offer(_ text: String) -> Offer {
        let bytes = Array(text.utf8)
        let sent = bytes.withUnsafeBytes { Glibc.send(self.descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
        if sent >= 0 { return .sent }
        return errno == EAGAIN || errno == EWOULDBLOCK ? .wouldBlock : .closedByPeer
    }

    /// Whatever has arrived, without waiting, and whether the peer has closed (end of file or reset).
    func drain() -> (bytes: [UInt8], ended: Bool) {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = recv(self.descriptor, &buffer, buffer.count, Int32(MSG_DONTWAIT))
            if count > 0 {
                received += buffer[0..<count]
                continue
            }
            return (received, count == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
        }
    }

    func close() {
        if self.descriptor >= 0 {
            Glibc.close(self.descriptor)
            self.descriptor = -1
        }
    }
}

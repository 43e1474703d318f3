import Foundation
import HTTPServer
import XCTest

/// The body of a request refused at its head (before any body byte is read) must cost no more
/// than the answer: the refusal is sent, then the connection closed, however the client goes on
/// sending (a drip, an endless chunked body, a body sent despite a refused `Expect: 100-continue`).
/// The floor is 1,000 B/s after 1 s and the inactivity timeout 30 s, so a connection still open
/// after 15 s of a drip is one neither bound governs.
final class HTTPServerRefusedBodyTests: XCTestCase {
    private var directory: ServerTestDirectory!

    override func setUpWithError() throws {
        self.directory = try ServerTestDirectory()
    }

    override func tearDown() {
        self.directory.remove()
    }

    private func startServer(maxBodyBytes: UInt64 = 1 << 20, warnings: ServerTestLog = ServerTestLog(),
                             tls: HTTPServerConfiguration.TLS? = nil) throws -> (HTTPServer, ServerTestHandler) {
        let handler = ServerTestHandler(admit: { head in
            guard head.path == "/as4" else { return .text(404, "no such endpoint") }
            guard head.headers["Authorization"] == "Bearer good" else { return .text(401, "a bearer token is required") }
            return nil
        }, handle: { request in .text(200, "served \(request.body.length)") })
        var configuration = HTTPServerConfiguration(tls: tls, maxBodyBytes: maxBodyBytes, spoolDirectory: self.directory.path,
                                                    inMemoryBodyLimit: 16 << 10, connectionTimeout: 30,
                                                    minimumBodyBytesPerSecond: 1000, bodyGracePeriod: 1, refusalLogInterval: 60)
        configuration.warningLogger = { warnings.append($0) }
        let (server, _) = try startTestServer(configuration, handler: handler)
        return (server, handler)
    }

    /// Sends `head`, then `piece` every `interval` µs (skipping a piece while the server's receive
    /// window is full) until the server closes the connection or `limit` seconds pass.
    private func keepSending(_ head: String, then piece: String, every interval: useconds_t, for limit: Double,
                             to server: HTTPServer) throws -> (answer: String, closed: Bool) {
        let client = try XCTUnwrap(ServerTestSocket.connect(port: server.port))
        defer { client.close() }
        XCTAssertTrue(client.send(head))
        var answer: [UInt8] = []
        let started = Date()
        while Date().timeIntervalSince(started) < limit {
            let (bytes, ended) = client.drain()
            answer += bytes
            if ended || client.offer(piece) == .closedByPeer {
                answer += client.drain().bytes
                return (String(decoding: answer, as: UTF8.self), true)
            }
            usleep(interval)
        }
        answer += client.drain().bytes
        return (String(decoding: answer, as: UTF8.self), false)
    }

    /// 401 from `admit` for a 1 MB body that then drips a byte every 200 ms: each byte is within
    /// the inactivity timeout, and none reaches the body floor.
    func testADripAfterARefusalAtTheHeadEndsWithTheConnection() throws {
        let (server, handler) = try self.startServer()
        defer { server.stop(gracePeriod: 0) }
        let head = "POST /as4 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000000\r\n\r\n"
        let (answer, closed) = try self.keepSending(head, then: "x", every: 200_000, for: 15, to: server)
        XCTAssertTrue(answer.hasPrefix("HTTP/1.1 401"), answer)
        XCTAssertTrue(answer.contains("\r\nConnection: close\r\n"), answer)
        XCTAssertTrue(answer.hasSuffix("a bearer token is required"), "the refusal's body arrives whole: \(answer)")
        XCTAssertTrue(closed, "the refused upload kept its connection for 15 s")
        XCTAssertEqual(handler.requests.count, 0)
        XCTAssertEqual(self.directory.contents(), [])
    }

    /// 404 for a chunked body that never ends, sent as fast as the server takes it.
    func testAnEndlessChunkedBodyAfterARefusalAtTheHeadEndsWithTheConnection() throws {
        let (server, handler) = try self.startServer()
        defer { server.stop(gracePeriod: 0) }
        let head = "POST /elsewhere HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        let chunk = "400\r\n" + String(repeating: "z", count: 0x400) + "\r\n"
        let (answer, closed) = try self.keepSending(head, then: String(repeating: chunk, count: 8), every: 2_000, for: 15, to: server)
        XCTAssertTrue(answer.hasPrefix("HTTP/1.1 404"), answer)
        XCTAssertTrue(answer.hasSuffix("no such endpoint"), answer)
        XCTAssertTrue(closed, "the refused chunked upload kept its connection for 15 s")
        XCTAssertEqual(handler.requests.count, 0)
    }

    /// A declared length over the limit with `Expect: 100-continue`: the 413 comes instead of the
    /// 100, and a client that sends its body anyway, slowly, is closed after it.
    func testABodySentDespiteARefused100ContinueEndsWithTheConnection() throws {
        let (server, handler) = try self.startServer(maxBodyBytes: 4096)
        defer { server.stop(gracePeriod: 0) }
        let head = "POST /as4 HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer good\r\nExpect: 100-continue\r\nContent-Length: 50000\r\n\r\n"
        let (answer, closed) = try self.keepSending(head, then: String(repeating: "y", count: 10), every: 100_000, for: 15, to: server)
        XCTAssertTrue(answer.hasPrefix("HTTP/1.1 413"), "no 100 Continue before the refusal: \(answer)")
        XCTAssertTrue(answer.contains("exceeds the limit of 4096 bytes"), answer)
        XCTAssertTrue(closed, "the body sent after the refusal kept its connection for 15 s")
        XCTAssertEqual(handler.admitCount, 1)
        XCTAssertEqual(handler.requests.count, 0)
    }

    /// A body that passes the limit while it is read is refused only when it ends (libmicrohttpd
    /// takes no answer before); meanwhile the bytes dropped still have to keep above the floor.
    func testADripAfterTheLimitIsPassedIsCutOffByTheFloor() throws {
        let warnings = ServerTestLog()
        let (server, handler) = try self.startServer(maxBodyBytes: 4096, warnings: warnings)
        defer { server.stop(gracePeriod: 0) }
        let head = "POST /as4 HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer good\r\nTransfer-Encoding: chunked\r\n\r\n"
            + "2000\r\n" + String(repeating: "w", count: 0x2000) + "\r\n"
        let (answer, closed) = try self.keepSending(head, then: "1\r\nw\r\n", every: 200_000, for: 15, to: server)
        XCTAssertEqual(answer, "", "cut off without an answer")
        XCTAssertTrue(closed, "the drip after the limit kept its connection for 15 s")
        XCTAssertEqual(handler.requests.count, 0)
        let reportBy = Date(timeIntervalSinceNow: 5)
        while !warnings.all.contains(where: { $0.contains("request body arrived slower") }), Date() < reportBy { usleep(10_000) }
        XCTAssertTrue(warnings.all.contains { $0.contains("request body arrived slower") }, "\(warnings.all)")
    }

    /// 403 over TLS for a missing client certificate (the server requires one), then a drip:
    /// `openssl s_client` carries it and ends when the server closes.
    func testADripAfterAClientCertificateRefusalOverTLSEndsWithTheConnection() throws {
        let pki = ServerTestPKI.shared
        let pkiDirectory = try ServerTestDirectory()
        defer { pkiDirectory.remove() }
        let files = try pki.write(to: pkiDirectory)
        let tls = HTTPServerConfiguration.TLS(certificateChainPEM: try pki.server.certificate.pemEncoded(),
                                              privateKeyPEM: try pki.server.key.pemEncoded(),
                                              clientAuthentication: .required(try pki.validator()))
        let (server, handler) = try self.startServer(tls: tls)
        defer { server.stop(gracePeriod: 0) }

        // The client's input is one end of a socket pair, so that writing after it has exited
        // fails with an error instead of SIGPIPE.
        var ends: [Int32] = [-1, -1]
        XCTAssertEqual(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &ends), 0)
        defer { close(ends[0]) }
        let output = Pipe()
        let client = Process()
        client.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        client.arguments = ["s_client", "-quiet", "-connect", "127.0.0.1:\(server.port)", "-servername", "localhost",
                            "-CAfile", files.caCertificate]
        client.standardInput = FileHandle(fileDescriptor: ends[1], closeOnDealloc: true)
        client.standardOutput = output
        client.standardError = FileHandle.nullDevice
        try client.run()
        defer { if client.isRunning { client.terminate() } }
        func write(_ text: String) -> Bool {
            Array(text.utf8).withUnsafeBytes { send(ends[0], $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } == text.utf8.count
        }
        XCTAssertTrue(write("POST /as4 HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer good\r\nContent-Length: 1000000\r\n\r\n"))
        let started = Date()
        while client.isRunning, Date().timeIntervalSince(started) < 15 {
            _ = write("x")
            usleep(200_000)
        }
        XCTAssertFalse(client.isRunning, "the refused upload kept its TLS connection for 15 s")
        if client.isRunning { client.terminate() }
        client.waitUntilExit()
        let answer = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertTrue(answer.hasPrefix("HTTP/1.1 403"), answer)
        XCTAssertTrue(answer.contains("\r\nConnection: close\r\n"), answer)
        XCTAssertEqual(handler.admitCount, 0, "refused before admit()")
    }

    /// Chunk framing is not body: chunks of one byte behind long extensions arrive at twice the
    /// floor on the wire but at 10 B/s of body, and are cut off after the grace like any drip.
    func testChunkFramingBuysNoTime() throws {
        let warnings = ServerTestLog()
        let (server, handler) = try self.startServer(warnings: warnings)
        defer { server.stop(gracePeriod: 0) }
        let head = "POST /as4 HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer good\r\nTransfer-Encoding: chunked\r\n\r\n"
        let chunk = "1;note=" + String(repeating: "n", count: 190) + "\r\nv\r\n"
        let (answer, closed) = try self.keepSending(head, then: chunk, every: 100_000, for: 15, to: server)
        XCTAssertEqual(answer, "", "cut off without an answer")
        XCTAssertTrue(closed, "chunk framing at twice the floor kept the connection for 15 s")
        XCTAssertEqual(handler.requests.count, 0)
        let reportBy = Date(timeIntervalSinceNow: 5)
        while !warnings.all.contains(where: { $0.contains("request body arrived slower") }), Date() < reportBy { usleep(10_000) }
        XCTAssertTrue(warnings.all.contains { $0.contains("request body arrived slower") }, "\(warnings.all)")
    }

    /// What the bound must not cost: a kept-alive connection serves one accepted request after
    /// another, bodies included.
    func testAcceptedRequestsKeepTheirConnectionAlive() throws {
        let (server, handler) = try self.startServer()
        defer { server.stop(gracePeriod: 0) }
        let client = try XCTUnwrap(ServerTestSocket.connect(port: server.port))
        defer { client.close() }
        for round in 1...3 {
            XCTAssertTrue(client.send("POST /as4 HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer good\r\nContent-Length: 5\r\n\r\nhello"))
            let deadline = Date(timeIntervalSinceNow: 10)
            var answer = ""
            while !answer.hasSuffix("served 5"), Date() < deadline {
                let (bytes, ended) = client.drain()
                answer += String(decoding: bytes, as: UTF8.self)
                if ended { break }
                usleep(10_000)
            }
            XCTAssertTrue(answer.hasPrefix("HTTP/1.1 200"), "round \(round): \(answer)")
            XCTAssertFalse(answer.lowercased().contains("connection: close"), "round \(round): \(answer)")
        }
        XCTAssertFalse(client.isClosedByPeer())
        XCTAssertEqual(handler.requests.count, 3)
    }
}

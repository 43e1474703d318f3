import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// Runs `Fixtures/http_client_fixture_server.py` (Python standard library) in a subprocess:
/// four loopback listeners (plain, TLS, TLS requiring a client certificate, TLS with a
/// certificate for another host name) and the PKI it generated with the openssl CLI.
final class HTTPClientFixtureServer {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/http_client_fixture_server.py").path

    let directory: URL
    private let process = Process()
    private let input = Pipe()
    private var ports: [String: Int] = [:]

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("as4gw-httpclient-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let output = Pipe()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", Self.script, directory.path]
        process.standardInput = input
        process.standardOutput = output
        _ = FileManager.default.createFile(atPath: directory.appendingPathComponent("stderr.txt").path, contents: nil)
        process.standardError = try FileHandle(forWritingTo: directory.appendingPathComponent("stderr.txt"))
        try process.run()
        let line = try Self.readLine(output.fileHandleForReading, timeout: 20)
        guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Int] else {
            throw FixtureError("unexpected fixture output: \(line)")
        }
        ports = object
    }

    /// The process exits when its stdin closes; terminate() is the backstop.
    func stop() {
        try? input.fileHandleForWriting.close()
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        try? FileManager.default.removeItem(at: directory)
    }

    var processIdentifier: Int32 { process.processIdentifier }
    var isRunning: Bool { process.isRunning }

    /// `listener` is "http", "https", "mtls" or "wrongname".
    func port(_ listener: String) -> Int { ports[listener] ?? 0 }

    /// `target` is the path and query.
    func url(_ listener: String, _ target: String = "/") -> String {
        let scheme = listener == "http" ? "http" : "https"
        return "\(scheme)://127.0.0.1:\(port(listener))\(target)"
    }

    /// A file of the fixture PKI: ca.pem, other-ca.pem, client.pem, client.key, server.pem, …
    func file(_ name: String) -> String { directory.appendingPathComponent(name).path }

    private static func readLine(_ handle: FileHandle, timeout: Double) throws -> String {
        let deadline = Date().addingTimeInterval(timeout)
        var bytes: [UInt8] = []
        while !bytes.contains(UInt8(ascii: "\n")) {
            let remaining = deadline.timeIntervalSinceNow
            guard remaining > 0 else { throw FixtureError("fixture server did not start within \(timeout) s") }
            var descriptor = pollfd(fd: handle.fileDescriptor, events: Int16(POLLIN), revents: 0)
            guard poll(&descriptor, 1, Int32(remaining * 1000)) > 0 else { continue }
            let chunk = handle.availableData
            guard !chunk.isEmpty else { throw FixtureError("fixture server exited before listening") }
            bytes.append(contentsOf: chunk)
        }
        return String(decoding: bytes.prefix { $0 != UInt8(ascii: "\n") }, as: UTF8.self)
    }
}

struct FixtureError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// The fixture's JSON answer to a request without `size=`.
struct FixtureEcho: Decodable {
    let method: String
    let path: String
    let length: Int
    let sha256: String
    let headers: [String: String]
    let connection: Int
    let clientCN: String?

    init(_ body: [UInt8]) throws {
        self = try JSONDecoder().decode(FixtureEcho.self, from: Data(body))
    }
}

/// Base class: one fixture server per test class, started in `setUp()` of the class and
/// stopped in its `tearDown()`.
class HTTPClientFixtureTestCase: XCTestCase {
    nonisolated(unsafe) private static var current: HTTPClientFixtureServer?
    nonisolated(unsafe) private static var startError: Error?

    var server: HTTPClientFixtureServer {
        get throws {
            if let current = Self.current { return current }
            throw Self.startError ?? FixtureError("fixture server not started")
        }
    }

    override class func setUp() {
        super.setUp()
        do { current = try HTTPClientFixtureServer() } catch { startError = error }
    }

    override class func tearDown() {
        current?.stop()
        current = nil
        startError = nil
        super.tearDown()
    }
}

final class HTTPClientFixtureTests: XCTestCase {
    /// The server must not outlive a test process that dies without tearDown: it exits on stdin EOF.
    func testFixtureExitsWhenStdinCloses() throws {
        let server = try HTTPClientFixtureServer()
        defer { server.stop() }
        XCTAssertTrue(FileManager.default.fileExists(atPath: server.file("ca.pem")))
        XCTAssertTrue(server.isRunning)
        server.closeInput()
        let deadline = Date().addingTimeInterval(5)
        while server.isRunning && Date() < deadline { usleep(20_000) }
        XCTAssertFalse(server.isRunning, "fixture server \(server.processIdentifier) ignored stdin EOF")
    }
}

extension HTTPClientFixtureServer {
    func closeInput() { try? input.fileHandleForWriting.close() }
}

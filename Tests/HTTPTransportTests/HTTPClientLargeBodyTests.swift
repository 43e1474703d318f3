import AS4Crypto
import Foundation
import HTTPClient
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// File bodies are streamed by the read callback: a 50 MB upload arrives intact and the
/// client's resident memory hardly grows while it is sent.
final class HTTPClientLargeBodyTests: HTTPClientFixtureTestCase {
    static let fileSize = 50 << 20

    func testFiftyMegabyteFileIsStreamedNotLoaded() throws {
        let server = try server
        let path = server.file("large-body.bin")
        let expectedDigest = try Self.writeFile(path: path, size: Self.fileSize)
        defer { try? FileManager.default.removeItem(atPath: path) }

        var configuration = HTTPClientConfiguration()
        configuration.totalTimeout = 20
        let client = try HTTPClient(configuration: configuration)
        _ = try client.get(url: server.url("http"), headers: [])  // warm up: handle, connection, buffers

        let sampler = ResidentMemorySampler()
        let baseline = ResidentMemorySampler.residentBytes()
        sampler.start()
        let response = try client.post(url: server.url("http", "/large"), headers: [("Content-Type", "application/octet-stream")],
                                       body: .file(path: path))
        let peak = sampler.stop()

        XCTAssertEqual(response.status, 200)
        let echo = try FixtureEcho(response.body)
        XCTAssertEqual(echo.length, Self.fileSize)
        XCTAssertEqual(echo.headers["content-length"], String(Self.fileSize))
        XCTAssertEqual(echo.sha256, expectedDigest)
        XCTAssertEqual(response.newConnections, 0, "the upload reused the warm connection")
        let growth = max(0, peak - baseline)
        XCTAssertLessThan(growth, 8 << 20, "resident memory grew by \(growth) bytes during a \(Self.fileSize)-byte upload")
    }

    /// Over TLS with a client certificate, the same streaming path (smaller file, for time).
    func testFileBodyOverMutualTLS() throws {
        let server = try server
        let path = server.file("tls-body.bin")
        let expectedDigest = try Self.writeFile(path: path, size: 3 << 20 + 12_345)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let client = try HTTPClient(configuration: HTTPClientConfiguration(
            trustedCAFile: server.file("ca.pem"), clientCertificateFile: server.file("client.pem"), clientKeyFile: server.file("client.key")))
        let echo = try FixtureEcho(try client.post(url: server.url("mtls"), headers: [], body: .file(path: path)).body)
        XCTAssertEqual(echo.length, 3 << 20 + 12_345)
        XCTAssertEqual(echo.sha256, expectedDigest)
    }

    /// A kept-alive connection that the server closes without answering makes curl retry on a
    /// fresh connection, which needs the body rewound through the seek callback. (Without it curl
    /// fails with "necessary data rewind wasn't possible".) Curl retries only when no byte of a
    /// response arrived; the server may still have processed the first copy, so receivers must
    /// detect duplicates (AS4 does, by MessageId).
    func testBodyIsRewoundWhenAReusedConnectionDies() throws {
        let server = try server
        let path = server.file("rewind-body.bin")
        let expectedDigest = try Self.writeFile(path: path, size: 1 << 20)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let client = try HTTPClient(configuration: HTTPClientConfiguration())
        let first = try FixtureEcho(try client.get(url: server.url("http"), headers: []).body)
        let response = try client.post(url: server.url("http", "/?drop=reused"), headers: [], body: .file(path: path))
        let echo = try FixtureEcho(response.body)
        XCTAssertEqual(response.newConnections, 1)
        XCTAssertNotEqual(echo.connection, first.connection)
        XCTAssertEqual(echo.length, 1 << 20)
        XCTAssertEqual(echo.sha256, expectedDigest)
    }

    /// Writes `size` pseudo-random bytes in 1 MiB pieces; returns their SHA-256 in hex.
    static func writeFile(path: String, size: Int) throws -> String {
        guard FileManager.default.createFile(atPath: path, contents: nil) else { throw FixtureError("cannot create \(path)") }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        let digest = try DigestContext(algorithm: .sha256)
        var written = 0
        while written < size {
            let count = min(1 << 20, size - written)
            let chunk = Data(try SecureRandom.bytes(count))
            try handle.write(contentsOf: chunk)
            try digest.update(chunk)
            written += count
        }
        return try digest.finalize().map { String(format: "%02x", $0) }.joined()
    }
}

/// Samples this process's resident set size (`/proc/self/statm`) every few milliseconds on its
/// own thread and keeps the maximum.
final class ResidentMemorySampler: @unchecked Sendable {
    private let lock = NSLock()
    private var peak = 0
    private var running = false
    private let finished = DispatchSemaphore(value: 0)

    static func residentBytes() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    func start() {
        lock.withLock {
            running = true
            peak = Self.residentBytes()
        }
        let thread = Thread { [self] in
            while lock.withLock({ running }) {
                let current = Self.residentBytes()
                lock.withLock { peak = max(peak, current) }
                usleep(2_000)
            }
            finished.signal()
        }
        thread.start()
    }

    /// Stops sampling and returns the largest resident size seen (including one final sample).
    func stop() -> Int {
        lock.withLock { running = false }
        finished.wait()
        let current = Self.residentBytes()
        return lock.withLock { max(peak, current) }
    }
}

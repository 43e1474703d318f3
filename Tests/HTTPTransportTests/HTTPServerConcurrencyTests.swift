import Foundation
import HTTPServer
import XCTest

/// Several clients at once: the pool threads handle requests in parallel and every spool file is cleaned up.
final class HTTPServerConcurrencyTests: XCTestCase {
    func testConcurrentUploadsAreHandledInParallel() throws {
        let directory = try ServerTestDirectory()
        defer { directory.remove() }
        let large = directory.file("large.bin")
        try Data(repeating: 0x5A, count: 3 << 19).write(to: URL(fileURLWithPath: large))  // 1.5 MiB: spooled
        let spool = directory.file("spool")
        try FileManager.default.createDirectory(atPath: spool, withIntermediateDirectories: false)

        let gauge = ServerTestConcurrencyGauge()
        let handler = ServerTestHandler { request in
            gauge.enter()
            defer { gauge.leave() }
            usleep(50_000)
            let kind: String
            switch request.body {
            case .empty: kind = "empty"
            case .bytes: kind = "memory"
            case .file: kind = "file"
            }
            return .text(200, "\(kind) \(request.body.length)")
        }
        let configuration = HTTPServerConfiguration(spoolDirectory: spool, threads: 4)
        let (server, base) = try startTestServer(configuration, handler: handler)
        defer { server.stop(gracePeriod: 2) }

        let clients = try (0..<16).map { index in
            try ServerTestCurl.start(["--data-binary", index.isMultiple(of: 2) ? "@" + large : "small \(index)", base + "/as4/\(index)"])
        }
        let results = clients.map { $0.wait() }
        for (index, result) in results.enumerated() {
            XCTAssertEqual(result.status, 200, "client \(index): \(result.errorText)")
            XCTAssertEqual(result.text, index.isMultiple(of: 2) ? "file \(3 << 19)" : "memory \("small \(index)".utf8.count)")
        }
        XCTAssertGreaterThan(gauge.maximum, 1, "requests overlapped on the pool threads")
        XCTAssertLessThanOrEqual(gauge.maximum, 4, "no more handlers at once than pool threads")
        XCTAssertEqual((try? FileManager.default.contentsOfDirectory(atPath: spool)) ?? ["?"], [])
    }
}

/// Tracks how many handlers run at the same time.
final class ServerTestConcurrencyGauge: @unchecked Sendable {
    // @unchecked: the counters are guarded by `lock`.
    private let lock = NSLock()
    private var current = 0
    private var highest = 0

    func enter() {
        self.lock.withLock {
            self.current += 1
            self.highest = max(self.highest, self.current)
        }
    }

    func leave() {
        self.lock.withLock { self.current -= 1 }
    }

    var maximum: Int { self.lock.withLock { self.highest } }
}

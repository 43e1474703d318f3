import AS4Crypto
import Foundation
import HTTPServer
import XCTest

// Helpers for the HTTPServer tests. Names carry a `ServerTest` prefix because this test target is
// shared with the HTTP client's tests.

/// The result of one `curl` run.
struct ServerTestCurlResult {
    /// curl's exit code (0 = transfer done, whatever the HTTP status; 7 = could not connect, 35 = TLS handshake failed).
    var exitCode: Int32
    /// The HTTP status (0 when no response arrived).
    var status: Int
    var body: [UInt8]
    /// Header fields of the final response.
    var headers: HTTPHeaders
    /// Request body bytes curl sent (`%{size_upload}`).
    var uploadedBytes: UInt64
    var errorText: String

    var text: String { String(decoding: self.body, as: UTF8.self) }
}

/// Runs the system `curl` against the server under test.
struct ServerTestCurl {
    /// A curl process running in the background.
    final class Running {
        fileprivate let process: Process
        fileprivate let bodyPath: String
        fileprivate let headerPath: String
        fileprivate let output: Pipe
        fileprivate let errors: Pipe

        fileprivate init(process: Process, bodyPath: String, headerPath: String, output: Pipe, errors: Pipe) {
            self.process = process
            self.bodyPath = bodyPath
            self.headerPath = headerPath
            self.output = output
            self.errors = errors
        }

        func wait() -> ServerTestCurlResult {
            let outputData = self.output.fileHandleForReading.readDataToEndOfFile()
            let errorData = self.errors.fileHandleForReading.readDataToEndOfFile()
            self.process.waitUntilExit()
            let body = (try? Data(contentsOf: URL(fileURLWithPath: self.bodyPath))).map { [UInt8]($0) } ?? []
            let headerText = (try? String(contentsOfFile: self.headerPath, encoding: .utf8)) ?? ""
            unlink(self.bodyPath)
            unlink(self.headerPath)
            let written = String(decoding: outputData, as: UTF8.self).split(separator: " ")
            return ServerTestCurlResult(exitCode: self.process.terminationStatus,
                                        status: written.first.flatMap { Int($0) } ?? 0,
                                        body: body, headers: Self.finalHeaders(headerText),
                                        uploadedBytes: written.dropFirst().first.flatMap { UInt64($0) } ?? 0,
                                        errorText: String(decoding: errorData, as: UTF8.self))
        }

        /// The fields of the last header block in a `--dump-header` file (after any 100 Continue).
        private static func finalHeaders(_ text: String) -> HTTPHeaders {
            let blocks = text.replacingOccurrences(of: "\r\n", with: "\n").components(separatedBy: "\n\n").filter { !$0.isEmpty }
            var headers = HTTPHeaders()
            for line in (blocks.last ?? "").split(separator: "\n").dropFirst() {
                guard let colon = line.firstIndex(of: ":") else { continue }
                headers.add(name: String(line[..<colon]), value: line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
            }
            return headers
        }
    }

    /// Starts `curl` with `arguments` (the URL among them) and returns at once.
    static func start(_ arguments: [String]) throws -> Running {
        let bodyPath = NSTemporaryDirectory() + "/as4gw-curl-\(UUID().uuidString)"
        let headerPath = bodyPath + ".headers"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        // -q: ignore ~/.curlrc; status and uploaded size go to stdout, body and headers to files.
        process.arguments = ["-q", "--silent", "--show-error", "--noproxy", "*", "--max-time", "20",
                             "--output", bodyPath, "--dump-header", headerPath,
                             "--write-out", "%{http_code} %{size_upload}"] + arguments
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        return Running(process: process, bodyPath: bodyPath, headerPath: headerPath, output: output, errors: errors)
    }

    /// Runs `curl` with `arguments` to completion.
    static func run(_ arguments: [String]) throws -> ServerTestCurlResult {
        try self.start(arguments).wait()
    }
}

/// A handler assembled from closures, recording every request it handles.
final class ServerTestHandler: HTTPHandler, @unchecked Sendable {
    // @unchecked: the closures are @Sendable and `recorded` is guarded by `lock`.
    private let admitClosure: @Sendable (HTTPRequestHead) -> HTTPResponse?
    private let handleClosure: @Sendable (HTTPRequest) -> HTTPResponse
    private let lock = NSLock()
    private var recorded: [HTTPRequest] = []
    private var admitted = 0

    init(admit: @escaping @Sendable (HTTPRequestHead) -> HTTPResponse? = { _ in nil },
         handle: @escaping @Sendable (HTTPRequest) -> HTTPResponse) {
        self.admitClosure = admit
        self.handleClosure = handle
    }

    /// Echoes the request body back with the request's `Content-Type`.
    static func echo() -> ServerTestHandler {
        ServerTestHandler { request in
            let contentType = request.head.headers["Content-Type"] ?? "application/octet-stream"
            switch request.body {
            case .empty: return .empty(204)
            case .bytes(let bytes): return .bytes(200, contentType: contentType, bytes)
            case .file(let path, _): return .bytes(200, contentType: contentType, Array((try? Data(contentsOf: URL(fileURLWithPath: path))) ?? Data()))
            }
        }
    }

    func admit(_ head: HTTPRequestHead) -> HTTPResponse? {
        self.lock.withLock { self.admitted += 1 }
        return self.admitClosure(head)
    }

    func handle(_ request: HTTPRequest) -> HTTPResponse {
        self.lock.withLock { self.recorded.append(request) }
        return self.handleClosure(request)
    }

    /// The requests handled so far.
    var requests: [HTTPRequest] { self.lock.withLock { self.recorded } }
    /// How many heads were offered to `admit`.
    var admitCount: Int { self.lock.withLock { self.admitted } }
}

/// A scratch directory removed by `remove()`.
struct ServerTestDirectory {
    let path: String

    init() throws {
        self.path = NSTemporaryDirectory() + "/as4gw-http-server-tests-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: self.path, withIntermediateDirectories: true)
    }

    /// Entries in the directory (spool files left behind show up here).
    func contents() -> [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: self.path)) ?? []
    }

    func file(_ name: String) -> String { self.path + "/" + name }

    func remove() {
        try? FileManager.default.removeItem(atPath: self.path)
    }
}

/// Starts a server on 127.0.0.1 with a free port and returns it with its base URL.
func startTestServer(_ configuration: HTTPServerConfiguration, handler: any HTTPHandler,
                     scheme: String = "http", host: String = "127.0.0.1") throws -> (HTTPServer, String) {
    let server = try HTTPServer(configuration: configuration, handler: handler)
    try server.start()
    return (server, "\(scheme)://\(host):\(server.port)")
}

/// Peak resident memory of this process since the last `resetPeakResidentMemory()`, in bytes.
enum ServerTestMemory {
    static func resetPeak() {
        try? "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8)
    }

    static func peakResident() -> UInt64 {
        self.statusValue("VmHWM:")
    }

    static func resident() -> UInt64 {
        self.statusValue("VmRSS:")
    }

    private static func statusValue(_ field: String) -> UInt64 {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix(field) }),
              let kilobytes = UInt64(line.dropFirst(field.count).trimmingCharacters(in: .whitespaces).split(separator: " ").first ?? "") else {
            return 0
        }
        return kilobytes * 1024
    }
}

import Foundation
import XCTest
@testable import EnvelopeXML

/// Shared helpers of the MIME, MessageInput and Compression tests (named `MIME…` so they do not
/// collide with other test helpers of this target).
enum MIMETestFixtures {
    /// The package root: this file is `<root>/Tests/EnvelopeXMLTests/MIMEFixtureTests.swift`.
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The shared interop vectors sit next to the package root (read-only).
    static let vectorsDirectory = packageRoot.appendingPathComponent("../shared/interop/vectors").standardizedFileURL

    static func vector(_ relativePath: String) -> String {
        vectorsDirectory.appendingPathComponent(relativePath).path
    }

    static func vectorBytes(_ relativePath: String) throws -> [UInt8] {
        try PartBody.wholeFile(vector(relativePath)).readAll()
    }

    /// Deterministic pseudo-random bytes (xorshift64*), so failures reproduce.
    static func pseudoRandomBytes(_ count: Int, seed: UInt64) -> [UInt8] {
        var state = seed | 1
        return [UInt8](unsafeUninitializedCapacity: count) { buf, initialized in
            for i in 0..<count {
                state ^= state >> 12
                state ^= state << 25
                state ^= state >> 27
                buf[i] = UInt8(truncatingIfNeeded: (state &* 0x2545_F491_4F6C_DD1D) >> 56)
            }
            initialized = count
        }
    }

    /// Asserts that `expression` throws an `EbmsError` with `code` whose reason contains `reason`.
    static func assertEbmsError<T>(_ code: EbmsError.Code, _ reason: String,
                                   file: StaticString = #filePath, line: UInt = #line,
                                   _ expression: () throws -> T) {
        do {
            _ = try expression()
            XCTFail("expected \(code.rawValue) (\(reason)) but nothing was thrown", file: file, line: line)
        } catch let error as EbmsError {
            XCTAssertEqual(error.code, code, "\(error)", file: file, line: line)
            XCTAssertTrue(error.reason.contains(reason), "reason \"\(error.reason)\" lacks \"\(reason)\"",
                          file: file, line: line)
        } catch {
            XCTFail("expected EbmsError \(code.rawValue), got \(error)", file: file, line: line)
        }
    }

    /// Peak resident set size of this process in bytes (Linux reports ru_maxrss in KiB).
    static func peakRSS() -> UInt64 {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return UInt64(usage.ru_maxrss) * 1024
    }
}

/// A fresh directory under the system temp directory, removed with its contents on `deinit`.
final class MIMETemporaryDirectory {
    let path: String

    init() throws {
        var template = Array((NSTemporaryDirectory() + "/as4gw-mime-test-XXXXXX").utf8CString)
        guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else {
            throw ByteIOError(operation: "mkdtemp", path: NSTemporaryDirectory(), errorNumber: errno)
        }
        path = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    func file(_ name: String) -> String { path + "/" + name }

    func write(_ name: String, _ bytes: [UInt8]) throws -> String {
        let sink = try FileSink(path: file(name))
        try sink.write(bytes)
        try sink.close()
        return file(name)
    }

    /// A sparse file of `size` zero bytes (no disk blocks, no memory).
    func sparseFile(_ name: String, size: UInt64) throws -> String {
        let p = file(name)
        let fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { throw ByteIOError(operation: "create", path: p, errorNumber: errno) }
        defer { close(fd) }
        guard ftruncate(fd, off_t(size)) == 0 else { throw ByteIOError(operation: "ftruncate", path: p, errorNumber: errno) }
        return p
    }

    func fileCount() throws -> Int { try FileManager.default.contentsOfDirectory(atPath: path).count }
}

/// Counts bytes instead of keeping them: for tests that push hundreds of MB through a sink.
struct MIMECountingSink: ByteSink {
    var count: UInt64 = 0
    mutating func write(_ bytes: UnsafeRawBufferPointer) throws { count += UInt64(bytes.count) }
}

final class MIMEFixtureTests: XCTestCase {
    func testVectorsDirectoryIsFoundRelativeToThePackageRoot() {
        XCTAssertTrue(FileManager.default.fileExists(atPath: MIMETestFixtures.vector("EXPECTED.tsv")),
                      "vectors expected at \(MIMETestFixtures.vectorsDirectory.path)")
        XCTAssertTrue(FileManager.default.fileExists(atPath: MIMETestFixtures.vector("MANIFEST.md")))
    }

    func testPartBodyReadsFileRangesInChunks() throws {
        let dir = try MIMETemporaryDirectory()
        let data = MIMETestFixtures.pseudoRandomBytes(200_003, seed: 7)
        let path = try dir.write("data.bin", data)
        let body = PartBody.file(path: path, offset: 1000, length: 150_000)
        XCTAssertEqual(body.count, 150_000)
        XCTAssertEqual(try body.readAll(), Array(data[1000..<151_000]))
        var chunks: [Int] = []
        var collected: [UInt8] = []
        try body.forEachChunk(size: 64 * 1024) { chunks.append($0.count); collected.append(contentsOf: $0) }
        XCTAssertEqual(chunks, [65_536, 65_536, 18_928])
        XCTAssertEqual(collected, Array(data[1000..<151_000]))
        XCTAssertEqual(body.slice(offset: 10, length: 5), .file(path: path, offset: 1010, length: 5))
        XCTAssertEqual(PartBody.bytes(data).slice(offset: 10, length: 3), .bytes(Array(data[10..<13])))
        XCTAssertThrowsError(try body.readAll(maxBytes: 10))
        // A range past the end of the file is an I/O error, not a silent short read.
        XCTAssertThrowsError(try PartBody.file(path: path, offset: 200_000, length: 10).readAll()) { error in
            XCTAssertTrue(error is ByteIOError)
        }
    }

    func testFileSinkBuffersAndReportsItsBody() throws {
        let dir = try MIMETemporaryDirectory()
        let sink = try FileSink(path: dir.file("out.bin"))
        let big = MIMETestFixtures.pseudoRandomBytes(100_000, seed: 3)
        try sink.write([1, 2, 3])
        try sink.write(big)
        try sink.write("tail")
        try sink.sync()
        try sink.close()
        try sink.close() // idempotent
        XCTAssertEqual(sink.bytesWritten, UInt64(3 + big.count + 4))
        XCTAssertEqual(try sink.body.readAll(), [1, 2, 3] + big + Array("tail".utf8))
        XCTAssertThrowsError(try FileSink(path: dir.file("out.bin"), mode: .createNew))
        let temp = try FileSink.createTemporary(in: dir.path)
        try temp.close()
        XCTAssertTrue(temp.path.hasPrefix(dir.path + "/as4gw-"))
    }
}

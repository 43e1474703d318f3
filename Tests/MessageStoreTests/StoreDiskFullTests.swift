import Foundation
@testable import MessageStore
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// The SQLite store on a small tmpfs that fills up: payload writes and transactions fail with an
/// error `isOutOfSpace` recognises, nothing half-written stays behind, and the store works again
/// (and still holds everything it accepted) once space returns. Needs root to mount; otherwise
/// skipped with a loud message (CI runs as root).
final class StoreDiskFullTests: StoreTestCase {
    private var mounted = false

    override func setUpWithError() throws {
        try super.setUpWithError()
        guard geteuid() == 0 else {
            print("*** SKIPPED StoreDiskFullTests: mounting a tmpfs needs root (CI runs as root) ***")
            throw XCTSkip("mounting a tmpfs needs root")
        }
        try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
        try Self.tool("/bin/mount", ["-t", "tmpfs", "-o", "size=4m", "tmpfs", dataDirectory])
        mounted = true
    }

    override func tearDownWithError() throws {
        if mounted { try Self.tool("/bin/umount", [dataDirectory]) }
        try super.tearDownWithError()
    }

    func testFullDiskFailsCleanlyAndTheStoreRecoversWhenSpaceReturns() throws {
        let store = try openSQLiteStore()
        var accepted: [String] = []
        var payloads: [StoredFile] = []
        for n in 0..<5 {
            payloads.append(try store.storePayload(.bytes(Data(repeating: UInt8(n), count: 10_000)), at: t0))
            _ = try store.enqueueOutbound(outbound("before-\(n)", at: t0))
            accepted.append("before-\(n)")
        }
        let filler = dataDirectory + "/filler"
        try Self.fill(filler)

        // A payload write fails as out of space and leaves no partial file behind.
        let before = try Self.files(under: payloadRoot)
        XCTAssertThrowsError(try store.storePayload(.bytes(Data(repeating: 7, count: 256 << 10)), at: t0)) { error in
            XCTAssertTrue((error as? StoreError)?.isOutOfSpace ?? false, "\(error)")
        }
        XCTAssertEqual(try Self.files(under: payloadRoot), before)

        // Transactions go on into the WAL's free pages, then fail with SQLITE_FULL, not a crash.
        var refusal: Error?
        var refusedId = ""
        for n in 0..<5_000 {
            var message = outbound("during-\(n)", at: t0)
            message.sentReferences = String(repeating: "r", count: 8_000)
            do {
                _ = try store.enqueueOutbound(message)
                accepted.append("during-\(n)")
            } catch {
                refusal = error
                refusedId = "during-\(n)"
                break
            }
        }
        let error = try XCTUnwrap(refusal, "4 MiB cannot hold 5,000 rows of 8 KB")
        XCTAssertTrue((error as? StoreError)?.isOutOfSpace ?? false, "\(error)")
        XCTAssertNil(try store.findMessage(id: refusedId, direction: .outbound), "the refused row was rolled back")

        // Space returns: the same store object writes again; a reopened one sees everything.
        XCTAssertEqual(unlink(filler), 0)
        _ = try store.enqueueOutbound(outbound("after", at: t0))
        accepted.append("after")
        store.close()
        let reopened = try openSQLiteStore()
        defer { reopened.close() }
        let check = try reopened.withConnection { try $0.query("PRAGMA integrity_check") { $0.string("integrity_check") } }
        XCTAssertEqual(check, ["ok"])
        for id in accepted {
            XCTAssertEqual(try reopened.findMessage(id: id, direction: .outbound)?.status, .submitted, id)
        }
        for file in payloads {
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: file.path)).count, Int(file.size))
        }
        print("store on a full disk: accepted=\(accepted.count) (\(accepted.count - 6) while full) refused with \(error)")
    }

    static func files(under directory: String) throws -> [String] {
        (FileManager.default.enumerator(atPath: directory)?.allObjects as? [String] ?? []).sorted()
    }

    /// Writes zeros until the file system says ENOSPC.
    static func fill(_ path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { throw StoreError.io(operation: "open", path: path, errno: errno) }
        defer { close(fd) }
        for chunk in [1 << 20, 4096, 512] {
            let zeros = [UInt8](repeating: 0, count: chunk)
            while true {
                let n = zeros.withUnsafeBytes { write(fd, $0.baseAddress!, chunk) }
                if n < 0 {
                    guard errno == ENOSPC else { throw StoreError.io(operation: "write", path: path, errno: errno) }
                    break
                }
                if n < chunk { break }
            }
        }
    }

    static func tool(_ path: String, _ arguments: [String]) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = arguments
        try p.run()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw StoreError.invalidArgument("\(path) \(arguments.joined(separator: " ")) exited \(p.terminationStatus)")
        }
    }
}

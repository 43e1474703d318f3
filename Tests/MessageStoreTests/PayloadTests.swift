import Foundation
@testable import MessageStore
import XCTest

class PayloadTests: StoreTestCase {
    func testBytesAreStoredUnderTheDayDirectoryWithSizeAndDigest() throws {
        let store = try openStore()
        defer { store.close() }
        let stored = try store.storePayload(.bytes(Data("abc".utf8)), at: t0)  // t0 is 2025-06-15T15:06:40Z
        XCTAssertTrue(stored.path.hasPrefix(payloadRoot + "/2025/06/15/"), stored.path)
        XCTAssertEqual(stored.size, 3)
        XCTAssertEqual(stored.sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(FileManager.default.contents(atPath: stored.path), Data("abc".utf8))
        XCTAssertEqual(try sha256sum(stored.path), stored.sha256)

        let empty = try store.storePayload(.bytes(Data()), at: t0)
        XCTAssertEqual(empty.size, 0)
        XCTAssertEqual(empty.sha256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertNotEqual(empty.path, stored.path)
        XCTAssertEqual(try leftovers(in: store), [], "no .partial file stays behind")
    }

    func testCopyKeepsTheSourceAndMoveRemovesIt() throws {
        let store = try openStore()
        defer { store.close() }
        // Larger than the 256 KiB copy chunk, not a multiple of it, and not a multiple of 64.
        let content = Data((0..<700_001).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 9) })
        let source = dataDirectory + "/incoming.bin"
        XCTAssertTrue(FileManager.default.createFile(atPath: source, contents: content))

        let copied = try store.storePayload(.copy(path: source), at: t0)
        XCTAssertEqual(copied.size, Int64(content.count))
        XCTAssertEqual(copied.sha256, try sha256sum(source), "digest agrees with coreutils' sha256sum")
        XCTAssertEqual(FileManager.default.contents(atPath: copied.path), content)
        XCTAssertTrue(FileManager.default.fileExists(atPath: source))

        let moved = try store.storePayload(.move(path: source), at: t0 + 86400)
        XCTAssertTrue(moved.path.contains("/2025/06/16/"), moved.path)
        XCTAssertEqual(moved.size, copied.size)
        XCTAssertEqual(moved.sha256, copied.sha256)
        XCTAssertFalse(FileManager.default.fileExists(atPath: source))
        XCTAssertEqual(FileManager.default.contents(atPath: moved.path), content)
        XCTAssertEqual(try leftovers(in: store), [])
    }

    func testMissingSourceIsAnIOError() throws {
        let store = try openStore()
        defer { store.close() }
        let missing = dataDirectory + "/missing"
        assertThrows(.io(operation: "open", path: missing, errno: ENOENT)) { try store.storePayload(.copy(path: missing), at: t0) }
        assertThrows(.io(operation: "rename", path: missing, errno: ENOENT)) { try store.storePayload(.move(path: missing), at: t0) }
    }

    func testSHA256Vectors() {
        let vectors: [(String, String)] = [
            ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
            ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
            ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
             "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
        ]
        for (input, digest) in vectors { XCTAssertEqual(SHA256.hexDigest(Data(input.utf8)), digest, input) }
        XCTAssertEqual(SHA256.hexDigest(Data(repeating: UInt8(ascii: "a"), count: 1_000_000)),
                       "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")

        // Fed in uneven pieces, the digest is the same as in one piece.
        let data = Data((0..<1000).map { UInt8(truncatingIfNeeded: $0) })
        var hasher = SHA256()
        var offset = 0
        for size in [1, 63, 64, 65, 7, 300, 500] {
            hasher.update(data.subdata(in: offset..<offset + size))
            offset += size
        }
        XCTAssertEqual(SHA256.hex(hasher.finalize()), SHA256.hexDigest(data))
    }

    // MARK: Helpers

    private func sha256sum(_ path: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
        process.arguments = [path]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return String(text.prefix(64))
    }

    private func leftovers(in store: any MessageStore) throws -> [String] {
        let files = FileManager.default.enumerator(atPath: payloadRoot)?.compactMap { $0 as? String } ?? []
        return files.filter { $0.hasSuffix(".partial") }
    }
}

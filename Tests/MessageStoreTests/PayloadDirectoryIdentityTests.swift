import Foundation
@testable import MessageStore
import Synchronization
import XCTest

/// Nodes of one PostgreSQL store must share their payload directory: the store records the id
/// the directory's `.as4gw-store` marker holds, and a node whose directory holds none, or
/// another, is refused with both directories named.
final class PayloadDirectoryIdentityTests: StoreTestCase {
    override class var backend: StoreBackend { .postgres }

    var shared: String { dataDirectory + "/shared" }

    func verify(_ directory: String, node: String = "node-1", record: Bool = true) throws -> PayloadDirectoryIdentity.Outcome {
        try PayloadDirectoryIdentity.verify(url: postgresURL, directory: directory, node: node, record: record, now: t0)
    }

    func marker(_ directory: String) -> String? {
        (try? String(contentsOfFile: directory + "/.as4gw-store", encoding: .utf8))?.trimmingCharacters(in: .newlines)
    }

    func assertMismatch(_ directory: String, marker: String?, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try verify(directory, node: "node-2"), file: file, line: line) { error in
            guard let mismatch = error as? PayloadDirectoryIdentity.Mismatch else { return XCTFail("\(error)", file: file, line: line) }
            XCTAssertEqual(mismatch.directory, directory, file: file, line: line)
            XCTAssertEqual(mismatch.marker, marker, file: file, line: line)
            XCTAssertEqual(mismatch.recorded.firstPath, self.shared, file: file, line: line)
            XCTAssertTrue(mismatch.description.contains("payload directory \(directory) is not the one the other nodes"), mismatch.description,
                          file: file, line: line)
            XCTAssertTrue(mismatch.description.contains("first recorded at \(self.shared) by node node-1"), mismatch.description, file: file, line: line)
            XCTAssertTrue(mismatch.description.contains("mount the shared payload volume"), mismatch.description, file: file, line: line)
        }
    }

    override func setUpWithError() throws {
        try super.setUpWithError()
        try openPostgresStore().close()  // the schema, as the daemon's start migrates it
    }

    func testTheFirstStartRecordsTheDirectoryAndEveryLaterStartComparesIt() throws {
        guard case let .recorded(recorded, markerWritten) = try verify(shared) else { return XCTFail("not recorded") }
        XCTAssertTrue(markerWritten)
        XCTAssertEqual(recorded.firstPath, shared)
        XCTAssertEqual(recorded.firstNode, "node-1")
        XCTAssertEqual(marker(shared), recorded.id)
        XCTAssertEqual(try PayloadDirectoryIdentity.recorded(url: postgresURL), recorded)

        XCTAssertEqual(try verify(shared, node: "node-2"), .matches(recorded), "a second node on the same directory")
        XCTAssertEqual(try verify(shared), .matches(recorded), "a restart")

        // A node whose volume is not mounted sees an empty directory of its own: refused, and no
        // marker is written there.
        let own = dataDirectory + "/node-2-payloads"
        try FileManager.default.createDirectory(atPath: own, withIntermediateDirectories: true)
        assertMismatch(own, marker: nil)
        XCTAssertNil(marker(own))
        assertMismatch(dataDirectory + "/not-even-there", marker: nil)

        // A directory of another store.
        try "0123abcd\n".write(toFile: own + "/.as4gw-store", atomically: true, encoding: .utf8)
        assertMismatch(own, marker: "0123abcd")
        try "not a marker!\n".write(toFile: own + "/.as4gw-store", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try verify(own)) { XCTAssertTrue($0 is PayloadDirectoryIdentity.UnreadableMarker, "\($0)") }

        // Moved on purpose: the marker copied along with the files.
        let moved = dataDirectory + "/moved"
        try FileManager.default.createDirectory(atPath: moved, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: shared + "/.as4gw-store", toPath: moved + "/.as4gw-store")
        XCTAssertEqual(try verify(moved, node: "node-2"), .matches(recorded))
    }

    func testTheCheckWithoutRecordingWritesNothing() throws {
        XCTAssertEqual(try verify(shared, record: false), .notRecorded)
        XCTAssertNil(marker(shared))
        XCTAssertFalse(FileManager.default.fileExists(atPath: shared))
        XCTAssertNil(try PayloadDirectoryIdentity.recorded(url: postgresURL))
        _ = try verify(shared)
        XCTAssertThrowsError(try verify(dataDirectory + "/other", record: false)) { XCTAssertTrue($0 is PayloadDirectoryIdentity.Mismatch) }
    }

    /// A directory that has a marker (its store's database was recreated) gives the new store its id.
    func testAMarkerFoundAtTheFirstStartBecomesTheStores() throws {
        try FileManager.default.createDirectory(atPath: shared, withIntermediateDirectories: true)
        try "feedc0de\n".write(toFile: shared + "/.as4gw-store", atomically: true, encoding: .utf8)
        guard case let .recorded(recorded, markerWritten) = try verify(shared) else { return XCTFail("not recorded") }
        XCTAssertFalse(markerWritten)
        XCTAssertEqual(recorded.id, "feedc0de")
    }

    /// Four nodes starting at once on one directory agree on one marker and one record.
    func testNodesStartingTogetherOnOneDirectoryAgree() throws {
        let outcomes = Mutex<[String]>([])
        let url = postgresURL, directory = shared, t0 = t0
        DispatchQueue.concurrentPerform(iterations: 4) { n in
            let line: String
            do {
                switch try PayloadDirectoryIdentity.verify(url: url, directory: directory, node: "node-\(n)", record: true, now: t0) {
                case let .recorded(r, written): line = "recorded \(r.id) \(written)"
                case let .matches(r): line = "matches \(r.id)"
                default: line = "?"
                }
            } catch {
                line = "\(error)"
            }
            outcomes.withLock { $0.append(line) }
        }
        let id = try XCTUnwrap(marker(shared))
        // Who writes the marker and whose insert records it may be two different nodes (one
        // links the file first, another finds it and wins the insert): one record, one id.
        let lines = outcomes.withLock { $0 }.map { $0.replacingOccurrences(of: " true", with: "").replacingOccurrences(of: " false", with: "") }
        XCTAssertEqual(lines.sorted(), ["matches \(id)", "matches \(id)", "matches \(id)", "recorded \(id)"])
    }

    /// Two nodes starting at once on directories of their own: one insert wins, the other node
    /// is refused and removes the marker it had just written.
    func testNodesStartingTogetherOnTwoDirectoriesAreTold() throws {
        let failures = Mutex<[String]>([])
        let url = postgresURL, root = dataDirectory, t0 = t0
        DispatchQueue.concurrentPerform(iterations: 2) { n in
            do {
                _ = try PayloadDirectoryIdentity.verify(url: url, directory: root + "/node-\(n)", node: "node-\(n)", record: true, now: t0)
            } catch {
                failures.withLock { $0.append(root + "/node-\(n)") }
            }
        }
        let refused = try XCTUnwrap(failures.withLock { $0 }.first)
        XCTAssertEqual(failures.withLock { $0 }.count, 1)
        XCTAssertNil(marker(refused), "the loser's marker is gone")
        let winner = refused.hasSuffix("node-0") ? root + "/node-1" : root + "/node-0"
        XCTAssertEqual(marker(winner), try PayloadDirectoryIdentity.recorded(url: postgresURL)?.id)
    }
}

import Foundation
import XCTest
@testable import Routing

/// Reloading swaps the set only when the new files are clean.
final class RegistryTests: XCTestCase {
    func testReloadKeepsTheOldSetWhenTheNewFilesHaveErrors() throws {
        let dir = try ScratchDirectory()
        try dir.write("parties.json", twoParties)
        try dir.write("p.pmode.json", onePMode(id: "first"))
        let registry = try PModeRegistry(directory: dir.path)
        XCTAssertEqual(registry.generation, 1)
        let before = registry.current
        XCTAssertEqual(before.pmodes.map(\.id), ["first"])

        // A typo: the registry reports it and keeps serving the old set.
        try dir.write("p.pmode.json", onePMode(id: "second").replacingOccurrences(of: "\"legs\"", with: "\"leg\""))
        let problems = registry.reload()
        XCTAssertEqual(problems.map(\.description), [
            "p.pmode.json:1:1: legs is required",
            "p.pmode.json:5:3: leg is not a known key (did you mean \"legs\"?)",
        ])
        XCTAssertEqual(registry.current.pmodes.map(\.id), ["first"])
        XCTAssertEqual(registry.generation, 1)
        XCTAssertNotNil(registry.current.pmode(id: "first"))

        // Fixed: the new set takes over; a snapshot taken before is unchanged.
        try dir.write("p.pmode.json", onePMode(id: "second"))
        XCTAssertEqual(registry.reload(), [])
        XCTAssertEqual(registry.current.pmodes.map(\.id), ["second"])
        XCTAssertEqual(registry.generation, 2)
        XCTAssertEqual(before.pmodes.map(\.id), ["first"])

        // A clean set without this gateway's own party would leave it unable to work: refused.
        XCTAssertEqual(registry.reload(requiredParties: ["nobody"]).map(\.message), ["party nobody (this gateway) is not defined"])
        XCTAssertEqual(registry.generation, 2)

        // A directory that vanished is a problem too, not an empty set.
        XCTAssertFalse(registry.reload(from: dir.path + "/gone").isEmpty)
        XCTAssertEqual(registry.current.pmodes.map(\.id), ["second"])
    }

    func testRegistryWithoutDirectory() {
        let registry = PModeRegistry()
        XCTAssertEqual(registry.generation, 0)
        XCTAssertTrue(registry.current.pmodes.isEmpty)
        XCTAssertEqual(registry.reload().map(\.description), ["no P-Mode directory to reload from"])
    }

    func testInitialLoadErrorsAreThrown() throws {
        let dir = try ScratchDirectory()
        try dir.write("parties.json", "{")
        XCTAssertThrowsError(try PModeRegistry(directory: dir.path)) { error in
            let errors = (error as? PModeLoadErrors)?.diagnostics.map(\.description) ?? []
            XCTAssertTrue(errors.contains("parties.json:1:2: JSON: unexpected end of file, expected a key in double quotes"), "\(errors)")
        }
    }

    func testReadersSeeWholeSetsWhileReloading() throws {
        let dir = try ScratchDirectory()
        try dir.write("parties.json", twoParties)
        try dir.write("p.pmode.json", onePMode(id: "v0"))
        let registry = try PModeRegistry(directory: dir.path)
        let writer = Thread {
            for i in 1...20 {
                try? dir.write("p.pmode.json", onePMode(id: "v\(i)"))
                _ = registry.reload()
            }
        }
        writer.start()
        DispatchQueue.concurrentPerform(iterations: 2000) { _ in
            let set = registry.current
            XCTAssertEqual(set.pmodes.count, 1)
            XCTAssertEqual(set.parties.count, 2)
        }
        while !writer.isFinished { Thread.sleep(forTimeInterval: 0.01) }
        XCTAssertEqual(registry.current.pmodes.map(\.id), ["v20"])
    }
}

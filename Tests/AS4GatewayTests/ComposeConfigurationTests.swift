@testable import AS4Gateway
import Foundation
import XCTest

/// The compose demo's gateway configurations through the daemon's strict decoder, and the one
/// thing two nodes of a PostgreSQL store need beyond the database: the same payload files.
/// (`Tests/packaging/test_packaging.py` reads compose.yaml with a YAML parser and runs
/// `serve --check-config` on each file; this needs no Python.)
final class ComposeConfigurationTests: XCTestCase {
    let docker = GatewayProcess.projectRoot.appendingPathComponent("docker")

    func testEveryComposeConfigurationDecodesStrictly() throws {
        for name in ["gateway.json", "compose/hub.json", "compose/ministry.json"] {
            XCTAssertNoThrow(try GatewayConfiguration.load(path: docker.appendingPathComponent(name).path), name)
        }
    }

    func testTheMinistryNodesShareOnePayloadVolume() throws {
        let ministry = try GatewayConfiguration.load(path: docker.appendingPathComponent("compose/ministry.json").path)
        guard case .postgres = try ministry.storeLocation() else { return XCTFail("the ministry nodes share a PostgreSQL store") }
        let payloads = try XCTUnwrap(ministry.payloadDirectory, "without payloadDirectory each node writes to its own data volume")
        XCTAssertFalse(payloads.hasPrefix(ministry.dataDirectory + "/"), "the data volume is per node")

        // Each node's volume list in compose.yaml mounts one named volume at that path.
        let compose = try String(contentsOf: docker.appendingPathComponent("compose.yaml"), encoding: .utf8)
        var mounted: [String: String] = [:]
        let lines = compose.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        for node in ["node-1", "node-2"] {
            // The service's lines: up to the next line indented by two spaces only (the next service).
            let start = try XCTUnwrap(lines.firstIndex(of: "  \(node):"), node)
            let block = lines[(start + 1)...].prefix { $0.isEmpty || $0.hasPrefix("   ") || $0.hasPrefix("  #") }
            let line = try XCTUnwrap(block.first { $0.hasSuffix(":" + payloads) }, "\(node) mounts nothing at \(payloads)")
            mounted[node] = line.trimmingCharacters(in: .whitespaces).dropFirst(2).components(separatedBy: ":").first
        }
        XCTAssertEqual(Set(mounted.values).count, 1, "\(mounted)")
        let volume = try XCTUnwrap(mounted["node-1"])
        XCTAssertFalse(volume.hasPrefix("."), "a named volume, not a folder of this checkout")
        XCTAssertTrue(compose.contains("\n  \(volume):\n"), "\(volume) is declared under volumes:")
    }
}

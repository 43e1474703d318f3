import Foundation
import XCTest
@testable import Routing

/// docs/pmode.schema.json and the loader agree: same keys, same algorithm lists, and the schema
/// accepts the shipped samples and the Domibus import.
final class SchemaTests: XCTestCase {
    private func schema() throws -> JSONValue {
        let data = try Data(contentsOf: TestPaths.packageRoot.appendingPathComponent("docs/pmode.schema.json"))
        return try JSONReader.parse([UInt8](data))
    }

    private func definition(_ root: JSONValue, _ path: String...) -> JSONValue? {
        var value: JSONValue? = root
        for key in ["$defs"] + path { value = value?.members?.first { $0.key == key }?.value }
        return value
    }

    private func propertyNames(_ root: JSONValue, _ path: String...) -> [String] {
        var value: JSONValue? = root.members?.first { $0.key == "$defs" }?.value
        for key in path { value = value?.members?.first { $0.key == key }?.value }
        return value?.members?.first { $0.key == "properties" }?.value.members?.map(\.key) ?? []
    }

    func testSchemaKeysMatchTheLoader() throws {
        let root = try schema()
        XCTAssertEqual(propertyNames(root, "pmode"), PModeDecoder.keys)
        XCTAssertEqual(propertyNames(root, "leg"), LegDecoder.keys)
        XCTAssertEqual(propertyNames(root, "party"), ["name", "description", "partyIds", "endpoint", "certificates", "mpcs"])
        let algorithms = try XCTUnwrap(definition(root, "leg", "properties", "security", "properties", "algorithms", "properties"))
        for category in AlgorithmCatalog.Category.allCases {
            let list = algorithms.members?.first { $0.key == category.rawValue }?.value
            let enumeration = list?.members?.first { $0.key == "items" }?.value.members?.first { $0.key == "enum" }?.value
            XCTAssertEqual(enumeration?.elements?.compactMap(\.string), AlgorithmCatalog.supported(category), category.rawValue)
        }
    }

    func testSchemaAcceptsTheSamplesAndTheDomibusImport() throws {
        let check = Process()
        check.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        check.arguments = ["python3", "-c", "import jsonschema"]
        check.standardError = FileHandle.nullDevice
        try check.run()
        check.waitUntilExit()
        guard check.terminationStatus == 0 else { throw XCTSkip("python3 with jsonschema is not installed") }

        let dir = try ScratchDirectory()
        let imported = try DomibusImporter.importFile(TestPaths.vector("harmony/pmode/domibus-pmode-blue.xml"))
        try dir.write("parties.json", imported.parties)
        for file in imported.pmodes { try dir.write(file.fileName, file.json) }
        let script = """
        import glob, json, sys, jsonschema
        schema = json.load(open(sys.argv[1]))
        jsonschema.Draft202012Validator.check_schema(schema)
        validator = jsonschema.Draft202012Validator(schema)
        bad = 0
        for path in sys.argv[2:]:
            for error in validator.iter_errors(json.load(open(path))):
                bad += 1
                print(path, error.message[:300])
        sys.exit(1 if bad else 0)
        """
        let files = try FileManager.default.contentsOfDirectory(atPath: TestPaths.samples).map { TestPaths.samples + "/" + $0 }
            + FileManager.default.contentsOfDirectory(atPath: dir.path).map { dir.path + "/" + $0 }
        let run = Process()
        run.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        run.arguments = ["python3", "-c", script, TestPaths.packageRoot.appendingPathComponent("docs/pmode.schema.json").path]
            + files.filter { $0.hasSuffix(".json") }
        let output = Pipe()
        run.standardOutput = output
        try run.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        run.waitUntilExit()
        XCTAssertEqual(run.terminationStatus, 0, text)
    }

    /// The schema refuses what the loader refuses: a leg that encrypts without signing (`sign`
    /// false with `encrypt` true or left at its default), not one that does neither.
    func testSchemaRefusesEncryptionWithoutSigning() throws {
        let check = Process()
        check.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        check.arguments = ["python3", "-c", "import jsonschema"]
        check.standardError = FileHandle.nullDevice
        try check.run()
        check.waitUntilExit()
        guard check.terminationStatus == 0 else { throw XCTSkip("python3 with jsonschema is not installed") }
        let dir = try ScratchDirectory()
        let cases = ["refused-explicit": #"{"sign": false, "encrypt": true}"#, "refused-default": #"{"sign": false}"#,
                     "neither": #"{"sign": false, "encrypt": false}"#, "sign-only": #"{"encrypt": false}"#, "both": "{}"]
        for (name, security) in cases {
            try dir.write(name + ".pmode.json", """
            {"id": "\(name)", "initiator": {"party": "a", "role": "urn:r:i"}, "responder": {"party": "b", "role": "urn:r:r"},
             "legs": [{"service": {"value": "urn:svc"}, "action": "A", "security": \(security)}]}
            """)
        }
        let script = """
        import json, os, sys, jsonschema
        validator = jsonschema.Draft202012Validator(json.load(open(sys.argv[1])))
        for path in sorted(sys.argv[2:]):
            print(os.path.basename(path), len(list(validator.iter_errors(json.load(open(path))))))
        """
        let run = Process()
        run.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        run.arguments = ["python3", "-c", script, TestPaths.packageRoot.appendingPathComponent("docs/pmode.schema.json").path]
            + cases.keys.map { dir.path + "/\($0).pmode.json" }
        let output = Pipe()
        run.standardOutput = output
        try run.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        run.waitUntilExit()
        XCTAssertEqual(text, "both.pmode.json 0\nneither.pmode.json 0\nrefused-default.pmode.json 1\nrefused-explicit.pmode.json 1\nsign-only.pmode.json 0\n")
    }
}

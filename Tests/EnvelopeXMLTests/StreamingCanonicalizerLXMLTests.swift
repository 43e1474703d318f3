import Foundation
import XCTest
@testable import EnvelopeXML

/// The streaming canonical form checked by an independent implementation: lxml, with its own
/// (newer) libxml2, through Tests/interop/c14n_check.py. StreamingCanonicalizerTests holds it to
/// our tree; this holds both to what another verifier computes for the same attachment.
final class StreamingCanonicalizerLXMLTests: XCTestCase {
    func testLXMLCanonicalisesTheDocumentsAlike() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("as4gw-c14n-lxml-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)

        var documents: [[UInt8]] = []
        var generator = DocumentGenerator(seed: 20261128)
        for _ in 0..<1500 { documents.append(Array(generator.document().utf8)) }
        func utf16LE(_ text: String) -> [UInt8] { [0xFF, 0xFE] + text.utf16.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] } }
        let handPicked = [
            "<?xml version=\"1.0\"?>\r\n<?p a\r\nb?>\r\n<r xmlns=\"urn:d\" xmlns:a=\"urn:a&amp;b\" a:k=\"1\" k=\"&#9;\r\n\">x\r\ny<![CDATA[\r\n<&>]]></r>\r\n<?q?>",
            "<r xml:lang=\"lv\" xmlns:z=\"urn:z\" z:b=\"1\" a=\"2\"><s xmlns=\"\"><z:t xmlns:z=\"urn:z2\"/></s></r>",
            "<a:r xmlns:a=\"urn:a\" xmlns:b=\"urn:b\"><b:s a:x=\"&lt;&quot;&gt;\">&#xD;&#x20AC;\u{1F600}</b:s></a:r>",
        ]
        for text in handPicked {
            documents.append(Array(text.utf8))
            documents.append(utf16LE(text))
        }
        documents.append("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><r a=\"caf\u{E9}\">\u{E9}</r>".unicodeScalars.map { UInt8($0.value) })

        var accepted = 0
        for (i, document) in documents.enumerated() {
            let base = dir.appendingPathComponent(String(format: "d%05d", i))
            try Data(document).write(to: base.appendingPathExtension("xml"))
            var out: [UInt8] = []
            if (try? StreamingCanonicalizer.exclusive(.bytes(document), limits: .payload, chunkSize: 5) { out += $0 }) != nil {
                try Data(out).write(to: base.appendingPathExtension("c14n"))
                accepted += 1
            }
        }

        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("interop/c14n_check.py").path
        process.arguments = ["python3", script, dir.path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let verdict = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any], String(decoding: data, as: UTF8.self))
        XCTAssertEqual(verdict["disagree"] as? [String], [], "documents in \(dir.path)")
        // Not vacuous: most generated documents are namespace-well-formed and lxml reads them.
        XCTAssertGreaterThan(verdict["agree"] as? Int ?? 0, 1000, "\(verdict)")
        XCTAssertGreaterThan(accepted, 1000)
        // And what lxml refuses (the generator's prefixes bound nowhere) is refused here too.
        XCTAssertGreaterThan(verdict["bothRefused"] as? Int ?? 0, 50, "\(verdict)")
        XCTAssertEqual(process.terminationStatus, 0)
        // Kept for a look when they disagree.
        if (verdict["disagree"] as? [String])?.isEmpty == true { try? FileManager.default.removeItem(at: dir) }
    }
}

import Foundation
import XCTest

/// Runs Tests/interop/parse_metrics.py: prometheus_client's text-format parser reads what our
/// writer produced, so the format is judged by an implementation other than ours.
enum PrometheusParser {
    struct Sample {
        var name: String
        var labels: [String: String]
        var value: Double
    }

    struct Family {
        var name: String
        var type: String
        var help: String
        var samples: [Sample]
    }

    struct Refused: Error, CustomStringConvertible { var description: String }

    static func parse(_ text: String) throws -> [Family] {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", GatewayProcess.projectRoot.appendingPathComponent("Tests/interop/parse_metrics.py").path]
        let input = Pipe(), output = Pipe(), errors = Pipe()
        p.standardInput = input
        p.standardOutput = output
        p.standardError = errors
        try p.run()
        input.fileHandleForWriting.write(Data(text.utf8))
        try input.fileHandleForWriting.close()
        let out = output.fileHandleForReading.readDataToEndOfFile()
        let err = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw Refused(description: err) }
        guard let root = try JSONSerialization.jsonObject(with: out) as? [String: Any], let families = root["families"] as? [[String: Any]] else {
            throw Refused(description: "unexpected parser output: \(String(decoding: out, as: UTF8.self))")
        }
        return families.map { f in
            Family(name: f["name"] as? String ?? "", type: f["type"] as? String ?? "", help: f["help"] as? String ?? "",
                   samples: (f["samples"] as? [[String: Any]] ?? []).map { s in
                       Sample(name: s["name"] as? String ?? "", labels: s["labels"] as? [String: String] ?? [:],
                              value: (s["value"] as? NSNumber)?.doubleValue ?? .nan)
                   })
        }
    }
}

extension Array where Element == PrometheusParser.Family {
    /// The value of the one sample named `name` with exactly these labels among those given.
    func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        let matches = flatMap(\.samples).filter { sample in sample.name == name && labels.allSatisfy { sample.labels[$0.key] == $0.value } }
        return matches.count == 1 ? matches[0].value : nil
    }
}

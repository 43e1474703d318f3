import Foundation

/// One metric family as the Prometheus text exposition format 0.0.4 writes it: a HELP line, a
/// TYPE line and its samples. Names come from this program; label values come from data (party
/// names, certificate subjects, error codes) and are escaped when written.
struct MetricFamily: Sendable {
    enum Kind: String, Sendable {
        case counter, gauge, histogram
    }

    struct Sample: Sendable {
        /// Appended to the family name: "" for plain samples, `_bucket`, `_sum`, `_count` for histograms.
        var suffix: String = ""
        var labels: [(name: String, value: String)] = []
        var value: Double
    }

    var name: String
    var help: String
    var kind: Kind
    var samples: [Sample]

    /// A family of one sample per label set (the common counter or gauge).
    init(_ name: String, _ kind: Kind, help: String, samples: [Sample]) {
        self.name = name
        self.help = help
        self.kind = kind
        self.samples = samples
    }

    /// A family with a single unlabelled sample.
    init(_ name: String, _ kind: Kind, help: String, value: Double) {
        self.init(name, kind, help: help, samples: [Sample(value: value)])
    }

    /// A histogram family from a snapshot: cumulative `_bucket{le=…}` samples ending with `+Inf`,
    /// then `_sum` and `_count`.
    init(histogram name: String, help: String, labels: [(name: String, value: String)] = [], _ snapshot: LatencyHistogram.Snapshot) {
        var samples: [Sample] = []
        for (bound, cumulative) in zip(snapshot.bounds, snapshot.cumulativeCounts) {
            samples.append(Sample(suffix: "_bucket", labels: labels + [("le", PrometheusText.format(bound))], value: Double(cumulative)))
        }
        samples.append(Sample(suffix: "_bucket", labels: labels + [("le", "+Inf")], value: Double(snapshot.count)))
        samples.append(Sample(suffix: "_sum", labels: labels, value: snapshot.sum))
        samples.append(Sample(suffix: "_count", labels: labels, value: Double(snapshot.count)))
        self.init(name, .histogram, help: help, samples: samples)
    }
}

/// Writes metric families in the text exposition format 0.0.4.
enum PrometheusText {
    static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    struct InvalidName: Error, CustomStringConvertible {
        var description: String
    }

    static func render(_ families: [MetricFamily]) throws -> String {
        var out = ""
        var seen: Set<String> = []
        for family in families {
            try check(metricName: family.name)
            // A family may appear once: scrapers reject a second TYPE line for the same name.
            guard seen.insert(family.name).inserted else { throw InvalidName(description: "metric family \(family.name) appears twice") }
            out += "# HELP \(family.name) \(escapeHelp(family.help))\n"
            out += "# TYPE \(family.name) \(family.kind.rawValue)\n"
            for sample in family.samples {
                out += family.name + sample.suffix
                if !sample.labels.isEmpty {
                    out += "{"
                    for (i, label) in sample.labels.enumerated() {
                        try check(labelName: label.name)
                        out += (i == 0 ? "" : ",") + label.name + "=\"" + escapeLabelValue(label.value) + "\""
                    }
                    out += "}"
                }
                out += " " + format(sample.value) + "\n"
            }
        }
        return out
    }

    /// HELP text: backslash and line feed are escaped, nothing else.
    static func escapeHelp(_ text: String) -> String {
        var out = ""
        for c in text.unicodeScalars {
            switch c {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// Label values: backslash, double quote and line feed are escaped.
    static func escapeLabelValue(_ text: String) -> String {
        var out = ""
        for c in text.unicodeScalars {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// Whole numbers without a fraction (counters read naturally), others in Swift's shortest
    /// round-tripping form, and the spellings Go's ParseFloat accepts for the special values.
    static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) < 9_007_199_254_740_992 { return String(Int64(value)) }
        return String(value)
    }

    static func check(metricName name: String) throws {
        guard let first = name.unicodeScalars.first, isNameStart(first) || first == ":",
              name.unicodeScalars.allSatisfy({ isNameStart($0) || $0 == ":" || ("0"..."9").contains($0) }) else {
            throw InvalidName(description: "\"\(name)\" is not a valid metric name")
        }
    }

    static func check(labelName name: String) throws {
        guard let first = name.unicodeScalars.first, isNameStart(first), !name.hasPrefix("__"),
              name.unicodeScalars.allSatisfy({ isNameStart($0) || ("0"..."9").contains($0) }) else {
            throw InvalidName(description: "\"\(name)\" is not a valid label name")
        }
    }

    private static func isNameStart(_ c: Unicode.Scalar) -> Bool {
        ("a"..."z").contains(c) || ("A"..."Z").contains(c) || c == "_"
    }
}

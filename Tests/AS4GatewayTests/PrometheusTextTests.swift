@testable import AS4Gateway
import XCTest

/// The exposition writer on its own: escaping, number spelling, histogram buckets, refused
/// names; and prometheus_client's parser reading back exactly what was meant.
final class PrometheusTextTests: XCTestCase {
    func testLabelValuesEscapeQuoteBackslashAndNewline() throws {
        let tricky = "CN=\"Q\\uoted\"\nO=x,y"
        let text = try PrometheusText.render([MetricFamily("t_gauge", .gauge, help: "help with \\ and\nnewline",
                                                           samples: [.init(labels: [("subject", tricky)], value: 2)])])
        XCTAssertEqual(text, """
        # HELP t_gauge help with \\\\ and\\nnewline
        # TYPE t_gauge gauge
        t_gauge{subject="CN=\\"Q\\\\uoted\\"\\nO=x,y"} 2

        """)
        let parsed = try PrometheusParser.parse(text)
        XCTAssertEqual(parsed.first?.samples.first?.labels["subject"], tricky)
        XCTAssertEqual(parsed.first?.help, "help with \\ and\nnewline")
    }

    func testHistogramBucketsAreCumulativeAndEndWithInf() throws {
        let h = LatencyHistogram(bounds: [0.1, 1, 10])
        for v in [0.05, 0.1, 0.5, 2, 20, 30, -1] { h.observe(v) }
        let s = h.snapshot
        // -1 (a clock stepped back) counts as 0; 0.1 falls in the 0.1 bucket (upper bound inclusive).
        XCTAssertEqual(s.cumulativeCounts, [3, 4, 5])
        XCTAssertEqual(s.count, 7)
        XCTAssertEqual(s.sum, 52.65, accuracy: 1e-9)
        let text = try PrometheusText.render([MetricFamily(histogram: "t_seconds", help: "h", labels: [("kind", "x")], s)])
        XCTAssertTrue(text.contains("t_seconds_bucket{kind=\"x\",le=\"0.1\"} 3\n"), text)
        XCTAssertTrue(text.contains("t_seconds_bucket{kind=\"x\",le=\"+Inf\"} 7\n"), text)
        XCTAssertTrue(text.contains("t_seconds_count{kind=\"x\"} 7\n"), text)
        let family = try XCTUnwrap(try PrometheusParser.parse(text).first)
        XCTAssertEqual(family.type, "histogram")
        let buckets = family.samples.filter { $0.name == "t_seconds_bucket" }.map(\.value)
        XCTAssertEqual(buckets, [3, 4, 5, 7])
        XCTAssertEqual(buckets, buckets.sorted(), "buckets must never decrease")
    }

    func testEmptyHistogramStillListsEveryBucket() throws {
        let text = try PrometheusText.render([MetricFamily(histogram: "t_seconds", help: "h", LatencyHistogram(bounds: [1, 2]).snapshot)])
        XCTAssertEqual(text.components(separatedBy: "_bucket{").count - 1, 3)
        XCTAssertTrue(text.contains("t_seconds_sum 0\nt_seconds_count 0\n"), text)
    }

    func testNumbersUseTheFormatsSpelling() {
        XCTAssertEqual(PrometheusText.format(3), "3")
        XCTAssertEqual(PrometheusText.format(-2), "-2")
        XCTAssertEqual(PrometheusText.format(0.25), "0.25")
        XCTAssertEqual(PrometheusText.format(.infinity), "+Inf")
        XCTAssertEqual(PrometheusText.format(-.infinity), "-Inf")
        XCTAssertEqual(PrometheusText.format(.nan), "NaN")
        XCTAssertEqual(PrometheusText.format(1e300), "1e+300")
    }

    func testCounterKeepsTotalSuffixAndParses() throws {
        let text = try PrometheusText.render([MetricFamily("t_errors_total", .counter, help: "h",
                                                           samples: [.init(labels: [("code", "EBMS:0101")], value: 4)])])
        let family = try XCTUnwrap(try PrometheusParser.parse(text).first)
        XCTAssertEqual(family.type, "counter")
        XCTAssertEqual(family.samples.first?.name, "t_errors_total")
        XCTAssertEqual(family.samples.first?.value, 4)
    }

    func testInvalidNamesAndRepeatedFamiliesAreRefused() {
        XCTAssertThrowsError(try PrometheusText.render([MetricFamily("9starts_with_digit", .gauge, help: "", value: 1)]))
        XCTAssertThrowsError(try PrometheusText.render([MetricFamily("has-dash", .gauge, help: "", value: 1)]))
        XCTAssertThrowsError(try PrometheusText.render([MetricFamily("", .gauge, help: "", value: 1)]))
        XCTAssertThrowsError(try PrometheusText.render([MetricFamily("ok", .gauge, help: "", samples: [.init(labels: [("__reserved", "v")], value: 1)])]))
        XCTAssertThrowsError(try PrometheusText.render([MetricFamily("ok", .gauge, help: "", samples: [.init(labels: [("a:b", "v")], value: 1)])]))
        XCTAssertThrowsError(try PrometheusText.render([MetricFamily("twice", .gauge, help: "", value: 1),
                                                        MetricFamily("twice", .gauge, help: "", value: 2)]))
        XCTAssertNoThrow(try PrometheusText.render([MetricFamily("ns:ok_name", .gauge, help: "", value: 1)]))
    }

    func testParserRefusesBrokenText() {
        // The helper must be able to fail, or the daemon tests' parse would prove nothing.
        XCTAssertThrowsError(try PrometheusParser.parse("t{l=\"unterminated} 1\n"))
    }

    func testConcurrentObservationsAreAllCounted() {
        let h = LatencyHistogram(bounds: [1])
        DispatchQueue.concurrentPerform(iterations: 8) { _ in for _ in 0..<1000 { h.observe(0.5) } }
        XCTAssertEqual(h.snapshot.count, 8000)
        XCTAssertEqual(h.snapshot.cumulativeCounts, [8000])
    }
}

@testable import AS4Gateway
import Foundation
import Routing
import XCTest

/// The strict reader of the date-times DMSs send (a table of good and bad values).
final class RFC3339Tests: XCTestCase {
    func testGoodValuesAreTheInstantsTheySay() throws {
        let table: [(String, TimeInterval)] = [
            ("1970-01-01T00:00:00Z", 0),
            ("2026-12-01T00:00:00Z", 1_796_083_200),
            ("2026-12-01t00:00:00z", 1_796_083_200),
            ("2026-12-01T02:00:00+02:00", 1_796_083_200),
            ("2026-11-30T23:30:00-00:30", 1_796_083_200),
            ("2026-12-01T00:00:00-00:00", 1_796_083_200),
            ("2026-12-01T00:00:00.5Z", 1_796_083_200.5),
            ("2026-12-01T00:00:00.123456789Z", 1_796_083_200.123456789),
            ("2028-02-29T00:00:00Z", 1_835_395_200),
            ("2000-02-29T12:00:00Z", 951_825_600),
            ("1969-12-31T23:59:59Z", -1),
            ("2026-12-31T23:59:59+14:00", 1_798_761_599 - 14 * 3600),
        ]
        for (text, expected) in table {
            let d = try APIDateTime.parse(text)
            XCTAssertEqual(d.timeIntervalSince1970, expected, accuracy: 1e-6, text)
            // Foundation agrees wherever it is strict enough to be asked.
            if !text.contains("."), let f = ISO8601DateFormatter().date(from: text) { XCTAssertEqual(f, d, text) }
        }
    }

    func testImpossibleAndMalformedValuesAreRefused() {
        let bad: [(String, String)] = [
            ("2027-02-30T00:00:00Z", "day 30 does not exist in February 2027"),
            ("2026-02-29T00:00:00Z", "day 29 does not exist in February 2026"),
            ("2100-02-29T00:00:00Z", "day 29 does not exist in February 2100"),
            ("2026-04-31T00:00:00Z", "day 31 does not exist in April 2026"),
            ("2026-13-01T00:00:00Z", "month 13"),
            ("2026-00-01T00:00:00Z", "month 0"),
            ("2026-12-00T00:00:00Z", "day 0"),
            ("2026-12-01T24:00:00Z", "hour 24"),
            ("2026-12-01T00:60:00Z", "minute 60"),
            ("2026-12-31T23:59:60Z", "leap seconds"),
            ("2026-12-01T00:00:61Z", "second 61"),
            ("2026-12-01T00:00:00", "offset is missing"),
            ("2026-12-01 00:00:00Z", "'T'"),
            ("2026-12-01T00:00:00+2:00", "offset hour"),
            ("2026-12-01T00:00:00+0200", "':' in the offset"),
            ("2026-12-01T00:00:00+24:00", "out of range"),
            ("2026-12-01T00:00:00+02:60", "out of range"),
            ("2026-12-01T00:00:00.Z", "1 to 9 digits"),
            ("2026-12-01T00:00:00.1234567890Z", "1 to 9 digits"),
            ("2026-12-01T00:00:00Z ", "after the UTC offset"),
            ("2026-12-01", "'T'"),
            ("26-12-01T00:00:00Z", "year"),
            ("２０２６-12-01T00:00:00Z", "year"),
            ("", "year"),
        ]
        for (text, reason) in bad {
            XCTAssertThrowsError(try APIDateTime.parse(text), text) { error in
                let worded = APIDateTime.reason(error as! RFC3339.Invalid)
                XCTAssertTrue(worded.contains(reason), "\(text): \(worded)")
            }
        }
    }
}

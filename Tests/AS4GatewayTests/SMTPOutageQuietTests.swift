@testable import AS4Gateway
import Foundation
import XCTest

/// An outage that begins within `quiet` seconds of the last one logged is not logged at its
/// start (a server coming and going), but once it has lasted: never silent for longer than
/// `quiet` plus one wait, however long it goes on (a review finding: it was never logged).
final class SMTPOutageQuietTests: XCTestCase {
    func testALongOutageAfterABriefOneIsLoggedOnceItLasts() throws {
        var outage = SMTPOutage(first: 2, longest: 300, quiet: 60)
        let t0 = Date(timeIntervalSince1970: 1_000_000)
        XCTAssertNotNil(outage.failed("connection refused", at: t0))
        XCTAssertNotNil(outage.answered(at: t0.addingTimeInterval(10)))
        // Down again 20 s later, and for six hours this time.
        var now = t0.addingTimeInterval(30)
        var lines = outage.failed("connection refused", at: now) == nil ? 0 : 1
        while now < t0.addingTimeInterval(6 * 3600) {
            now = try XCTUnwrap(outage.nextTry)
            if outage.failed("connection refused", at: now) != nil { lines += 1 }
        }
        XCTAssertEqual(lines, 1, "a six-hour SMTP outage is logged once")
        // The line comes at the first try a minute after the last line, saying how long it lasted.
        var late = SMTPOutage(first: 2, longest: 300, quiet: 60)
        _ = late.failed("connection refused", at: t0)
        _ = late.answered(at: t0.addingTimeInterval(10))
        XCTAssertNil(late.failed("connection refused", at: t0.addingTimeInterval(30)))
        var said: [String: String?]?
        var at = t0.addingTimeInterval(30)
        while said == nil, at < t0.addingTimeInterval(3600) {
            at = try XCTUnwrap(late.nextTry)
            said = late.failed("connection refused", at: at)
        }
        XCTAssertEqual(at, t0.addingTimeInterval(60), "tries at 32, 36 and 44 are within a minute of the last line (at 0); the one at 60 is not")
        XCTAssertEqual(said?["repeated"], "1")
        XCTAssertEqual(said?["lasting_s"], "30")
        XCTAssertNotNil(late.answered(at: at.addingTimeInterval(100)), "and its end is said too")
    }
}

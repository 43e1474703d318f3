@testable import AS4Gateway
import Foundation
import XCTest

/// A loop failing the same way every round logs it once a minute, a new failure at once, and
/// its recovery once.
final class RepeatedFailureLogTests: XCTestCase {
    func testTheSameFailureIsLoggedOncePerIntervalWithItsCount() {
        var log = RepeatedFailureLog(interval: 60)
        let t0 = Date(timeIntervalSince1970: 1_800_000_000)
        XCTAssertEqual(log.failed("password file unreadable", at: t0)?["reason"], "password file unreadable")
        var quiet = 0
        for i in 1...239 where log.failed("password file unreadable", at: t0 + Double(i) * 0.25) == nil { quiet += 1 }
        XCTAssertEqual(quiet, 239, "four rounds a second for a minute: no line")
        let again = log.failed("password file unreadable", at: t0 + 60)
        XCTAssertEqual(again?["repeated"], "239")
        XCTAssertNil(log.failed("password file unreadable", at: t0 + 61))
        // Another failure is news.
        XCTAssertEqual(log.failed("store closed", at: t0 + 62)?["reason"], "store closed")
        XCTAssertNil(log.failed("store closed", at: t0 + 63))
        let recovered = log.succeeded()
        XCTAssertEqual(recovered?["reason"], "working again after: store closed")
        XCTAssertEqual(recovered?["repeated"], "1")
        XCTAssertNil(log.succeeded(), "a recovery is logged once")
        XCTAssertNotNil(log.failed("store closed", at: t0 + 64), "after a recovery the same failure is news again")
    }

    func testSuccessWithoutFailureIsQuiet() {
        var log = RepeatedFailureLog()
        XCTAssertNil(log.succeeded())
        XCTAssertNil(log.succeeded())
    }
}

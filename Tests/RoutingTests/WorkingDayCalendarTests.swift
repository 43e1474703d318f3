import Foundation
@testable import Routing
import XCTest

/// The deemed notification date: the second working day after the Riga day of sending, across
/// Latvian holidays, transfers from the operator's file, daylight saving and late evenings.
final class WorkingDayCalendarTests: XCTestCase {
    let rules = WorkingDayCalendar()

    func day(_ text: String) -> CalendarDay { CalendarDay(iso: text)! }

    func instant(_ text: String) -> Date {
        let f = ISO8601DateFormatter()
        return f.date(from: text)!
    }

    /// Deemed date of a document sent at noon UTC (early afternoon in Riga) on `sent`.
    func deemed(_ sent: String, _ calendar: WorkingDayCalendar? = nil) -> String {
        (calendar ?? rules).deemedNotificationDay(sentAt: instant(sent + "T12:00:00Z")).description
    }

    func testDayArithmeticAndWeekdays() {
        XCTAssertEqual(CalendarDay(dayNumber: 0).description, "1970-01-01")
        XCTAssertEqual(day("2026-11-18").weekday, 3, "18 November 2026 is a Wednesday")
        XCTAssertEqual(day("2028-11-18").weekday, 6)
        XCTAssertEqual(day("2000-02-29").adding(days: 1).description, "2000-03-01")
        XCTAssertEqual(day("2026-12-31").adding(days: 1).description, "2027-01-01")
        for n in [-800_000, -1, 0, 1, 20_000, 60_000] { XCTAssertEqual(CalendarDay(dayNumber: n).dayNumber, n) }
        XCTAssertNil(CalendarDay(iso: "2026-02-29"), "2026 is not a leap year")
        XCTAssertNil(CalendarDay(iso: "2026-4-05"))
        XCTAssertNil(CalendarDay(iso: "2026-04-05T00:00"))
    }

    func testEasterDates() {
        XCTAssertEqual(CalendarDay.easterSunday(year: 2026).description, "2026-04-05")
        XCTAssertEqual(CalendarDay.easterSunday(year: 2027).description, "2027-03-28")
        XCTAssertEqual(CalendarDay.easterSunday(year: 2025).description, "2025-04-20")
        XCTAssertEqual(CalendarDay.easterSunday(year: 2038).description, "2038-04-25")
        XCTAssertEqual(CalendarDay.easterSunday(year: 2008).description, "2008-03-23")
    }

    func testThe2026HolidaysOnWeekdaysAreExactlyTheLawsList() {
        var off: [String] = []
        var d = day("2026-01-01")
        while d.year == 2026 {
            if !d.isWeekend && !rules.isWorkingDay(d) { off.append(d.description) }
            d = d.adding(days: 1)
        }
        XCTAssertEqual(off, ["2026-01-01", "2026-04-03", "2026-04-06", "2026-05-01", "2026-05-04", "2026-06-23", "2026-06-24",
                             "2026-11-18", "2026-12-24", "2026-12-25", "2026-12-31"])
    }

    func testAroundEighteenNovember() {
        XCTAssertEqual(deemed("2026-11-16"), "2026-11-19", "Tue 17 is the first; Wed 18 is a holiday; Thu 19 the second")
        XCTAssertEqual(deemed("2026-11-17"), "2026-11-20")
        XCTAssertEqual(deemed("2026-11-18"), "2026-11-20", "sent on the holiday itself: counted from the next day")
        // 2028: 18 November is a Saturday, so Monday 20 is off.
        XCTAssertEqual(deemed("2028-11-17"), "2028-11-22")
        XCTAssertEqual(rules.dayOffReason(day("2028-11-20")), "Latvijas Republikas proklamēšanas dienas pārceltā brīvdiena")
        // 2029: a Sunday, so Monday 19 is off.
        XCTAssertEqual(deemed("2029-11-16"), "2029-11-21")
        XCTAssertNil(rules.dayOffReason(day("2027-11-22")), "no transfer when 18 November is a weekday (Thursday 2027)")
    }

    func testFourthOfMayOnAWeekend() {
        XCTAssertEqual(deemed("2025-05-02"), "2025-05-07", "Sun 4 May 2025: Monday 5 off")
        XCTAssertEqual(deemed("2024-05-03"), "2024-05-08", "Sat 4 May 2024: Monday 6 off")
        XCTAssertEqual(deemed("2026-04-30"), "2026-05-06", "Fri 1 May and Mon 4 May 2026 off")
    }

    func testChristmasAndNewYear() {
        XCTAssertEqual(deemed("2026-12-23"), "2026-12-29", "24, 25 Dec, then the weekend (26 Dec a Saturday)")
        XCTAssertEqual(deemed("2026-12-29"), "2027-01-04", "Wed 30 Dec; 31 Dec and 1 Jan off; Mon 4 Jan")
        XCTAssertEqual(deemed("2027-12-23"), "2027-12-28", "2027: 24 Fri, 25 Sat, 26 Sun, Mon 27 first")
    }

    func testEaster2026And2027() {
        XCTAssertEqual(deemed("2026-04-02"), "2026-04-08", "Good Friday 3 April, Easter Monday 6 April 2026")
        XCTAssertEqual(deemed("2027-03-25"), "2027-03-31", "Good Friday 26 March, Easter Monday 29 March 2027")
        XCTAssertEqual(rules.dayOffReason(day("2027-03-29")), "Otrās Lieldienas")
    }

    func testATransferredSaturdayFromTheFile() throws {
        let file = try HolidayCalendarFile.parse(Data("""
            {"comment": "test transfers",
             "years": {"2026": {"daysOff": [{"date": "2026-01-02", "name": "pārceltā brīvdiena"}],
                                "workingDays": [{"date": "2026-01-17", "name": "darba diena pārcelta no 2. janvāra"}]}}}
            """.utf8))
        let calendar = WorkingDayCalendar(file: file)
        XCTAssertEqual(deemed("2026-01-15", calendar), "2026-01-17", "Fri 16, then the Saturday that is worked")
        XCTAssertEqual(deemed("2026-01-15"), "2026-01-19", "without the file the Saturday is off")
        XCTAssertEqual(deemed("2025-12-30", calendar), "2026-01-06", "31 Dec, 1 and 2 Jan off, weekend; Mon 5, Tue 6")
        XCTAssertEqual(deemed("2025-12-30"), "2026-01-05")
        XCTAssertEqual(calendar.dayOffReason(day("2026-01-02")), "pārceltā brīvdiena")
    }

    func testTheSendingDayIsTakenInRiga() {
        // Winter (UTC+2): 21:59 UTC is still Monday in Riga, 22:00 UTC is Tuesday.
        XCTAssertEqual(rules.deemedNotificationDay(sentAt: instant("2026-11-16T21:59:59Z")).description, "2026-11-19")
        XCTAssertEqual(rules.deemedNotificationDay(sentAt: instant("2026-11-16T22:00:00Z")).description, "2026-11-20")
        // Summer (UTC+3): 21:00 UTC is already the next day.
        XCTAssertEqual(RigaTime.day(of: instant("2026-06-30T20:59:59Z")).description, "2026-06-30")
        XCTAssertEqual(RigaTime.day(of: instant("2026-06-30T21:00:00Z")).description, "2026-07-01")
    }

    func testDaylightSavingChangesAtEndOfMarchAndOctober() {
        XCTAssertEqual(RigaTime.offsetSeconds(at: instant("2027-03-28T00:59:59Z")), 7200)
        XCTAssertEqual(RigaTime.offsetSeconds(at: instant("2027-03-28T01:00:00Z")), 10800)
        XCTAssertEqual(RigaTime.offsetSeconds(at: instant("2026-10-25T00:59:59Z")), 10800)
        XCTAssertEqual(RigaTime.offsetSeconds(at: instant("2026-10-25T01:00:00Z")), 7200)
        // Saturday 24 October 2026 21:30 UTC is Sunday 00:30 in Riga (still summer time).
        XCTAssertEqual(RigaTime.day(of: instant("2026-10-24T21:30:00Z")).description, "2026-10-25")
        // Sunday 25 October 21:30 UTC (winter time again) is 23:30 Sunday; 22:30 is Monday.
        XCTAssertEqual(rules.deemedNotificationDay(sentAt: instant("2026-10-25T21:30:00Z")).description, "2026-10-27")
        XCTAssertEqual(rules.deemedNotificationDay(sentAt: instant("2026-10-25T22:30:00Z")).description, "2026-10-28")
        // Saturday 27 March 2027 22:30 UTC is Sunday 00:30 (Easter Sunday) in Riga: counting starts after it.
        XCTAssertEqual(rules.deemedNotificationDay(sentAt: instant("2027-03-27T22:30:00Z")).description, "2027-03-31")
    }

    func testRigaTimeAgreesWithTheTimeZoneDatabase() throws {
        guard let zone = TimeZone(identifier: "Europe/Riga") else { throw XCTSkip("no time-zone database here") }
        var t = instant("2024-01-01T00:30:00Z").timeIntervalSince1970
        let end = instant("2030-12-31T00:00:00Z").timeIntervalSince1970
        while t < end {
            let date = Date(timeIntervalSince1970: t)
            XCTAssertEqual(RigaTime.offsetSeconds(at: date), zone.secondsFromGMT(for: date), "\(date)")
            t += 3 * 3600 + 17 * 60
        }
    }

    func testTheCalendarFileIsCheckedAndTheRepositoryCopyLoads() throws {
        func refusal(_ text: String) -> String {
            do {
                _ = try HolidayCalendarFile.parse(Data(text.utf8))
                return "accepted"
            } catch {
                return "\(error)"
            }
        }
        XCTAssertEqual(refusal("[]"), "not a JSON object")
        XCTAssertEqual(refusal(#"{"days": []}"#), "/years: required, an object of years")
        XCTAssertEqual(refusal(#"{"years": {"2026": {"daysOff": [{"date": "2027-01-02", "name": "x"}]}}}"#),
                       "/years/2026/daysOff/0: 2027-01-02 is not in 2026")
        XCTAssertEqual(refusal(#"{"years": {"2026": {"daysOff": [{"date": "2026-02-30", "name": "x"}]}}}"#),
                       #"/years/2026/daysOff/0: needs "date": "YYYY-MM-DD" (an existing date)"#)
        XCTAssertEqual(refusal(#"{"years": {"2026": {"workingDays": [{"date": "2026-01-17"}]}}}"#),
                       #"/years/2026/workingDays/0: needs a "name""#)
        XCTAssertEqual(refusal(#"{"years": {"2026": {"holidays": []}}}"#), "/years/2026/holidays: unknown key (daysOff, workingDays)")
        XCTAssertEqual(refusal(#"{"years": {"2026": {"daysOff": [{"date": "2026-01-17", "name": "a"}], "workingDays": [{"date": "2026-01-17", "name": "b"}]}}}"#),
                       "2026-01-17 is listed both as a day off and as a working day")

        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let shipped = try HolidayCalendarFile.load(path: repository.appendingPathComponent("calendar/lv.json").path)
        XCTAssertFalse(shipped.daysOff.isEmpty)
        XCTAssertThrowsError(try HolidayCalendarFile.load(path: "/nonexistent/lv.json"))
    }

    /// The repository's calendar holds the Cabinet's 2026 transfers: Friday 2 January and Monday
    /// 22 June are days off, Saturdays 17 January and 27 June working days.
    func testTheShippedCalendarCarriesThe2026Transfers() throws {
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let shipped = WorkingDayCalendar(file: try HolidayCalendarFile.load(path: repository.appendingPathComponent("calendar/lv.json").path))
        XCTAssertFalse(shipped.isWorkingDay(day("2026-01-02")))
        XCTAssertTrue(shipped.isWorkingDay(day("2026-01-17")))
        XCTAssertFalse(shipped.isWorkingDay(day("2026-06-22")))
        XCTAssertTrue(shipped.isWorkingDay(day("2026-06-27")))
        // Sent Friday 19 June: 22 June moved away, 23 and 24 June holidays → Thursday 25, Friday 26.
        XCTAssertEqual(deemed("2026-06-19", shipped), "2026-06-26")
        XCTAssertEqual(deemed("2026-06-19"), "2026-06-25", "the statutory rules alone count Monday 22 June")
        // Sent Thursday 25 June: Friday 26, then the working Saturday 27 June.
        XCTAssertEqual(deemed("2026-06-25", shipped), "2026-06-27")
        // Sent Wednesday 31 December 2025 (a holiday itself): 1 and 2 January off → Monday 5, Tuesday 6 January.
        XCTAssertEqual(deemed("2025-12-31", shipped), "2026-01-06")
        XCTAssertEqual(deemed("2026-01-16", shipped), "2026-01-19", "Saturday 17 January counts, Sunday does not")
    }
}

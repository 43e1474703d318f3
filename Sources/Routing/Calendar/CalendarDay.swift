import Foundation

/// A date of the civil calendar (proleptic Gregorian), with no time and no zone: the day a
/// deadline falls on. Arithmetic goes through the day number since 1970-01-01, so it needs no
/// Foundation calendar and no time-zone database.
public struct CalendarDay: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let year: Int
    public let month: Int
    public let day: Int

    /// Nil for a date that does not exist (31 April, 29 February of a common year).
    public init?(year: Int, month: Int, day: Int) {
        guard (1...12).contains(month), day >= 1, day <= Self.daysIn(month: month, year: year) else { return nil }
        self.year = year
        self.month = month
        self.day = day
    }

    /// `YYYY-MM-DD`, exactly.
    public init?(iso text: String) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard text.count == 10, parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
              parts.allSatisfy({ $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }),
              let y = Int(parts[0]), let m = Int(parts[1]), let d = Int(parts[2]) else { return nil }
        self.init(year: y, month: m, day: d)
    }

    public init(dayNumber: Int) {
        // Civil-from-days (Howard Hinnant's algorithm), days counted from 1970-01-01.
        let z = dayNumber + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        year = yoe + era * 400 + (m <= 2 ? 1 : 0)
        month = m
        day = d
    }

    /// Days since 1970-01-01.
    public var dayNumber: Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = month > 2 ? month - 3 : month + 9
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// 1 = Monday … 7 = Sunday (ISO 8601).
    public var weekday: Int {
        // 1970-01-01 was a Thursday (4).
        let w = (dayNumber + 3) % 7
        return (w < 0 ? w + 7 : w) + 1
    }

    public var isWeekend: Bool { weekday >= 6 }

    public func adding(days: Int) -> CalendarDay { CalendarDay(dayNumber: dayNumber + days) }

    public var description: String {
        func pad(_ n: Int, _ width: Int) -> String {
            let s = String(n)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))"
    }

    public static func < (a: CalendarDay, b: CalendarDay) -> Bool { a.dayNumber < b.dayNumber }

    static func isLeap(_ year: Int) -> Bool { year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: isLeap(year) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Easter Sunday of the Gregorian calendar (the anonymous Gregorian algorithm; Latvia's
    /// holidays follow the Western date).
    public static func easterSunday(year: Int) -> CalendarDay {
        let a = year % 19, b = year / 100, c = year % 100
        let d = b / 4, e = b % 4, f = (b + 8) / 25, g = (b - f + 1) / 3
        let h = (19 * a + b - d - g + 15) % 30
        let i = c / 4, k = c % 4
        let l = (32 + 2 * e + 2 * i - h - k) % 7
        let m = (a + 11 * h + 22 * l) / 451
        let month = (h + l - 7 * m + 114) / 31
        let day = (h + l - 7 * m + 114) % 31 + 1
        return CalendarDay(year: year, month: month, day: day)!
    }
}

/// Latvian local time (Europe/Riga) by the EU's daylight-saving rule, computed rather than read
/// from the system's time-zone database (which a container may lack): UTC+2, and UTC+3 from the
/// last Sunday of March 01:00 UTC to the last Sunday of October 01:00 UTC.
public enum RigaTime {
    public static func offsetSeconds(at instant: Date) -> Int {
        let utcDay = CalendarDay(dayNumber: Int((instant.timeIntervalSince1970 / 86400).rounded(.down)))
        let year = utcDay.year
        let start = lastSunday(month: 3, year: year).dayNumber * 86400 + 3600
        let end = lastSunday(month: 10, year: year).dayNumber * 86400 + 3600
        let t = instant.timeIntervalSince1970
        return t >= Double(start) && t < Double(end) ? 3 * 3600 : 2 * 3600
    }

    /// The Riga calendar day of an instant.
    public static func day(of instant: Date) -> CalendarDay {
        let local = instant.timeIntervalSince1970 + Double(offsetSeconds(at: instant))
        return CalendarDay(dayNumber: Int((local / 86400).rounded(.down)))
    }

    static func lastSunday(month: Int, year: Int) -> CalendarDay {
        let last = CalendarDay(year: year, month: month, day: CalendarDay.daysIn(month: month, year: year))!
        return last.adding(days: -(last.weekday % 7))
    }
}

import Foundation

/// RFC 3339 §5.6 `date-time`, read strictly: the one parser for the backend API's date-times
/// and the directory files' instants.
///
/// Foundation's ISO8601DateFormatter rolls impossible dates over (2027-02-30 becomes
/// 2027-03-02), so a value its sender never meant would be enforced while the text it sent was
/// kept. Every field is range-checked here instead, days against the month and leap years, and
/// the instant is computed from the fields without a calendar object.
///
/// Accepted: `YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)`, `T` and `Z` in either case
/// (RFC 3339 §5.6 note), 1 to `precision` fraction digits, `-00:00` as UTC. Refused: a leap
/// second (`:60`; a POSIX instant cannot name it), a space for `T`, a missing offset, a bare
/// date (its midnight would be in no particular zone), other ISO 8601 forms.
///
/// Errors are typed and never worded here: each caller says what is wrong in its own terms
/// (the API names the field and does not echo the client's value; a directory file's report
/// quotes the value so the line can be found).
public enum RFC3339 {
    /// The finest fraction of a second a caller keeps; more digits are refused, not rounded, so
    /// the instant kept is exactly the one written.
    public enum Precision: Sendable {
        /// Three digits: what the message store keeps.
        case milliseconds
        /// Nine digits: all a `Date` can tell apart near the present.
        case nanoseconds

        var digits: Int { self == .milliseconds ? 3 : 9 }
    }

    public enum Field: Sendable { case year, month, day, hour, minute, second, offsetHour, offsetMinute }

    public enum Separator: Sendable { case dateHyphen, timeDesignator, timeColon, offsetColon }

    public enum Invalid: Error, Equatable, Sendable {
        /// The text ends where the field should begin or before it has all its digits.
        case endsBefore(Field)
        /// The field is not `count` ASCII digits.
        case notDigits(Field, count: Int)
        /// The separator is not at `position` (1-based byte offset).
        case expected(Separator, position: Int)
        /// A `.` without digits after it, or with more than the precision allows.
        case fractionDigits(max: Int)
        case missingOffset
        /// Something other than `Z`, `+` or `-` where the offset begins.
        case malformedOffset
        case offsetOutOfRange
        case textAfterOffset
        case noSuchMonth(Int)
        case noSuchDay(Int, month: Int, year: Int)
        case noSuchHour(Int)
        case noSuchMinute(Int)
        case noSuchSecond(Int)
        case leapSecond
    }

    public static func parse(_ text: String, precision: Precision) throws(Invalid) -> Date {
        let b = Array(text.utf8)
        var i = 0
        func isDigit(_ c: UInt8) -> Bool { (0x30...0x39).contains(c) }
        func digits(_ n: Int, _ field: Field) throws(Invalid) -> Int {
            guard i + n <= b.count else { throw .endsBefore(field) }
            var v = 0
            for k in i..<(i + n) {
                guard isDigit(b[k]) else { throw .notDigits(field, count: n) }
                v = v * 10 + Int(b[k] - 0x30)
            }
            i += n
            return v
        }
        func expect(_ chars: [UInt8], _ separator: Separator) throws(Invalid) {
            guard i < b.count, chars.contains(b[i]) else { throw .expected(separator, position: i + 1) }
            i += 1
        }
        let year = try digits(4, .year)
        try expect([0x2D], .dateHyphen)
        let month = try digits(2, .month)
        try expect([0x2D], .dateHyphen)
        let day = try digits(2, .day)
        try expect([0x54, 0x74], .timeDesignator)
        let hour = try digits(2, .hour)
        try expect([0x3A], .timeColon)
        let minute = try digits(2, .minute)
        try expect([0x3A], .timeColon)
        let second = try digits(2, .second)
        var fraction = 0
        if i < b.count, b[i] == 0x2E {
            i += 1
            let start = i
            while i < b.count, isDigit(b[i]) { i += 1 }
            let count = i - start
            guard (1...precision.digits).contains(count) else { throw .fractionDigits(max: precision.digits) }
            fraction = b[start..<i].reduce(0) { $0 * 10 + Int($1 - 0x30) }
            for _ in count..<precision.digits { fraction *= 10 }
        }
        var offset = 0
        guard i < b.count else { throw .missingOffset }
        switch b[i] {
        case 0x5A, 0x7A:
            i += 1
        case 0x2B, 0x2D:
            let sign = b[i] == 0x2D ? -1 : 1
            i += 1
            let oh = try digits(2, .offsetHour)
            try expect([0x3A], .offsetColon)
            let om = try digits(2, .offsetMinute)
            guard oh <= 23, om <= 59 else { throw .offsetOutOfRange }
            offset = sign * (oh * 3600 + om * 60)
        default:
            throw .malformedOffset
        }
        guard i == b.count else { throw .textAfterOffset }

        guard (1...12).contains(month) else { throw .noSuchMonth(month) }
        guard let date = CalendarDay(year: year, month: month, day: day) else { throw .noSuchDay(day, month: month, year: year) }
        guard hour <= 23 else { throw .noSuchHour(hour) }
        guard minute <= 59 else { throw .noSuchMinute(minute) }
        guard second <= 59 else { throw second == 60 ? .leapSecond : .noSuchSecond(second) }
        let seconds = date.dayNumber * 86_400 + hour * 3600 + minute * 60 + second - offset
        switch precision {
        case .milliseconds:
            // Whole milliseconds divided once: the same Double the store gives back for this instant.
            return Date(timeIntervalSince1970: Double(seconds * 1000 + fraction) / 1000)
        case .nanoseconds:
            // Whole nanoseconds would overflow Int for distant years, so the fraction is added.
            return Date(timeIntervalSince1970: Double(seconds) + Double(fraction) / 1e9)
        }
    }

    /// `2026-03-01T00:00:00Z`, with `.mmm` only when the instant has milliseconds: UTC, so a
    /// directory export reads the same on every machine.
    static func format(_ date: Date) -> String {
        let totalMilliseconds = Int((date.timeIntervalSince1970 * 1000).rounded())
        let ms = ((totalMilliseconds % 1000) + 1000) % 1000
        let totalSeconds = (totalMilliseconds - ms) / 1000
        let secondsOfDay = ((totalSeconds % 86_400) + 86_400) % 86_400
        let day = CalendarDay(dayNumber: (totalSeconds - secondsOfDay) / 86_400)
        func pad(_ n: Int, _ width: Int) -> String { String(n).leftPadded(width) }
        var text = "\(day)T\(pad(secondsOfDay / 3600, 2)):\(pad(secondsOfDay / 60 % 60, 2)):\(pad(secondsOfDay % 60, 2))"
        if ms != 0 { text += "." + pad(ms, 3) }
        return text + "Z"
    }
}

import Foundation

/// The date-times the backend API accepts: RFC 3339 §5.6 `date-time`, read strictly.
///
/// Foundation's ISO8601DateFormatter rolls impossible dates over (2027-02-30 becomes 2027-03-02),
/// so a deadline the DMS never meant was enforced while the stored metadata kept the text it
/// sent. Every field is range-checked here instead, days against the month and leap years, and
/// the instant is computed from the fields without a calendar object.
///
/// Accepted: `YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)`, `T` and `Z` in either case (RFC
/// 3339 §5.6 note), 1 to 9 fraction digits, `-00:00` as UTC. Refused: a leap second (`:60`; a
/// POSIX instant cannot name it), a space for `T`, a missing offset, other ISO 8601 forms.
enum RFC3339 {
    struct Invalid: Error, Equatable, CustomStringConvertible {
        /// What is wrong, without quoting the value (it is the client's, and logged).
        var reason: String
        var description: String { reason }
    }

    static func parse(_ text: String) throws(Invalid) -> Date {
        let b = Array(text.utf8)
        var i = 0
        func digits(_ n: Int, _ what: String) throws(Invalid) -> Int {
            guard i + n <= b.count else { throw Invalid(reason: "ends before the \(what)") }
            var v = 0
            for k in i..<(i + n) {
                guard (0x30...0x39).contains(b[k]) else { throw Invalid(reason: "the \(what) must be \(n) digits") }
                v = v * 10 + Int(b[k] - 0x30)
            }
            i += n
            return v
        }
        func expect(_ chars: [UInt8], _ what: String) throws(Invalid) {
            guard i < b.count, chars.contains(b[i]) else { throw Invalid(reason: "expected \(what) at position \(i + 1)") }
            i += 1
        }
        let year = try digits(4, "year")
        try expect([0x2D], "'-'")
        let month = try digits(2, "month")
        try expect([0x2D], "'-'")
        let day = try digits(2, "day")
        try expect([0x54, 0x74], "'T'")
        let hour = try digits(2, "hour")
        try expect([0x3A], "':'")
        let minute = try digits(2, "minute")
        try expect([0x3A], "':'")
        let second = try digits(2, "second")
        var nanos = 0
        if i < b.count, b[i] == 0x2E {
            i += 1
            let start = i
            while i < b.count, (0x30...0x39).contains(b[i]) { i += 1 }
            let count = i - start
            guard (1...9).contains(count) else { throw Invalid(reason: "a fraction of a second needs 1 to 9 digits") }
            nanos = b[start..<i].reduce(0) { $0 * 10 + Int($1 - 0x30) }
            for _ in count..<9 { nanos *= 10 }
        }
        var offset = 0
        guard i < b.count else { throw Invalid(reason: "the UTC offset is missing (Z or +hh:mm)") }
        switch b[i] {
        case 0x5A, 0x7A:
            i += 1
        case 0x2B, 0x2D:
            let sign = b[i] == 0x2D ? -1 : 1
            i += 1
            let oh = try digits(2, "offset hour")
            try expect([0x3A], "':' in the offset")
            let om = try digits(2, "offset minute")
            guard oh <= 23, om <= 59 else { throw Invalid(reason: "the UTC offset is out of range") }
            offset = sign * (oh * 3600 + om * 60)
        default:
            throw Invalid(reason: "the UTC offset must be Z or +hh:mm / -hh:mm")
        }
        guard i == b.count else { throw Invalid(reason: "unexpected text after the UTC offset") }

        guard (1...12).contains(month) else { throw Invalid(reason: "month \(month) does not exist") }
        let days = daysIn(month: month, year: year)
        guard (1...days).contains(day) else { throw Invalid(reason: "day \(day) does not exist in \(monthNames[month - 1]) \(year)") }
        guard hour <= 23 else { throw Invalid(reason: "hour \(hour) does not exist") }
        guard minute <= 59 else { throw Invalid(reason: "minute \(minute) does not exist") }
        guard second <= 59 else {
            throw Invalid(reason: second == 60 ? "leap seconds are not accepted" : "second \(second) does not exist")
        }
        let local = daysFromCivil(year: year, month: month, day: day) * 86_400 + hour * 3600 + minute * 60 + second
        return Date(timeIntervalSince1970: TimeInterval(local - offset) + TimeInterval(nanos) / 1e9)
    }

    static let monthNames = ["January", "February", "March", "April", "May", "June", "July", "August",
                             "September", "October", "November", "December"]

    static func isLeap(_ year: Int) -> Bool { year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: isLeap(year) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (the era-based civil-date algorithm:
    /// 400-year eras of 146,097 days, years counted from March so the leap day comes last).
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}

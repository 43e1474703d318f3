import Foundation

/// Instants in directory files: RFC 3339 with an explicit offset (`2026-03-01T00:00:00+02:00`,
/// `2026-03-01T00:00:00Z`), optionally with up to three fraction digits (the store keeps
/// milliseconds). A bare date is refused: its midnight would be in no particular time zone.
/// Written back in UTC with `Z`, so an export reads the same on every machine.
enum RFC3339Time {
    struct Invalid: Error {
        var reason: String
    }

    static func parse(_ text: String) throws(Invalid) -> Date {
        let b = Array(text.utf8)
        func digits(_ range: Range<Int>) -> Int? {
            guard range.upperBound <= b.count else { return nil }
            var n = 0
            for i in range {
                guard b[i] >= 48 && b[i] <= 57 else { return nil }
                n = n * 10 + Int(b[i] - 48)
            }
            return n
        }
        let shape = "an RFC 3339 time with a zone, e.g. 2026-03-01T00:00:00+02:00 or 2026-03-01T00:00:00Z"
        if b.count == 10, digits(0..<4) != nil, b[4] == 45, b[7] == 45 {
            throw Invalid(reason: "\"\(text)\" is a date without a time and zone; write \(shape)")
        }
        guard b.count >= 20, let year = digits(0..<4), b[4] == 45, let month = digits(5..<7), b[7] == 45,
              let day = digits(8..<10), b[10] == 84 || b[10] == 116, let hour = digits(11..<13), b[13] == 58,
              let minute = digits(14..<16), b[16] == 58, let second = digits(17..<19) else {
            throw Invalid(reason: "\"\(text)\" is not \(shape)")
        }
        var i = 19
        var milliseconds = 0
        if b[i] == 46 {
            let start = i + 1
            i = start
            while i < b.count, b[i] >= 48, b[i] <= 57 { i += 1 }
            guard i > start, i - start <= 3, let fraction = digits(start..<i) else {
                throw Invalid(reason: "\"\(text)\" has a fraction of more than three digits (milliseconds are kept) or none after '.'")
            }
            milliseconds = fraction * [1, 100, 10, 1][i - start]
        }
        var offsetMinutes = 0
        if i < b.count, b[i] == 90 || b[i] == 122 {
            i += 1
        } else if i + 6 == b.count, b[i] == 43 || b[i] == 45, let oh = digits(i + 1..<i + 3), b[i + 3] == 58,
                  let om = digits(i + 4..<i + 6), oh <= 23, om <= 59 {
            offsetMinutes = (oh * 60 + om) * (b[i] == 45 ? -1 : 1)
            i += 6
        } else {
            throw Invalid(reason: "\"\(text)\" needs a zone: Z or ±HH:MM (e.g. 2026-03-01T00:00:00+02:00)")
        }
        guard i == b.count else { throw Invalid(reason: "\"\(text)\" has extra characters after the zone") }
        guard (1...12).contains(month), (1...LatvianIdentifiers.daysIn(month: month, year: year)).contains(day),
              hour <= 23, minute <= 59, second <= 59 else {
            throw Invalid(reason: "\"\(text)\" is not a real date and time")
        }
        let days = daysSince1970(year: year, month: month, day: day)
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offsetMinutes * 60
        // Whole milliseconds divided once: the same Double the store gives back for this instant.
        return Date(timeIntervalSince1970: Double(seconds * 1000 + milliseconds) / 1000)
    }

    /// `2026-03-01T00:00:00Z`, with `.mmm` only when the instant has milliseconds.
    static func format(_ date: Date) -> String {
        let totalMilliseconds = Int((date.timeIntervalSince1970 * 1000).rounded())
        let ms = ((totalMilliseconds % 1000) + 1000) % 1000
        let totalSeconds = (totalMilliseconds - ms) / 1000
        let secondsOfDay = ((totalSeconds % 86_400) + 86_400) % 86_400
        let days = (totalSeconds - secondsOfDay) / 86_400
        let (year, month, day) = civilDate(daysSince1970: days)
        func pad(_ n: Int, _ width: Int) -> String { String(n).leftPadded(width) }
        var text = "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(secondsOfDay / 3600, 2)):\(pad(secondsOfDay / 60 % 60, 2)):\(pad(secondsOfDay % 60, 2))"
        if ms != 0 { text += "." + pad(ms, 3) }
        return text + "Z"
    }

    // Proleptic Gregorian day counts (Howard Hinnant's civil-date algorithms, re-derived).
    static func daysSince1970(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    static func civilDate(daysSince1970 days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}

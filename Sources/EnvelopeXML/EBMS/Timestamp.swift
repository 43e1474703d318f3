import Foundation

/// An xsd:dateTime as it appeared on the wire, with its instant. Equality is on the lexical form
/// so that a parsed message rebuilds byte-identically (signatures cover it).
public struct Timestamp: Equatable, Hashable, Sendable, CustomStringConvertible {
    public let lexical: String
    public let date: Date

    /// A timestamp for a message we create: UTC with milliseconds and `Z` (AS4-WIRE §1.3).
    public init(_ date: Date = Date()) {
        let millis = Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
        self.date = Date(timeIntervalSince1970: Double(millis) / 1000)
        self.lexical = Timestamp.format(millis: millis)
    }

    /// Parses an xsd:dateTime; nil when the lexical form or the calendar values are invalid.
    /// A value without a zone designator is taken as UTC (ebMS3 §5.2.2.2 says it is UTC).
    public init?(lexical: String) {
        guard let date = Timestamp.parse(lexical) else { return nil }
        self.lexical = lexical
        self.date = date
    }

    public var description: String { lexical }

    /// Formats milliseconds since the epoch as `YYYY-MM-DDThh:mm:ss.sssZ` with integer arithmetic
    /// (civil-from-days), so no floating point or calendar rounding can shift the last digit.
    static func format(millis: Int64) -> String {
        let ms = Int((millis % 1000 + 1000) % 1000)
        let secs = (millis - Int64(ms)) / 1000
        let days = Int((secs >= 0 ? secs : secs - 86399) / 86400)
        let sod = Int(secs - Int64(days) * 86400)
        let z = days + 719468
        let era = (z >= 0 ? z : z - 146096) / 146097
        let doe = z - era * 146097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        func pad(_ v: Int, _ w: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, w - s.count)) + s
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(sod / 3600, 2)):\(pad(sod / 60 % 60, 2)):\(pad(sod % 60, 2)).\(pad(ms, 3))Z"
    }

    static func parse(_ s: String) -> Date? {
        let b = Array(s.utf8)
        var i = 0
        func digits(_ n: Int) -> Int? {
            guard i + n <= b.count else { return nil }
            var v = 0
            for k in 0..<n {
                let d = b[i + k]
                guard d >= 0x30, d <= 0x39 else { return nil }
                v = v * 10 + Int(d - 0x30)
            }
            i += n
            return v
        }
        func expect(_ c: UInt8) -> Bool {
            guard i < b.count, b[i] == c else { return false }
            i += 1
            return true
        }
        var negative = false
        if i < b.count, b[i] == 0x2D { negative = true; i += 1 }
        guard !negative, let year = digits(4), expect(0x2D), let month = digits(2), expect(0x2D),
              let day = digits(2), expect(0x54), let hour = digits(2), expect(0x3A),
              let minute = digits(2), expect(0x3A), let second = digits(2) else { return nil }
        var fraction = 0.0
        if i < b.count, b[i] == 0x2E {
            i += 1
            var scale = 0.1
            let start = i
            while i < b.count, b[i] >= 0x30, b[i] <= 0x39 {
                fraction += Double(b[i] - 0x30) * scale
                scale /= 10
                i += 1
            }
            guard i > start else { return nil }
        }
        var offset = 0
        if i < b.count {
            if b[i] == 0x5A { i += 1 } else if b[i] == 0x2B || b[i] == 0x2D {
                let sign = b[i] == 0x2D ? -1 : 1
                i += 1
                guard let oh = digits(2), expect(0x3A), let om = digits(2), oh <= 14, om < 60 else { return nil }
                offset = sign * (oh * 3600 + om * 60)
            } else { return nil }
        }
        guard i == b.count else { return nil }
        guard (1...12).contains(month), hour <= 24, minute < 60, second < 60 else { return nil }
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
        let days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
        guard (1...days).contains(day) else { return nil }
        if hour == 24 && (minute != 0 || second != 0 || fraction != 0) { return nil }
        // Days from civil (proleptic Gregorian) to the Unix epoch.
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let epochDays = era * 146097 + doe - 719468
        let seconds = Double(epochDays * 86400 + hour * 3600 + minute * 60 + second - offset) + fraction
        return Date(timeIntervalSince1970: seconds)
    }
}

import Foundation
import Routing

/// The date-times the backend API accepts: Routing's strict RFC 3339 reader, keeping fractions
/// to the nanosecond (a DMS's deadline is kept as precisely as it was sent). The reasons name
/// what is wrong without quoting the value: it is the client's, and problems are logged.
enum APIDateTime {
    static func parse(_ text: String) throws(RFC3339.Invalid) -> Date {
        try RFC3339.parse(text, precision: .nanoseconds)
    }

    static func reason(_ error: RFC3339.Invalid) -> String {
        switch error {
        case .endsBefore(let field): "ends before the \(name(field))"
        case .notDigits(let field, let count): "the \(name(field)) must be \(count) digits"
        case .expected(let separator, let position): "expected \(name(separator)) at position \(position)"
        case .fractionDigits(let max): "a fraction of a second needs 1 to \(max) digits"
        case .missingOffset: "the UTC offset is missing (Z or +hh:mm)"
        case .malformedOffset: "the UTC offset must be Z or +hh:mm / -hh:mm"
        case .offsetOutOfRange: "the UTC offset is out of range"
        case .textAfterOffset: "unexpected text after the UTC offset"
        case .noSuchMonth(let month): "month \(month) does not exist"
        case .noSuchDay(let day, let month, let year): "day \(day) does not exist in \(monthNames[month - 1]) \(year)"
        case .noSuchHour(let hour): "hour \(hour) does not exist"
        case .noSuchMinute(let minute): "minute \(minute) does not exist"
        case .noSuchSecond(let second): "second \(second) does not exist"
        case .leapSecond: "leap seconds are not accepted"
        }
    }

    private static let monthNames = ["January", "February", "March", "April", "May", "June", "July", "August",
                                     "September", "October", "November", "December"]

    private static func name(_ field: RFC3339.Field) -> String {
        switch field {
        case .year: "year"
        case .month: "month"
        case .day: "day"
        case .hour: "hour"
        case .minute: "minute"
        case .second: "second"
        case .offsetHour: "offset hour"
        case .offsetMinute: "offset minute"
        }
    }

    private static func name(_ separator: RFC3339.Separator) -> String {
        switch separator {
        case .dateHyphen: "'-'"
        case .timeDesignator: "'T'"
        case .timeColon: "':'"
        case .offsetColon: "':' in the offset"
        }
    }
}

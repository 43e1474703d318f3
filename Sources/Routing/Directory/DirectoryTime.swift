import Foundation

/// Instants in directory files: RFC 3339 with an explicit offset (`2026-03-01T00:00:00+02:00`,
/// `2026-03-01T00:00:00Z`), with at most milliseconds, the precision the store keeps. The
/// reasons quote the value, so whoever edits the file can find it.
enum DirectoryTime {
    struct Invalid: Error {
        var reason: String
    }

    static func parse(_ text: String) throws(Invalid) -> Date {
        do throws(RFC3339.Invalid) {
            return try RFC3339.parse(text, precision: .milliseconds)
        } catch {
            throw Invalid(reason: "\"\(text)\" " + reason(error, bytes: text.utf8.count))
        }
    }

    private static func reason(_ error: RFC3339.Invalid, bytes: Int) -> String {
        let shape = "an RFC 3339 time with a zone, e.g. 2026-03-01T00:00:00+02:00 or 2026-03-01T00:00:00Z"
        switch error {
        case .expected(.timeDesignator, position: 11) where bytes == 10:
            // The whole date was read and nothing follows: someone wrote a day, not an instant.
            return "is a date without a time and zone; write \(shape)"
        case .endsBefore(.offsetHour), .endsBefore(.offsetMinute), .notDigits(.offsetHour, _), .notDigits(.offsetMinute, _),
             .expected(.offsetColon, _), .malformedOffset, .offsetOutOfRange:
            return "needs a zone: Z or ±HH:MM (e.g. 2026-03-01T00:00:00+02:00)"
        case .endsBefore, .notDigits, .expected, .missingOffset:
            return "is not \(shape)"
        case .fractionDigits:
            return "has a fraction of more than three digits (milliseconds are kept) or none after '.'"
        case .textAfterOffset:
            return "has extra characters after the zone"
        case .noSuchMonth, .noSuchDay, .noSuchHour, .noSuchMinute, .noSuchSecond, .leapSecond:
            return "is not a real date and time"
        }
    }
}

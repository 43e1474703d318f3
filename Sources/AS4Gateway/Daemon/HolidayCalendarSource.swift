import Foundation
import Routing
import Synchronization

/// The working-day calendar the daemon uses, and its one owner: read from `holidayCalendar` at
/// start (a bad file stops the start) and again on SIGHUP, where a bad file keeps the calendar
/// in use, as the P-Mode reload does.
final class HolidayCalendarSource: Sendable {
    let path: String?
    private let calendar: Mutex<WorkingDayCalendar>

    init(path: String?) throws {
        self.path = path
        calendar = Mutex(try Self.read(path))
    }

    var current: WorkingDayCalendar { calendar.withLock { $0 } }

    private static func read(_ path: String?) throws -> WorkingDayCalendar {
        try path.map { WorkingDayCalendar(file: try HolidayCalendarFile.load(path: $0)) } ?? WorkingDayCalendar()
    }

    /// SIGHUP: re-reads the file and logs the outcome.
    static func reload(_ context: GatewayContext) {
        let source = context.calendars
        guard let path = source.path else { return }
        do {
            let fresh = try read(path)
            source.calendar.withLock { $0 = fresh }
            context.log.log(.info, "calendar-reloaded", ["path": path, "daysOff": String(fresh.extraDaysOff.count),
                                                         "workingDays": String(fresh.extraWorkingDays.count)])
        } catch {
            context.log.log(.error, "calendar-refused", ["reason": "kept the previous holiday calendar: \(error)"])
        }
    }
}

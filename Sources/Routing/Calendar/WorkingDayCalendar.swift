import Foundation

/// Latvia's working days: Monday to Friday except the public holidays of the law "Par svētku,
/// atceres un atzīmējamām dienām" (computed, Easter included), then the operator's calendar file
/// on top (Cabinet transfers of working days, one-off holidays). Used for the deemed notification
/// date of a sent document (docs/EVIDENCE.md).
public struct WorkingDayCalendar: Sendable {
    /// Days off beyond the rules (the file's `daysOff`), with their names.
    public private(set) var extraDaysOff: [CalendarDay: String] = [:]
    /// Days worked although a weekend or a rule holiday (the file's `workingDays`).
    public private(set) var extraWorkingDays: [CalendarDay: String] = [:]

    public init() {}

    public init(file: HolidayCalendarFile) {
        for entry in file.daysOff { extraDaysOff[entry.day] = entry.name }
        for entry in file.workingDays { extraWorkingDays[entry.day] = entry.name }
    }

    /// The holiday the law makes of `day`, if any (weekends are not named).
    public static func statutoryHoliday(_ day: CalendarDay) -> String? {
        switch (day.month, day.day) {
        case (1, 1): return "Jaungada diena"
        case (5, 1): return "Darba svētki; Latvijas Republikas Satversmes sapulces sasaukšanas diena"
        case (5, 4): return "Latvijas Republikas Neatkarības deklarācijas pasludināšanas diena"
        case (6, 23): return "Līgo diena"
        case (6, 24): return "Jāņu diena"
        case (11, 18): return "Latvijas Republikas proklamēšanas diena"
        case (12, 24): return "Ziemassvētku vakars"
        case (12, 25): return "Pirmie Ziemassvētki"
        case (12, 26): return "Otrie Ziemassvētki"
        case (12, 31): return "Vecgada diena"
        default: break
        }
        // 4 May and 18 November on a Saturday or Sunday: the next Monday is a day off.
        if day.weekday == 1 {
            for (month, date, name) in [(5, 4, "Neatkarības deklarācijas pasludināšanas dienas pārceltā brīvdiena"),
                                        (11, 18, "Latvijas Republikas proklamēšanas dienas pārceltā brīvdiena")] {
                if let holiday = CalendarDay(year: day.year, month: month, day: date), holiday.isWeekend,
                   holiday.dayNumber == day.dayNumber - (holiday.weekday == 6 ? 2 : 1) {
                    return name
                }
            }
        }
        let easter = CalendarDay.easterSunday(year: day.year)
        switch day.dayNumber - easter.dayNumber {
        case -2: return "Lielā Piektdiena"
        case 0: return "Pirmās Lieldienas"
        case 1: return "Otrās Lieldienas"
        case 49: return "Vasarsvētki"
        default: return nil
        }
    }

    /// Why `day` is not a working day (a holiday's name, "Saturday", "Sunday"), or nil if it is one.
    public func dayOffReason(_ day: CalendarDay) -> String? {
        if extraWorkingDays[day] != nil { return nil }
        if let name = extraDaysOff[day] { return name }
        if let name = Self.statutoryHoliday(day) { return name }
        if day.weekday == 6 { return "Saturday" }
        if day.weekday == 7 { return "Sunday" }
        return nil
    }

    public func isWorkingDay(_ day: CalendarDay) -> Bool { dayOffReason(day) == nil }

    /// The `n`th working day after `day` (not counting `day` itself).
    public func workingDay(_ n: Int, after day: CalendarDay) -> CalendarDay {
        var current = day
        var counted = 0
        while counted < n {
            current = current.adding(days: 1)
            if isWorkingDay(current) { counted += 1 }
        }
        return current
    }

    /// The deemed notification date of a document sent at `sentAt`: the second working day after
    /// the day of sending, that day taken in Riga.
    public func deemedNotificationDay(sentAt: Date) -> CalendarDay {
        workingDay(2, after: RigaTime.day(of: sentAt))
    }
}

/// The operator's holiday calendar (`holidayCalendar` in the configuration; calendar/lv.json):
///
///     {"years": {"2026": {"daysOff": [{"date": "2026-01-02", "name": "…"}],
///                         "workingDays": [{"date": "2026-01-17", "name": "…"}]}}}
///
/// Every date must lie in the year it is listed under, and no date may be both a day off and a
/// working day. Other top-level keys (comments, a source reference) are ignored.
public struct HolidayCalendarFile: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var day: CalendarDay
        public var name: String
        public init(day: CalendarDay, name: String) {
            self.day = day
            self.name = name
        }
    }

    public var daysOff: [Entry] = []
    public var workingDays: [Entry] = []

    public init(daysOff: [Entry] = [], workingDays: [Entry] = []) {
        self.daysOff = daysOff
        self.workingDays = workingDays
    }

    public struct Invalid: Error, CustomStringConvertible, Equatable {
        public var description: String
    }

    public static func load(path: String) throws -> HolidayCalendarFile {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw Invalid(description: "\(path): cannot be read (\(error.localizedDescription))")
        }
        do {
            return try parse(data)
        } catch let e as Invalid {
            throw Invalid(description: "\(path): \(e.description)")
        }
    }

    public static func parse(_ data: Data) throws -> HolidayCalendarFile {
        guard let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw Invalid(description: "not a JSON object")
        }
        guard let years = root["years"] as? [String: Any] else { throw Invalid(description: "/years: required, an object of years") }
        var file = HolidayCalendarFile()
        for yearText in years.keys.sorted() {
            guard let year = Int(yearText), yearText.count == 4, let lists = years[yearText] as? [String: Any] else {
                throw Invalid(description: "/years/\(yearText): a four-digit year holding an object")
            }
            for key in lists.keys.sorted() where key != "daysOff" && key != "workingDays" {
                throw Invalid(description: "/years/\(yearText)/\(key): unknown key (daysOff, workingDays)")
            }
            for (key, isOff) in [("daysOff", true), ("workingDays", false)] {
                guard let list = lists[key] else { continue }
                guard let items = list as? [Any] else { throw Invalid(description: "/years/\(yearText)/\(key): an array") }
                for (index, item) in items.enumerated() {
                    let pointer = "/years/\(yearText)/\(key)/\(index)"
                    guard let object = item as? [String: Any], let dateText = object["date"] as? String,
                          let day = CalendarDay(iso: dateText) else {
                        throw Invalid(description: "\(pointer): needs \"date\": \"YYYY-MM-DD\" (an existing date)")
                    }
                    guard day.year == year else { throw Invalid(description: "\(pointer): \(day) is not in \(year)") }
                    guard let name = object["name"] as? String, !name.isEmpty else {
                        throw Invalid(description: "\(pointer): needs a \"name\"")
                    }
                    if isOff { file.daysOff.append(Entry(day: day, name: name)) } else { file.workingDays.append(Entry(day: day, name: name)) }
                }
            }
        }
        let off = Set(file.daysOff.map(\.day))
        if let both = file.workingDays.first(where: { off.contains($0.day) }) {
            throw Invalid(description: "\(both.day) is listed both as a day off and as a working day")
        }
        return file
    }
}

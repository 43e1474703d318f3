import Foundation

/// One company of the company register's open data, as imported.
public struct RegisteredCompany: Sendable, Equatable {
    public var registrationNumber: String
    public var name: String
    public var legalForm: String
    /// As the register writes it; empty for an active company.
    public var status: String
    /// When it was liquidated (the register's termination date); nil while it exists.
    public var liquidatedOn: Date?

    public init(registrationNumber: String, name: String, legalForm: String = "", status: String = "", liquidatedOn: Date? = nil) {
        self.registrationNumber = registrationNumber
        self.name = name
        self.legalForm = legalForm
        self.status = status
        self.liquidatedOn = liquidatedOn
    }

    /// Liquidated when its termination date has come, or when its status says it has ceased
    /// (whatever the date): a company struck off without a date in the file is gone all the same.
    public func standing(at now: Date) -> CompanyStanding {
        if let on = liquidatedOn, on <= now { return .liquidated(status: status, on: on) }
        if CompanyRegisterCSV.isCeased(status) { return .liquidated(status: status, on: liquidatedOn) }
        return .registered
    }
}

/// Reads the Latvian enterprise register's open-data CSV (data.gov.lv, "register.csv": semicolon
/// separated, many columns) or a plain comma-separated file with English headers. Columns are
/// found by header name, in any order; others are ignored:
///
/// | meaning             | accepted header names                                   | required |
/// |---------------------|---------------------------------------------------------|----------|
/// | registration number | `regcode`, `registrationNumber`, `registration_number`  | yes      |
/// | name                | `name`                                                  | yes      |
/// | legal form          | `type`, `legalForm`, `legal_form`                       | no       |
/// | status              | `closed`, `status`                                      | no       |
/// | liquidation date    | `terminated`, `liquidationDate`, `liquidation_date`, `liquidated` | no |
///
/// The separator is the header line's: `;` when it has one before any comma, else `,`.
public enum CompanyRegisterCSV {
    public struct Problem: Error, Sendable, Equatable, CustomStringConvertible {
        public var line: Int
        public var column: Int
        public var message: String
        public var description: String { "\(line):\(column): \(message)" }
    }

    /// All problems of the file at once (at most 100), or none.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var problems: [Problem]
        public var description: String { problems.map(\.description).joined(separator: "\n") }
    }

    enum Field: CaseIterable {
        case registrationNumber, name, legalForm, status, liquidationDate

        var headerNames: [String] {
            switch self {
            case .registrationNumber: return ["regcode", "registrationnumber", "registration_number"]
            case .name: return ["name"]
            case .legalForm: return ["type", "legalform", "legal_form"]
            case .status: return ["closed", "status"]
            case .liquidationDate: return ["terminated", "liquidationdate", "liquidation_date", "liquidated"]
            }
        }
    }

    /// Status words meaning the company exists; any one-letter code of the register's `closed`
    /// column (L liquidated, R reorganised, …) and the words in `ceasedWords` mean it has ceased.
    static let activeWords: Set<String> = ["", "active", "registered"]
    static let ceasedWords: Set<String> = ["liquidated", "terminated", "closed", "reorganized", "reorganised", "excluded", "deleted", "struck off"]

    static func isCeased(_ status: String) -> Bool {
        let word = status.trimmingCharacters(in: .whitespaces).lowercased()
        return !activeWords.contains(word) && (word.count == 1 || ceasedWords.contains(word))
    }

    public static func decode(_ bytes: [UInt8]) throws(Failure) -> [RegisteredCompany] {
        let headerEnd = bytes.firstIndex(where: { $0 == 0x0A || $0 == 0x0D }) ?? bytes.count
        let header = bytes[..<headerEnd]
        let semicolon = header.firstIndex(of: 0x3B), comma = header.firstIndex(of: 0x2C)
        let separator: UInt8 = semicolon != nil && (comma == nil || semicolon! < comma!) ? 0x3B : 0x2C
        var problems: [Problem] = []
        func problem(_ line: Int, _ column: Int, _ message: String) {
            if problems.count < 100 { problems.append(Problem(line: line, column: column, message: message)) }
        }
        var columns: [Field: Int]?
        var headerRead = false
        var headerCount = 0
        var companies: [RegisteredCompany] = []
        var firstLine: [String: Int] = [:]
        do {
            try CSVReader.forEachRecord(bytes, separator: separator) { record in
                guard headerRead else {
                    headerRead = true
                    columns = readHeader(record, problem: problem)
                    headerCount = record.fields.count
                    return
                }
                // Without the required columns the header's problems are all there is to say.
                guard let found = columns else { return }
                guard record.fields.count == headerCount else {
                    problem(record.line, 1, "the record has \(record.fields.count) fields, the header \(headerCount)")
                    return
                }
                guard let company = readRecord(record, columns: found, problem: problem) else { return }
                if let first = firstLine[company.registrationNumber] {
                    let field = record.fields[found[.registrationNumber]!]
                    problem(field.line, field.column, "registration number \(company.registrationNumber) is already on line \(first)")
                    return
                }
                firstLine[company.registrationNumber] = record.line
                companies.append(company)
            }
        } catch {
            problem(error.line, error.column, "CSV: \(error.message)")
        }
        if !headerRead { problem(1, 1, "the file is empty; it starts with a header line naming its columns") }
        guard problems.isEmpty else { throw Failure(problems: problems) }
        return companies
    }

    private static func readHeader(_ record: CSVRecord, problem: (Int, Int, String) -> Void) -> [Field: Int]? {
        var columns: [Field: Int] = [:]
        for (i, field) in record.fields.enumerated() {
            let name = field.text.trimmingCharacters(in: .whitespaces).lowercased()
            guard let meaning = Field.allCases.first(where: { $0.headerNames.contains(name) }) else { continue }
            // The register's file has both `type` and `type_text`; only exact names count, so
            // a second column of one meaning is a real ambiguity.
            if columns[meaning] != nil {
                problem(field.line, field.column, "header: a second column for \(meaning) (\"\(field.text)\")")
                continue
            }
            columns[meaning] = i
        }
        let missing = [Field.registrationNumber, .name].filter { columns[$0] == nil }
        for required in missing {
            problem(record.line, 1, "header: no column \(required.headerNames.map { "\"\($0)\"" }.joined(separator: " or ")) (case-insensitive)")
        }
        return missing.isEmpty ? columns : nil
    }

    private static func readRecord(_ record: CSVRecord, columns: [Field: Int], problem: (Int, Int, String) -> Void) -> RegisteredCompany? {
        func field(_ f: Field) -> CSVField? { columns[f].map { record.fields[$0] } }
        func text(_ f: Field) -> String { field(f)?.text.trimmingCharacters(in: .whitespaces) ?? "" }
        var ok = true
        let numberField = field(.registrationNumber)!
        let number = text(.registrationNumber)
        do throws(LatvianIdentifiers.Invalid) {
            _ = try LatvianIdentifiers.registrationNumber(Substring(number))
        } catch {
            problem(numberField.line, numberField.column, "the \(error.reason)")
            ok = false
        }
        if text(.name).isEmpty {
            problem(field(.name)!.line, field(.name)!.column, "the name is empty")
            ok = false
        }
        let status = text(.status)
        if let f = field(.status), !activeWords.contains(status.lowercased()), !isCeased(status) {
            problem(f.line, f.column, "status \"\(status)\" is not known: empty, active or registered for an existing company; "
                    + "a one-letter code of the register or one of \(ceasedWords.sorted().joined(separator: ", ")) for one that has ceased")
            ok = false
        }
        var liquidatedOn: Date?
        if let f = field(.liquidationDate), !text(.liquidationDate).isEmpty {
            liquidatedOn = date(text(.liquidationDate))
            if liquidatedOn == nil {
                problem(f.line, f.column, "liquidation date \"\(text(.liquidationDate))\" is not a date YYYY-MM-DD")
                ok = false
            }
        }
        guard ok else { return nil }
        return RegisteredCompany(registrationNumber: number, name: text(.name), legalForm: text(.legalForm), status: status, liquidatedOn: liquidatedOn)
    }

    /// `YYYY-MM-DD`, optionally followed by a time the register sometimes appends (ignored:
    /// the day counts, from its start in UTC).
    static func date(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        guard bytes.count >= 10, bytes[4] == 0x2D, bytes[7] == 0x2D, bytes.count == 10 || bytes[10] == 0x20 || bytes[10] == 0x54 else { return nil }
        func number(_ r: Range<Int>) -> Int? {
            guard bytes[r].allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
            return bytes[r].reduce(0) { $0 * 10 + Int($1 - 0x30) }
        }
        guard let y = number(0..<4), let m = number(5..<7), let d = number(8..<10),
              let day = CalendarDay(year: y, month: m, day: d) else { return nil }
        return Date(timeIntervalSince1970: Double(day.dayNumber) * 86_400)
    }
}

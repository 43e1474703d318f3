import Foundation
import MessageStore
import Routing

/// `as4gw companies import|show`: the company register a company address is checked against
/// (docs/DIRECTORY.md, "Company register").
enum CompaniesCommand {
    static let help = """
    Usage: as4gw companies import FILE.csv [--json] [--data DIR | --config FILE]
           as4gw companies show REGISTRATION-NUMBER [--data DIR | --config FILE]

    import  Reads the company register's open data (the enterprise register's register.csv,
            semicolon-separated, or a comma-separated file with English headers; columns by
            header name: regcode|registrationNumber, name, type|legalForm, closed|status,
            terminated|liquidationDate) and replaces the stored register with it in one
            transaction. Every problem of the file is printed as FILE:line:col: message and
            changes nothing. Prints what changed: added, changed (with the fields), newly
            liquidated, removed and unchanged counts with the first registration numbers of
            each; --json prints it as one JSON object.
    show    Prints the stored company and whether it counts as liquidated now.

    Once the register holds a company, a company address sending or receiving must belong to a
    registered company that is not liquidated (CompanyNotRegistered, CompanyLiquidated).

    Exit status: 0 success; 1 the file has problems, cannot be read or stored, or (show) no such
    company; 2 usage error.
    """

    static func run(_ args: [String]) -> Int32 {
        var rest = args[...]
        switch rest.popFirst() {
        case "import": return importFile(Array(rest))
        case "show": return show(Array(rest))
        case "--help", "-h", "help": print(help); return 0
        case nil: return CLI.usageError("companies needs a subcommand: import or show", help: help)
        case let other?: return CLI.usageError("companies: unknown subcommand \(other)", help: help)
        }
    }

    static func importFile(_ args: [String]) -> Int32 {
        let a: Arguments
        do { a = try Arguments(args, valued: ["data", "config"], flags: ["json"]) } catch { return CLI.usageError("\(error)", help: help) }
        if a.has("help") { print(help); return 0 }
        guard a.positionals.count == 1 else { return CLI.usageError("companies import takes exactly one FILE", help: help) }
        let path = a.positionals[0]
        guard let data = FileManager.default.contents(atPath: path) else {
            CLI.printError("as4gw: cannot read \(path)")
            return 1
        }
        let started = ContinuousClock.now
        let companies: [RegisteredCompany]
        do {
            companies = try CompanyRegisterCSV.decode([UInt8](data))
        } catch {
            CLI.printError(error.problems.map { "\(path):\($0)" }.joined(separator: "\n"))
            return 1
        }
        guard let registers = open(a) else { return 1 }
        defer { registers.close() }
        let report: CompanyImportReport
        do {
            report = try registers.replaceCompanies(companies.map {
                CompanyRecord(registrationNumber: $0.registrationNumber, name: $0.name, legalForm: $0.legalForm, status: $0.status, liquidatedOn: $0.liquidatedOn)
            }, at: Date())
        } catch {
            CLI.printError("as4gw: cannot store the company register: \(error)")
            return 1
        }
        let elapsed = ContinuousClock.now - started
        let ms = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
        if a.has("json") {
            print(json(report, companies: companies.count).serialized(pretty: false))
        } else {
            print("\(path): \(companies.count) companies, stored in \(String(format: "%.0f", ms)) ms")
            for line in lines(report) { print(line) }
        }
        return 0
    }

    static let shown = 5

    static func lines(_ r: CompanyImportReport) -> [String] {
        func first(_ ids: [String]) -> String { ids.isEmpty ? "" : ": " + ids.prefix(shown).joined(separator: ", ") + (ids.count > shown ? ", …" : "") }
        return ["added \(r.added.count)\(first(r.added))",
                "changed \(r.changed.count)\(first(r.changed.map { "\($0.registrationNumber) (\($0.fields.joined(separator: ", ")))" }))",
                "liquidated \(r.liquidated.count)\(first(r.liquidated))",
                "removed \(r.removed.count)\(first(r.removed))",
                "unchanged \(r.unchanged)"]
    }

    static func json(_ r: CompanyImportReport, companies: Int) -> JSON {
        func ids(_ list: [String]) -> JSON { .array(list.prefix(shown).map(JSON.string)) }
        return .object([
            ("companies", .int(companies)),
            ("added", .object([("count", .int(r.added.count)), ("first", ids(r.added))])),
            ("changed", .object([("count", .int(r.changed.count)), ("first", .array(r.changed.prefix(shown).map {
                .object([("registrationNumber", .string($0.registrationNumber)), ("fields", .array($0.fields.map(JSON.string)))])
            }))])),
            ("liquidated", .object([("count", .int(r.liquidated.count)), ("first", ids(r.liquidated))])),
            ("removed", .object([("count", .int(r.removed.count)), ("first", ids(r.removed))])),
            ("unchanged", .int(r.unchanged)),
        ])
    }

    static func show(_ args: [String]) -> Int32 {
        let a: Arguments
        do { a = try Arguments(args, valued: ["data", "config"], flags: []) } catch { return CLI.usageError("\(error)", help: help) }
        if a.has("help") { print(help); return 0 }
        guard a.positionals.count == 1 else { return CLI.usageError("companies show takes one registration number", help: help) }
        guard let registers = open(a) else { return 1 }
        defer { registers.close() }
        do {
            guard let c = try registers.company(registrationNumber: a.positionals[0]) else {
                CLI.printError("as4gw: \(a.positionals[0]) is not in the company register")
                return 1
            }
            let standing = RecipientRules.company(c).standing(at: Date())
            print(JSON.object([("registrationNumber", .string(c.registrationNumber)), ("name", .string(c.name)), ("legalForm", .string(c.legalForm)),
                               ("status", .string(c.status)), ("liquidationDate", c.liquidatedOn.map(DocumentView.time) ?? .null),
                               ("liquidated", .bool(standing != .registered))]).serialized(pretty: false))
            return 0
        } catch {
            CLI.printError("as4gw: cannot read the company register: \(error)")
            return 1
        }
    }

    /// The registers of `--data DIR` or of the configuration's store; nil after printing why.
    private static func open(_ a: Arguments) -> (any RecipientRegisters)? {
        do {
            if a.value("data") != nil && a.value("config") != nil { throw StoreError.invalidArgument("give --data or --config, not both") }
            let location: StoreLocation = try a.value("data").map { .sqlite(directory: $0) } ?? GatewayConfiguration.load(path: a.value("config")).storeLocation()
            return try location.openRecipientRegisters(schema: .existing)
        } catch {
            CLI.printError("as4gw: cannot open the store: \(error)")
            return nil
        }
    }
}

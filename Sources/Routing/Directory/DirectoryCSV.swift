import Foundation

/// The CSV form of a directory (docs/DIRECTORY.md): a header naming the columns (any order, the
/// four required ones present, each once), then one address per record. An empty field is an
/// absent value. Several certificates share one field, separated by whitespace.
enum DirectoryCSV {
    static func decode(_ bytes: [UInt8], file: String, options: DirectoryFile.Options) throws(DirectoryFileError) -> [DirectoryEntry] {
        var log = DirectoryDiagnosticLog(file: file)
        var columns: [DirectoryColumn]?
        var headerSeen = false
        var entries: [DirectoryEntry] = []
        var firstLine: [EAddress: Int] = [:]
        do {
            try CSVReader.forEachRecord(bytes) { record in
                guard headerSeen else {
                    headerSeen = true
                    columns = readHeader(record, log: &log)
                    return
                }
                guard let columns else { return }
                guard record.fields.count == columns.count else {
                    log.error(line: record.line, column: 1, "the record has \(record.fields.count) fields, the header \(columns.count)")
                    return
                }
                guard let entry = decodeRecord(record, columns: columns, options: options, log: &log) else { return }
                if let first = firstLine[entry.address] {
                    let field = record.fields[columns.firstIndex(of: .address)!]
                    log.error(line: field.line, column: field.column, "address \(entry.address) is already on line \(first)")
                    return
                }
                firstLine[entry.address] = record.line
                entries.append(entry)
            }
        } catch {
            // Problems of the records before the syntax error are kept: all are reported at once.
            log.error(line: error.line, column: error.column, "CSV: \(error.message)")
            throw log.failure
        }
        guard headerSeen else {
            log.error(line: 0, column: 0, "is empty; a directory CSV starts with a header line naming its columns")
            throw log.failure
        }
        guard log.isEmpty else { throw log.failure }
        return entries
    }

    private static func readHeader(_ header: CSVRecord, log: inout DirectoryDiagnosticLog) -> [DirectoryColumn]? {
        var columns: [DirectoryColumn] = []
        var ok = true
        let known = DirectoryColumn.allCases.map(\.rawValue)
        for field in header.fields {
            guard let column = DirectoryColumn(rawValue: field.text) else {
                var message = "header: \"\(field.text)\" is not a known column"
                if let suggestion = ObjectReader.suggestion(for: field.text, among: known) { message += " (did you mean \"\(suggestion)\"?)" }
                else if field.text.isEmpty { message = "header: a column has no name" }
                log.error(line: field.line, column: field.column, message)
                ok = false
                continue
            }
            if columns.contains(column) {
                log.error(line: field.line, column: field.column, "header: column \(column.rawValue) is named twice")
                ok = false
            }
            columns.append(column)
        }
        for required in DirectoryColumn.required where !columns.contains(required) {
            log.error(line: header.line, column: 1, "header: the required column \(required.rawValue) is missing")
            ok = false
        }
        return ok ? columns : nil
    }

    private static func decodeRecord(_ record: CSVRecord, columns: [DirectoryColumn], options: DirectoryFile.Options,
                                     log: inout DirectoryDiagnosticLog) -> DirectoryEntry? {
        var values = FieldsByColumn(), positions = FieldsByColumn()
        for (column, field) in zip(columns, record.fields) {
            positions[column] = field
            if !field.text.isEmpty { values[column] = field }
        }
        var ok = true
        // An absent value is reported at its empty field, or at the record when the column is left out.
        func report(_ column: DirectoryColumn, _ message: String, log: inout DirectoryDiagnosticLog) {
            let at = positions[column]
            log.error(line: at?.line ?? record.line, column: at?.column ?? 1, "\(column.rawValue) \(message)")
            ok = false
        }
        for column in columns {
            if let text = values[column]?.text, hasSurroundingWhitespace(text) {
                report(column, "must not start or end with whitespace", log: &log)
            }
        }
        for column in DirectoryColumn.required where values[column] == nil {
            report(column, "is required", log: &log)
        }
        guard ok else { return nil }

        func integer(_ column: DirectoryColumn, max: Int = .max) -> Int? {
            guard let text = values[column]?.text else { return nil }
            guard text.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }), let n = Int(text), n >= 1, n <= max else {
                report(column, max == .max ? "must be a whole number of at least 1, not \"\(text)\""
                                           : "must be a whole number from 1 to \(max), not \"\(text)\"", log: &log)
                return nil
            }
            return n
        }
        func time(_ column: DirectoryColumn) -> Date? {
            guard let text = values[column]?.text else { return nil }
            do { return try DirectoryTime.parse(text) } catch {
                report(column, error.reason, log: &log)
                return nil
            }
        }
        let ownerKindText = values[.ownerKind]!.text
        let ownerKind = OwnerKind(rawValue: ownerKindText)
        if ownerKind == nil {
            report(.ownerKind, "must be \(OwnerKind.allCases.map(\.rawValue).joined(separator: ", ")), not \"\(ownerKindText)\"", log: &log)
        }
        let accessPointText = values[.accessPoint]!.text
        let accessPoint = AccessPointKind(rawValue: accessPointText)
        if accessPoint == nil { report(.accessPoint, "must be local or remote, not \"\(accessPointText)\"", log: &log) }
        var certificates: [String] = []
        if let text = values[.certificates]?.text {
            do { certificates = try CertificatePin.items(in: text) } catch { report(.certificates, error.reason, log: &log) }
        }
        let fields = DirectoryEntryFields(
            address: values[.address]!.text, ownerId: values[.ownerId]!.text, ownerKind: ownerKind ?? .company,
            maxMessageBytes: integer(.maxMessageBytes), mailboxBytes: integer(.mailboxBytes), retentionDays: integer(.retentionDays, max: DirectoryEntry.Limits.maximumRetentionDays),
            activeFrom: time(.activeFrom), suspendedFrom: time(.suspendedFrom), suspendedUntil: time(.suspendedUntil),
            blockedFrom: time(.blockedFrom), remote: accessPoint == .remote, partyId: values[.partyId]?.text,
            partyIdType: values[.partyIdType]?.text, endpoint: values[.endpoint]?.text, certificates: certificates)
        guard ok else {
            // The address is checked even so: its problem is usually the one to fix first.
            do { _ = try EAddress(fields.address) } catch { report(.address, error.description, log: &log) }
            return nil
        }
        return fields.entry(allowInsecureEndpoints: options.allowInsecureEndpoints) { column, message in
            report(column, message, log: &log)
        }
    }

    /// ASCII checked byte-wise, anything else by Unicode's whitespace property (this runs for every
    /// field of every record).
    private static func hasSurroundingWhitespace(_ text: String) -> Bool {
        func isWhitespace(_ byte: UInt8?, _ character: Character?) -> Bool {
            guard let byte else { return false }
            if byte < 0x80 { return byte == 0x20 || (0x09...0x0D).contains(byte) }
            return character?.isWhitespace ?? false
        }
        return isWhitespace(text.utf8.first, text.first) || isWhitespace(text.utf8.last, text.last)
    }

    static func encode(_ entries: [DirectoryEntry]) -> String {
        var out = CSVWriter.record(DirectoryColumn.allCases.map(\.rawValue))
        for entry in entries {
            let f = DirectoryEntryFields(entry)
            let time = { (d: Date?) in d.map(RFC3339.format) ?? "" }
            let number = { (n: Int?) in n.map(String.init) ?? "" }
            out += CSVWriter.record([
                f.address, f.ownerId, f.ownerKind.rawValue,
                number(f.maxMessageBytes), number(f.mailboxBytes), number(f.retentionDays),
                time(f.activeFrom), time(f.suspendedFrom), time(f.suspendedUntil), time(f.blockedFrom),
                f.remote ? AccessPointKind.remote.rawValue : AccessPointKind.local.rawValue,
                f.partyId ?? "", f.partyIdType ?? "", f.endpoint ?? "", f.certificates.joined(separator: "\n"),
            ])
        }
        return out
    }
}

/// The fields of one record by column: an array in column order rather than a dictionary, since
/// it is built for every record of a file of 100,000.
private struct FieldsByColumn {
    private var fields = [CSVField?](repeating: nil, count: DirectoryColumn.allCases.count)

    subscript(column: DirectoryColumn) -> CSVField? {
        get { fields[column.ordinal] }
        set { fields[column.ordinal] = newValue }
    }
}

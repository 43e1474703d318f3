import Foundation

/// The JSON form of a directory (docs/DIRECTORY.md): `{"description": …, "addresses": [ … ]}`,
/// each address an object whose members are the CSV column names; numbers are JSON integers,
/// `certificates` an array of strings, absent values are left out.
enum DirectoryJSON {
    static func decode(_ bytes: [UInt8], file: String, options: DirectoryFile.Options) throws(DirectoryFileError) -> [DirectoryEntry] {
        let root: JSONValue
        do {
            root = try JSONReader.parse(bytes)
        } catch {
            var log = DirectoryDiagnosticLog(file: file)
            log.error(line: error.location.line, column: error.location.column, "JSON: \(error.message)")
            throw log.failure
        }
        let log = DiagnosticLog()
        var entries: [DirectoryEntry] = []
        if let top = ObjectReader(root, path: "", file: file, log: log, known: ["description", "addresses"]) {
            _ = top.string("description")
            var firstLine: [EAddress: Int] = [:]
            for element in top.array("addresses", required: true) ?? [] {
                guard let o = ObjectReader(element.value, path: element.path, file: file, log: log,
                                           known: DirectoryColumn.allCases.map(\.rawValue)) else { continue }
                guard let entry = decodeEntry(o, options: options) else { continue }
                let at = o.location(of: DirectoryColumn.address.rawValue)
                if let first = firstLine[entry.address] {
                    o.report(DirectoryColumn.address.rawValue, "\(entry.address) is already on line \(first)")
                    continue
                }
                firstLine[entry.address] = at.line
                entries.append(entry)
            }
        }
        guard log.isEmpty else {
            var out = DirectoryDiagnosticLog(file: file)
            for d in log.sorted { out.error(line: d.line, column: d.column, d.message) }
            throw out.failure
        }
        return entries
    }

    private static func decodeEntry(_ o: ObjectReader, options: DirectoryFile.Options) -> DirectoryEntry? {
        let before = o.log.diagnostics.count
        func key(_ c: DirectoryColumn) -> String { c.rawValue }
        let address = o.string(key(.address), required: true)
        let ownerId = o.string(key(.ownerId), required: true)
        let ownerKind: OwnerKind? = o.enumeration(key(.ownerKind), required: true)
        let accessPoint: AccessPointKind? = o.enumeration(key(.accessPoint), required: true)
        func time(_ c: DirectoryColumn) -> Date? {
            guard let text = o.string(key(c)) else { return nil }
            do { return try DirectoryTime.parse(text) } catch {
                o.report(key(c), error.reason)
                return nil
            }
        }
        let fields = DirectoryEntryFields(
            address: address ?? "", ownerId: ownerId ?? "", ownerKind: ownerKind ?? .company,
            maxMessageBytes: o.integer(key(.maxMessageBytes), in: 1...Int.max),
            mailboxBytes: o.integer(key(.mailboxBytes), in: 1...Int.max),
            retentionDays: o.integer(key(.retentionDays), in: 1...DirectoryEntry.Limits.maximumRetentionDays),
            activeFrom: time(.activeFrom), suspendedFrom: time(.suspendedFrom), suspendedUntil: time(.suspendedUntil),
            blockedFrom: time(.blockedFrom), remote: accessPoint == .remote,
            partyId: o.string(key(.partyId)), partyIdType: o.string(key(.partyIdType)), endpoint: o.string(key(.endpoint)),
            certificates: o.strings(key(.certificates))?.map(\.value) ?? [])
        guard o.log.diagnostics.count == before else {
            // The address is checked even so: its problem is usually the one to fix first.
            if let address {
                do { _ = try EAddress(address) } catch { o.report(key(.address), error.description) }
            }
            return nil
        }
        return fields.entry(allowInsecureEndpoints: options.allowInsecureEndpoints) { column, message in
            o.report(column.rawValue, message)
        }
    }

    static func encode(_ entries: [DirectoryEntry]) -> String {
        JSONWriter.render(.object([("addresses", .array(entries.map(encode)))]))
    }

    private static func encode(_ entry: DirectoryEntry) -> JSONOutput {
        let f = DirectoryEntryFields(entry)
        var o: [(String, JSONOutput)] = [
            ("address", .string(f.address)), ("ownerId", .string(f.ownerId)), ("ownerKind", .string(f.ownerKind.rawValue)),
        ]
        for (column, value) in [(DirectoryColumn.maxMessageBytes, f.maxMessageBytes), (.mailboxBytes, f.mailboxBytes),
                                (.retentionDays, f.retentionDays)] {
            if let value { o.append((column.rawValue, .integer(value))) }
        }
        for (column, value) in [(DirectoryColumn.activeFrom, f.activeFrom), (.suspendedFrom, f.suspendedFrom),
                                (.suspendedUntil, f.suspendedUntil), (.blockedFrom, f.blockedFrom)] {
            if let value { o.append((column.rawValue, .string(RFC3339.format(value)))) }
        }
        o.append(("accessPoint", .string(f.remote ? AccessPointKind.remote.rawValue : AccessPointKind.local.rawValue)))
        for (column, value) in [(DirectoryColumn.partyId, f.partyId), (.partyIdType, f.partyIdType), (.endpoint, f.endpoint)] {
            if let value { o.append((column.rawValue, .string(value))) }
        }
        if f.remote { o.append(("certificates", .array(f.certificates.map(JSONOutput.string)))) }
        return .object(o)
    }
}

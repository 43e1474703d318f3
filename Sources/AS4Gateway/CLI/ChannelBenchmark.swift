import Foundation
import MessageStore
import Routing

/// `as4gw bench channel`: a batch channel lookup of N personal codes (default 10,000) against a
/// temporary SQLite store holding N persons: a third with an active e-address, a third in the
/// non-digital register, a third with neither. Times what `POST /api/v1/channel` does: the
/// lookup (two queries), the lookup log row and the JSON answer, and checks every answer.
struct ChannelBenchmark {
    var codes = 10_000
    var runs = 5
    var directory: String

    struct WrongAnswer: Error, CustomStringConvertible { var description: String }

    /// New-format personal codes (32…): valid without a check digit, distinct per index.
    static func personalCode(_ i: Int) -> String { "32" + String(i).leftPaddedWithZeros(9) }

    func run() throws -> [(key: String, value: Double)] {
        let folder = directory + "/as4gw-bench-channel-\(getpid())"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let location = StoreLocation.sqlite(directory: folder)
        let addresses = try location.openAddressDirectory(), registers = try location.openRecipientRegisters()
        defer { addresses.close(); registers.close() }
        let all = (0..<codes).map(Self.personalCode)
        let now = Date()
        let setupStarted = ContinuousClock.now
        var records: [AddressRecord] = []
        for (i, code) in all.enumerated() where i % 3 == 0 {
            records.append(AddressRecord(address: "_PRIVATE@" + code, ownerId: code, ownerKind: "naturalPerson", maxMessageBytes: nil, mailboxBytes: nil,
                                         retentionDays: nil, activeFrom: nil, suspendedFrom: nil, suspendedUntil: nil, blockedFrom: nil, remote: false,
                                         partyId: nil, partyIdType: nil, endpoint: nil, certificates: []))
        }
        _ = try addresses.importRecords(records, replace: true, at: now)
        for (i, code) in all.enumerated() where i % 3 == 1 {
            _ = try registers.addNonDigitalPerson(NewNonDigitalPerson(personCode: code, reason: "bench", validFrom: now.addingTimeInterval(-60), validUntil: nil),
                                                  by: "bench", at: now)
        }
        let setup = ContinuousClock.now - setupStarted
        let lookup = ChannelLookup(registers: registers, addresses: addresses)
        var totals: [Double] = [], answerTimes: [Double] = []
        for run in 0...runs {
            let started = ContinuousClock.now
            let answers = try lookup.answer(all, at: Date())
            let answered = ContinuousClock.now
            try registers.logChannelLookup(connection: "bench", personCodes: all, at: Date())
            let body = JSON.object([("results", .array(answers.map(RegisterRoutes.json)))]).serialized(pretty: false)
            let done = ContinuousClock.now
            if run == 0 {
                // The first run warms caches; it is checked, not counted.
                try Self.check(answers, all)
                _ = body.utf8.count
                continue
            }
            totals.append(Self.ms(done - started))
            answerTimes.append(Self.ms(answered - started))
        }
        // Where the time of one lookup goes, step by step.
        var clock = ContinuousClock.now
        func lap() -> Double { let now = ContinuousClock.now; defer { clock = now }; return Self.ms(now - clock) }
        let parsed = all.compactMap { try? ChannelAnswer.personalCode($0).get() }
        let parseMs = lap()
        _ = try registers.validNonDigitalPersons(personCodes: parsed, at: Date())
        let registerMs = lap()
        let rows = try addresses.records(for: parsed.map { "_PRIVATE@" + $0 })
        let directoryMs = lap()
        _ = rows.compactMap { try? DirectoryRecordConversion.entry($0) }
        let conversionMs = lap()
        try registers.logChannelLookup(connection: "bench", personCodes: all, at: Date())
        let logMs = lap()
        totals.sort()
        answerTimes.sort()
        return [("codes", Double(codes)), ("setup_seconds", Self.ms(setup) / 1000), ("lookup_ms_median", answerTimes[answerTimes.count / 2]),
                ("step_parse_ms", parseMs), ("step_register_query_ms", registerMs), ("step_directory_query_ms", directoryMs),
                ("step_entry_check_ms", conversionMs), ("step_log_ms", logMs), ("batch_ms_min", totals[0]), ("batch_ms_median", totals[totals.count / 2]), ("batch_ms_max", totals[totals.count - 1])]
    }

    static func check(_ answers: [ChannelLookup.Answer], _ codes: [String]) throws {
        guard answers.count == codes.count else { throw WrongAnswer(description: "\(answers.count) answers for \(codes.count) codes") }
        for (i, (answer, code)) in zip(answers, codes).enumerated() {
            let right: Bool
            switch (i % 3, answer) {
            case (0, .answered(code, .eAddress)), (1, .answered(code, .paperNonDigital)), (2, .answered(code, .paperNoActiveAddress)): right = true
            default: right = false
            }
            guard right else { throw WrongAnswer(description: "code \(code): \(answer)") }
        }
    }

    static func ms(_ d: Duration) -> Double { Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15 }
}

private extension String {
    func leftPaddedWithZeros(_ width: Int) -> String { count >= width ? self : String(repeating: "0", count: width - count) + self }
}

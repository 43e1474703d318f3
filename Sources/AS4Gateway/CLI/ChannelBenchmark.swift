import Foundation
import HTTPClient
import MessageStore
import Routing

/// `as4gw bench channel`: a batch channel lookup of N personal codes (default 10,000) against a
/// temporary SQLite store holding N persons: a third with an active e-address, a third in the
/// non-digital register, a third with neither. Times what `POST /api/v1/channel` does: the
/// lookup (two queries), the lookup log row and the JSON answer, and checks every answer; then
/// the same batch through HTTP to an `as4gw serve` of this binary on that store.
struct ChannelBenchmark {
    var codes = 10_000
    var runs = 5
    var directory: String

    struct WrongAnswer: Error, CustomStringConvertible { var description: String }

    /// New-format personal codes (32…): valid without a check digit, distinct per index.
    static func personalCode(_ i: Int) -> String { "32" + String(i).leftPaddedWithZeros(9) }

    func run() throws -> [(key: String, value: Double)] {
        let root = directory + "/as4gw-bench-channel-\(getpid())"
        let cleanup = E2ECleanup.shared
        cleanup.begin(directory: root)
        defer { cleanup.finish() }
        try FileManager.default.createDirectory(atPath: root + "/pmode", withIntermediateDirectories: true)
        let node = E2ENode(name: "gw-a", root: root)
        let location = StoreLocation.sqlite(directory: node.data)
        let addresses = try location.openAddressDirectory(schema: .migrate), registers = try location.openRecipientRegisters(schema: .migrate)
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
        let http = try httpTimes(node: node, root: root, codes: all)
        return [("codes", Double(codes)), ("setup_seconds", Self.ms(setup) / 1000), ("lookup_ms_median", answerTimes[answerTimes.count / 2]),
                ("step_parse_ms", parseMs), ("step_register_query_ms", registerMs), ("step_directory_query_ms", directoryMs),
                ("step_entry_check_ms", conversionMs), ("step_log_ms", logMs), ("batch_ms_min", totals[0]), ("batch_ms_median", totals[totals.count / 2]), ("batch_ms_max", totals[totals.count - 1]),
                ("http_batch_ms_min", http[0]), ("http_batch_ms_median", http[http.count / 2])]
    }

    /// The batch as a state system sends it: `POST /api/v1/channel` to a gateway on this store,
    /// as a connection with the lookup role; the answers' counts are checked.
    func httpTimes(node: E2ENode, root: String, codes all: [String]) throws -> [Double] {
        let bench = E2EBenchmark(directory: root)
        try bench.writePModes(directory: root + "/pmode", nodes: [node, E2ENode(name: "gw-b", root: root)])
        try "{\"adminListener\": null, \"shutdownGraceSeconds\": 5}\n".write(toFile: root + "/gateway-gw-a.json", atomically: true, encoding: .utf8)
        let add = Process()
        add.executableURL = URL(fileURLWithPath: bench.executable)
        add.arguments = ["connections", "add", "bench-lookup", "--role", "lookup", "--data", node.data]
        let out = Pipe()
        add.standardOutput = out
        try add.run()
        let printed = out.fileHandleForReading.readDataToEndOfFile()
        add.waitUntilExit()
        guard add.terminationStatus == 0, let token = (try? JSONSerialization.jsonObject(with: printed) as? [String: Any])?["token"] as? String else {
            throw WrongAnswer(description: "connections add failed: \(String(decoding: printed, as: UTF8.self))")
        }
        try bench.start(node, root: root)
        defer { node.stop() }
        let client = try HTTPClient(configuration: HTTPClientConfiguration())
        let body = Array(("{\"persons\": [" + all.map { "\"\($0)\"" }.joined(separator: ",") + "]}").utf8)
        let third = all.count / 3
        var times: [Double] = []
        for run in 0...runs {
            let started = ContinuousClock.now
            let response = try client.post(url: "http://127.0.0.1:\(node.submitPort)/api/v1/channel",
                                           headers: [("Authorization", "Bearer \(token)"), ("Content-Type", "application/json")], body: .bytes(body))
            let elapsed = Self.ms(ContinuousClock.now - started)
            let counts = ((try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any])?["counts"] as? [String: Int]
            let eaddress = (all.count + 2) / 3
            guard response.status == 200, counts == ["eaddress": eaddress, "paper": all.count - eaddress, "invalid": 0] else {
                throw WrongAnswer(description: "HTTP \(response.status), counts \(counts ?? [:]) (expected about \(third) of each)")
            }
            if run > 0 { times.append(elapsed) }
        }
        return times.sorted()
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

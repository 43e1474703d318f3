import Foundation
import HTTPServer
import MessageStore
import Routing

/// The routes of the recipient registers (docs/API.md, "Non-digital persons and channels" and
/// "Who may write to whom"):
/// - `POST|GET /api/v1/non-digital-persons`, `GET …/history`, `POST …/{id}/end` (operator)
/// - `GET /api/v1/channel?person=CODE`, `POST /api/v1/channel` (lookup or operator)
/// - `GET /api/v1/channel/lookups` (operator): who asked
/// - `GET|PUT /api/v1/addresses/{address}/opt-in` (the address's own connection)
struct RegisterRoutes {
    let r: APIRequest
    init(_ r: APIRequest) { self.r = r }

    static let maxBatch = 10_000

    /// Whether the path is one of these routes (the handler's dispatch asks before its default).
    static func handles(_ s: [String]) -> Bool {
        switch s.count {
        case 1: return s[0] == "non-digital-persons" || s[0] == "channel"
        case 2: return (s[0] == "non-digital-persons" && s[1] == "history") || (s[0] == "channel" && s[1] == "lookups")
        case 3: return (s[0] == "non-digital-persons" && s[2] == "end") || (s[0] == "addresses" && s[2] == "opt-in")
        default: return false
        }
    }

    func route(_ s: [String]) throws -> HTTPResponse {
        let method = r.request.head.method
        func allow(_ methods: [String: () throws -> HTTPResponse]) throws -> HTTPResponse {
            if let body = methods[method] { return try body() }
            let allowed = methods.keys.sorted().joined(separator: ", ")
            var response = Problem(405, "method-not-allowed", "Method not allowed", "\(r.request.head.path) answers \(allowed) only").response
            response.headers = ["Content-Type": "application/problem+json", "Allow": allowed]
            return response
        }
        switch (s.count, s[0]) {
        case (1, "non-digital-persons"): return try allow(["POST": addNonDigital, "GET": listNonDigital])
        case (2, "non-digital-persons"): return try allow(["GET": nonDigitalHistory])
        case (3, "non-digital-persons"): return try allow(["POST": { try endNonDigital(s[1]) }])
        case (1, "channel"): return try allow(["GET": channelOne, "POST": channelBatch])
        case (2, "channel"): return try allow(["GET": channelLookups])
        default: return try allow(["GET": { try getOptIn(s[1]) }, "PUT": { try putOptIn(s[1]) }])
        }
    }

    // MARK: Non-digital persons register

    static let entryFields: Set<String> = ["personCode", "reason", "validFrom", "validUntil"]

    func addNonDigital() throws -> HTTPResponse {
        try r.require(.operatorRole)
        let body = try r.jsonObject()
        var errors: [(pointer: String, detail: String)] = []
        for key in body.keys.sorted() where !Self.entryFields.contains(key) {
            errors.append(("/\(key)", "unknown field; known are \(Self.entryFields.sorted().joined(separator: ", "))"))
        }
        var code = ""
        switch body["personCode"] {
        case let text as String:
            switch ChannelAnswer.personalCode(text) {
            case .success(let c): code = c
            case .failure(let e): errors.append(("/personCode", e.reason))
            }
        case nil: errors.append(("/personCode", "required: the person's personal code"))
        default: errors.append(("/personCode", "must be a string"))
        }
        let reason = body["reason"] as? String ?? ""
        if reason.trimmingCharacters(in: .whitespaces).isEmpty || TextInput.length(reason) > 1000 || !TextInput.isCarriable(reason) {
            errors.append(("/reason", "required: the lawful reason, 1 to 1000 characters without control characters"))
        }
        let now = Date()
        let validFrom = Self.date(body["validFrom"], "/validFrom", &errors) ?? now
        let validUntil = Self.date(body["validUntil"], "/validUntil", &errors)
        if let until = validUntil, until <= validFrom { errors.append(("/validUntil", "must be after validFrom")) }
        guard errors.isEmpty else {
            throw Problem.invalid("the entry has \(errors.count) problem(s): " + errors.map { "\($0.pointer) \($0.detail)" }.joined(separator: "; "), errors: errors)
        }
        let entry = try r.context.registers.addNonDigitalPerson(
            NewNonDigitalPerson(personCode: code, reason: reason, validFrom: validFrom, validUntil: validUntil), by: r.connection.name, at: now)
        r.context.log.log(.info, "non-digital-added", ["entry": String(entry.id), "connection": r.connection.name])
        return Self.json(entry).response(201)
    }

    func endNonDigital(_ idText: String) throws -> HTTPResponse {
        try r.require(.operatorRole)
        guard let id = PlainNumber.parse(idText, as: Int64.self), id > 0 else { throw Problem.notFound("no non-digital register entry \(idText)") }
        var reason = "ended by the operator"
        if case .bytes(let b) = r.request.body, !b.isEmpty {
            let body = try r.jsonObject()
            if let unknown = body.keys.sorted().first(where: { $0 != "reason" }) {
                throw Problem.invalid("unknown field \(unknown)", errors: [("/\(unknown)", "unknown field; the body may only give a reason")])
            }
            if let v = body["reason"] {
                guard let text = v as? String, !text.isEmpty, TextInput.length(text) <= 1000, TextInput.isCarriable(text) else {
                    throw Problem.invalid("reason must be a string of 1 to 1000 characters", errors: [("/reason", "a string of 1 to 1000 characters")])
                }
                reason = text
            }
        }
        let ended: NonDigitalPerson?
        do {
            ended = try r.context.registers.endNonDigitalPerson(id: id, by: r.connection.name, reason: reason, at: Date())
        } catch StoreError.invalidArgument {
            throw Problem.conflict("entry \(id) was already ended")
        }
        guard let ended else { throw Problem.notFound("no non-digital register entry \(id)") }
        r.context.log.log(.info, "non-digital-ended", ["entry": String(id), "connection": r.connection.name])
        return Self.json(ended).response(200)
    }

    func listNonDigital() throws -> HTTPResponse {
        try r.require(.operatorRole)
        let code = try personFilter()
        var validAt: Date?
        if let text = r.query("validAt") {
            var errors: [(pointer: String, detail: String)] = []
            validAt = text == "now" ? Date() : Self.date(text, "validAt", &errors)
            guard errors.isEmpty else { throw Problem.invalid("validAt must be an RFC 3339 date-time or now", errors: errors) }
        }
        let limit = try FeedRoutes(r).limit(), after = try afterQuery()
        let items = try r.context.registers.nonDigitalPersons(personCode: code, validAt: validAt, afterId: after, limit: limit)
        return JSON.object([("items", .array(items.map(Self.json))), ("nextAfter", .int(items.last?.id ?? after))]).response(200)
    }

    func nonDigitalHistory() throws -> HTTPResponse {
        try r.require(.operatorRole)
        let code = try personFilter()
        let limit = try FeedRoutes(r).limit(), after = try afterQuery()
        let items = try r.context.registers.nonDigitalHistory(personCode: code, afterId: after, limit: limit)
        let list: [JSON] = items.map {
            .object([("id", .int($0.id)), ("entryId", .int($0.entryId)), ("personCode", .string($0.personCode)), ("action", .string($0.action)),
                     ("by", .string($0.by)), ("at", DocumentView.time($0.at)), ("detail", .string($0.detail))])
        }
        return JSON.object([("items", .array(list)), ("nextAfter", .int(items.last?.id ?? after))]).response(200)
    }

    // MARK: Channel lookup

    func channelOne() throws -> HTTPResponse {
        try requireLookup()
        guard let text = r.query("person"), !text.isEmpty else {
            throw Problem.invalid("name the person: ?person=<personal code>", errors: [("person", "required")])
        }
        // An invalid code asks about nobody: refused before the lookup and its log.
        if case .failure(let e) = ChannelAnswer.personalCode(text) {
            throw Problem.invalid("person is not a personal code: \(e.reason)", errors: [("person", e.reason)])
        }
        let (answers, at) = try lookup([text])
        return JSON.object(Self.fields(answers[0]) + [("at", DocumentView.time(at))]).response(200)
    }

    func channelBatch() throws -> HTTPResponse {
        try requireLookup()
        let body = try r.jsonObject(maxBytes: 1 << 20)
        if let unknown = body.keys.sorted().first(where: { $0 != "persons" }) {
            throw Problem.invalid("unknown field \(unknown)", errors: [("/\(unknown)", "unknown field; the body is {\"persons\": [personal codes]}")])
        }
        guard let list = body["persons"] as? [Any], !list.isEmpty else {
            throw Problem.invalid("persons must be a list of 1 to \(Self.maxBatch) personal codes", errors: [("/persons", "required: a non-empty list of strings")])
        }
        guard list.count <= Self.maxBatch else {
            throw Problem(413, "too-large", "Too many persons", "a lookup takes at most \(Self.maxBatch) personal codes; this one has \(list.count): split it",
                          errors: [(pointer: "/persons", detail: "\(list.count) items; at most \(Self.maxBatch)")])
        }
        // A non-string item is that person's error, like an invalid code: the rest is answered.
        // (Not its text: the number 16117519997 is not the code "16117519997".)
        let (lookedUp, at) = try lookup(list.compactMap { $0 as? String })
        var looked = lookedUp.makeIterator()
        let answers = list.map { item -> ChannelLookup.Answer in
            if item is String, let answer = looked.next() { return answer }
            let text = (try? JSONSerialization.data(withJSONObject: item, options: .fragmentsAllowed)).map { String(decoding: $0, as: UTF8.self) } ?? "?"
            return .invalid(text: text, reason: "not a string: a personal code is given as a JSON string")
        }
        var counts = (eaddress: 0, paper: 0, invalid: 0)
        for a in answers {
            switch a {
            case .answered(_, .eAddress): counts.eaddress += 1
            case .answered: counts.paper += 1
            case .invalid: counts.invalid += 1
            }
        }
        return JSON.object([("at", DocumentView.time(at)), ("results", .array(answers.map(Self.json))),
                            ("counts", .object([("eaddress", .int(counts.eaddress)), ("paper", .int(counts.paper)), ("invalid", .int(counts.invalid))]))])
            .response(200)
    }

    func channelLookups() throws -> HTTPResponse {
        try r.require(.operatorRole)
        let code = try personFilter()
        let items = try r.context.registers.channelLookups(personCode: code, limit: try FeedRoutes(r).limit())
        let list: [JSON] = items.map {
            .object([("id", .int($0.id)), ("connection", .string($0.connection)), ("at", DocumentView.time($0.at)), ("personCount", .int($0.personCodes.count)),
                     ("purpose", .string($0.purpose.rawValue))])
        }
        return JSON.object([("items", .array(list))]).response(200)
    }

    /// Answers and logs a lookup: the log row (who, when, which codes) is written before the
    /// answer leaves, so no answer goes out unrecorded. Returns the answers with the moment they
    /// hold for, which is also the recorded lookup's time: the answer states it (`at`), so a
    /// system can cite on what state of the registers it wrote on paper or by e-address.
    private func lookup(_ texts: [String]) throws -> (answers: [ChannelLookup.Answer], at: Date) {
        let now = Date()
        let answers = try ChannelLookup(registers: r.context.registers, addresses: r.context.addresses).answer(texts, at: now)
        let codes = answers.compactMap { if case .answered(let code, _) = $0 { return code } else { return nil } }
        try r.context.registers.logChannelLookup(connection: r.connection.name, personCodes: codes, at: now)
        let eaddress = answers.filter { if case .answered(_, .eAddress) = $0 { return true } else { return false } }.count
        r.context.log.log(.info, "channel-lookup", ["connection": r.connection.name, "purpose": ChannelLookupPurpose.lookup.rawValue,
                                                    "persons": String(texts.count), "eaddress": String(eaddress),
                                                    "invalid": String(texts.count - codes.count)])
        return (answers, now)
    }

    private func requireLookup() throws {
        if r.connection.roles.contains(.operatorRole) { return }
        try r.require(.channelLookup)
    }

    // MARK: Opt-ins

    func getOptIn(_ text: String) throws -> HTTPResponse {
        let address = try r.canonical(text, field: "address")
        guard r.holds(address) || r.connection.roles.contains(.operatorRole) else {
            throw Problem.forbidden("connection \(r.connection.name) does not hold \(address)")
        }
        return Self.json(address, try r.context.registers.optIn(address: address)).response(200)
    }

    func putOptIn(_ text: String) throws -> HTTPResponse {
        let address = try r.canonical(text, field: "address")
        guard r.holds(address) else { throw Problem.forbidden("only a connection holding \(address) sets its opt-in; \(r.connection.name) does not") }
        let body = try r.jsonObject()
        var errors: [(pointer: String, detail: String)] = []
        for key in body.keys.sorted() where key != "fromCompanies" && key != "fromPersons" {
            errors.append(("/\(key)", "unknown field; known are fromCompanies, fromPersons"))
        }
        // A member left out keeps what is stored; the store merges in one statement, so two
        // connections changing different members at once do not undo each other.
        func flag(_ key: String) -> Bool? {
            guard let v = body[key] else { return nil }
            guard SubmitRoute.isJSONBoolean(v), let b = v as? Bool else { errors.append(("/\(key)", "must be true or false")); return nil }
            return b
        }
        let fromCompanies = flag("fromCompanies"), fromPersons = flag("fromPersons")
        if body.isEmpty { errors.append(("", "give fromCompanies, fromPersons or both")) }
        guard errors.isEmpty else { throw Problem.invalid(errors.map { "\($0.pointer) \($0.detail)" }.joined(separator: "; "), errors: errors) }
        let record = try r.context.registers.updateOptIn(address: address, fromCompanies: fromCompanies, fromPersons: fromPersons,
                                                         setBy: r.connection.name, at: Date())
        r.context.log.log(.info, "opt-in-set", ["address": address, "connection": r.connection.name, "from_companies": String(record.fromCompanies),
                                                "from_persons": String(record.fromPersons)])
        return Self.json(address, record).response(200)
    }

    // MARK: Input and output

    private func personFilter() throws -> String? {
        guard let text = r.query("person") else { return nil }
        switch ChannelAnswer.personalCode(text) {
        case .success(let code): return code
        case .failure(let e): throw Problem.invalid("person is not a personal code: \(e.reason)", errors: [("person", e.reason)])
        }
    }

    private func afterQuery() throws -> Int64 {
        guard let text = r.query("after") else { return 0 }
        guard let n = PlainNumber.parse(text, as: Int64.self), n >= 0 else { throw Problem.invalid("after must be a non-negative integer", errors: [("after", "not \(text)")]) }
        return n
    }

    /// Every date-time the API accepts goes through here (strict RFC 3339: an impossible date
    /// is refused, never rolled over into another day).
    static func date(_ value: Any?, _ pointer: String, _ errors: inout [(pointer: String, detail: String)]) -> Date? {
        guard let value else { return nil }
        guard let text = value as? String else {
            errors.append((pointer, "must be an RFC 3339 date-time such as 2026-12-01T00:00:00Z"))
            return nil
        }
        do throws(RFC3339.Invalid) {
            return try APIDateTime.parse(text)
        } catch {
            errors.append((pointer, "must be an RFC 3339 date-time such as 2026-12-01T00:00:00Z: \(APIDateTime.reason(error))"))
            return nil
        }
    }

    static func json(_ e: NonDigitalPerson) -> JSON {
        .object([("id", .int(e.id)), ("personCode", .string(e.personCode)), ("reason", .string(e.reason)), ("validFrom", DocumentView.time(e.validFrom)),
                 ("validUntil", e.validUntil.map(DocumentView.time) ?? .null), ("recordedBy", .string(e.recordedBy)),
                 ("recordedAt", DocumentView.time(e.recordedAt)), ("endedBy", .string(e.endedBy)), ("endedAt", e.endedAt.map(DocumentView.time) ?? .null),
                 ("validNow", .bool(e.isValid(at: Date())))])
    }

    static func json(_ answer: ChannelLookup.Answer) -> JSON { .object(fields(answer)) }

    static func fields(_ answer: ChannelLookup.Answer) -> [(String, JSON)] {
        switch answer {
        case .invalid(let text, let reason):
            return [("person", .string(text)), ("error", .string(reason))]
        case .answered(let code, .eAddress(let address)):
            return [("person", .string(code)), ("channel", .string("eaddress")), ("address", .string(address.canonical))]
        case .answered(let code, .paperNonDigital(let status)):
            return [("person", .string(code)), ("channel", .string("paper")), ("reason", .string("nonDigital")),
                    ("detail", .string(status.reason)), ("validFrom", DocumentView.time(status.validFrom)),
                    ("validUntil", status.validUntil.map(DocumentView.time) ?? .null)]
        case .answered(let code, .paperNoActiveAddress(let why)):
            return [("person", .string(code)), ("channel", .string("paper")), ("reason", .string("noActiveAddress")), ("detail", .string(why))]
        }
    }

    static func json(_ address: String, _ record: MessagingOptInRecord?) -> JSON {
        .object([("address", .string(address)), ("fromCompanies", .bool(record?.fromCompanies ?? false)), ("fromPersons", .bool(record?.fromPersons ?? false)),
                 ("setBy", .string(record?.setBy)), ("setAt", record.map { DocumentView.time($0.setAt) } ?? .null)])
    }
}

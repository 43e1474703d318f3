import Foundation
import HTTPServer
import MessageStore
import Routing

/// The operators' retention and limits routes (docs/API.md, docs/RETENTION.md); every one needs
/// the `operator` role:
/// - `POST /api/v1/legal-holds`, `GET /api/v1/legal-holds`, `GET /api/v1/legal-holds/{id}`,
///   `POST /api/v1/legal-holds/{id}/release`
/// - `GET|PUT /api/v1/addresses/{address}/limits`
/// There is no route that deletes a document: documents leave by the retention purge only.
struct RetentionRoutes {
    let r: APIRequest
    init(_ r: APIRequest) { self.r = r }

    /// The answer when `segments` (the path after `/api/v1/`) is one of these routes; nil otherwise.
    static func route(_ segments: [String], method: String, _ r: APIRequest) throws -> HTTPResponse? {
        func allow(_ methods: [String], _ body: () throws -> HTTPResponse) throws -> HTTPResponse {
            guard methods.contains(method) else {
                let list = methods.joined(separator: ", ")
                var response = Problem(405, "method-not-allowed", "Method not allowed", "/api/v1/\(segments.joined(separator: "/")) answers \(list) only").response
                response.headers = ["Content-Type": "application/problem+json", "Allow": list]
                return response
            }
            return try body()
        }
        let routes = RetentionRoutes(r)
        switch segments.count {
        case 1 where segments[0] == "legal-holds":
            return try allow(["GET", "POST"]) { method == "GET" ? try routes.listHolds() : try routes.placeHold() }
        case 2 where segments[0] == "legal-holds":
            return try allow(["GET"]) { try routes.showHold(segments[1]) }
        case 3 where segments[0] == "legal-holds" && segments[2] == "release":
            return try allow(["POST"]) { try routes.releaseHold(segments[1]) }
        case 3 where segments[0] == "addresses" && segments[2] == "limits":
            return try allow(["GET", "PUT"]) { method == "GET" ? try routes.limits(segments[1]) : try routes.setLimits(segments[1]) }
        default:
            return nil
        }
    }

    // MARK: Legal holds

    func placeHold() throws -> HTTPResponse {
        try r.require(.operatorRole)
        let body = try r.jsonObject()
        var errors: [(pointer: String, detail: String)] = []
        for key in body.keys.sorted() where !["messageId", "address", "reason"].contains(key) {
            errors.append(("/\(key)", "unknown field; known are address, messageId, reason"))
        }
        let messageId = body["messageId"] as? String, addressText = body["address"] as? String
        for key in ["messageId", "address", "reason"] where body[key] != nil && !(body[key] is String) { errors.append(("/\(key)", "must be a string")) }
        if (messageId == nil) == (addressText == nil) { errors.append(("", "name exactly one of messageId and address")) }
        let reason = (body["reason"] as? String)?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        if reason.isEmpty || TextInput.length(reason) > 1000 || !TextInput.isCarriable(reason) {
            errors.append(("/reason", "required: why the documents are held, 1 to 1000 characters without control characters"))
        }
        guard errors.isEmpty else { throw Problem.invalid(errors.map { "\($0.pointer) \($0.detail)" }.joined(separator: "; "), errors: errors) }
        let target: LegalHoldTarget
        if let messageId {
            target = .message(messageId)
        } else {
            target = .address(try r.canonical(addressText ?? "", field: "/address"))
        }
        let hold: LegalHold
        do {
            hold = try r.context.retention.placeHold(target, reason: reason, by: r.connection.name, at: Date())
        } catch MailboxStoreError.notFound {
            if case .message(let id) = target, let purged = try r.context.retention.purges(messageId: id).last {
                throw Self.gone(id, purged)
            }
            throw Problem.notFound("no message \(messageId ?? "")")
        }
        r.context.log.log(.warning, "legal-hold-placed", Self.logFields(hold, by: r.connection.name))
        var response = Self.view(hold).response(201)
        response.headers = ["Content-Type": "application/json", "Location": "/api/v1/legal-holds/\(hold.id)"]
        return response
    }

    func listHolds() throws -> HTTPResponse {
        try r.require(.operatorRole)
        let active: Bool
        switch r.query("active") {
        case nil, "false": active = false
        case "true": active = true
        case let other?: throw Problem.invalid("active must be true or false, not \(other)", errors: [("active", "true or false")])
        }
        return JSON.object([("items", .array(try r.context.retention.holds(activeOnly: active).map(Self.view)))]).response(200)
    }

    /// `GET /api/v1/legal-holds/{id}`: the hold a placement's `Location` names.
    func showHold(_ text: String) throws -> HTTPResponse {
        try r.require(.operatorRole)
        guard let id = PlainNumber.parse(text, as: Int64.self), id > 0, let hold = try r.context.retention.hold(id: id) else { throw Problem.notFound("no legal hold \(text)") }
        return Self.view(hold).response(200)
    }

    func releaseHold(_ text: String) throws -> HTTPResponse {
        try r.require(.operatorRole)
        guard let id = PlainNumber.parse(text, as: Int64.self), id > 0 else { throw Problem.notFound("no legal hold \(text)") }
        do {
            let hold = try r.context.retention.releaseHold(id: id, by: r.connection.name, at: Date())
            r.context.log.log(.warning, "legal-hold-released", Self.logFields(hold, by: r.connection.name))
            return Self.view(hold).response(200)
        } catch MailboxStoreError.notFound(let detail) {
            throw Problem.notFound(detail)
        } catch MailboxStoreError.conflict(let detail) {
            throw Problem.conflict(detail)
        }
    }

    /// A hold's log line names its document as every document's line does (`document_id`), or
    /// its address, with the reason it was placed for (on release too: what is no longer held).
    /// The reason is the operator's free text and often names the case, so a bare personal code
    /// in it is masked as in every other line (the API still gives it whole to operators).
    static func logFields(_ hold: LegalHold, by connection: String) -> [String: String?] {
        var fields: [String: String?] = ["hold": String(hold.id), "reason": APIHandler.maskingCodes(hold.reason), "by": connection]
        switch hold.target {
        case .message(let id): fields["document_id"] = id
        case .address(let a): fields["address"] = a
        }
        return fields
    }

    static func view(_ h: LegalHold) -> JSON {
        var fields: [(String, JSON)] = [("id", .int(h.id))]
        switch h.target {
        case .message(let id): fields.append(("messageId", .string(id)))
        case .address(let a): fields.append(("address", .string(a)))
        }
        let time = ISO8601DateFormatter()
        fields += [("reason", .string(h.reason)), ("active", .bool(h.isActive)), ("placedBy", .string(h.placedBy)),
                   ("placedAt", .string(time.string(from: h.placedAt))), ("releasedBy", .string(h.releasedBy)),
                   ("releasedAt", .string(h.releasedAt.map(time.string(from:))))]
        return .object(fields)
    }

    // MARK: Purged documents

    /// For an id no document has: 410 when it was purged, to the connections of its sender and
    /// recipients and to operators; 403 to other connections, as for a document still held;
    /// 404 when there never was one.
    static func missing(_ r: APIRequest, _ id: String) throws -> Problem {
        guard let purged = try r.context.retention.purges(messageId: id).last else { return Problem.notFound("no message \(id)") }
        guard r.holds(purged.sender) || purged.recipients.contains(where: r.holds) || r.connection.roles.contains(.operatorRole) else {
            return Problem.forbidden("connection \(r.connection.name) is neither the sender nor a recipient of \(id)")
        }
        return gone(id, purged)
    }

    /// A message view with `retainUntil` (null: kept without end).
    static func withRetention(_ view: JSON, _ r: APIRequest, _ id: String) throws -> JSON {
        guard case .object(var fields) = view else { return view }
        let until = try r.context.retention.retainUntil(messageId: id) ?? nil
        fields.append(("retainUntil", .string(until.map(ISO8601DateFormatter().string(from:)))))
        return .object(fields)
    }

    static func gone(_ id: String, _ p: PurgeRecord) -> Problem {
        let time = ISO8601DateFormatter()
        return Problem(410, "gone", "Purged after its retention",
                       "message \(id) was kept until \(time.string(from: p.retainUntil)) and purged at \(time.string(from: p.purgedAt)); its content no longer exists",
                       extensions: [("messageId", .string(id)), ("retainUntil", .string(time.string(from: p.retainUntil))),
                                    ("purgedAt", .string(time.string(from: p.purgedAt)))])
    }

    // MARK: Limits

    func limits(_ text: String) throws -> HTTPResponse {
        try r.require(.operatorRole)
        let record = try storedRecord(text)
        return try limitsView(record).response(200)
    }

    /// Writes the directory entry's limits: a member given as a number sets it, as null removes
    /// it (the gateway-wide setting applies), absent leaves it. Taken by the next message on every
    /// node: the router and the mailbox check read the directory from the store per message.
    func setLimits(_ text: String) throws -> HTTPResponse {
        try r.require(.operatorRole)
        let body = try r.jsonObject()
        var record = try storedRecord(text)
        var errors: [(pointer: String, detail: String)] = []
        for key in body.keys.sorted() where !["maxMessageBytes", "mailboxBytes"].contains(key) {
            errors.append(("/\(key)", "unknown field; known are mailboxBytes, maxMessageBytes"))
        }
        if body["maxMessageBytes"] == nil && body["mailboxBytes"] == nil {
            errors.append(("", "give maxMessageBytes, mailboxBytes or both (a number of bytes, or null for no limit)"))
        }
        func limit(_ key: String) -> Int?? {
            guard let value = body[key] else { return .none }
            if value is NSNull { return .some(nil) }
            guard let n = value as? NSNumber, !SubmitRoute.isJSONBoolean(n), n.doubleValue == Double(n.int64Value), n.int64Value >= 1,
                  n.int64Value <= Int64(Int.max) else {
                errors.append(("/\(key)", "must be a whole number of bytes of at least 1, or null for no limit"))
                return .none
            }
            return .some(n.intValue)
        }
        let maxMessage = limit("maxMessageBytes"), mailbox = limit("mailboxBytes")
        guard errors.isEmpty else { throw Problem.invalid(errors.map { "\($0.pointer) \($0.detail)" }.joined(separator: "; "), errors: errors) }
        // Read, changed and written in one transaction: an approval or another change of the
        // same entry at the same moment keeps its own fields.
        guard let changed = try r.context.addresses.modifyRecord(record.address, missing: nil, at: Date(), { entry in
            if let maxMessage { entry.maxMessageBytes = maxMessage }
            if let mailbox { entry.mailboxBytes = mailbox }
        }) else { throw Problem.notFound("\(record.address) is not in the e-address directory") }
        record = changed
        r.context.log.log(.warning, "address-limits-changed", ["address": record.address, "max_message_bytes": record.maxMessageBytes.map(String.init) ?? "none",
                                                               "mailbox_bytes": record.mailboxBytes.map(String.init) ?? "none", "by": r.connection.name])
        return try limitsView(try storedRecord(record.address)).response(200)
    }

    private func storedRecord(_ text: String) throws -> AddressRecord {
        let address = try r.canonical(text, field: "address")
        guard let record = try r.context.addresses.record(for: address) else { throw Problem.notFound("\(address) is not in the e-address directory") }
        return record
    }

    private func limitsView(_ record: AddressRecord) throws -> JSON {
        func number(_ v: Int?) -> JSON { v.map { .int(Int64($0)) } ?? .null }
        return .object([("address", .string(record.address)), ("maxMessageBytes", number(record.maxMessageBytes)),
                        ("mailboxBytes", number(record.mailboxBytes)),
                        ("mailboxUsedBytes", .int(try r.context.retention.mailboxBytes(address: record.address))),
                        ("retentionDays", number(record.retentionDays))])
    }
}

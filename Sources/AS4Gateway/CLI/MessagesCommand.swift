import Foundation
import MessageStore

/// `as4gw messages list|show|retry|retry-intake` and `as4gw tail`: operators' view of a node's
/// message store, read directly (the daemon may be running: SQLite in WAL mode lets both use the
/// database), and the two operator writes (`retry`, `retry-intake`: MessagesCommand+RetryIntake).
enum MessagesCommand {
    static let help = """
    Usage: as4gw messages list [--status S] [--since ISO-8601] [--direction in|out] [--address PARTY]
                               [--limit N] [--passed-over] [--data DIR | --store URL | --config FILE] [--json]
           as4gw messages show ID [--direction in|out] [--from PARTY] [--data DIR | --store URL | --config FILE] [--json]
           as4gw messages retry ID [--data DIR | --store URL | --config FILE]
           as4gw messages retry-intake ID|--all [--from PARTY] [--data DIR | --store URL | --config FILE]

    Reads the node's message store: SQLite in the data directory --data DIR, the store URL
    --store URL (sqlite:DIR or postgres://user@host:port/database), or the store of the
    configuration --config FILE; default ./data. The gateway may be running.

    list    One line per message, oldest first: created, direction, status, message id, from, to,
            service, action, attempts (used/allowed, outbound only) and last error. --status is
            one of Submitted, Sending, Delivered, Failed, Received, Retrieved; --since keeps the
            messages created at or after that instant (e.g. 2026-01-31T12:00:00Z); --address
            keeps those whose from or to party is PARTY (a party id as stored, type::value, or
            its value alone, e.g. gw-b); --limit (default 1000) caps the count.
            --passed-over lists instead the received e-address messages the intake passed over:
            set aside after the store refused their intake, and left Received because it refused
            their Failed mark too (event=intake-set-aside status=Received); retry-intake takes
            them in again.
            --json prints {"messages": [...]}, each with its "properties".
    show    The message with its eb:MessageProperties (name, value, type: originalSender,
            finalRecipient, agreement-specific ones), its parts (content id, MIME type, size,
            SHA-256, and eb:PartProperties such as CharacterSet), every event (time, status, code,
            detail) and whether a receipt is held. A sent message's parts are inside its sealed
            (signed, encrypted) copy; show says where that is. Without --direction both directions are
            searched; an id found in both needs --direction. Two parties may send the same
            MessageId (duplicates are detected per sender): an inbound id received from several
            needs --from PARTY (as for --address), and the error lists them.
    retry   Puts a Failed outbound message back in the queue: Submitted, due now, its attempt
            budget renewed, with a retry-requested event. The running gateway delivers it on its
            next poll. Refused for a message that is not outbound or not Failed.
    retry-intake
            Has the intake run again for an inbound message whose intake failed after its
            receipt (inbound Failed: list them with --status Failed --direction in), once its
            cause is fixed (P-Modes, directory, …): the message goes back to Received with an
            intake-retry-requested event naming your account, and the running gateway (any node
            of a shared PostgreSQL store) takes it in on its next round and logs
            event=intake-retried with the outcome. Should it fail again, it is Failed again with
            the new reason; an access point told Failed before is not told again. --all does it
            for every inbound Failed message. A message the intake passed over (list them with
            --passed-over) is asked for again the same way, though it stays Received. Refused for
            a message that is not inbound, or neither Failed nor passed over. An id received from several parties needs --from PARTY, as for show.

    Exit status: 0 success; 1 message not found, or retry or retry-intake refused; 2 usage or
    I/O error.
    """

    static func run(_ args: [String]) -> Int32 {
        var rest = args[...]
        switch rest.popFirst() {
        case "list": return list(Array(rest))
        case "show": return show(Array(rest))
        case "retry": return retry(Array(rest))
        case "retry-intake": return retryIntake(Array(rest))
        case "--help", "-h", "help": print(help); return 0
        case nil: return CLI.usageError("messages needs a subcommand: list, show, retry or retry-intake", help: help)
        case let other?: return CLI.usageError("messages: unknown subcommand \(other)", help: help)
        }
    }

    // MARK: list

    static func list(_ args: [String]) -> Int32 {
        let a: Arguments
        do {
            a = try Arguments(args, valued: ["status", "since", "direction", "address", "limit", "data", "store", "config"], flags: ["json", "passed-over"])
        } catch {
            return CLI.usageError("\(error)", help: help)
        }
        if a.has("help") { print(help); return 0 }
        guard a.positionals.isEmpty else { return CLI.usageError("messages list takes no arguments", help: help) }
        var status: MessageStatus?
        if let s = a.value("status") {
            guard let parsed = MessageStatus.allCases.first(where: { $0.rawValue.lowercased() == s.lowercased() }) else {
                return CLI.usageError("--status is one of \(MessageStatus.allCases.map(\.rawValue).joined(separator: ", "))", help: help)
            }
            status = parsed
        }
        var since: Date?
        if let s = a.value("since") {
            guard let d = parseDate(s) else { return CLI.usageError("--since takes an ISO-8601 instant, e.g. 2026-01-31T12:00:00Z", help: help) }
            since = d
        }
        let direction: Direction?
        switch directionOption(a) {
        case .failure(let code): return code
        case .success(let d): direction = d
        }
        var limit = 1000
        if let s = a.value("limit") {
            guard let n = Int(s), n > 0 else { return CLI.usageError("--limit takes a positive number", help: help) }
            limit = n
        }
        let store: any MessageStore
        switch openStore(a) {
        case .failure(let code): return code
        case .success(let s): store = s
        }
        defer { store.close() }
        var messages: [StoredMessage]
        do {
            if a.has("passed-over") {
                guard status == nil || status == .received, direction != .outbound else {
                    return CLI.usageError("--passed-over lists inbound Received messages only", help: help)
                }
                let location: StoreLocation
                switch storeLocation(a) {
                case .failure(let code): return code
                case .success(let l): location = l
                }
                messages = try IntakePassedOver.messages(in: store, cursor: try IntakePassedOver.cursor(at: location))
                    .filter { m in since.map { m.createdAt >= $0 } ?? true }
                    .filter { m in a.value("address").map { matches(m.metadata.fromParty, $0) || matches(m.metadata.toParty, $0) } ?? true }
                messages = Array(messages.prefix(limit))
            } else if let address = a.value("address") {
                // The store filters by status, time and direction; the party filter runs here, over
                // every match, before the limit applies.
                messages = try store.listMessages(status: status, since: since, direction: direction, limit: Int(Int32.max))
                    .filter { matches($0.metadata.fromParty, address) || matches($0.metadata.toParty, address) }
                messages = Array(messages.prefix(limit))
            } else {
                messages = try store.listMessages(status: status, since: since, direction: direction, limit: limit)
            }
        } catch {
            return CLI.ioError("cannot read the message store: \(error)")
        }
        if a.has("json") {
            print(JSON.object([("messages", .array(messages.map { summary($0) }))]).serialized())
        } else {
            for m in messages { print(line(m)) }
        }
        return 0
    }

    static func line(_ m: StoredMessage) -> String {
        let attempts = m.outbound.map { "\($0.attempts)/\($0.maxAttempts)" } ?? "-"
        let error = (m.outbound?.lastError ?? m.intakeError).map { "\($0.code): \($0.reason)" } ?? "-"
        return [timestamp(m.createdAt), m.direction.rawValue, m.status.rawValue, m.metadata.messageId, m.metadata.fromParty,
                m.metadata.toParty, m.metadata.service, m.metadata.action, attempts, error].joined(separator: "  ")
    }

    static func summary(_ m: StoredMessage) -> JSON {
        var fields: [(String, JSON)] = [
            ("messageId", .string(m.metadata.messageId)),
            ("direction", .string(m.direction.rawValue)),
            ("status", .string(m.status.rawValue)),
            ("createdAt", .string(timestamp(m.createdAt))),
            ("updatedAt", .string(timestamp(m.updatedAt))),
            ("conversationId", .string(m.metadata.conversationId)),
            ("refToMessageId", .string(m.metadata.refToMessageId)),
            ("from", .string(m.metadata.fromParty)),
            ("to", .string(m.metadata.toParty)),
            ("service", .string(m.metadata.service)),
            ("action", .string(m.metadata.action)),
            ("pmode", .string(m.metadata.pmodeId)),
            ("mpc", .string(m.metadata.mpc)),
            ("properties", properties(m.metadata.properties)),
        ]
        if let o = m.outbound {
            fields += [
                ("endpoint", .string(o.endpoint)),
                ("pullMPC", .string(o.pullMPC)),
                ("attempts", .int(o.attempts)),
                ("maxAttempts", .int(o.maxAttempts)),
                ("nextAttemptAt", .string(o.nextAttemptAt.map(timestamp))),
                ("lastError", o.lastError.map { JSON.object([("code", .string($0.code)), ("reason", .string($0.reason))]) } ?? .null),
            ]
        }
        if m.direction == .inbound {
            fields.append(("intakeError", m.intakeError.map { JSON.object([("code", .string($0.code)), ("reason", .string($0.reason))]) } ?? .null))
        }
        fields.append(("receipt", .bool(m.receipt != nil)))
        return .object(fields)
    }

    // MARK: show

    static func show(_ args: [String]) -> Int32 {
        let a: Arguments
        do {
            a = try Arguments(args, valued: ["direction", "from", "data", "store", "config"], flags: ["json"])
        } catch {
            return CLI.usageError("\(error)", help: help)
        }
        if a.has("help") { print(help); return 0 }
        guard a.positionals.count == 1 else { return CLI.usageError("messages show takes exactly one message ID", help: help) }
        let id = a.positionals[0]
        let direction: Direction?
        switch directionOption(a) {
        case .failure(let code): return code
        case .success(let d): direction = d
        }
        let store: any MessageStore
        switch openStore(a) {
        case .failure(let code): return code
        case .success(let s): store = s
        }
        defer { store.close() }
        let message: StoredMessage
        let events: [MessageEvent]
        do {
            var found = try (direction ?? .outbound) == .outbound ? [store.findMessage(id: id, direction: .outbound)].compactMap { $0 } : []
            if (direction ?? .inbound) == .inbound {
                switch try inboundRow(id, from: a.value("from"), in: store) {
                case .success(let row): found += row.map { [$0] } ?? []
                case .failure(let code): return code
                }
            }
            guard let first = found.first else {
                CLI.printError("as4gw: no message with id \(id)\(direction.map { " (\($0.rawValue)bound)" } ?? "")")
                return 1
            }
            guard found.count == 1 else {
                return CLI.usageError("message \(id) exists in both directions: pick one with --direction in|out", help: help)
            }
            message = first
            events = try store.events(for: message.rowId)
        } catch {
            return CLI.ioError("cannot read the message store: \(error)")
        }
        if a.has("json") {
            guard case .object(var fields) = summary(message) else { return 2 }
            fields.append(("receiptAt", .string(message.receiptAt.map(timestamp))))
            fields.append(("parts", .array(message.parts.map { p in
                .object([("contentId", .string(p.contentId)), ("mimeType", .string(p.mimeType)),
                         ("size", .int(p.file.size)), ("sha256", .string(p.file.sha256)),
                         // Small payloads live in the store's database: no file, a null path.
                         ("path", p.file.path.isEmpty ? .null : .string(p.file.path)),
                         ("properties", properties(p.properties))])
            })))
            fields.append(("events", .array(events.map { e in
                .object([("at", .string(timestamp(e.at))), ("status", .string(e.status.rawValue)),
                         ("code", .string(e.code)), ("detail", .string(e.detail))])
            })))
            print(JSON.object(fields).serialized())
            return 0
        }
        let md = message.metadata
        var rows: [(String, String)] = [
            ("Message id", md.messageId), ("Direction", message.direction.rawValue), ("Status", message.status.rawValue),
            ("Created", timestamp(message.createdAt)), ("Updated", timestamp(message.updatedAt)),
            ("Conversation", md.conversationId), ("From", md.fromParty), ("To", md.toParty),
            ("Service", md.service), ("Action", md.action),
        ]
        if let r = md.refToMessageId { rows.append(("Ref to", r)) }
        if let p = md.pmodeId { rows.append(("P-Mode", p)) }
        if let o = message.outbound {
            rows.append(("Endpoint", o.endpoint ?? "pull on \(o.pullMPC ?? "?")"))
            rows.append(("Attempts", "\(o.attempts)/\(o.maxAttempts)"))
            if let n = o.nextAttemptAt { rows.append(("Next attempt", timestamp(n))) }
            if let e = o.lastError { rows.append(("Last error", "\(e.code): \(e.reason)")) }
        }
        if let e = message.intakeError { rows.append(("Intake error", "\(e.code): \(e.reason)")) }
        rows.append(("Receipt", message.receipt.map { "held (\($0.count) bytes\(message.receiptAt.map { ", " + timestamp($0) } ?? ""))" } ?? "none"))
        for (k, v) in rows { print(k.padding(toLength: 14, withPad: " ", startingAt: 0) + v) }
        print("Properties (\(md.properties.count)):")
        for p in md.properties { print("  " + propertyLine(p)) }
        if let o = message.outbound, message.parts.isEmpty {
            // A sender keeps the message as sealed (signed, encrypted): its parts are inside.
            let size = o.messageBytes.map { "\($0.count) bytes in the store" } ?? o.messagePath
            print("Parts:        inside the sealed message (\(size))")
        } else {
            print("Parts (\(message.parts.count)):")
        }
        for p in message.parts {
            print("  \(p.contentId)  \(p.mimeType)  \(p.file.size) bytes  sha256=\(p.file.sha256)")
            for property in p.properties { print("    " + propertyLine(property)) }
        }
        print("Events (\(events.count)):")
        for e in events {
            print("  " + [timestamp(e.at), e.status.rawValue, e.code ?? "-", e.detail ?? ""].joined(separator: "  "))
        }
        return 0
    }

    /// eb:MessageProperties or a part's eb:PartProperties in their order, as `inspect` prints them.
    static func properties(_ props: [MessageProperty]) -> JSON {
        .array(props.map { .object([("name", .string($0.name)), ("value", .string($0.value)), ("type", .string($0.type))]) })
    }

    /// `name=value` (with ` [type]`); control characters escaped, so a value from a peer cannot
    /// start a line of its own or steer the terminal.
    static func propertyLine(_ p: MessageProperty) -> String {
        func shown(_ s: String) -> String {
            s.unicodeScalars.map { $0.properties.generalCategory == .control ? $0.escaped(asASCII: true) : String($0) }.joined()
        }
        return shown(p.name) + "=" + shown(p.value) + (p.type.map { "  [" + shown($0) + "]" } ?? "")
    }

    /// The inbound message `id` from the party `from` names (newest row), or the only party's;
    /// an id several parties sent is a usage error listing them, unless `from` picks one.
    static func inboundRow(_ id: String, from: String?, in store: any MessageStore) throws -> Outcome<StoredMessage?> {
        let rows = try store.findInbound(id: id).filter { row in from.map { matches(row.metadata.fromParty, $0) } ?? true }
        var parties: [String] = []
        for r in rows where !parties.contains(r.metadata.fromParty) { parties.append(r.metadata.fromParty) }
        guard parties.count <= 1 else {
            return .failure(CLI.usageError("message \(id) was received from \(parties.count) parties (\(parties.joined(separator: ", "))): "
                                           + "pick one with --from PARTY", help: help))
        }
        return .success(rows.first)
    }

    /// A stored party id (`type::value`, or a bare value) against what `--address` names.
    static func matches(_ stored: String, _ wanted: String) -> Bool {
        stored == wanted || (!wanted.contains("::") && stored.hasSuffix("::" + wanted))
    }

    // MARK: retry

    static func retry(_ args: [String]) -> Int32 {
        let a: Arguments
        do {
            a = try Arguments(args, valued: ["data", "store", "config"], flags: [])
        } catch {
            return CLI.usageError("\(error)", help: help)
        }
        if a.has("help") { print(help); return 0 }
        guard a.positionals.count == 1 else { return CLI.usageError("messages retry takes exactly one message ID", help: help) }
        let id = a.positionals[0]
        let store: any MessageStore
        switch openStore(a) {
        case .failure(let code): return code
        case .success(let s): store = s
        }
        defer { store.close() }
        do {
            try store.retryFailed(messageId: id, at: Date())
            let m = try store.findMessage(id: id, direction: .outbound)
            print("\(id): back in the queue (Submitted, \(m?.outbound?.maxAttempts ?? 0) attempt(s) allowed); the running gateway delivers it")
            return 0
        } catch StoreError.notFound {
            let inbound = (try? store.findMessage(id: id, direction: .inbound)) != nil
            CLI.printError(inbound ? "as4gw: message \(id) is inbound: only outbound messages can be retried"
                                   : "as4gw: no outbound message with id \(id)")
            return 1
        } catch let StoreError.illegalTransition(_, from, _) {
            CLI.printError("as4gw: message \(id) is \(from.rawValue), not Failed: only a Failed outbound message can be retried")
            return 1
        } catch {
            return CLI.ioError("cannot update the message store: \(error)")
        }
    }

    // MARK: shared

    enum Outcome<T> {
        case success(T)
        case failure(Int32)
    }

    static func directionOption(_ a: Arguments) -> Outcome<Direction?> {
        guard let s = a.value("direction") else { return .success(nil) }
        guard let d = Direction(rawValue: s) else { return .failure(CLI.usageError("--direction is in or out", help: help)) }
        return .success(d)
    }

    /// The store from --data, --store or --config's store (at most one of them), else ./data.
    static func storeLocation(_ a: Arguments, help: String = help) -> Outcome<StoreLocation> {
        guard ["data", "store", "config"].filter({ a.value($0) != nil }).count <= 1 else {
            return .failure(CLI.usageError("give one of --data, --store and --config", help: help))
        }
        if let d = a.value("data") { return .success(.sqlite(directory: d)) }
        do {
            if let url = a.value("store") { return .success(try StoreLocation(parsing: url)) }
            return .success(try GatewayConfiguration.load(path: a.value("config")).storeLocation())
        } catch let error as StoreError {
            return .failure(CLI.usageError(error.description, help: help))
        } catch {
            return .failure(CLI.ioError("\(error)"))
        }
    }

    /// Opens an existing store; a missing SQLite database is an error, not a new empty store.
    /// Operators' commands read and re-queue only, so a PostgreSQL store gets no payload directory.
    static func openStore(_ a: Arguments) -> Outcome<any MessageStore> {
        let location: StoreLocation
        switch storeLocation(a) {
        case .failure(let code): return .failure(code)
        case .success(let l): location = l
        }
        if case let .sqlite(directory) = location,
           !FileManager.default.fileExists(atPath: directory + "/messages.sqlite") {
            return .failure(CLI.ioError("no message store in \(directory) (messages.sqlite is missing)"))
        }
        do {
            return .success(try location.open(payloadDirectory: nil, schema: .existing))
        } catch {
            return .failure(CLI.ioError("cannot open the message store \(location.description): \(error)"))
        }
    }

    static func parseDate(_ s: String) -> Date? {
        if let d = try? Date(s, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true)) { return d }
        if let d = try? Date(s, strategy: Date.ISO8601FormatStyle()) { return d }
        if let d = try? Date(s, strategy: Date.ISO8601FormatStyle().year().month().day()) { return d }
        return nil
    }

    static func timestamp(_ d: Date) -> String {
        d.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }
}

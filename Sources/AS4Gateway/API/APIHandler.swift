import Foundation
import HTTPServer
import MessageStore
import Routing

/// The API listener: `/api/v1/…` for backend connections (bearer token or TLS client
/// certificate), and the operators' JSON submission path (`apiListener.path`) for loopback peers.
/// Each route is a small function from a request and its authenticated connection to a response;
/// every refusal is a `Problem`.
struct APIHandler: HTTPHandler {
    let context: GatewayContext
    static let prefix = "/api/v1/"

    func admit(_ head: HTTPRequestHead) -> HTTPResponse? {
        if head.path == context.config.apiListener.path {
            guard Self.isLoopback(head.remoteAddress) else {
                let problem = Problem.forbidden("the operators' submission endpoint answers loopback peers only; use POST /api/v1/messages")
                logRefusal(head, problem, connection: nil)
                return problem.response
            }
            return SubmissionHandler(context: context).admit(head)
        }
        guard let problem = admission(head) else { return nil }
        logRefusal(head, problem, connection: nil)
        return problem.response
    }

    /// What the HTTP server refuses before the handler sees the request; each problem type is
    /// one docs/API.md lists (a status without its own falls back to its class's).
    func refused(_ head: HTTPRequestHead, status: Int, reason: String) -> HTTPResponse {
        let kinds: [Int: (type: String, title: String)] = [
            400: ("bad-request", "The request is malformed"), 403: ("forbidden", "Client certificate refused"),
            413: ("too-large", "Request body too large"), 500: ("internal-error", "The request could not be processed"),
            501: ("not-implemented", "Transfer coding not supported"), 503: ("unavailable", "Shutting down"),
            507: ("insufficient-storage", "Insufficient storage"),
        ]
        let kind = kinds[status] ?? (status >= 500 ? kinds[500]! : kinds[400]!)
        let problem = Problem(status, kind.type, kind.title, reason)
        if status == 507 {
            // A body the server could not spool: the full disk, logged as the condition it is.
            let listener = head.path == context.config.apiListener.path ? "submit" : "api"
            context.requestFailures.note(.diskFull, listener: listener, error: SpoolDiskFull(spoolDirectory: context.spoolDirectory),
                                         log: context.log, fields: Self.requestFields(head, status: status, connection: nil))
        } else {
            logRefusal(head, problem, connection: nil)
        }
        var response = problem.response
        if status == 507 { response.headers["Retry-After"] = String(DiskFull.retryAfterSeconds) }
        return response
    }

    /// One line per refused API request (the operators' path logs its own, `SubmissionHandler`):
    /// who, what, why. A bare personal code in the path or the reason is masked; one in an
    /// address gets the person's pseudonym, as everywhere in the log.
    func logRefusal(_ head: HTTPRequestHead, _ problem: Problem, connection: String?) {
        context.log.log(problem.status >= 500 ? .warning : .info, "api-refused",
                        Self.requestFields(head, status: problem.status, connection: connection).merging(["reason": Self.maskingCodes(problem.detail)]) { $1 })
    }

    /// `text` with every bare Latvian personal code (11 digits, the first 0 to 3, an optional
    /// hyphen after the sixth) replaced by `***********`; company numbers start with 4, 5 or 9.
    /// A code in a person's address (`_PRIVATE@…`) is left to the log, which gives it the
    /// person's pseudonym as on every other line (`EventLog.maskingPersonalCodes`).
    static func maskingCodes(_ text: String) -> String {
        let chars = Array(text)
        var out = ""
        var i = 0
        while i < chars.count {
            if i == 0 || !chars[i - 1].isNumber, !followsPersonPrefix(chars, at: i), let length = personalCodeLength(chars, at: i) {
                out += "***********"
                i += length
            } else {
                out.append(chars[i])
                i += 1
            }
        }
        return out
    }

    private static func followsPersonPrefix(_ c: [Character], at i: Int) -> Bool {
        let prefix = EventLog.personPrefix
        return i >= prefix.count && String(c[(i - prefix.count)..<i]).uppercased() == prefix
    }

    private static func personalCodeLength(_ c: [Character], at i: Int) -> Int? {
        func digit(_ k: Int) -> Bool { k < c.count && c[k].isASCII && c[k].isNumber }
        guard digit(i), ("0"..."3").contains(c[i]), (i..<i + 6).allSatisfy(digit) else { return nil }
        let rest = i + 6 < c.count && c[i + 6] == "-" ? i + 7 : i + 6
        guard (rest..<rest + 5).allSatisfy(digit), !digit(rest + 5) else { return nil }
        return rest + 5 - i
    }

    private func admission(_ head: HTTPRequestHead) -> Problem? {
        guard head.rawPath.hasPrefix(Self.prefix) else { return Problem.notFound("no route at \(head.path)") }
        // Refused before any body byte is read: an upload without credentials costs nothing.
        if head.headers["Authorization"] == nil && head.clientCertificate == nil { return Problem.unauthenticated }
        // A bearer token that names no active connection is refused here too, so a stranger with
        // any Authorization header cannot make the gateway read and spool a large body first.
        // Only requests that bring a body pay for this second check (`handle` authenticates
        // every request); certificates are judged in `handle` (registrants have no connection
        // yet), and a store that cannot answer now leaves the judgement to `handle` as well.
        if ["POST", "PUT", "PATCH"].contains(head.method), head.contentLength != 0,
           head.clientCertificate == nil, head.headers["Authorization"] != nil,
           let connections = try? context.mailbox.connections() {
            do {
                if try APICredentials.authenticate(head, among: connections) == nil { return Problem.unauthenticated }
            } catch let p as Problem {
                return p
            } catch {}
        }
        if let length = head.contentLength, length > context.config.maxMessageBytes {
            return Problem(413, "too-large", "Request body too large",
                           "the body of \(length) bytes exceeds this gateway's limit of \(context.config.maxMessageBytes) bytes (maxMessageBytes)")
        }
        return nil
    }

    func handle(_ request: HTTPRequest) -> HTTPResponse {
        if request.head.path == context.config.apiListener.path { return SubmissionHandler(context: context).handle(request) }
        var connectionName: String?
        do {
            let connections = try context.mailbox.connections()
            var connection = try APICredentials.authenticate(request.head, among: connections)
            if connection == nil {
                connection = try SelfService.connection(for: request.head, among: connections, registrations: context.registrations)
            }
            connectionName = connection?.name
            // Registrants (a company's certificate, no connection yet) may reach these routes only.
            if RegistrationRoutes.handles(request.head) {
                return try RegistrationRoutes(request: request, connection: connection, context: context).route()
            }
            guard let connection else { throw Problem.unauthenticated }
            return try route(request, APIRequest(request: request, connection: connection, context: context))
        } catch let p as Problem {
            logRefusal(request.head, p, connection: connectionName)
            return p.response
        } catch where DiskFull.matches(error) {
            // Temporary, and nothing of the request was kept: the client sends it again later.
            context.requestFailures.note(.diskFull, listener: "api", error: error, log: context.log,
                                         fields: Self.requestFields(request.head, status: 507, connection: connectionName))
            var response = Problem(507, "insufficient-storage", "Insufficient storage",
                                   "the gateway's disk is full; nothing of this request was kept; send it again later").response
            response.headers["Retry-After"] = String(DiskFull.retryAfterSeconds)
            return response
        } catch {
            // The reason may name files or SQL: it goes to the log, not to the client.
            let fields = Self.requestFields(request.head, status: 503, connection: connectionName)
            if StoreOutage.matches(error) {
                context.requestFailures.note(.storeUnavailable, listener: "api", error: error, log: context.log, fields: fields)
            } else {
                context.log.log(.error, "api", fields.merging(["reason": "\(error)"]) { $1 })
            }
            var response = Problem.unavailable("the gateway could not complete the request; its log (event=api) has the reason").response
            // A store that cannot answer now (PostgreSQL restarting, failing over) is back soon:
            // say when to try again, as the other listeners do.
            if StoreOutage.matches(error) { response.headers["Retry-After"] = String(StoreOutage.retryAfterSeconds) }
            return response
        }
    }

    /// The path after `/api/v1/`, split at the `/`s the client sent and only then decoded: a
    /// document id may hold an encoded `/`, `?` or `#` (`%2F`), and must stay one segment.
    static func segments(_ head: HTTPRequestHead) -> [String] {
        guard head.rawPath.hasPrefix(prefix) else { return [] }
        return head.rawPath.dropFirst(prefix.count).split(separator: "/", omittingEmptySubsequences: false)
            .map { PercentEncoding.decode(String($0)) }
    }

    /// What every line about one request names, as `api-refused` does: the answer's status, the
    /// request, the connection (once authenticated) and the client's address.
    static func requestFields(_ head: HTTPRequestHead, status: Int, connection: String?) -> [String: String?] {
        ["status": String(status), "method": head.method, "path": maskingCodes(head.path), "connection": connection, "client": head.remoteAddress]
    }

    private func route(_ request: HTTPRequest, _ r: APIRequest) throws -> HTTPResponse {
        let segments = Self.segments(request.head)
        let method = request.head.method
        func only(_ allowed: [String], _ body: () throws -> HTTPResponse) throws -> HTTPResponse {
            guard allowed.contains(method) else {
                let list = allowed.joined(separator: ", ")
                var response = Problem(405, "method-not-allowed", "Method not allowed", "\(request.head.path) answers \(list) only").response
                response.headers = ["Content-Type": "application/problem+json", "Allow": list]
                return response
            }
            return try body()
        }
        func only(_ allowed: String, _ body: () throws -> HTTPResponse) throws -> HTTPResponse { try only([allowed], body) }
        if let response = try RetentionRoutes.route(segments, method: method, r) { return response }
        switch segments.count {
        case 1 where segments[0] == "messages": return try only("POST") { try SubmitRoute(r).submit() }
        case 1 where segments[0] == "uploads": return try only("POST") { try UploadRoutes(r).create() }
        case 2 where segments[0] == "uploads":
            return try only(["GET", "DELETE"]) { method == "GET" ? try UploadRoutes(r).status(segments[1]) : try UploadRoutes(r).delete(segments[1]) }
        case 3 where segments[0] == "uploads" && segments[2] == "complete": return try only("POST") { try UploadRoutes(r).complete(segments[1]) }
        case 4 where segments[0] == "uploads" && segments[2] == "chunks": return try only("PUT") { try UploadRoutes(r).chunk(segments[1], segments[3]) }
        case 1 where segments[0] == "inbox": return try only("GET") { try FeedRoutes(r).inbox() }
        case 1 where segments[0] == "notifications": return try only("GET") { try FeedRoutes(r).notifications() }
        case 2 where segments[0] == "notifications" && segments[1] == "confirm": return try only("POST") { try FeedRoutes(r).confirmNotifications() }
        case 2 where segments[0] == "messages" && !segments[1].isEmpty: return try only("GET") { try MessageRoutes(r, id: segments[1]).status() }
        case 3 where segments[0] == "messages" && segments[2] == "receipt": return try only("GET") { try MessageRoutes(r, id: segments[1]).receipt() }
        case 3 where segments[0] == "messages" && segments[2] == "evidence": return try only("GET") { try EvidenceRoute(r, id: segments[1]).bundle() }
        case 3 where segments[0] == "messages" && segments[2] == "confirm": return try only("POST") { try MessageRoutes(r, id: segments[1]).confirm() }
        case 4 where segments[0] == "messages" && segments[2] == "files":
            // HEAD: the size and ETag before a resumed download, without reading the document.
            return try only(["GET", "HEAD"]) { try MessageRoutes(r, id: segments[1]).file(segments[3], marksRead: method == "GET") }
        case 3 where segments[0] == "addresses" && segments[2] == "notice-email": return try NoticeRoutes(r).contact(segments[1])
        case 1 where segments[0] == "notices": return try only("GET") { try NoticeRoutes(r).list() }
        case _ where RegisterRoutes.handles(segments): return try RegisterRoutes(r).route(segments)
        default: throw Problem.notFound("no route at \(request.head.path)")
        }
    }

    static func isLoopback(_ address: String) -> Bool {
        address == "::1" || address.hasPrefix("127.") || address.hasPrefix("::ffff:127.")
    }
}

/// A request with the connection it was authenticated as.
struct APIRequest {
    let request: HTTPRequest
    let connection: BackendConnection
    let context: GatewayContext

    func holds(_ address: String) -> Bool { connection.addresses.contains(address) }

    /// Refuses (403) a connection without `role`; operator and lookup routes start with this.
    func require(_ role: ConnectionRole) throws {
        guard connection.roles.contains(role) else {
            throw Problem.forbidden("this route needs a connection with the \(role.rawValue) role (as4gw connections add --role \(role.rawValue))")
        }
    }

    /// An address from the query or a body in its canonical spelling (what connections hold).
    func canonical(_ text: String, field: String) throws -> String {
        do {
            return try EAddress(text).canonical
        } catch {
            throw Problem.invalid("\(field) is not an e-address: \(error)", errors: [(pointer: field, detail: "\(error)")])
        }
    }

    func query(_ name: String) -> String? { request.head.query[name] }

    /// The body as a JSON object (small bodies only).
    func jsonObject(maxBytes: Int = 64 << 10) throws -> [String: Any] {
        let bytes: [UInt8]
        switch request.body {
        case .empty: throw Problem.badRequest("the request body is empty; send a JSON object")
        case .bytes(let b): bytes = b
        case .file: throw Problem(413, "too-large", "Request body too large", "this route takes a JSON object of at most \(maxBytes) bytes")
        }
        guard bytes.count <= maxBytes else {
            throw Problem(413, "too-large", "Request body too large", "this route takes a JSON object of at most \(maxBytes) bytes")
        }
        return try Self.object(Data(bytes), what: "the request body")
    }

    static func object(_ data: Data, what: String) throws -> [String: Any] {
        let parsed: Any
        do {
            parsed = try JSONSerialization.jsonObject(with: data, options: [])
        } catch {
            let reason = (error as NSError).userInfo["NSDebugDescription"] as? String ?? "\(error)"
            throw Problem.badRequest("\(what) is not valid JSON: \(reason)")
        }
        guard let object = parsed as? [String: Any] else { throw Problem.badRequest("\(what) must be a JSON object") }
        // RFC 8259 leaves a name given twice to the reader (Foundation keeps the last): a
        // `recipients` given twice would name one list to a scanner in front of the gateway and
        // another to the gateway, so such a body is refused instead.
        if let pointer = StrictJSON.duplicateMember(in: [UInt8](data)) {
            throw Problem.invalid("\(what) gives \(pointer) more than once; give each member once",
                                  errors: [(pointer, "given more than once (RFC 8259 leaves which one counts to the reader)")])
        }
        return object
    }
}

import HTTPServer

/// An RFC 9457 problem detail, the body of every refusal of the backend API. `type` names the
/// kind of problem under the project's URN space, so a DMS can branch on it without parsing text.
struct Problem: Error {
    var status: Int
    var type: String
    var title: String
    var detail: String
    /// Field problems of a request body (`pointer` is a JSON Pointer into it, RFC 6901).
    var errors: [(pointer: String, detail: String)] = []
    /// Other members (the per-recipient outcomes of a refused submission, …).
    var extensions: [(String, JSON)] = []
    /// Header fields the status calls for (416's `Content-Range`).
    var headers: [(String, String)] = []

    init(_ status: Int, _ type: String, _ title: String, _ detail: String,
         errors: [(pointer: String, detail: String)] = [], extensions: [(String, JSON)] = []) {
        self.status = status
        self.type = type
        self.title = title
        self.detail = detail
        self.errors = errors
        self.extensions = extensions
    }

    var response: HTTPResponse {
        var fields: [(String, JSON)] = [("type", .string("urn:as4gw:problem:" + type)), ("title", .string(title)),
                                        ("status", .int(status)), ("detail", .string(detail))]
        if !errors.isEmpty {
            fields.append(("errors", .array(errors.map { .object([("pointer", .string($0.pointer)), ("detail", .string($0.detail))]) })))
        }
        fields += extensions
        var response = HTTPResponse.bytes(status, contentType: "application/problem+json", Array((JSON.object(fields).serialized(pretty: false) + "\n").utf8))
        if status == 401 { response.headers = ["Content-Type": "application/problem+json", "WWW-Authenticate": "Bearer realm=\"as4gw\""] }
        for (name, value) in headers { response.headers[name] = value }
        return response
    }

    static let unauthenticated = Problem(401, "unauthenticated", "Credentials missing or not valid",
                                         "send Authorization: Bearer <token> of a backend connection, or its TLS client certificate")

    static func forbidden(_ detail: String) -> Problem { Problem(403, "forbidden", "Not allowed for this connection", detail) }
    static func notFound(_ detail: String) -> Problem { Problem(404, "not-found", "No such resource", detail) }
    static func badRequest(_ detail: String, errors: [(pointer: String, detail: String)] = []) -> Problem {
        Problem(400, "bad-request", "The request is malformed", detail, errors: errors)
    }
    static func invalid(_ detail: String, errors: [(pointer: String, detail: String)]) -> Problem {
        Problem(422, "invalid-request", "The request is well-formed but not acceptable", detail, errors: errors)
    }
    static func conflict(_ detail: String) -> Problem { Problem(409, "conflict", "Conflicts with the resource's state", detail) }
    static func unavailable(_ detail: String) -> Problem { Problem(503, "unavailable", "The store cannot answer now", detail) }
    /// A stored file no longer matches what was stored: the gateway's fault, and not a passing one.
    static func payloadDamaged(_ detail: String) -> Problem { Problem(500, "payload-damaged", "Stored file damaged", detail) }
}

extension JSON {
    /// A response body of `status` with this JSON.
    func response(_ status: Int) -> HTTPResponse {
        .bytes(status, contentType: "application/json", Array((serialized(pretty: false) + "\n").utf8))
    }
}

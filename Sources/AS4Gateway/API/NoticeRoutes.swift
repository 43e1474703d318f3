import Foundation
import HTTPServer
import HTTPClient
import MessageStore

/// `GET|PUT|DELETE /api/v1/addresses/{address}/notice-email` (where the owner of a mailbox wants
/// its e-mail notices; the connection holding the address, or an operator) and
/// `GET /api/v1/notices` (the notices and their delivery state: a connection sees those of its
/// addresses, an operator all of them).
struct NoticeRoutes {
    let r: APIRequest
    init(_ r: APIRequest) { self.r = r }

    private var isOperator: Bool { r.connection.roles.contains(.operatorRole) }

    func contact(_ segment: String) throws -> HTTPResponse {
        // The method first: a method this route never answers is 405 whatever the address.
        guard ["GET", "PUT", "DELETE"].contains(r.request.head.method) else {
            var response = Problem(405, "method-not-allowed", "Method not allowed", "\(r.request.head.path) answers GET, PUT and DELETE").response
            response.headers["Allow"] = "GET, PUT, DELETE"
            return response
        }
        let address = try r.canonical(segment, field: "address")
        guard r.holds(address) || isOperator else {
            throw Problem.forbidden("connection \(r.connection.name) does not hold \(address)")
        }
        let store = r.context.notices
        switch r.request.head.method {
        case "GET":
            guard let c = try store.contact(address: address) else { throw Problem.notFound("\(address) has no notice e-mail address") }
            return Self.view(c).response(200)
        case "PUT":
            let body = try r.jsonObject()
            if let unknown = body.keys.first(where: { $0 != "email" }) {
                throw Problem.invalid("unknown member \(unknown)", errors: [("/\(unknown)", "not a member of this object; only email")])
            }
            guard let email = body["email"] as? String, SMTPSender.isBareAddress(email) else {
                throw Problem.invalid("email must be an e-mail address (local@domain, no spaces or angle brackets)",
                                      errors: [("/email", "required: an e-mail address")])
            }
            let c = NoticeContact(address: address, email: email, updatedAt: Date(), updatedBy: r.connection.name)
            try store.setContact(c)
            r.context.log.log(.info, "notice-contact-set", ["address": address, "connection": r.connection.name])
            return Self.view(c).response(200)
        default:
            guard try store.removeContact(address: address) else { throw Problem.notFound("\(address) has no notice e-mail address") }
            r.context.log.log(.info, "notice-contact-removed", ["address": address, "connection": r.connection.name])
            return .empty(204)
        }
    }

    func list() throws -> HTTPResponse {
        var address: String?
        if let text = r.query("address"), !text.isEmpty {
            let a = try r.canonical(text, field: "address")
            guard r.holds(a) || isOperator else { throw Problem.forbidden("connection \(r.connection.name) does not hold \(a)") }
            address = a
        } else if !isOperator {
            throw Problem.invalid("name the mailbox: ?address=<e-address> (only operators list every notice)", errors: [("address", "required")])
        }
        var status: NoticeStatus?
        if let text = r.query("status") {
            guard let s = NoticeStatus(rawValue: text) else {
                throw Problem.invalid("status must be one of \(NoticeStatus.allCases.map(\.rawValue).joined(separator: ", "))", errors: [("status", "not \(text)")])
            }
            status = s
        }
        var after: Int64 = 0
        if let text = r.query("after") {
            guard let n = PlainNumber.parse(text, as: Int64.self), n >= 0 else { throw Problem.invalid("after must be a non-negative integer", errors: [("after", "not \(text)")]) }
            after = n
        }
        let page = try r.context.notices.notices(address: address, status: status, after: after, limit: try FeedRoutes(r).limit())
        // The server's reply text may name internal hosts: operators see it, owners the status.
        let shown = isOperator ? page : page.map { n -> EmailNotice in
            var n = n
            n.lastError = n.lastError.map { _ in n.status == .failed ? "not delivered to the mail server" : "delivery attempt failed" }
            return n
        }
        return JSON.object([("items", .array(shown.map(Self.view))), ("nextAfter", .int(page.last?.id ?? after))]).response(200)
    }

    static func view(_ c: NoticeContact) -> JSON {
        .object([("address", .string(c.address)), ("email", .string(c.email)), ("updatedAt", DocumentView.time(c.updatedAt)),
                 ("updatedBy", .string(c.updatedBy))])
    }

    static func view(_ n: EmailNotice) -> JSON {
        .object([("id", .int(n.id)), ("messageId", .string(n.messageId)), ("address", .string(n.address)), ("email", .string(n.email)),
                 ("status", .string(n.status.rawValue)), ("attempts", .int(Int64(n.attempts))),
                 ("nextAttemptAt", n.nextAttemptAt.map(DocumentView.time) ?? .null), ("lastError", .string(n.lastError)),
                 ("createdAt", DocumentView.time(n.createdAt)), ("finishedAt", n.finishedAt.map(DocumentView.time) ?? .null)])
    }
}

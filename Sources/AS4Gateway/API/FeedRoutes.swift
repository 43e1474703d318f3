import Foundation
import HTTPServer
import MessageStore

/// `GET /api/v1/inbox`, `GET /api/v1/notifications` and `POST /api/v1/notifications/confirm`.
struct FeedRoutes {
    let r: APIRequest
    init(_ r: APIRequest) { self.r = r }

    func limit() throws -> Int {
        guard let text = r.query("limit") else { return 50 }
        guard let n = PlainNumber.parse(text), (1...200).contains(n) else {
            throw Problem.invalid("limit must be 1 to 200", errors: [("limit", "\(text) is not an integer from 1 to 200")])
        }
        return n
    }

    func inbox() throws -> HTTPResponse {
        guard let text = r.query("address"), !text.isEmpty else {
            throw Problem.invalid("name the mailbox: ?address=<e-address>", errors: [("address", "required")])
        }
        let address = try r.canonical(text, field: "address")
        guard r.holds(address) else { throw Problem.forbidden("connection \(r.connection.name) does not hold \(address)") }
        var cursor: Int64 = 0
        if let text = r.query("cursor") {
            guard let c = PlainNumber.parse(text, as: Int64.self), c >= 0 else { throw Problem.invalid("cursor must be a non-negative integer", errors: [("cursor", "not \(text)")]) }
            cursor = c
        }
        let page = try r.context.mailbox.inbox(address: address, after: cursor, limit: try limit())
        let items: [JSON] = page.map { entry, d in
            let mine = d.recipients.first { $0.address == address && $0.route == .mailbox }
            // The metadata as GET /messages/{id} shows it to this connection.
            return .object([("entry", .int(entry)), ("messageId", .string(d.messageId)), ("sender", .string(d.sender)),
                            ("status", .string(mine?.status.rawValue ?? "")), ("receivedAt", DocumentView.time(d.createdAt)),
                            ("metadata", DocumentView.metadata(d, recipientsShown: MessageRoutes.access(d, r).recipientsShown)),
                            ("files", DocumentView.files(d, id: d.messageId))])
        }
        return JSON.object([("items", .array(items)), ("nextCursor", .int(page.last?.entry ?? cursor))]).response(200)
    }

    func notifications() throws -> HTTPResponse {
        let list = try r.context.mailbox.notifications(connection: r.connection.name, addresses: r.connection.addresses, limit: try limit())
        return JSON.object([("items", .array(list.map(DocumentView.notification)))]).response(200)
    }

    func confirmNotifications() throws -> HTTPResponse {
        let body = try r.jsonObject()
        guard let upTo = body["upTo"] as? NSNumber, !SubmitRoute.isJSONBoolean(upTo), upTo.int64Value >= 1, Double(upTo.int64Value) == upTo.doubleValue else {
            throw Problem.invalid("upTo must be the id of a notification", errors: [("/upTo", "required: a positive integer")])
        }
        guard try r.context.mailbox.confirmNotifications(connection: r.connection.name, addresses: r.connection.addresses, upTo: upTo.int64Value) else {
            throw Problem.invalid("notification \(upTo) is not one of this connection's", errors: [("/upTo", "names no notification of this connection")])
        }
        return .empty(204)
    }
}

import EnvelopeXML
import Foundation
import HTTPServer
import MessageStore

/// `GET /api/v1/messages/{id}`, `…/receipt`, `…/files/{n}` and `POST …/confirm`. The sender's
/// connection sees every recipient; a recipient's connection sees only the recipients it holds,
/// in the metadata's list too (and its reading a document is what makes it Delivered). Anyone
/// else gets 403.
struct MessageRoutes {
    let r: APIRequest
    let id: String
    init(_ r: APIRequest, id: String) {
        self.r = r
        self.id = id
    }

    struct Access {
        var document: Document
        var isSender: Bool
        /// The mailbox recipients the connection holds.
        var held: [DocumentRecipient]

        /// Whom the metadata's list of recipients may name for this connection: everyone
        /// (nil) for the sender, else the recipients it holds.
        var recipientsShown: Set<String>? { isSender ? nil : Set(held.map(\.address)) }
    }

    func access() throws -> Access {
        guard let d = try r.context.mailbox.document(messageId: id) else { throw try RetentionRoutes.missing(r, id) }
        let a = Self.access(d, r)
        guard a.isSender || !a.held.isEmpty else { throw Problem.forbidden("connection \(r.connection.name) is neither the sender nor a recipient of \(id)") }
        return a
    }

    /// What `r`'s connection is to `d`: its sender (a document submitted from an address it
    /// holds), and which of its mailbox recipients it holds.
    static func access(_ d: Document, _ r: APIRequest) -> Access {
        Access(document: d, isSender: d.connection != nil && r.holds(d.sender),
               held: d.recipients.filter { $0.route == .mailbox && r.holds($0.address) })
    }

    func status() throws -> HTTPResponse {
        let a = try access()
        markRetrieved(a)
        guard let d = try r.context.mailbox.document(messageId: id) else { throw Problem.notFound("no message \(id)") }
        let shown = a.isSender ? d.recipients : d.recipients.filter { held in a.held.contains { $0.address == held.address } }
        let events = try r.context.mailbox.events(messageId: id)
        let view = DocumentView.full(d, recipients: shown, isSender: a.isSender, events: events,
                                     sending: LegalProof(context: r.context).fields(d, recipients: shown, events: events))
        return try RetentionRoutes.withRetention(view, r, id).response(200)
    }

    /// File `n` of the message, or a range of it. `marksRead` false (HEAD) answers the same
    /// status and headers, the server leaving out the body, and counts as no reading.
    func file(_ n: String, marksRead: Bool = true) throws -> HTTPResponse {
        let a = try access()
        guard let index = PlainNumber.parse(n), index >= 1, index <= a.document.files.count else {
            throw Problem.notFound("message \(id) has files 1 to \(a.document.files.count), not \(n)")
        }
        let f = a.document.files[index - 1]
        // Checked before anything is marked: a recipient counts as having read the document (and
        // the sender, or its access point, is told so) only when the file served is the one stored.
        try checkStored(f.file, index: index)
        let size = UInt64(max(0, f.file.size)), etag = ByteRange.etag(sha256: f.file.sha256)
        let range = ByteRange.parse(r.request.head.headers["Range"], ifRange: r.request.head.headers["If-Range"], etag: etag, size: size)
        if range == .unsatisfiable {
            var problem = Problem(416, "range-not-satisfiable", "Range not satisfiable",
                                  "file \(index) of message \(id) has \(size) bytes; the Range asked for lies beyond them")
            problem.headers = [("Content-Range", "bytes */\(size)")]
            throw problem
        }
        if marksRead { markRetrieved(a) }
        // Names and types may come from another access point: both are rebuilt so that nothing
        // can end or bend the header (DocumentFileName, FileMediaType).
        let type = FileMediaType.served(f.mimeType)
        var response = HTTPResponse.file(200, contentType: type, path: f.file.path)
        let digest = Data(APICredentials.bytes(hex: f.file.sha256) ?? []).base64EncodedString()
        // RFC 9530's Repr-Digest, as uploads use its Content-Digest; RFC 3230's obsolete Digest
        // stays for clients written against it until the next release (docs/API.md). Both are
        // the whole file's, also in a 206: a resumed download is checked whole once complete.
        response.headers = ["Content-Type": type, "Content-Disposition": DocumentFileName.attachmentHeader(f.name),
                            "Repr-Digest": "sha-256=:\(digest):", "Digest": "sha-256=\(digest)",
                            "Accept-Ranges": "bytes", "ETag": etag]
        if case .part(let offset, let length) = range {
            response.status = 206
            response.body = .fileRange(path: f.file.path, offset: offset, length: length)
            response.headers["Content-Range"] = "bytes \(offset)-\(offset + length - 1)/\(size)"
        }
        return response
    }

    /// The stored file is there with its recorded size and SHA-256; otherwise one error line
    /// (message, file position, path and what is wrong: no file name, which may name a person)
    /// and a problem answer. 500, not 503: the fault is in this gateway's storage and waiting
    /// does not mend it (an operator restores the file); a 503 would invite the DMS to retry
    /// for ever.
    private func checkStored(_ file: StoredFile, index: Int) throws {
        do throws(PayloadDamage) {
            try r.context.payloadIntegrity.verify(file)
        } catch {
            r.context.log.log(.error, "payload-damaged", ["document_id": id, "file": String(index), "path": file.path,
                                                            "damage": error.kind, "reason": error.description, "connection": r.connection.name])
            throw Problem.payloadDamaged("file \(index) of message \(id) is damaged in this gateway's storage (\(error.kind)); "
                                         + "it was not served and the message was not marked as read; the gateway's operators must restore it "
                                         + "(its log names it: event=payload-damaged)")
        }
    }

    /// The first reading by a recipient: Delivered, told to the sender (or the sending access point).
    /// A failure is logged: what was asked for is served all the same.
    private func markRetrieved(_ a: Access) {
        for held in a.held where held.retrievedAt == nil {
            // One moment: the one recorded here is the one the sending side records (a legal fact).
            do {
                try recordReading(a.document, held, at: Date(), detail: "retrieved by \(r.connection.name)")
            } catch {
                r.context.log.log(.error, "retrieval-not-recorded", ["document_id": id, "recipient": held.address, "reason": "\(error)"])
            }
        }
    }

    /// Records `held`'s first reading at `now` (Delivered) with the report its origin is owed,
    /// and queues that report; false when it was recorded before.
    @discardableResult
    private func recordReading(_ d: Document, _ held: DocumentRecipient, at now: Date, detail: String) throws -> Bool {
        let update = RecipientUpdate(messageId: id, address: held.address, status: .delivered, detail: detail, retrieved: true,
                                     notifications: d.connection != nil ? DocumentExchange.senderNotifications(d, address: held.address, status: .delivered, detail: nil) : [],
                                     originReport: OriginReports.owed(d, decision: nil, retrievedAt: now, at: now))
        guard try r.context.mailbox.updateRecipient(update, at: now) else { return false }
        logStep(d, recipient: held.address, status: .delivered, detail: nil)
        OriginReports(context: r.context).queueNow(d, recipient: held.address)
        return true
    }

    func confirm() throws -> HTTPResponse {
        let a = try access()
        let body = try r.jsonObject()
        var errors: [(pointer: String, detail: String)] = []
        for key in body.keys.sorted() where !["decision", "code", "reason", "address"].contains(key) { errors.append(("/\(key)", "unknown field")) }
        let decision = body["decision"] as? String
        if decision != "accept" && decision != "reject" { errors.append(("/decision", "required: accept or reject")) }
        for key in ["code", "reason", "address"] where body[key] != nil && !(body[key] is String) { errors.append(("/\(key)", "must be a string")) }
        let code = body["code"] as? String, reason = body["reason"] as? String
        for (key, text) in [("code", code), ("reason", reason)] {
            if let text, let p = TextInput.problem(text, maxLength: 1000) { errors.append(("/\(key)", p)) }
        }
        if decision == "reject" && (reason ?? "").isEmpty { errors.append(("/reason", "a rejection needs a reason")) }
        guard errors.isEmpty else { throw Problem.invalid(errors.map { "\($0.pointer) \($0.detail)" }.joined(separator: "; "), errors: errors) }
        guard !a.held.isEmpty else { throw Problem.forbidden("only a recipient confirms a message; \(r.connection.name) holds none of its recipients") }
        let target: DocumentRecipient
        if let text = body["address"] as? String {
            let address = try r.canonical(text, field: "/address")
            guard let t = a.held.first(where: { $0.address == address }) else { throw Problem.forbidden("\(address) is not a recipient held by \(r.connection.name)") }
            target = t
        } else {
            guard a.held.count == 1 else {
                throw Problem.invalid("the connection holds several recipients of \(id); name one", errors: [("/address", "required here")])
            }
            target = a.held[0]
        }
        let status: RecipientStatus = decision == "accept" ? .recipientAccepted : .recipientRejected
        if let done = target.decision { return try answered(done, target.address, asked: (status, code, reason)) }
        let d = a.document
        let now = Date()
        // An answer is given by a recipient who has the document, whether or not it fetched it
        // here: a first answer is its first reading too, recorded before it at the same moment,
        // so that no history goes from Accepted to an answer without Delivered and retrievedAt
        // (the reading is what the sender's proof of notification rests on). Not recorded, no answer.
        var readAt = target.retrievedAt
        if readAt == nil, try recordReading(d, target, at: now, detail: "read by \(r.connection.name): answered without fetching it first") {
            readAt = now
        }
        let answer = RecipientDecision(accepted: status == .recipientAccepted, code: code, reason: reason, at: now)
        let detail = [code, reason].compactMap { $0 }.joined(separator: ": ")
        let update = RecipientUpdate(messageId: id, address: target.address, status: status, detail: detail.isEmpty ? nil : detail, decision: answer,
                                     notifications: d.connection != nil ? DocumentExchange.senderNotifications(d, address: target.address, status: status, detail: detail.isEmpty ? nil : detail) : [],
                                     originReport: OriginReports.owed(d, decision: answer, retrievedAt: readAt, at: now))
        var refusal: String?
        do {
            if try !r.context.mailbox.updateRecipient(update, at: now) { refusal = "\(id) is \(target.status.rawValue) for \(target.address) and cannot be confirmed" }
        } catch let e as MailboxStoreError {
            refusal = e.description
        }
        if let refusal {
            // Another request answered first: the same DMS sending its answer again, racing.
            if let done = try r.context.mailbox.document(messageId: id)?.recipients.first(where: { $0.address == target.address })?.decision {
                return try answered(done, target.address, asked: (status, code, reason))
            }
            throw Problem.conflict(refusal)
        }
        logStep(d, recipient: target.address, status: status, detail: detail.isEmpty ? nil : detail)
        // Queues the reading's report first if it is still owed: the origin hears of the reading before the answer.
        OriginReports(context: r.context).queueNow(d, recipient: target.address)
        return JSON.object([("messageId", .string(id)), ("address", .string(target.address)), ("status", .string(status.rawValue))]).response(200)
    }

    /// A recipient answers once. The same answer again (decision, code and reason) is the DMS
    /// sending it again after a request that timed out: it gets the first one's answer, marked
    /// `Idempotent-Replayed` as a repeated submission is, and nothing is recorded or told again.
    /// Another answer is 409 with the one recorded, so the DMS learns what stands.
    private func answered(_ done: RecipientDecision, _ address: String,
                          asked: (status: RecipientStatus, code: String?, reason: String?)) throws -> HTTPResponse {
        let status: RecipientStatus = done.accepted ? .recipientAccepted : .recipientRejected
        guard status == asked.status, done.code == asked.code, done.reason == asked.reason else {
            throw Problem(409, "conflict", "Conflicts with the resource's state",
                          "\(id) was already \(done.accepted ? "accepted" : "rejected") for \(address), with another answer than this one",
                          extensions: [("answer", DocumentView.decision(done))])
        }
        var response = JSON.object([("messageId", .string(id)), ("address", .string(address)), ("status", .string(status.rawValue))]).response(200)
        response.headers["Idempotent-Replayed"] = "true"
        return response
    }

    /// A recipient here read (Delivered) or answered (RecipientAccepted/Rejected) a document:
    /// legal facts the sender is told of, so the log has them too, with the AS4 message that
    /// brought the document when it came from another access point.
    private func logStep(_ d: Document, recipient: String, status: RecipientStatus, detail: String?) {
        r.context.log.log(.info, status == .delivered ? "document-read" : "document-answered",
                          ["document_id": d.messageId, "recipient": recipient, "status": status.rawValue, "connection": r.connection.name,
                           "message_id": d.originMessageId, "from": d.originParty, "reason": detail])
    }

    static let legalStatement = "A message counts as sent to a recipient served by another access point only once this gateway holds that access point's valid signed AS4 receipt. A recipient whose mailbox is on this gateway received the message when it was stored here; no AS4 receipt exists for it."

    func receipt() throws -> HTTPResponse {
        let a = try access()
        guard a.isSender else { throw Problem.forbidden("only the sender's connection reads the receipts of \(id)") }
        let events = try r.context.mailbox.events(messageId: id)
        let proof = LegalProof(context: r.context)
        var list: [JSON] = []
        var allSent = true
        for rec in a.document.recipients {
            // "sent" is the legal verdict (LegalProof: a refused recipient is not sent even with
            // a valid receipt); "verification" is the receipt's own check.
            let sending = proof.sending(a.document, rec, events: events)
            allSent = allSent && sending.sent
            var fields: [(String, JSON)] = [("address", .string(rec.address)), ("status", .string(rec.status.rawValue)),
                                            ("sent", .bool(sending.sent)), ("sentStatement", .string(sending.statement))]
            switch rec.route {
            case .mailbox:
                fields += [("route", .string("localMailbox")),
                           ("verification", .object([("valid", .bool(true)), ("detail", .string("stored in this gateway's mailbox; no AS4 receipt applies"))]))]
            case .remote:
                fields.append(("route", .string("remoteAccessPoint")))
                if let bytes = rec.receipt, let as4 = rec.as4MessageId {
                    fields += [("as4MessageId", .string(as4)),
                               ("receipt", .object([("contentType", .string("application/soap+xml")), ("base64", .string(bytes.base64EncodedString()))])),
                               ("verification", .object([("valid", .bool(sending.receiptValid ?? false)), ("detail", .string(sending.receiptDetail ?? ""))]))]
                } else {
                    fields += [("verification", .object([("valid", .bool(false)), ("detail", .string("no receipt held yet: not sent"))]))]
                }
            }
            list.append(.object(fields))
        }
        return JSON.object([("messageId", .string(id)), ("sent", .bool(allSent)), ("statement", .string(Self.legalStatement)),
                            ("recipients", .array(list))]).response(200)
    }
}

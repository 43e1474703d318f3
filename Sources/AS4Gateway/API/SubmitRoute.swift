import EnvelopeXML
import Foundation
import HTTPServer
import MessageStore
import Routing
import WSSecurity
#if canImport(Glibc)
import Glibc
#endif

/// `POST /api/v1/messages`: a multipart/form-data submission (a JSON `metadata` part, one or more
/// file parts). Every recipient is routed before anything is stored: one refused recipient
/// refuses the whole submission (422 with each recipient's outcome), so nothing is half-sent.
struct SubmitRoute {
    let r: APIRequest
    init(_ r: APIRequest) { self.r = r }

    static let knownFields: Set<String> = ["sender", "recipients", "subject", "documentKind", "referenceNumber", "deliveryBy",
                                           "notifyOnDelivery", "idempotencyKey", "uploads"]
    static let maxRecipients = 100

    struct Metadata {
        var sender: String
        var recipients: [String]
        var idempotencyKey: String?
        var deliveryBy: Date?
        /// Completed uploads of the connection that are files of this message, after the parts.
        var uploads: [String]
        /// The metadata JSON as stored and carried (addresses in canonical spelling).
        var json: String
    }

    func submit() throws -> HTTPResponse {
        let context = r.context
        let form = try FormData.parse(r.request.body, contentType: r.request.head.headers["Content-Type"], spoolDirectory: context.spoolDirectory)
        // Decoded parts' files were only needed to read or copy the parts (stored files are copies).
        defer { form.removeSpoolFiles() }
        let metadataFields = form.fields.filter { $0.name == "metadata" }
        guard metadataFields.count == 1, let metadataPart = metadataFields.first else {
            throw Problem.badRequest(metadataFields.isEmpty ? "the submission has no metadata part" : "the submission has \(metadataFields.count) metadata parts",
                                     errors: [(pointer: "metadata", detail: "exactly one part named metadata, a JSON object")])
        }
        let files = form.fields.filter { $0.name == "file" }
        if let stray = form.fields.first(where: { $0.name != "file" && $0.name != "metadata" }) {
            throw Problem.badRequest("unknown part \(stray.name); parts are named metadata or file")
        }
        guard metadataPart.body.count <= 64 << 10 else {
            throw Problem(413, "too-large", "Metadata part too large", "the metadata part is \(metadataPart.body.count) bytes; at most 65536")
        }
        let metadata = try Self.metadata(try metadataPart.body.readAll())
        guard !files.isEmpty || !metadata.uploads.isEmpty else {
            throw Problem.badRequest("the submission has no file part and names no upload", errors: [(pointer: "file", detail: "at least one part named file, or uploads in the metadata")])
        }
        if files.count + metadata.uploads.count > EAddressMessages.maxFiles {
            throw Problem.invalid("the document has \(files.count + metadata.uploads.count) files; at most \(EAddressMessages.maxFiles) fit one AS4 message "
                                  + "(\(MIMELimits.default.maxParts) MIME parts with the SOAP envelope and the document header): send it as several documents",
                                  errors: [(pointer: "file", detail: "at most \(EAddressMessages.maxFiles) files and uploads together")])
        }
        guard r.holds(metadata.sender) else {
            throw Problem.forbidden("connection \(r.connection.name) may not send as \(metadata.sender)")
        }
        // A retry of a stored submission gets the first answer, not a new judgement: its uploads
        // are spent, its deadline may have passed, rules and quotas may have changed since, and
        // the document is on its way already.
        if let key = metadata.idempotencyKey, let first = try context.mailbox.documentId(connection: r.connection.name, idempotencyKey: key) {
            return try Self.replayed(first, context)
        }
        if let due = metadata.deliveryBy, due <= Date() {
            throw Problem.invalid("deliveryBy has passed", errors: [("/deliveryBy", "\(LegalProof.text(due)) has passed")])
        }
        var uploads: [Upload] = []
        var uploadErrors: [(pointer: String, detail: String)] = []
        for (i, id) in metadata.uploads.enumerated() {
            guard let u = try context.mailbox.upload(id: id), u.connection == r.connection.name else {
                uploadErrors.append(("/uploads/\(i)", "no upload \(id) of this connection")); continue
            }
            if u.completedAt == nil { uploadErrors.append(("/uploads/\(i)", "upload \(id) is not complete")) }
            else if let used = u.usedBy { uploadErrors.append(("/uploads/\(i)", "upload \(id) was already sent as \(used)")) }
            else { uploads.append(u) }
        }
        guard uploadErrors.isEmpty else {
            throw Problem.invalid(uploadErrors.map { "\($0.pointer) \($0.detail)" }.joined(separator: "; "), errors: uploadErrors)
        }
        // Each part's name and media type, checked before anything is stored.
        var names: [String] = []
        var mimeTypes: [String] = []
        var partErrors: [(pointer: String, detail: String)] = []
        for (i, f) in files.enumerated() {
            // Both are checked, so that one answer names every problem of the part.
            var name = ""
            do throws(DocumentFileName.Invalid) {
                name = try DocumentFileName.fromForm(filename: f.filename, extended: f.extendedFilename)
            } catch {
                partErrors.append(("file/\(i + 1)/filename", "file part \(i + 1): \(error.reason)"))
            }
            names.append(name)
            guard let contentType = f.contentType else {
                mimeTypes.append(SealCommand.guessMimeType(name))
                continue
            }
            do throws(FileMediaType.Invalid) {
                mimeTypes.append(try FileMediaType.parse(contentType).text)
            } catch {
                partErrors.append(("file/\(i + 1)/Content-Type", "file part \(i + 1): Content-Type \(error.reason)"))
            }
        }
        guard partErrors.isEmpty else {
            throw Problem.invalid(partErrors.map(\.detail).joined(separator: "; "), errors: partErrors)
        }
        let size = Int(files.reduce(UInt64(0)) { $0 + $1.body.count }) + Int(uploads.reduce(Int64(0)) { $0 + $1.size })

        // Route every recipient first.
        let now = Date()
        var outcomes: [(address: String, route: String, reason: String)] = []
        var recipients: [NewDocument.Recipient] = []
        var refused = false
        let rules = RecipientRules(context: context)
        for address in metadata.recipients {
            // Non-digital person, company register, who may write to whom: before any route.
            if let refusal = try rules.refusal(from: metadata.sender, to: address, at: now) {
                refused = true
                outcomes.append((address, refusal.outcome, refusal.reason))
                continue
            }
            let decision = try context.router.route(to: try EAddress(address), from: try EAddress(metadata.sender), size: size, at: now)
            switch decision {
            case .localMailbox:
                if let full = try MailboxQuota(context: context).refusal(for: address, adding: size) {
                    refused = true
                    outcomes.append((address, MailboxQuota.outcome, full))
                    continue
                }
                recipients.append(.init(address: address, route: .mailbox, status: .accepted))
                outcomes.append((address, decision.outcome, decision.reason))
            case .remoteAccessPoint(let remote):
                let party: String
                switch try DocumentExchange(context: context).accessPoint(remote.accessPoint.partyId, for: address) {
                case .party(let name): party = name
                case .noAgreement:
                    refused = true
                    outcomes.append((address, "noAgreement", "no P-Mode lets this gateway send \(EAddressMessages.documentAction) to access point \(remote.accessPoint.partyId)"))
                    continue
                case .notAuthorised:
                    // Not "no agreement": the partner is fine, the directory row is not, and only the
                    // gateway's operator can correct it.
                    refused = true
                    outcomes.append((address, "noAgreement", "the directory names access point \(remote.accessPoint.partyId) for this address, "
                        + "but that access point is registered for other addresses only; the gateway's operator must correct the directory"))
                    continue
                }
                recipients.append(.init(address: address, route: .remote, status: .submitted, party: party,
                                        as4MessageId: Identifier.messageId(domain: context.messageIdDomain)))
                outcomes.append((address, decision.outcome, decision.reason))
            default:
                refused = true
                outcomes.append((address, decision.outcome, decision.reason))
            }
        }
        if refused {
            let list = outcomes.map { JSON.object([("address", .string($0.address)), ("route", .string($0.route)),
                                                   ("status", .string($0.route == "localMailbox" || $0.route == "remoteAccessPoint" ? "Routable" : "Refused")),
                                                   ("reason", .string($0.reason))]) }
            let refusedList = outcomes.filter { $0.route != "localMailbox" && $0.route != "remoteAccessPoint" }
            throw Problem(422, "recipient-refused", "A recipient cannot receive this message",
                          refusedList.map(\.reason).joined(separator: "; ") + "; nothing was sent to anyone",
                          errors: outcomes.enumerated().filter { o in refusedList.contains { $0.address == o.element.address } }
                              .map { (pointer: "/recipients/\($0.offset)", detail: $0.element.reason) },
                          extensions: [("recipients", .array(list))])
        }

        let xmlErrors = try Self.unsignableXML(files: zip(files, mimeTypes).map { ($0.body, $1) },
                                               uploads: uploads, parties: Set(recipients.compactMap(\.party)), context: context)
        guard xmlErrors.isEmpty else {
            throw Problem.invalid(xmlErrors.map(\.detail).joined(separator: "; ") + "; nothing was sent to anyone", errors: xmlErrors)
        }

        // Files into the store, then the document in one transaction. Uploaded files are moved
        // in; if the document is not stored they are moved back, so the upload can be used again.
        var stored: [DocumentFile] = []
        var movedUploads: [(stored: String, upload: String)] = []
        func release() {
            for f in stored where !movedUploads.contains(where: { $0.stored == f.file.path }) { unlink(f.file.path) }
            for m in movedUploads { rename(m.stored, m.upload) }
        }
        do {
            for ((f, name), mimeType) in zip(zip(files, names), mimeTypes) {
                let tmp = try FileSink.createTemporary(in: context.spoolDirectory, prefix: "api-")
                var sink = tmp
                do {
                    try sink.write(contentsOf: f.body)
                    try tmp.close()
                } catch {
                    unlink(tmp.path)
                    throw error
                }
                let file = try context.store.storePayload(.move(path: tmp.path), at: now)
                stored.append(DocumentFile(name: name, mimeType: mimeType, file: file))
            }
            for u in uploads {
                let file = try context.store.storePayload(.move(path: u.path), at: now)
                movedUploads.append((file.path, u.path))
                stored.append(DocumentFile(name: u.name, mimeType: u.mimeType, file: file))
                guard file.sha256 == u.sha256 else { throw Problem.conflict("upload \(u.id) changed on disk since it was completed") }
            }
        } catch {
            release()
            throw error
        }
        let id = Identifier.messageId(domain: context.messageIdDomain)
        var notices: [BackendNotification] = []
        for rec in recipients where rec.route == .mailbox {
            notices.append(BackendNotification(address: rec.address, kind: "newMessage", messageId: id, recipient: rec.address, detail: "from \(metadata.sender)", at: now))
            notices.append(BackendNotification(address: metadata.sender, kind: "accepted", messageId: id, recipient: rec.address, detail: nil, at: now))
        }
        var document = NewDocument(messageId: id, connection: r.connection.name, idempotencyKey: metadata.idempotencyKey, sender: metadata.sender,
                                   metadata: metadata.json, deliveryBy: metadata.deliveryBy, files: stored, recipients: recipients)
        document.uploads = uploads.map(\.id)
        document.retainUntil = try RetentionPolicy(context: context).retainUntil(storedAt: now, addresses: [metadata.sender] + recipients.map(\.address))
        let result: DocumentInsertResult
        do {
            result = try context.mailbox.insertDocument(document, notifications: notices, at: now)
        } catch let e as MailboxStoreError {
            release()
            throw Problem.conflict(e.description)
        } catch {
            // A commit whose outcome is unknown may have stored the document naming these files:
            // they stay (a replay with the idempotency key then finds it whole).
            if mayHaveCommitted(error) {
                context.log.log(.error, "document-files-kept", ["document_id": id, "reason": "\(error)"])
            } else {
                release()
            }
            throw error
        }
        if case .existing(let first) = result {
            // A concurrent retry with the same key stored first.
            release()
            return try Self.replayed(first, context)
        }
        guard let d = try context.mailbox.document(messageId: id) else { throw Problem.unavailable("message \(id) was stored but cannot be read back") }
        // The document is stored and answered for (its mailbox recipients hold it already), so
        // a recipient whose AS4 message cannot be made now is not a reason to refuse it. Only a
        // refusal that will not pass makes that recipient Failed (sendDocumentOrFail); a full
        // disk, a store that cannot answer or any other fault that may pass leaves it Submitted
        // for the unsent requeue (`MailboxWorker.queueUnsent`), which queues it once it can.
        let exchange = DocumentExchange(context: context)
        for rec in d.recipients where rec.route == .remote {
            do {
                try exchange.sendDocumentOrFail(d, to: rec)
            } catch {
                context.log.log(.error, "document-unqueueable", ["document_id": id, "recipient": rec.address, "to": rec.party,
                                                                 "reason": "\(error)",
                                                                 "outcome": "left Submitted: queued again by the unsent requeue once this passes"])
            }
        }
        context.log.log(.info, "document-submitted", ["document_id": id, "connection": r.connection.name, "sender": d.sender,
                                                      "recipients": String(recipients.count),
                                                      "to": recipients.prefix(5).map(\.address).joined(separator: ",") + (recipients.count > 5 ? ",…" : ""),
                                                      "bytes": String(size)])
        return DocumentView.submission(try context.mailbox.document(messageId: id) ?? d).response(202)
    }

    /// The files no AS4 message to `parties` could carry: labelled XML, travelling uncompressed
    /// (the agreement does not compress, or the bytes look compressed already) and so signed as
    /// canonical XML, but not readable as XML (`XMLPayloadCheck`). Found here, it is the DMS's
    /// file to correct (pointer `file/<n>/Content-Type`, or the upload's); found while sealing,
    /// after the document was stored, it would make the recipient Failed with a signature error
    /// it never had.
    static func unsignableXML(files: [(body: PartBody, mimeType: String)], uploads: [Upload], parties: Set<String>,
                              context: GatewayContext) throws -> [(pointer: String, detail: String)] {
        // What matters of the agreements is whether any signs and leaves payloads uncompressed:
        // then every XML file travels as it is to someone.
        var compressing: Set<Bool> = []
        for party in parties {
            if case .success(let match) = context.pmodes.outboundLeg(from: context.party, to: party, service: .init(EAddressMessages.service),
                                                                     action: EAddressMessages.documentAction), match.leg.security.sign {
                compressing.insert(match.leg.payload.compress)
            }
        }
        guard !compressing.isEmpty else { return [] }
        let compress = !compressing.contains(false)
        var errors: [(pointer: String, detail: String)] = []
        let candidates = files.enumerated().map { (pointer: "file/\($0.offset + 1)/Content-Type", what: "file part \($0.offset + 1)",
                                                   body: $0.element.body, mimeType: $0.element.mimeType) }
            + (try uploads.enumerated().map { (pointer: "/uploads/\($0.offset)", what: "upload \($0.element.id)",
                                               body: try PartBody.wholeFile($0.element.path), mimeType: $0.element.mimeType) })
        for c in candidates {
            if let problem = try XMLPayloadCheck.problem(mimeType: FileMediaType.stored(c.mimeType).essence, body: c.body, compress: compress) {
                errors.append((c.pointer, "\(c.what): \(problem)"))
            }
        }
        return errors
    }

    /// The answer to a submission whose idempotency key named `first` already.
    static func replayed(_ first: String, _ context: GatewayContext) throws -> HTTPResponse {
        guard let d = try context.mailbox.document(messageId: first) else { throw Problem.notFound("message \(first) is gone") }
        var response = DocumentView.submission(d).response(200)
        response.headers = ["Content-Type": "application/json", "Idempotent-Replayed": "true"]
        return response
    }

    /// JSONSerialization hands out numbers and booleans alike as NSNumber; a boolean's is `c`.
    static func isJSONBoolean(_ v: Any) -> Bool {
        guard let n = v as? NSNumber else { return false }
        return String(cString: n.objCType) == "c"
    }

    /// Checks the metadata part; every problem is reported with its JSON Pointer.
    static func metadata(_ bytes: [UInt8]) throws -> Metadata {
        let object = try APIRequest.object(Data(bytes), what: "the metadata part")
        var errors: [(pointer: String, detail: String)] = []
        for key in object.keys.sorted() where !knownFields.contains(key) {
            errors.append(("/\(key)", "unknown field; known are \(knownFields.sorted().joined(separator: ", "))"))
        }
        var out = object
        out["uploads"] = nil
        var sender = ""
        switch object["sender"] {
        case let s as String:
            do { sender = try EAddress(s).canonical; out["sender"] = sender } catch { errors.append(("/sender", "not an e-address: \(error)")) }
        case nil: errors.append(("/sender", "required: the e-address this message is sent from"))
        default: errors.append(("/sender", "must be a string"))
        }
        var recipients: [String] = []
        switch object["recipients"] {
        case let list as [Any] where !list.isEmpty && list.count <= maxRecipients:
            for (i, item) in list.enumerated() {
                guard let s = item as? String else { errors.append(("/recipients/\(i)", "must be a string")); continue }
                do {
                    let canonical = try EAddress(s).canonical
                    if recipients.contains(canonical) { errors.append(("/recipients/\(i)", "\(canonical) is listed twice")) } else { recipients.append(canonical) }
                } catch { errors.append(("/recipients/\(i)", "not an e-address: \(error)")) }
            }
            out["recipients"] = recipients
        case nil: errors.append(("/recipients", "required: a list of e-addresses"))
        default: errors.append(("/recipients", "must be a list of 1 to \(maxRecipients) e-addresses"))
        }
        // Free text is carried in XML (the document header's JSON rides in AS4, the metadata in
        // the evidence bundle): what XML cannot hold is refused here, not found at the receiver.
        for key in ["subject", "documentKind", "referenceNumber"] {
            guard let v = object[key] else { continue }
            guard let s = v as? String else { errors.append(("/\(key)", "must be a string of at most 1000 characters")); continue }
            if let p = TextInput.problem(s, maxLength: 1000) { errors.append(("/\(key)", p)) }
        }
        if object["subject"] == nil { errors.append(("/subject", "required")) }
        // Whether it has passed is judged after an idempotent replay was answered (`submit`).
        let deliveryBy = RegisterRoutes.date(object["deliveryBy"], "/deliveryBy", &errors)
        if let v = object["notifyOnDelivery"], !Self.isJSONBoolean(v) {
            errors.append(("/notifyOnDelivery", "must be true or false"))
        }
        var key: String?
        if let v = object["idempotencyKey"] {
            if let s = v as? String, (1...200).contains(s.utf8.count) {
                if TextInput.isCarriable(s) { key = s } else { errors.append(("/idempotencyKey", TextInput.refusal)) }
            } else { errors.append(("/idempotencyKey", "must be a string of 1 to 200 bytes")) }
        }
        var uploads: [String] = []
        switch object["uploads"] {
        case nil: break
        case let list as [Any] where list.count <= 100:
            for (i, item) in list.enumerated() {
                if let id = item as? String, !id.isEmpty, !uploads.contains(id) { uploads.append(id) } else { errors.append(("/uploads/\(i)", "must be a distinct upload id")) }
            }
        default: errors.append(("/uploads", "must be a list of at most 100 upload ids"))
        }
        guard errors.isEmpty else {
            throw Problem.invalid("the metadata has \(errors.count) problem(s): " + errors.map { "\($0.pointer) \($0.detail)" }.joined(separator: "; "), errors: errors)
        }
        let json = (try? JSONSerialization.data(withJSONObject: out, options: [.sortedKeys])).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        return Metadata(sender: sender, recipients: recipients, idempotencyKey: key, deliveryBy: deliveryBy, uploads: uploads, json: json)
    }
}

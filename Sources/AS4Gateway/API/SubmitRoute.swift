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
        // the document is on its way already. Only a retry, though: another submission under
        // the key is refused (`replayed`).
        if let key = metadata.idempotencyKey, let first = try context.mailbox.documentId(connection: r.connection.name, idempotencyKey: key) {
            let files = try files.map { SubmissionFingerprint.File(sha256: try SubmissionFingerprint.sha256($0.body), part: $0) }
            return try replayed(first, key: key, fingerprint: try SubmissionFingerprint.of(metadata: metadata.fingerprintBasis, files: files))
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
                // Two names for one file: a scanner in front may read the one, this gateway the other.
                for p in ["filename", "filename*"] where f.repeatedParameters.contains(p) {
                    throw DocumentFileName.Invalid(reason: "the Content-Disposition gives \(p) more than once; give the file one name")
                }
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
        var registerRead: [String] = []
        for address in metadata.recipients {
            // Company register, who may write to whom, non-digital person: before any route.
            let judged = try rules.judge(from: metadata.sender, to: address, at: now)
            if let code = judged.registerRead { registerRead.append(code) }
            if let refusal = judged.refusal {
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
            // A refused submission stores nothing and sends nothing: what it did is answer who is
            // in the non-digital register. So it is recorded as a register lookup, before the
            // answer leaves; an accepted one is correspondence, recorded as its document.
            try recordRegisterRead(registerRead, at: now)
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

        let xmlErrors: [(pointer: String, detail: String)]
        do {
            xmlErrors = try Self.unsignableXML(files: zip(files, mimeTypes).map { ($0.body, $1) },
                                               uploads: uploads, parties: Set(recipients.compactMap(\.party)), context: context)
        } catch {
            // It reads the uploads' files: one may have been moved in by a racing request meanwhile.
            if let u = uploads.first(where: { access($0.path, F_OK) != 0 && errno == ENOENT }) {
                return try uploadTaken(u, key: metadata.idempotencyKey, basis: metadata.fingerprintBasis, parts: files)
            }
            throw error
        }
        guard xmlErrors.isEmpty else {
            throw Problem.invalid(xmlErrors.map(\.detail).joined(separator: "; ") + "; nothing was sent to anyone", errors: xmlErrors)
        }

        // Files into the store, then the document in one transaction. Uploaded files are moved
        // in; if the document is not stored they are moved back, so the upload can be used again.
        var stored: [DocumentFile] = []
        var movedUploads: [(stored: String, upload: Upload)] = []
        var moving: Upload?
        func release() {
            for f in stored where !movedUploads.contains(where: { $0.stored == f.file.path }) { unlink(f.file.path) }
            for m in movedUploads {
                rename(m.stored, m.upload.path)
                // Abandoned meanwhile (DELETE …/uploads/{id}): no row names the file any more,
                // and nothing else would remove it.
                do { if try context.mailbox.upload(id: m.upload.id) == nil { unlink(m.upload.path) } } catch {}
            }
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
                moving = u
                let file = try context.store.storePayload(.move(path: u.path), at: now)
                moving = nil
                movedUploads.append((file.path, u))
                stored.append(DocumentFile(name: u.name, mimeType: u.mimeType, file: file))
                guard file.sha256 == u.sha256 else { throw Problem.conflict("upload \(u.id) changed on disk since it was completed") }
            }
        } catch {
            release()
            if let u = moving, case StoreError.io(_, _, ENOENT) = error {
                return try uploadTaken(u, key: metadata.idempotencyKey, basis: metadata.fingerprintBasis, parts: files)
            }
            throw error
        }
        // The parts' digests are the store's, taken as it wrote them (the parts come first).
        let fingerprint = try metadata.idempotencyKey.map { _ in
            try SubmissionFingerprint.of(metadata: metadata.fingerprintBasis,
                                         files: zip(files, stored).map { SubmissionFingerprint.File(sha256: $1.file.sha256, part: $0) })
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
        document.idempotencyFingerprint = fingerprint
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
        if case .existing(let first) = result, let key = metadata.idempotencyKey, let fingerprint {
            // A concurrent request with the same key stored first.
            release()
            return try replayed(first, key: key, fingerprint: fingerprint)
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

    /// Records that this connection's refused submission read the non-digital register entries
    /// of `codes` (docs/API.md, "Non-digital persons and channels"), where operators see who asked
    /// about whom; a failure to record it is the submission's failure, so no answer goes out
    /// unrecorded.
    private func recordRegisterRead(_ codes: [String], at now: Date) throws {
        guard !codes.isEmpty else { return }
        try r.context.registers.logChannelLookup(connection: r.connection.name, personCodes: codes, purpose: .refusedSubmission, at: now)
        r.context.log.log(.info, "channel-lookup", ["connection": r.connection.name, "persons": String(codes.count),
                                                    "purpose": ChannelLookupPurpose.refusedSubmission.rawValue])
    }

    /// Upload `u`'s file went from under this request between its checks and its move: another
    /// request moved it in, most likely the same submission sent again to another node (a DMS
    /// retrying after a timeout) or at once to two. Once that one is stored, this key's answer
    /// is its answer; until then the upload is another request's, a conflict to send again, never
    /// a store failure.
    private func uploadTaken(_ u: Upload, key: String?, basis: String, parts: [FormData.Field]) throws -> HTTPResponse {
        if let key, let first = try r.context.mailbox.documentId(connection: r.connection.name, idempotencyKey: key) {
            let files = try parts.map { SubmissionFingerprint.File(sha256: try SubmissionFingerprint.sha256($0.body), part: $0) }
            return try replayed(first, key: key, fingerprint: try SubmissionFingerprint.of(metadata: basis, files: files))
        }
        throw Problem.conflict("upload \(u.id) is being sent by another request (the same submission sent again, or to two nodes at once): "
                               + "its file was taken from under this one; nothing was stored"
                               + (key == nil ? "" : "; send it again with the same idempotencyKey to get that request's answer"))
    }

    /// The answer to a submission whose idempotency key named `first` already: the first answer
    /// again when the request is the one stored under the key (or the key was stored before
    /// fingerprints were kept, and the request cannot be compared), else a refusal. Either is
    /// logged.
    private func replayed(_ first: String, key: String, fingerprint: String) throws -> HTTPResponse {
        try Self.replayed(first, fingerprint: fingerprint, connection: r.connection.name, r.context)
    }

    static func replayed(_ first: String, fingerprint: String, connection: String, _ context: GatewayContext) throws -> HTTPResponse {
        guard let d = try context.mailbox.document(messageId: first) else {
            // Purged between the key's lookup and this read (a purged document's key is
            // forgotten with it): the message the key names is gone for good, not unknown.
            if let purged = try context.retention.purges(messageId: first).last { throw RetentionRoutes.gone(first, purged) }
            throw Problem(410, "gone", "No longer held", "message \(first), which this idempotency key names, is no longer held")
        }
        if let kept = d.idempotencyFingerprint, kept != fingerprint {
            context.log.log(.warning, "idempotency-key-reused", ["connection": connection, "document_id": first,
                                                                 "reason": "another submission under the key of a stored one; refused, nothing stored"])
            throw Problem(422, "idempotency-key-reused", "Idempotency key used for another submission",
                          "this connection's idempotencyKey was used for message \(first), whose metadata or files differ from this request's; "
                          + "nothing was stored or sent: send this document under a new key, or repeat the first request exactly",
                          errors: [(pointer: "/idempotencyKey", detail: "already used for message \(first), another submission")],
                          extensions: [("messageId", .string(first))])
        }
        context.log.log(.info, "idempotent-replay", ["connection": connection, "document_id": first,
                                                     "request": d.idempotencyFingerprint == nil ? "not compared (key stored without a fingerprint)" : "the same"])
        var response = DocumentView.submission(d).response(200)
        response.headers = ["Content-Type": "application/json", "Idempotent-Replayed": "true"]
        return response
    }

    /// JSONSerialization hands out numbers and booleans alike as NSNumber; a boolean's is `c`.
    static func isJSONBoolean(_ v: Any) -> Bool {
        guard let n = v as? NSNumber else { return false }
        return String(cString: n.objCType) == "c"
    }

    /// Checks the metadata part (`DocumentMetadata`); every problem is reported with its JSON Pointer.
    static func metadata(_ bytes: [UInt8]) throws -> DocumentMetadata.Checked {
        let object = try APIRequest.object(Data(bytes), what: "the metadata part")
        let (checked, errors) = DocumentMetadata.check(object, origin: .submission)
        guard let checked else {
            throw Problem.invalid("the metadata has \(errors.count) problem(s): " + errors.map { "\($0.pointer) \($0.detail)" }.joined(separator: "; "), errors: errors)
        }
        return checked
    }
}

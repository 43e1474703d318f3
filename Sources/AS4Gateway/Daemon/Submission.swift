import AS4Crypto
import EnvelopeXML
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import HTTPServer
import MessageStore
import Routing
import WSSecurity

/// The local submission endpoint (127.0.0.1 by default) that `as4gw send` talks to: a JSON
/// request naming the recipient party, service, action, properties and payload files. The
/// message is sealed per the P-Mode leg, written to the store (fsync'd) and queued; the reply is
/// 202 with the message id. The backend REST API grows out of this endpoint.
struct SubmissionHandler: HTTPHandler {
    let context: GatewayContext

    struct Request: Decodable {
        var to: String
        var service: String
        var serviceType: String?
        var action: String
        var conversationId: String?
        var messageId: String?
        var refToMessageId: String?
        var agreement: String?
        /// eb:MessageProperties by name (`SubmittedProperty`: a value, or a value and a type).
        var properties: [String: SubmittedProperty]?
        var payloads: [PayloadFile]

        struct PayloadFile: Decodable {
            var path: String
            var mimeType: String?
            /// eb:PartProperties beside MimeType: `CharacterSet`, and agreement-specific ones.
            var characterSet: String?
            var properties: [String: SubmittedProperty]?
        }
    }

    /// A test message to send to `ping` (a party name or party id value).
    struct PingRequest: Decodable {
        var ping: String
    }

    func admit(_ head: HTTPRequestHead) -> HTTPResponse? {
        guard head.path == context.config.apiListener.path else { return refuse(head, 404, "no submission endpoint at \(head.path)") }
        guard head.method == "POST" else { return refuse(head, 405, "submissions are POSTed") }
        // A proxy's header means the loopback peer relays someone else: never an operator here.
        if let relayed = ["Forwarded", "X-Forwarded-For", "X-Real-IP", "Via"].first(where: { head.headers[$0] != nil }) {
            return refuse(head, 403, "the operators' submission endpoint does not take relayed requests (\(relayed)); use POST /api/v1/messages")
        }
        guard SubmitToken.admits(head, token: context.submitToken) else {
            return refuse(head, 401, "the operators' submission endpoint needs the token in the data directory's \(SubmitToken.fileName) as 'Authorization: Bearer'; as4gw send reads it (--config or --token-file)")
        }
        return nil
    }

    func handle(_ request: HTTPRequest) -> HTTPResponse {
        let head = request.head
        let bytes: [UInt8]
        switch request.body {
        case .bytes(let b): bytes = b
        case .file(let path, _): bytes = (try? [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))) ?? []
        case .empty: return refuse(head, 400, "the submission body is empty")
        }
        // `{"ping": "PARTY"}` (as4gw ping): a test message sent now, its outcome the answer.
        if let ping = try? JSONDecoder().decode(PingRequest.self, from: Data(bytes)) {
            let outcome = PingSender(context: context).ping(ping.ping)
            let body = JSON.object([
                ("messageId", .string(outcome.messageId)), ("party", .string(outcome.party)), ("pmode", .string(outcome.pmode)),
                ("endpoint", .string(outcome.endpoint)), ("receipt", .bool(outcome.receipt)), ("sent", .bool(!outcome.refused)),
                ("httpStatus", outcome.httpStatus.map { .int($0) } ?? .null), ("errorCode", .string(outcome.errorCode)),
                ("reason", .string(outcome.reason)), ("elapsedMs", .int(outcome.elapsedMilliseconds)),
            ]).serialized(pretty: false)
            return .bytes(outcome.refused ? 422 : 200, contentType: "application/json", Array((body + "\n").utf8))
        }
        let submission: Request
        do {
            submission = try JSONDecoder().decode(Request.self, from: Data(bytes))
        } catch {
            // Worded by the member's path (`properties.originalSender: …`), as the configuration's errors are.
            let reason = ConfigurationDecoding.describe(error, data: Data(bytes))
            return refuse(head, 400, reason.hasPrefix("not valid JSON") ? "the submission is \(reason)" : "the submission: \(reason)")
        }
        do {
            let id = try Outbound(context: context).submit(submission)
            return .bytes(202, contentType: "application/json", Array("{\"messageId\":\"\(id)\"}\n".utf8))
        } catch let e as SubmissionError {
            return refuse(head, e.status, e.reason, submission)
        } catch where DiskFull.matches(error) {
            // Temporary: the client keeps its message and submits again once space returns.
            context.requestFailures.note(.diskFull, listener: "submit", error: error, log: context.log,
                                         fields: Self.requestFields(head, status: 507, submission))
            var response = problem(507, "the gateway's disk is full; the message was not accepted, submit it again later",
                                   type: "urn:as4gw:problem:insufficient-storage")
            response.headers["Retry-After"] = String(DiskFull.retryAfterSeconds)
            return response
        } catch where StoreOutage.matches(error) {
            // Temporary too (PostgreSQL restarting, failing over): the client submits again soon.
            context.requestFailures.note(.storeUnavailable, listener: "submit", error: error, log: context.log,
                                         fields: Self.requestFields(head, status: 503, submission))
            let detail = mayHaveCommitted(error)
                ? "the connection to the gateway's store broke during the commit: the message may have been queued (as4gw messages list shows it); submitting it again may send it twice"
                : "the gateway's store cannot answer now; the message was not accepted, submit it again later"
            var response = problem(503, detail, type: "urn:as4gw:problem:unavailable")
            response.headers["Retry-After"] = String(StoreOutage.retryAfterSeconds)
            return response
        } catch {
            context.log.log(.error, "api", Self.requestFields(head, status: 500, submission).merging(["reason": "\(error)"]) { $1 })
            return problem(500, "the message could not be queued: \(error)")
        }
    }

    /// A refused submission: one `api-refused` line, as for the backend API's refusals (status,
    /// request, client, reason), naming the message as far as the request does, then the answer.
    func refuse(_ head: HTTPRequestHead, _ status: Int, _ detail: String, _ submission: Request? = nil) -> HTTPResponse {
        context.log.log(status >= 500 ? .warning : .info, "api-refused",
                        Self.requestFields(head, status: status, submission).merging(["reason": APIHandler.maskingCodes(detail)]) { $1 })
        return problem(status, detail)
    }

    static func requestFields(_ head: HTTPRequestHead, status: Int, _ submission: Request?) -> [String: String?] {
        APIHandler.requestFields(head, status: status, connection: nil).merging([
            "message_id": submission?.messageId, "to": submission?.to, "service": submission?.service, "action": submission?.action]) { $1 }
    }

    func problem(_ status: Int, _ detail: String, type: String? = nil) -> HTTPResponse {
        let typeMember = type.map { "\"type\":\(EventLog.quote($0))," } ?? ""
        let body = "{\(typeMember)\"status\":\(status),\"detail\":\(EventLog.quote(detail))}\n"
        return .bytes(status, contentType: "application/problem+json", Array(body.utf8))
    }
}

struct SubmissionError: Error {
    var status: Int
    var reason: String
}

/// Seals and queues outbound messages.
struct Outbound {
    let context: GatewayContext

    static func realPath(_ path: String) -> String {
        guard let resolved = realpath(path, nil) else { return URL(fileURLWithPath: path).standardizedFileURL.path }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    func submit(_ s: SubmissionHandler.Request) throws -> String {
        var payloads: [Payload] = []
        for p in s.payloads {
            guard FileManager.default.isReadableFile(atPath: p.path) else { throw SubmissionError(status: 400, reason: "cannot read payload \(p.path)") }
            // The gateway's own folders hold its private keys and its store: never a payload.
            let real = Self.realPath(p.path)
            for own in context.ownFolders where real == own || real.hasPrefix(own + "/") {
                throw SubmissionError(status: 403, reason: "payload \(p.path) lies in the gateway's own data or P-Mode folder")
            }
            if context.ownSecretFiles.contains(real) {
                throw SubmissionError(status: 403, reason: "payload \(p.path) is one of the gateway's own keys or secrets")
            }
            // Both become part properties (MimeType, CharacterSet), which the ebMS3 schema makes
            // non-empty strings (`SubmittedProperty.properties`); left out, they are guessed or absent.
            for (name, value) in [("mimeType", p.mimeType), ("characterSet", p.characterSet)] where value?.isEmpty == true {
                throw SubmissionError(status: 422, reason: "payload \(p.path) has an empty \(name); leave it out")
            }
            // A charset name as the backend API takes one (tokens only, at most 40): a peer on
            // Java refuses a CharacterSet its platform cannot resolve (phase4 EBMS:0003, Oxalis EBMS:0009), and one with
            // spaces or controls no platform resolves; refused now, not after every retry.
            if let cs = p.characterSet {
                do { _ = try FileMediaType.charset(cs) } catch {
                    throw SubmissionError(status: 422, reason: "payload \(p.path): characterSet \(EventLog.quote(cs)) is refused: \(error.reason)")
                }
            }
            // The gateway writes these three itself (from mimeType, characterSet and the P-Mode's
            // compression); a second one, in any case, would be refused by receivers (ours too).
            for name in (p.properties ?? [:]).keys {
                if let reserved = [EbmsConstants.mimeType, EbmsConstants.characterSet, EbmsConstants.compressionType]
                    .first(where: { $0.caseInsensitiveCompare(name) == .orderedSame }) {
                    throw SubmissionError(status: 422, reason: "payload \(p.path): part property \(EventLog.quote(name)) is the gateway's to write ("
                        + (reserved == EbmsConstants.compressionType ? "the P-Mode decides compression" : "give the payload's \(reserved == EbmsConstants.mimeType ? "mimeType" : "characterSet") instead") + ")")
                }
            }
            let properties = try SubmittedProperty.properties(p.properties, "the part properties of \(p.path)")
            // The receiving gateway (this one too) refuses a message whose properties it cannot keep whole.
            let declared = properties.map(InboundProcessor.storeProperty) + (p.characterSet.map { [MessageProperty(EbmsConstants.characterSet, $0)] } ?? [])
            if let violation = PropertyLimits.violation(declared, "the part properties of \(p.path)") {
                throw SubmissionError(status: 422, reason: violation)
            }
            payloads.append(Payload(mimeType: p.mimeType ?? SealCommand.guessMimeType(p.path), body: try .wholeFile(p.path),
                                    characterSet: p.characterSet, properties: properties))
        }
        // The payloads are read from disk, so the request body says nothing of their size: the
        // gateway's limit applies to what they add up to.
        let total = payloads.reduce(UInt64(0)) { $0 + $1.body.count }
        if total > context.config.maxMessageBytes {
            throw SubmissionError(status: 413, reason: "the payloads add up to \(total) bytes; this gateway's limit is \(context.config.maxMessageBytes) bytes (maxMessageBytes)")
        }
        // An id the receiver would refuse (EBMS:0009) is refused now, not after every retry. So is
        // an empty eb:ConversationId (an xsd:token: white space alone is empty): strict receivers
        // (Holodeck's strict mode) refuse it, and left out the message starts a new conversation.
        if let given = s.conversationId, given.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            throw SubmissionError(status: 422, reason: "the conversationId is empty; leave it out to start a new conversation")
        }
        do {
            if let given = s.messageId { try EnvelopeParser.checkMessageId(given, "MessageId") }
            if let ref = s.refToMessageId { try EnvelopeParser.checkMessageId(ref, "RefToMessageId") }
        } catch {
            throw SubmissionError(status: 422, reason: error.reason)
        }
        // A RefToMessageId is the peer's id, whatever its form; ours must be one Oxalis takes.
        if let given = s.messageId, !MessageIdForm.isDotAtom(given) {
            throw SubmissionError(status: 422, reason: "eb:MessageId \"\(given)\" is not of the form left@right, both sides dot-atoms "
                                    + "(RFC 5322 msg-id, which ebMS3 asks for): some receivers (Oxalis) refuse any other (EBMS:0009)")
        }
        let id = s.messageId ?? Identifier.messageId(domain: context.messageIdDomain)
        if s.messageId != nil, (try? context.store.findMessage(id: id, direction: .outbound)) != nil {
            throw SubmissionError(status: 409, reason: "message id \(id) was already submitted")
        }
        do {
            try queue(s, payloads: payloads, id: id, checkLegLimit: true)
        } catch let e as XMLPayloadError where s.payloads.indices.contains(e.index) {
            // The submitter's file, not the signature: named, and refused before anything is kept.
            throw SubmissionError(status: 422, reason: "payload \(s.payloads[e.index].path): \(e.reason)")
        }
        return id
    }

    /// Seals and queues one user message whose payloads are already checked (the backend API's
    /// documents live in the store, where `submit` refuses to read).
    /// `checkLegLimit`: refuse payloads over the leg's `payload.maxMessageBytes` now (HTTP 413),
    /// which the receiver would refuse with EBMS:0010 after every retry.
    func queue(_ s: SubmissionHandler.Request, payloads: [Payload], id: String, checkLegLimit: Bool = false) throws {
        let set = context.pmodes
        guard let us = set.party(named: context.party) else { throw SubmissionError(status: 500, reason: "this gateway (\(context.party)) is not in the P-Mode set") }
        guard let them = set.party(named: s.to) ?? set.parties.first(where: { $0.partyIds.contains { $0.value == s.to } }) else {
            throw SubmissionError(status: 422, reason: "unknown recipient party \(s.to)")
        }
        let match: Match
        switch set.outboundLeg(from: us.name, to: them.name, service: Service(s.service, type: s.serviceType), action: s.action) {
        case .success(let m): match = m
        case .failure(let e): throw SubmissionError(status: 422, reason: "no agreement to send \(s.service)/\(s.action) to \(them.name): \(e.reason)")
        }
        let total = payloads.reduce(UInt64(0)) { $0 + $1.body.count }
        if checkLegLimit, total > UInt64(match.leg.payload.maxMessageBytes) {
            throw SubmissionError(status: 413, reason: "the payloads add up to \(total) bytes; the agreement \(match.pmode.id) takes at most \(match.leg.payload.maxMessageBytes) bytes")
        }
        // A reply (eb:RefToMessageId naming a message we received from them) continues its
        // conversation; another party's message with that id is not what it answers.
        let theirs = Set(them.partyIds.map(\.description))
        let answered = try s.refToMessageId.flatMap { try context.store.findInbound(id: $0).first { theirs.contains($0.metadata.fromParty) } }
        let conversationId = s.conversationId ?? answered?.metadata.conversationId ?? Identifier.uuid()
        let user = UserMessage(
            mpc: match.leg.mpc == EbmsConstants.defaultMPC ? nil : match.leg.mpc,
            messageInfo: MessageInfo(messageId: id, refToMessageId: s.refToMessageId),
            from: Party(ids: us.sentPartyIds, role: match.senderRole),
            to: Party(ids: them.sentPartyIds, role: match.receiverRole),
            collaboration: CollaborationInfo(agreementRef: match.pmode.agreement.map { AgreementRef($0.value, type: $0.type, pmode: match.pmode.agreementRefId ?? match.pmode.id) },
                                             service: match.leg.service, action: match.leg.action,
                                             conversationId: conversationId),
            properties: try SubmittedProperty.properties(s.properties, "the message properties"))
        if let violation = PropertyLimits.violation(user.properties.map(InboundProcessor.storeProperty), "the message properties") {
            throw SubmissionError(status: 422, reason: violation)
        }
        let sealed = try seal(user, payloads: payloads, leg: match.leg, to: them)
        defer { sealed.removeSpoolFiles() }
        // The exact bytes are kept: retries resend them, so the receipt's digests always match.
        let pull = match.delivery == .pull
        let stored = try keep(sealed, payloadBytes: payloads.reduce(UInt64(0)) { $0 + $1.body.count })
        let record = OutboundMessage(metadata: InboundProcessor.metadata(user, pmode: match.pmode.id, mpc: match.leg.mpc),
                                     endpoint: pull ? nil : them.endpoint?.absoluteString, contentType: stored.contentType,
                                     messagePath: stored.path, sentReferences: SentReferenceCoding.encode(sealed.references),
                                     maxAttempts: match.leg.receptionAwareness.retries + 1, submittedAt: Date(),
                                     pullMPC: pull ? match.leg.mpc : nil, messageBytes: stored.bytes)
        // An idle delivery worker gets the message leased in the queueing commit and starts at
        // once; otherwise it waits in the queue for the next free one (WorkerHandoff).
        let handoff = context.workerHandoff
        let worker = pull ? nil : handoff.takeParked()
        do {
            if let worker {
                handoff.hand(try context.store.enqueueOutbound(record, leasingTo: worker.owner, lease: context.config.leaseSeconds,
                                                               now: Date()), to: worker)
            } else {
                _ = try context.store.enqueueOutbound(record)
            }
        } catch {
            if let worker { handoff.hand(nil, to: worker) }
            // Not queued: the stored bytes belong to nobody, unless the commit may have happened.
            if !stored.path.isEmpty, !mayHaveCommitted(error) { unlink(stored.path) }
            throw error
        }
        if !pull, worker == nil { handoff.wakeOne() }
        context.log.log(.info, "submitted", InboundProcessor.fields(user).merging(["pmode": match.pmode.id, "status": "Submitted",
                                                                                  "bytes": String(stored.size)]) { $1 })
    }

    /// `user` with its payloads as `leg` says: signed with the identity its profile suits,
    /// encrypted to `them`'s certificate for that profile, payloads compressed.
    func seal(_ user: UserMessage, payloads: [Payload], leg: Leg, to them: Routing.Party) throws -> SealedMessage {
        let security = leg.security
        var encryption: MessageSealer.Encryption?
        if security.encrypt {
            // A partner on both profiles lists a certificate for each: the one the leg's suits.
            let certificates = them.certificates(role: .encryption)
            guard let cert = certificates.first(where: { security.profile.suits($0.keyType) }) ?? certificates.first else {
                throw SubmissionError(status: 422, reason: "no valid encryption certificate for \(them.name)")
            }
            let method: KeyEncryptionMethod
            switch (security.profile, cert.keyType) {
            case (.v1_15, _): method = .rsaOAEP
            case (.v2_0, .x25519): method = .x25519HKDF
            case (.v2_0, _): method = .ecdhESHKDF
            }
            encryption = .init(recipient: cert, method: method, keyReference: security.encryptionKeyReference.style)
        }
        let signer = security.sign ? try context.signatureBuilder(for: security) : nil
        let sealer = MessageSealer(signer: signer, encryption: encryption, compress: leg.payload.compress,
                                   spoolDirectory: context.spoolDirectory)
        return try sealer.seal(user, payloads: payloads)
    }

    /// The sealed message as the store keeps it: in memory for the store's own rows when it is
    /// small enough (one durable commit with the queue row, no file), else a payload file.
    struct KeptMessage {
        var contentType: String
        var path: String
        var bytes: Data?
        var size: Int
    }

    /// Room for the envelope, security header and MIME headers around the payloads: a message
    /// whose payloads fit the inline limit less this is sealed in memory.
    static let sealingOverhead: UInt64 = 64 * 1024

    func keep(_ sealed: SealedMessage, payloadBytes: UInt64) throws -> KeptMessage {
        let limit = context.store.inlineMessageLimit
        if limit > 0, payloadBytes + Self.sealingOverhead <= UInt64(limit) {
            var sink = MemorySink()
            let contentType = try sealed.write(to: &sink)
            if sink.bytes.count <= limit {
                return KeptMessage(contentType: contentType, path: "", bytes: Data(sink.bytes), size: sink.bytes.count)
            }
            let file = try context.store.storePayload(.bytes(Data(sink.bytes)), at: Date())
            return KeptMessage(contentType: contentType, path: file.path, bytes: nil, size: Int(file.size))
        }
        let tmp = try FileSink.createTemporary(in: context.spoolDirectory, prefix: "out-")
        var sink = tmp
        let contentType: String
        do {
            contentType = try sealed.write(to: &sink)
            try tmp.close()
        } catch {
            unlink(tmp.path)
            throw error
        }
        let file = try context.store.storePayload(.move(path: tmp.path), at: Date())
        return KeptMessage(contentType: contentType, path: file.path, bytes: nil, size: Int(file.size))
    }
}

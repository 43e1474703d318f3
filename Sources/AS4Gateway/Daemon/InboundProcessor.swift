import AS4Crypto
import EnvelopeXML
import Foundation
import HTTPServer
import MessageStore
import Routing
import WSSecurity

/// The AS4 endpoint: every POST is one message, answered synchronously with a signed receipt or
/// an ebMS error (eDelivery: errors and receipts on the HTTP back-channel, AS4-WIRE §1.8, §5.2).
///
/// Order of work (AS4-WIRE §3.9, the signer before decryption): MIME and XML → P-Mode → the
/// signature's SignedInfo and signer → decrypt → the references' digests → decompress into the
/// store (fsync'd) → record (duplicates answered with the original receipt) → receipt. A test
/// message (the ebMS3 test service) takes the same steps up to the digests and is then answered
/// without being stored (`answerTestMessage`).
/// A message that fails any step leaves nothing behind but a log line and its error event.
struct InboundProcessor: HTTPHandler {
    let context: GatewayContext
    /// The address the request came from, for the lines that refuse it (`refused`): the sender a
    /// header names may not be who sent it. Nil for a message we pulled.
    var client: String? = nil

    func admit(_ head: HTTPRequestHead) -> HTTPResponse? {
        guard head.path == context.config.as4Listener.path else { return refused(head, status: 404, reason: "no AS4 endpoint at \(head.path)") }
        guard head.method == "POST" else { return refused(head, status: 405, reason: "the AS4 endpoint takes POST") }
        if let reason = AS4RequestHead.contentCodingRefusal(head.headers) {
            // RFC 7694 §3: a 415 for a content coding says which codings are accepted.
            var response = refused(head, status: 415, reason: reason)
            response.headers["Accept-Encoding"] = "identity"
            return response
        }
        let type = head.headers["Content-Type"]?.lowercased() ?? ""
        guard type.hasPrefix("multipart/related") || type.hasPrefix("application/soap+xml") || type.hasPrefix("text/xml") else {
            return refused(head, status: 415, reason: "an AS4 message is multipart/related or application/soap+xml")
        }
        if let length = head.contentLength, length > context.config.maxMessageBytes {
            return refused(head, status: 413, reason: "message of \(length) bytes exceeds this gateway's limit of \(context.config.maxMessageBytes) bytes")
        }
        return nil
    }

    /// A request refused before it is read as a message (by us or the HTTP server): one log line
    /// naming the client (`client`; `from` is an ebMS party elsewhere), and the reason as text.
    /// A body the server could not spool for a full disk (507) is that condition, logged as the
    /// store's full disk is, once a minute at most (`RequestFailureLog`).
    func refused(_ head: HTTPRequestHead, status: Int, reason: String) -> HTTPResponse {
        let fields = ["status": String(status), "method": head.method, "path": head.path, "client": head.remoteAddress]
        if status == 507 {
            context.requestFailures.note(.diskFull, listener: "as4", error: SpoolDiskFull(spoolDirectory: context.spoolDirectory),
                                         log: context.log, fields: fields)
        } else {
            context.log.log(status >= 500 ? .warning : .info, "http-refused", fields.merging(["reason": reason]) { $1 })
        }
        return .text(status, reason + "\n")
    }

    func handle(_ request: HTTPRequest) -> HTTPResponse {
        if client == nil { return InboundProcessor(context: context, client: request.head.remoteAddress).handle(request) }
        let started = Date()
        defer { context.metrics.inboundProcessing.observe(since: started) }
        let raw: RawMessage
        do {
            let contentType = try AS4RequestHead.contentType(request.head.headers)
            switch request.body {
            case .file(let path, _):
                raw = try MessageInput.load(path: path, contentType: contentType, spoolDirectory: context.spoolDirectory)
            case .bytes(let bytes):
                raw = try MessageInput.load(bytes: bytes, contentType: contentType, spoolDirectory: context.spoolDirectory)
            case .empty:
                return errorResponse(EbmsError(.invalidHeader, "empty request body"), refTo: nil, started: started)
            }
        } catch let e as EbmsError {
            return errorResponse(e, refTo: nil, started: started)
        } catch {
            let reason = DiskFull.matches(error) ? error : EbmsError(.other, "cannot read the request: \(error)")
            return errorResponse(reason, refTo: nil, started: started)
        }
        let requestFile: String? = { if case .file(let p, _) = request.body { return p } else { return nil } }()
        defer { Self.removeSpoolFiles(of: raw.attachments, keeping: requestFile, spool: context.spoolDirectory) }
        let message: AS4Message
        do {
            message = try AS4Message.read(raw)
        } catch {
            // The header is invalid, but its MessageId may still be readable: naming it lets the
            // sender tie the error to its message instead of waiting for a receipt.
            if Self.isSOAP11(raw.envelope) { return versionMismatch(refTo: Self.messageIdHint(raw.envelope), started: started) }
            return errorResponse(error, refTo: Self.messageIdHint(raw.envelope), started: started)
        }
        if message.envelope.soapVersion == .soap11 {
            return versionMismatch(refTo: message.messaging.primary?.messageInfo.messageId, started: started,
                                   fields: message.messaging.userMessage.map(Self.fields) ?? [:])
        }
        // A receiving gateway applies the eDelivery profile: what ebMS3 Core tolerates but the
        // profile does not is refused with the error the finding names.
        let refTo = message.messaging.primary?.messageInfo.messageId
        if let error = Self.notUnderstood(message) {
            return errorResponse(error, refTo: refTo, started: started, notUnderstood: message.envelope.notUnderstood)
        }
        if message.messaging.userMessage != nil {
            switch processUserMessage(message, started: started, clientCertificate: request.head.clientCertificate) {
            case .success(let receipt): return .bytes(200, contentType: MultipartWriter.soapContentType, receipt)
            case .failure(let f):
                return errorResponse(f.error, refTo: f.refTo, started: started, fields: f.fields, notUnderstood: f.notUnderstood, security: f.security)
            }
        }
        if let finding = message.profileFindings.first {
            return errorResponse(finding.error, refTo: refTo, started: started)
        }
        if let pull = message.messaging.signals.first(where: { if case .pullRequest = $0.kind { return true } else { return false } }) {
            return PullResponder(context: context, client: client).respond(to: pull, message, started: started)
        }
        if let signal = message.messaging.signals.first(where: { if case .receipt = $0.kind { return true } else { return false } }) {
            return PullResponder(context: context, client: client).acceptReceipt(signal, message, rawEnvelope: raw.envelope, started: started)
        }
        if let signal = message.messaging.signals.first(where: { if case .errors = $0.kind { return true } else { return false } }) {
            return ErrorSignalResponder(context: context, client: client).accept(signal, message, started: started,
                                                                                 clientCertificate: request.head.clientCertificate)
        }
        return errorResponse(EbmsError(.valueInconsistent, "unsolicited signal: this gateway takes receipts and errors only on the back-channel"),
                             refTo: refTo, started: started)
    }

    // MARK: - user messages

    /// The eb:MessageId of a message whose header could not be read as a whole: the first
    /// eb:Messaging/*/eb:MessageInfo/eb:MessageId of a well-formed envelope, if it has one that a
    /// receipt or error may name (one `EnvelopeParser.checkMessageId` accepts).
    static func messageIdHint(_ envelope: [UInt8]) -> String? {
        guard let document = try? XMLDocument(parsing: envelope, limits: .envelope), let root = document.root else { return nil }
        for version in [NS.soap12, NS.soap11] {
            guard let messaging = root.firstChild("Header", version)?.firstChild("Messaging", NS.eb) else { continue }
            for unit in messaging.children {
                guard let id = unit.firstChild("MessageInfo", NS.eb)?.firstChild("MessageId", NS.eb)?.trimmedText else { continue }
                return (try? EnvelopeParser.checkMessageId(id, "MessageId")) != nil ? id : nil
            }
        }
        return nil
    }

    /// Why a Two-Way reply does not answer a request of ours, or nil when it does: its
    /// RefToMessageId must name a message we sent its sender under the same P-Mode, and its
    /// ConversationId be that request's.
    func replyCorrelationProblem(_ user: UserMessage, match: Match) throws -> String? {
        guard let ref = user.messageInfo.refToMessageId else {
            return "a reply of Two-Way P-Mode \(match.pmode.id) must carry eb:RefToMessageId naming its request"
        }
        // A store that cannot answer now is our failure (503 and sent again), not a reply to nothing.
        guard let request = try context.store.findMessage(id: ref, direction: .outbound), request.metadata.pmodeId == match.pmode.id,
              match.sender.partyIds.map(\.description).contains(request.metadata.toParty) else {
            return "eb:RefToMessageId \(ref) names no request of P-Mode \(match.pmode.id) sent to \(match.sender.name)"
        }
        guard request.metadata.conversationId == user.collaboration.conversationId else {
            return "the reply's ConversationId \"\(user.collaboration.conversationId)\" is not its request's (\"\(request.metadata.conversationId)\")"
        }
        return nil
    }

    /// The refusal of a second Two-Way reply to one request.
    static func alreadyAnswered(_ request: String, by reply: String) -> EbmsError {
        EbmsError(.valueInconsistent, "request \(request) was already answered by message \(reply)")
    }

    /// A mandatory header block we do not process: the message must not be processed at all.
    static func notUnderstood(_ message: AS4Message) -> EbmsError? {
        let blocks = message.envelope.notUnderstood
        guard !blocks.isEmpty else { return nil }
        let names = blocks.map(\.description).joined(separator: ", ")
        return EbmsError(.invalidHeader, blocks.count == 1 ? "header block \(names) is marked mustUnderstand and is not processed here"
                                                           : "header blocks \(names) are marked mustUnderstand and are not processed here")
    }

    /// Why a user message was not accepted: the error to answer with, and the log fields.
    struct ReceiveFailure: Error {
        var error: Error
        var refTo: String?
        var fields: [String: String?]
        /// The security of the leg the message matched, if it matched one: the error signal is
        /// signed as a receipt on that leg would be.
        var security: LegSecurity? = nil
        /// The mandatory header blocks not processed, when that is why: the error signal then
        /// carries an env:MustUnderstand fault naming each (SOAP 1.2 Part 1 §2.6, §5.4.8).
        var notUnderstood: [HeaderBlockName] = []
    }

    /// The receive path of a user message, pushed to us or pulled by us (`pulled: true`): profile
    /// findings → P-Mode → size → signer → decrypt → digests → duplicate → store → the signed
    /// receipt's bytes. A failure leaves nothing behind; the caller answers with the error signal.
    /// `pulledMPC`: the MPC our PullRequest named; the message must be on it.
    /// `clientCertificate`: the TLS client certificate the message came with (validated by the
    /// listener); a party whose P-Mode lists TLS certificates must have used one of them.
    func processUserMessage(_ message: AS4Message, started: Date, pulled: Bool = false, pulledMPC: String? = nil,
                            clientCertificate: Certificate? = nil) -> Result<[UInt8], ReceiveFailure> {
        guard let user = message.messaging.userMessage else {
            return .failure(ReceiveFailure(error: EbmsError(.valueInconsistent, "no user message"), refTo: nil, fields: [:]))
        }
        let id = user.messageInfo.messageId
        var fields = Self.fields(user)
        var security: LegSecurity?
        func fail(_ e: Error) -> Result<[UInt8], ReceiveFailure> { .failure(ReceiveFailure(error: e, refTo: id, fields: fields, security: security)) }
        if let error = Self.notUnderstood(message) {
            return .failure(ReceiveFailure(error: error, refTo: id, fields: fields, notUnderstood: message.envelope.notUnderstood))
        }
        if let finding = message.profileFindings.first { return fail(finding.error) }
        // The properties go to the consumer whole or the message is refused: none is cut short
        // or dropped to fit the store (PropertyLimits).
        if let violation = Self.propertyViolation(user) { return fail(EbmsError(.valueInconsistent, violation)) }
        let isTest = user.collaboration.isTestService
        if user.collaboration.misusesTestAction {
            return fail(EbmsError(.valueInconsistent, "action \(EbmsConstants.testAction) belongs to service \(EbmsConstants.testService) only"))
        }
        let set = context.pmodes
        let match: Match
        switch isTest ? set.matchTestMessage(user, pulledFrom: pulled ? pulledMPC ?? user.mpc ?? EbmsConstants.defaultMPC : nil) : set.match(user) {
        case .success(let m): match = m
        case .failure(let e): return fail(e)
        }
        fields["pmode"] = match.pmode.id
        security = match.leg.security
        guard match.receiver.name == context.party else {
            return fail(EbmsError(.processingModeMismatch, "the message is not addressed to this gateway"))
        }
        if pulled, match.delivery != .pull {
            return fail(EbmsError(.processingModeMismatch, "the pulled message fits P-Mode \(match.pmode.id), whose leg is not pulled"))
        }
        // TLS client authentication binds to the party, not only to the truststore's CA.
        if let error = TLSClientBinding(context: context).refusal(clientCertificate, for: match.sender, sending: "the message") { return fail(error) }
        // The reply leg of a Two-Way exchange answers a request we sent this party under the same
        // P-Mode, in its conversation (ebMS3 §2.2.3, §5.2.2.1): a reply to nothing is refused.
        // A test message may go under any agreement of its sender's, a reply leg's too, and
        // answers nothing.
        let isReply = !isTest && match.pmode.mep == .twoWay && match.legIndex == 1
        do {
            if isReply, let problem = try replyCorrelationProblem(user, match: match) { return fail(EbmsError(.valueInconsistent, problem)) }
        } catch {
            return fail(error)
        }
        // A pulled message belongs to the MPC that was pulled (ebMS3 §3.4), and to its leg's.
        if let pulledMPC {
            let on = user.mpc ?? EbmsConstants.defaultMPC
            guard on == pulledMPC, match.leg.mpc == pulledMPC else {
                return fail(EbmsError(.processingModeMismatch, "the pulled message is on MPC \(on), not on \(pulledMPC), which was pulled"))
            }
        }
        if message.attachments.reduce(UInt64(0), { $0 + $1.body.count }) > UInt64(match.leg.payload.maxMessageBytes) {
            return fail(sizeError(UInt64(match.leg.payload.maxMessageBytes)))
        }
        // Ids are remembered as long as a timestamp is accepted: the window behind it plus the
        // skew, for a timestamp that was itself up to the skew ahead when we first took it. So a
        // replay is refused by one or the other, never let through between them (AS4-WIRE §7.5).
        let window = match.leg.receptionAwareness.duplicateDetectionWindow + 2 * Self.clockSkew
        do {
            let security = match.leg.security
            let policy = security.policy
            try checkTimestamp(user.messageInfo.timestamp, window: match.leg.receptionAwareness.duplicateDetectionWindow)
            // One Security header for us only (AS4-WIRE §3.9 step 2; blocks for other roles are
            // not ours): decryption, verification and the receipt's references must all come from
            // the same, verified block.
            guard message.envelope.securityHeaders.count <= 1 else {
                throw EbmsError(.policyNoncompliance, "the message carries \(message.envelope.securityHeaders.count) wsse:Security headers")
            }
            // Identifiers must be unique before anything is resolved by them, decryption included
            // (signature-wrapping defence; EBMS:0101).
            let identifiers = try IdentifierIndex(document: message.envelope.document)
            // The Security header is read once and shared by decryption, verification and the receipt.
            var header: SecurityHeader?
            func securityHeader() throws -> SecurityHeader? {
                if header == nil, let sec = message.envelope.securityHeaders.first { header = try SecurityHeader.read(sec) }
                return header
            }
            // The signer first (SignatureVerifier.authenticate): SignedInfo, the SignatureValue
            // and the sender's certificate decide before any part is decrypted or digested, so a
            // message nobody we trust signed costs no RSA decryption and no parse of its
            // attachments. AS4-WIRE §3.9 lists decryption first because the references' digests
            // need the plaintext (sign, then encrypt); the SignatureValue over SignedInfo does
            // not, and the digests are still checked after decryption.
            var verifier: SignatureVerifier?
            var authentication: SignatureAuthentication?
            if security.sign || !message.envelope.securityHeaders.isEmpty {
                // Every listed certificate, valid now or not: one that expired (or is not valid
                // yet) is refused by the verifier as such, not as another party's.
                let senderCerts = match.sender.allCertificates(role: .signing)
                var v = SignatureVerifier(policy: policy, trust: try context.validator(pinned: senderCerts), candidates: senderCerts,
                                          expectedSigners: senderCerts, checkRevocation: !context.crls.isEmpty)
                v.attachmentXMLLimits = XMLLimits.attachment(maxBytes: match.leg.payload.maxMessageBytes)
                // A header that cannot be read is reported by the verifier, as before.
                let checked = v.authenticate(message, header: try? securityHeader(), identifiers: identifiers)
                if let error = checked.report.error {
                    if security.sign || message.envelope.hasSignature { throw error }
                } else {
                    verifier = v
                    authentication = checked
                }
            }
            var attachments = message.attachments
            var spooled: [String] = []
            defer { for f in spooled { unlink(f) } }
            let encrypted = message.envelope.encryptedContentIDs
            if !encrypted.isEmpty || policy.requireEncryption {
                guard let read = try securityHeader() else {
                    throw EbmsError(.policyNoncompliance, "the agreement requires encrypted payloads")
                }
                attachments = try AttachmentDecryptor.decrypt(message, header: read, keys: context.decryptionKeys,
                                                              policy: policy, spoolDirectory: context.spoolDirectory)
                for part in attachments {
                    if case .file(let p, _, _) = part.body, !message.attachments.contains(where: { $0.body == part.body }) { spooled.append(p) }
                }
            }
            var signature: SignatureInfo?
            if let verifier, let authentication {
                let report = verifier.checkReferences(authentication, attachments: attachments)
                if let error = report.error { throw error }
                signature = authentication.signature
            }
            // Verified as its sender's messages are, and never delivered (ebMS3 §5.2.2.9).
            if isTest {
                return .success(try answerTestMessage(message, attachments: attachments, signature: signature, match: match, window: window,
                                                      fields: fields, started: started))
            }
            // Duplicate detection after verification (AS4-WIRE §3.9 step 7, §5.4), per sending
            // party: a retry after a lost receipt gets the original receipt again and is not stored
            // twice; a message that reuses an id for other content (other digests) is refused,
            // never given the old receipt. Another party's message with the id is none of these.
            if let original = try earlierCopy(of: user, window: window), let stored = original.receipt {
                return .success(try answerDuplicate(message, original: original, storedReceipt: stored, signature: signature, match: match,
                                                    fields: fields, started: started))
            }
            if let clash = try carrierClash(user) { throw clash }
            // A request is answered once: a second reply (another MessageId) would hand the
            // backend two answers to one question. Checked after the duplicate check, so that a
            // copy of the reply we took still gets its receipt again.
            if isReply, let request = user.messageInfo.refToMessageId, let reply = try context.store.findReply(toRequest: request),
               reply.metadata.messageId != id {
                throw Self.alreadyAnswered(request, by: reply.metadata.messageId)
            }
            let limit = UInt64(match.leg.payload.maxMessageBytes)
            let parts = try storePayloads(user, attachments: attachments, limit: limit, signed: signature != nil)
            let result: InboundResult
            let receipt: [UInt8]
            do {
                // The header first: the quota routes on finalRecipient, which it makes the header's recipient.
                try DocumentHeaderCheck.checkArrival(user, parts: parts)
                try MailboxQuota(context: context).checkArrival(user, parts: parts)
                receipt = try buildReceipt(for: message, signature: signature, security: match.leg.security)
                let record = InboundMessage(metadata: Self.metadata(user, pmode: match.pmode.id, mpc: match.leg.mpc), parts: parts,
                                            receivedAt: started, receipt: Data(receipt), isTwoWayReply: isReply)
                do {
                    result = try context.store.recordInbound(record, duplicateWindow: window)
                } catch StoreError.requestAlreadyAnswered(let request, let reply) {
                    // Another reply was recorded since the check above (by another thread or node).
                    throw Self.alreadyAnswered(request, by: reply)
                }
            } catch {
                // Not recorded: the payload files belong to nobody. Unless the commit's outcome is
                // unknown: then the row may name them, and a sender's retry gets its receipt.
                if mayHaveCommitted(error) {
                    context.log.log(.error, "payload-files-kept", ["message_id": id, "reason": "\(error)"])
                } else {
                    for p in parts where !p.file.path.isEmpty { unlink(p.file.path) }
                }
                throw error
            }
            switch result {
            case .stored:
                context.log.log(.info, "received", fields.merging(["status": "Received", "parts": String(parts.count), "elapsed_ms": ms(started)]) { $1 })
                return .success(receipt)
            case .duplicate(let original):
                // Raced with a concurrent copy of the same message: answer as that one was answered.
                for p in parts where !p.file.path.isEmpty { unlink(p.file.path) }
                guard let stored = original.receipt else {
                    throw EbmsError(.valueInconsistent, "the MessageId was already received with different content")
                }
                return .success(try answerDuplicate(message, original: original, storedReceipt: stored, signature: signature, match: match,
                                                    fields: fields, started: started))
            }
        } catch {
            return fail(error)
        }
    }

    /// Each payload (decompressed when declared): in memory for the store's own rows when it fits
    /// the store's inline limit (made durable with the message's record), else into the store's
    /// payload directory, fsync'd. `signed`: the message's signature was verified.
    func storePayloads(_ user: UserMessage, attachments: [MIMEPart], limit: UInt64, signed: Bool) throws -> [MessagePart] {
        var out: [MessagePart] = []
        var total: UInt64 = 0
        do {
            for info in user.payloads {
                guard let cid = info.contentID, let part = attachments.first(where: { $0.contentID == cid }) else {
                    throw EbmsError(.externalPayloadError, "eb:PartInfo \(info.href ?? "(SOAP Body)") names no attachment")
                }
                // The MimeType part property is covered by eb:Messaging's signature; the part's
                // MIME header and EncryptedData/@MimeType by nothing (the SwA content transform
                // digests the content only). So in a signed message a type only they give is not
                // passed on as the sender's; an unsigned one (no signing agreed) has nothing better.
                let mimeType = info.mimeType ?? (signed ? nil : part.contentType?.essence) ?? "application/octet-stream"
                if let bytes = try inlinePayload(part.body, compressed: info.isCompressed, remaining: limit > total ? limit - total : 0,
                                                 limit: limit) {
                    total += UInt64(bytes.count)
                    let file = StoredFile(path: "", size: Int64(bytes.count), sha256: Self.hex(try Digest.sha256(bytes)))
                    out.append(MessagePart(contentId: cid, mimeType: mimeType, file: file, bytes: Data(bytes),
                                           properties: Self.partProperties(info)))
                    continue
                }
                let file = try FileSink.createTemporary(in: context.spoolDirectory, prefix: "in-")
                var sink = file
                let remaining = limit > total ? limit - total : 0
                do {
                    if info.isCompressed {
                        // Bounded by what the agreement still allows: passing it is a size
                        // refusal; any other failure is a decompression failure (EBMS:0303).
                        try Gzip.decompress(part.body, to: &sink, limits: Self.gzipLimits(remaining))
                    } else {
                        guard part.body.count <= remaining else { throw sizeError(limit) }
                        try sink.write(contentsOf: part.body)
                    }
                    try file.close()
                } catch let e as EbmsError where e.detail == Gzip.outputLimitDetail {
                    // Cap excess while decompressing is a DecompressionFailure (AS4-WIRE §4).
                    unlink(file.path)
                    throw EbmsError(.decompressionFailure, "the decompressed payloads exceed the agreement's limit of \(limit) bytes")
                } catch {
                    unlink(file.path)
                    throw error
                }
                total += file.bytesWritten
                if total > limit {
                    unlink(file.path)
                    throw EbmsError(.processingModeMismatch, "the payloads exceed the agreement's limit of \(limit) bytes")
                }
                let stored = try context.store.storePayload(.move(path: file.path), at: Date())
                out.append(MessagePart(contentId: cid, mimeType: mimeType, file: stored, properties: Self.partProperties(info)))
            }
        } catch {
            for p in out where !p.file.path.isEmpty { unlink(p.file.path) }
            throw error
        }
        return out
    }

    /// A payload's bytes when they fit the store's inline limit; nil when it goes to a file. The
    /// same bounds as the file path: a payload past what the agreement still allows is refused.
    func inlinePayload(_ body: PartBody, compressed: Bool, remaining: UInt64, limit: UInt64) throws -> [UInt8]? {
        let inline = UInt64(context.store.inlineMessageLimit)
        guard inline > 0, body.count <= inline else { return nil }
        guard compressed else {
            guard body.count <= remaining else { throw sizeError(limit) }
            return try body.readAll()
        }
        var sink = MemorySink()
        do {
            try Gzip.decompress(body, to: &sink, limits: Self.gzipLimits(min(remaining, inline)))
        } catch let e as EbmsError where e.detail == Gzip.outputLimitDetail {
            // Larger than the inline limit but perhaps within the agreement: decompressed again
            // into a file. Past the agreement: a DecompressionFailure (AS4-WIRE §4).
            if remaining > inline { return nil }
            throw EbmsError(.decompressionFailure, "the decompressed payloads exceed the agreement's limit of \(limit) bytes")
        }
        return sink.bytes
    }

    /// A payload is bounded by what the agreement still allows, not by its compression ratio: a
    /// bomb stops at the leg's size like any payload, while a ratio cap refused genuine ones (64
    /// MiB of zeros deflates about 1000:1) that a sending gateway compresses without a second thought.
    static func gzipLimits(_ maxOutputBytes: UInt64) -> GzipLimits { GzipLimits(maxOutputBytes: maxOutputBytes, maxRatio: nil) }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for b in bytes { out.append(digits[Int(b >> 4)]); out.append(digits[Int(b & 15)]) }
        return String(decoding: out, as: UTF8.self)
    }

    /// Files the MIME reader created for this message (decoded base64 parts, a de-chunked body):
    /// the store keeps its own copies, so they go once the request is answered. The request body
    /// file itself belongs to the HTTP server.
    static func removeSpoolFiles(of attachments: [MIMEPart], keeping requestFile: String?, spool: String) {
        var seen: Set<String> = []
        for part in attachments {
            guard case .file(let path, _, _) = part.body, path != requestFile, path.hasPrefix(spool + "/"),
                  seen.insert(path).inserted else { continue }
            unlink(path)
        }
    }

    /// How far a peer's clock may be from ours.
    static let clockSkew: TimeInterval = 300

    /// eb:Timestamp within the clock skew ahead and the duplicate-detection window behind: a replay
    /// older than the window (when its id may have been forgotten) is refused by its timestamp.
    func checkTimestamp(_ timestamp: Timestamp, window: TimeInterval) throws {
        let skew = Self.clockSkew
        let age = Date().timeIntervalSince(timestamp.date)
        if age < -skew { throw EbmsError(.valueInconsistent, "eb:Timestamp \(timestamp.lexical) lies in the future") }
        if age > window + skew { throw EbmsError(.valueInconsistent, "eb:Timestamp \(timestamp.lexical) is older than the duplicate-detection window") }
    }

    func sizeError(_ limit: UInt64) -> EbmsError {
        EbmsError(.processingModeMismatch, "the payloads exceed the agreement's limit of \(limit) bytes")
    }

    /// Signed as the leg the message matched says (`GatewayContext.signatureBuilder(for:)`).
    func buildReceipt(for message: AS4Message, signature: SignatureInfo?, security: LegSecurity?) throws -> [UInt8] {
        let id = Identifier.messageId(domain: context.messageIdDomain)
        let signal: SignalMessage
        if let signature {
            signal = try ReceiptBuilder.receipt(for: message, signature: signature, messageId: id)
        } else {
            // Unsigned message (allowed only by an agreement without signing): a reception-
            // awareness receipt with a copy of the eb:UserMessage, no non-repudiation information.
            let user = message.messaging.userMessage
            signal = SignalMessage(messageInfo: MessageInfo(messageId: id, refToMessageId: message.messaging.primary?.messageInfo.messageId),
                                   kind: .receipt(Receipt(content: [user.map(EnvelopeBuilder.userMessageCopy)
                                       ?? "<as4gw:Acknowledgement xmlns:as4gw=\"urn:as4gw:receipt\"></as4gw:Acknowledgement>"])))
        }
        return try MessageSealer(signer: try context.signatureBuilder(for: security)).seal(signal: signal).envelope
    }

    static func fields(_ user: UserMessage) -> [String: String?] {
        ["message_id": user.messageInfo.messageId, "conversation_id": user.collaboration.conversationId,
         "from": user.from.recordedId?.value, "to": user.to.recordedId?.value,
         "service": user.collaboration.service.value, "action": user.collaboration.action]
    }

    /// The header values the store keeps, in either direction (`Outbound` records its own
    /// messages with it too), eb:MessageProperties included.
    static func metadata(_ user: UserMessage, pmode: String?, mpc: String?) -> MessageMetadata {
        MessageMetadata(messageId: user.messageInfo.messageId, conversationId: user.collaboration.conversationId,
                        refToMessageId: user.messageInfo.refToMessageId, fromParty: user.from.recordedId?.description ?? "",
                        toParty: user.to.recordedId?.description ?? "", service: user.collaboration.service.value,
                        action: user.collaboration.action, pmodeId: pmode, mpc: mpc,
                        properties: user.properties.map(storeProperty))
    }

    /// A part's eb:PartProperties as the consumer gets them: `MimeType` is the part's own
    /// `mimeType` already, and `CompressionType` described the wire form the gateway undid.
    static func partProperties(_ info: PartInfo) -> [MessageProperty] {
        info.properties.filter { $0.name != EbmsConstants.mimeType && $0.name != EbmsConstants.compressionType }.map(storeProperty)
    }

    static func storeProperty(_ p: Property) -> MessageProperty { MessageProperty(p.name, p.value, type: p.type) }

    /// Why the message's properties exceed what the store keeps, if they do.
    static func propertyViolation(_ user: UserMessage) -> String? {
        if let v = PropertyLimits.violation(user.properties.map(storeProperty), "eb:MessageProperties") { return v }
        for info in user.payloads {
            if let v = PropertyLimits.violation(partProperties(info), "eb:PartProperties of \(info.href ?? "the SOAP Body")") { return v }
        }
        return nil
    }
}

func ms(_ since: Date) -> String { String(Int((Date().timeIntervalSince(since) * 1000).rounded())) }

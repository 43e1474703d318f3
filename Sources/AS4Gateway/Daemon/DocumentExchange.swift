import AS4Crypto
import EnvelopeXML
import Foundation
import MessageStore
import Routing
import WSSecurity

/// Moves documents between e-addresses over AS4 (the format is `EAddressMessages`): queues a
/// document for a remote recipient, reports a mailbox's news back to the sending access point,
/// and takes in both kinds of message when they arrive here.
struct DocumentExchange {
    let context: GatewayContext

    // MARK: Sending

    /// Queues the AS4 message that carries `document` to the access point of remote recipient `r`.
    /// Returns false when there was nothing to queue: a mailbox recipient, or an AS4 message
    /// with that id queued already.
    @discardableResult
    func sendDocument(_ d: Document, to r: DocumentRecipient) throws -> Bool {
        guard let party = r.party, let as4Id = r.as4MessageId else { return false }
        let header = EAddressMessages.DocumentHeader(
            documentId: d.messageId, sender: d.sender, recipient: r.address, metadata: d.metadata,
            files: d.files.map { .init(name: $0.name, mimeType: $0.mimeType, size: $0.file.size, sha256: $0.file.sha256) })
        var payloads = [Payload(contentID: EAddressMessages.headerContentID, mimeType: "application/json",
                                body: .bytes(Array(try EAddressMessages.encode(header))))]
        for f in d.files {
            // The header above promises each file's size and digest: a missing or cut-off file is
            // refused here (one stat) rather than sent as the document. Hashing again is left to
            // the reading recipient's gateway, which checks the digest against the header.
            try PayloadIntegrity.checkSize(f.file)
            payloads.append(Payload(mimeType: f.mimeType, body: try .wholeFile(f.file.path)))
        }
        let request = SubmissionHandler.Request(
            to: party, service: EAddressMessages.service, action: EAddressMessages.documentAction, conversationId: d.messageId,
            properties: ["originalSender": d.sender, "finalRecipient": r.address, "documentId": d.messageId], payloads: [])
        do {
            try Outbound(context: context).queue(request, payloads: payloads, id: as4Id)
            return true
        } catch StoreError.duplicateMessageId {
            // Queued already: another node's start-up requeue and this submission met.
            return false
        }
    }

    /// `sendDocument`, but a recipient for whom no AS4 message can be made (no agreement with its
    /// access point, no usable certificate, a limit: the submission's own refusals, or sealing
    /// failing) is made Failed with the reason, the sender told (notification here, status report
    /// to the document's origin), and false returned. Such a recipient would otherwise wait as
    /// Submitted forever, retried every minute. Store and disk errors are thrown: they may pass.
    @discardableResult
    func sendDocumentOrFail(_ d: Document, to r: DocumentRecipient) throws -> Bool {
        do {
            return try sendDocument(d, to: r)
        } catch where error is SubmissionError || error is CryptoError || error is EbmsError {
            let reason = (error as? SubmissionError)?.reason ?? (error as? EbmsError)?.reason ?? "\(error)"
            let detail = "could not be queued for \(r.party ?? "?"): \(reason)"
            try context.mailbox.updateRecipient(RecipientUpdate(messageId: d.messageId, address: r.address, status: .failed, detail: detail,
                                                                notifications: Self.senderNotifications(d, address: r.address, status: .failed, detail: detail)),
                                                at: Date())
            context.log.log(.error, "document-unqueueable", ["document_id": d.messageId, "recipient": r.address, "to": r.party, "reason": reason])
            reportToOrigin(d, recipient: r.address, status: .failed,
                           decision: RecipientDecision(accepted: false, code: "noAgreement", reason: detail, at: Date()), retrievedAt: nil)
            return false
        }
    }

    /// Tells the access point a document came from what became of it at recipient `recipient`.
    func sendStatus(toParty party: String, refTo: String?, report: EAddressMessages.StatusReport, sender: String) throws {
        let request = SubmissionHandler.Request(
            to: party, service: EAddressMessages.service, action: EAddressMessages.statusAction, conversationId: report.documentId,
            refToMessageId: refTo, properties: ["originalSender": report.recipient, "finalRecipient": sender, "documentId": report.documentId],
            payloads: [])
        let payload = Payload(contentID: EAddressMessages.headerContentID, mimeType: "application/json",
                              body: .bytes(Array(try EAddressMessages.encode(report))))
        try Outbound(context: context).queue(request, payloads: [payload], id: Identifier.messageId(domain: context.messageIdDomain))
    }

    /// After a recipient here moved on (retrieved, answered): report it to the document's origin,
    /// if it came by AS4. A failure is logged; the state here stands.
    func reportToOrigin(_ d: Document, recipient: String, status: RecipientStatus, decision: RecipientDecision?, retrievedAt: Date?) {
        guard let origin = d.originParty else { return }
        let report = EAddressMessages.StatusReport(documentId: d.messageId, recipient: recipient, status: status.rawValue,
                                                   code: decision?.code, reason: decision?.reason, at: Date(), retrievedAt: retrievedAt)
        do {
            try sendStatus(toParty: origin, refTo: d.originMessageId, report: report, sender: d.sender)
        } catch {
            context.log.log(.error, "status-not-sent", ["document_id": d.messageId, "to": origin, "status": status.rawValue, "reason": "\(error)"])
        }
    }

    // MARK: Notifications

    /// What the sender's connections hear when recipient `address` of `d` reaches `status`.
    static func senderNotifications(_ d: Document, address: String, status: RecipientStatus, detail: String?) -> [BackendNotification] {
        let kind: String
        switch status {
        case .accepted: kind = "accepted"
        case .delivered:
            guard wantsDeliveryNotice(d) else { return [] }
            kind = "delivered"
        case .recipientAccepted: kind = "recipientAccepted"
        case .recipientRejected: kind = "recipientRejected"
        case .deliveryDelayed: kind = "deliveryDelayed"
        case .failed: kind = "failed"
        case .submitted: return []
        }
        return [BackendNotification(address: d.sender, kind: kind, messageId: d.messageId, recipient: address, detail: detail, at: Date())]
    }

    static func wantsDeliveryNotice(_ d: Document) -> Bool {
        let object = (try? JSONSerialization.jsonObject(with: Data(d.metadata.utf8))) as? [String: Any]
        return object?["notifyOnDelivery"] as? Bool ?? false
    }

    // MARK: Receiving

    /// Why a message received here could not be taken in; the sender holds our receipt by then,
    /// so it is only logged. For a document that is only what changed after the receipt (see
    /// `takeDocument`); a status report is not checked before its receipt.
    enum IntakeError: Error, CustomStringConvertible {
        case malformed(String)
        /// A document `DocumentHeaderCheck` refuses, which it does before the receipt: only a
        /// message received before that check existed gets here.
        case header(DocumentHeaderProblem)
        var description: String {
            switch self {
            case .malformed(let s): return s
            case .header(let problem): return problem.description
            }
        }
    }

    /// The P-Mode party a stored party id (`type::value` or `value`) belongs to.
    func partyName(_ storedPartyId: String) -> String? {
        context.pmodes.parties.first { $0.partyIds.contains { $0.description == storedPartyId } }?.name
    }

    /// A document message received here: into the recipient's mailbox when this gateway serves
    /// it, forwarded when another access point does (hub); otherwise the origin is told it failed.
    ///
    /// What the message alone decides was judged before the receipt (`DocumentHeaderCheck`);
    /// what is judged here depends on state that may change after it: the directory and the
    /// registers (reported back Failed, with a code), and, thrown as errors the worker only
    /// logs, the P-Modes (a reload may drop the origin party) and the mailboxes (the document id
    /// taken meanwhile by a document from another access point).
    func takeDocument(_ m: StoredMessage) throws {
        // The receipt needed a P-Mode with this party: unknown only after a reload since.
        guard let origin = partyName(m.metadata.fromParty) else { throw IntakeError.malformed("sender party \(m.metadata.fromParty) is unknown") }
        let header: EAddressMessages.DocumentHeader
        do {
            // The same reading as before the receipt, so nothing that passed there fails here.
            header = try DocumentHeaderCheck.header(of: m.parts, carrier: .init { name in m.metadata.properties.first { $0.name == name }?.value })
        } catch let problem as DocumentHeaderProblem {
            throw IntakeError.header(problem)
        }
        let files = Array(m.parts.dropFirst())
        let size = Int(files.reduce(Int64(0)) { $0 + $1.file.size })
        // Kept in canonical spelling, as submissions are: inboxes, limits and legal holds match by it.
        let senderAddress = (try? EAddress(header.sender).canonical) ?? header.sender
        let recipientAddress = (try? EAddress(header.recipient).canonical) ?? header.recipient
        if let reason = try senderRefusal(header.sender, origin: origin) {
            try refuse(header, origin: origin, refTo: m.metadata.messageId, code: Self.senderNotServed, reason: reason)
            return
        }
        // The same rules as a submission here: reported back Failed with the same code.
        if let refusal = try RecipientRules(context: context).refusal(from: header.sender, to: header.recipient, at: Date()) {
            try refuse(header, origin: origin, refTo: m.metadata.messageId, code: refusal.outcome, reason: refusal.reason)
            return
        }
        let decision: RouteDecision
        do {
            decision = try context.router.route(to: try EAddress(header.recipient), from: try? EAddress(header.sender), size: size, at: Date())
        } catch let e as EAddressError {
            // Both are e-addresses since DocumentHeaderCheck; kept so a bad one is logged, not retried.
            throw IntakeError.malformed("recipient \(header.recipient): \(e)")
        }
        let recipient: NewDocument.Recipient
        switch decision {
        case .localMailbox:
            // Refused before the receipt (MailboxQuota in InboundProcessor, pushed or pulled) when
            // the message names finalRecipient; one without it, or racing another, lands here.
            if let full = try MailboxQuota(context: context).refusal(for: recipientAddress, adding: size) {
                try refuse(header, origin: origin, refTo: m.metadata.messageId, code: MailboxQuota.outcome, reason: full)
                return
            }
            // The AS4 message that brought this recipient (one per recipient): its carrier, which
            // the retention purge erases with the document and the evidence names.
            recipient = .init(address: recipientAddress, route: .mailbox, status: .accepted, as4MessageId: m.metadata.messageId)
        case .remoteAccessPoint(let remote):
            // Hub: on to the access point serving the address, never back where it came from.
            guard let party = accessPointParty(remote.accessPoint.partyId), party != origin else {
                try refuse(header, origin: origin, refTo: m.metadata.messageId, code: "noAgreement",
                           reason: "this gateway cannot forward to access point \(remote.accessPoint.partyId)")
                return
            }
            recipient = .init(address: recipientAddress, route: .remote, status: .submitted, party: party,
                              as4MessageId: Identifier.messageId(domain: context.messageIdDomain))
        default:
            try refuse(header, origin: origin, refTo: m.metadata.messageId, code: decision.outcome, reason: decision.reason)
            return
        }
        // A later arrival of a document held already (another recipient: one AS4 message each)
        // adds only its recipient; its payloads are not copied into files nothing would name.
        let held = try context.mailbox.document(messageId: header.documentId) != nil
        var document = NewDocument(
            messageId: header.documentId, connection: nil, idempotencyKey: nil, sender: senderAddress, metadata: header.metadata,
            originParty: origin, originMessageId: m.metadata.messageId,
            files: held ? [] : try zip(header.files, files).map { DocumentFile(name: $0.name, mimeType: $0.mimeType, file: try fileBacked($1)) },
            recipients: [recipient])
        document.retainUntil = try RetentionPolicy(context: context).retainUntil(
            storedAt: Date(), addresses: [senderAddress, recipientAddress])
        let notices = recipient.route == .mailbox
            ? [BackendNotification(address: recipientAddress, kind: "newMessage", messageId: header.documentId,
                                   recipient: recipientAddress, detail: "from \(senderAddress)", at: Date())] : []
        guard case .stored = try context.mailbox.insertDocument(document, notifications: notices, at: Date()) else { return }
        if recipient.route == .remote, let d = try context.mailbox.document(messageId: header.documentId),
           let r = d.recipients.first(where: { $0.address == recipientAddress }) {
            guard try sendDocumentOrFail(d, to: r) else { return }
            context.log.log(.info, "document-forwarded", ["document_id": header.documentId, "recipient": header.recipient, "from": origin,
                                                          "to": recipient.party])
        } else {
            context.log.log(.info, "mailbox-delivery", ["document_id": header.documentId, "recipient": header.recipient, "from": origin])
        }
    }

    /// The code of a document whose sender the origin access point may not speak for.
    static let senderNotServed = "SenderNotServed"

    /// Why `origin` may not send documents from `sender`, if it may not. The origin party is
    /// authenticated (its signature and P-Mode); the sender address is only its claim, so the
    /// directory decides: a mailbox of this gateway sends through this gateway's API, never from
    /// elsewhere, and a listed address only through the access point the directory names for it.
    /// An address the directory does not list is taken on the word of a configured partner (a
    /// gateway need not know every address) unless `refuseUnlistedSenders` says this one lists
    /// them all; never on the word of a self-service access point, which speaks only for the
    /// addresses its approved registration put into the directory.
    func senderRefusal(_ sender: String, origin: String) throws -> String? {
        guard let address = try? EAddress(sender) else { return "the sender \(sender) is not an e-address" }
        guard let entry = try context.router.directory.entry(for: address) else {
            let selfService = context.registry.current.party(named: origin) == nil
            guard context.config.refuseUnlistedSenders || selfService else { return nil }
            return "\(address.canonical) is not in this gateway's e-address directory"
                + (selfService ? " (a self-service access point sends only for the addresses of its registration)" : "")
        }
        switch entry.accessPoint {
        case .localMailbox:
            return "\(address.canonical) has its mailbox on this gateway; a document from it cannot arrive from \(origin)"
        case .remote(let accessPoint):
            let servedBy = context.pmodes.parties.first { $0.partyIds.contains { $0.value == accessPoint.partyId } }?.name
            guard servedBy == origin else {
                return "\(address.canonical) is served by access point \(accessPoint.partyId), not by \(origin)"
            }
            return nil
        }
    }

    /// A received part's bytes, wherever the store keeps them (its own rows for small payloads).
    func contents(of part: MessagePart) throws -> Data {
        if let bytes = part.bytes { return bytes }
        return try Data(contentsOf: URL(fileURLWithPath: part.file.path))
    }

    /// The part as a payload file: mailbox documents are streamed to readers and forwarded from
    /// files, so a payload the store kept inline is written out (fsync'd) before the document
    /// refers to it.
    func fileBacked(_ part: MessagePart) throws -> StoredFile {
        guard part.file.path.isEmpty else { return part.file }
        guard let bytes = part.bytes else { throw IntakeError.malformed("payload \(part.contentId) has neither a file nor stored bytes") }
        return try context.store.storePayload(.bytes(bytes), at: Date())
    }

    /// The P-Mode party with this party id to which we may send e-address documents, if any.
    func accessPointParty(_ partyId: String) -> String? {
        let set = context.pmodes
        guard let party = set.parties.first(where: { $0.partyIds.contains { $0.value == partyId } }),
              case .success = set.outboundLeg(from: context.party, to: party.name, service: .init(EAddressMessages.service),
                                              action: EAddressMessages.documentAction) else { return nil }
        return party.name
    }

    private func refuse(_ header: EAddressMessages.DocumentHeader, origin: String, refTo: String, code: String, reason: String) throws {
        let report = EAddressMessages.StatusReport(documentId: header.documentId, recipient: header.recipient, status: RecipientStatus.failed.rawValue,
                                                   code: code, reason: reason, at: Date(), retrievedAt: nil)
        try sendStatus(toParty: origin, refTo: refTo, report: report, sender: header.sender)
        context.log.log(.warning, "document-refused", ["document_id": header.documentId, "recipient": header.recipient, "reason": reason])
    }

    /// A status message about a document we sent: applied when it comes from the access point
    /// the recipient was sent to, ignored (and logged) otherwise.
    func takeStatus(_ m: StoredMessage) throws {
        guard let from = partyName(m.metadata.fromParty) else { throw IntakeError.malformed("sender party \(m.metadata.fromParty) is unknown") }
        guard let first = m.parts.first else { throw IntakeError.malformed("no status payload") }
        let report: EAddressMessages.StatusReport
        do {
            report = try EAddressMessages.decode(EAddressMessages.StatusReport.self, from: try contents(of: first))
        } catch {
            throw IntakeError.malformed("the status report is not valid: \(error)")
        }
        guard let status = RecipientStatus(rawValue: report.status), [.delivered, .recipientAccepted, .recipientRejected, .failed].contains(status) else {
            throw IntakeError.malformed("status \(report.status) cannot be reported by a mailbox")
        }
        guard let d = try context.mailbox.document(messageId: report.documentId),
              let r = d.recipients.first(where: { $0.address == report.recipient }), r.route == .remote, r.party == from else {
            throw IntakeError.malformed("\(from) reported on \(report.documentId) for \(report.recipient), which it was not sent")
        }
        let decision = (status == .recipientAccepted || status == .recipientRejected)
            ? RecipientDecision(accepted: status == .recipientAccepted, code: report.code, reason: report.reason, at: report.at) : nil
        let detail = [report.code, report.reason].compactMap { $0 }.joined(separator: ": ")
        var steps: [(status: RecipientStatus, decision: RecipientDecision?, detail: String)] = []
        if let read = report.retrievedAt, status != .delivered, r.status.allows(.delivered, receiptHeld: r.receipt != nil) {
            steps.append((.delivered, nil, "read at \(ISO8601DateFormatter().string(from: read)), reported by \(from)"))
        }
        steps.append((status, decision, detail.isEmpty ? "reported by \(from)" : detail))
        do {
            for step in steps {
                let update = RecipientUpdate(messageId: d.messageId, address: r.address, status: step.status, detail: step.detail,
                                             decision: step.decision, retrieved: step.status == .delivered,
                                             notifications: Self.senderNotifications(d, address: r.address, status: step.status,
                                                                                     detail: step.status == .delivered || detail.isEmpty ? nil : detail))
                // A document forwarded here by a hub: the news goes on to where it came from.
                if try context.mailbox.updateRecipient(update, at: Date()) {
                    reportToOrigin(d, recipient: r.address, status: step.status, decision: step.decision, retrievedAt: report.retrievedAt)
                } else {
                    // A report the recipient's state has passed (a resent or out-of-order one): kept in the log.
                    context.log.log(.info, "status-report-not-applied", ["document_id": d.messageId, "recipient": r.address, "from": from,
                                                                         "status": step.status.rawValue])
                }
            }
        } catch MailboxStoreError.conflict {
            // Reported twice (a resent status): the first answer stands.
        }
    }
}

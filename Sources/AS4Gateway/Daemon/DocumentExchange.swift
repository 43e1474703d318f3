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
        // The access point learns of the recipients it serves, not of the others the sender
        // addressed (persons among them by personal code).
        let served = Set(d.recipients.filter { $0.route == .remote && $0.party == party }.map(\.address))
        let header = EAddressMessages.DocumentHeader(
            documentId: d.messageId, sender: d.sender, recipient: r.address, metadata: MetadataRecipients.limited(d.metadata, to: served),
            files: d.files.map { .init(name: $0.name, mimeType: $0.mimeType, size: $0.file.size, sha256: $0.file.sha256) })
        var payloads = [Payload(contentID: EAddressMessages.headerContentID, mimeType: "application/json",
                                body: .bytes(Array(try EAddressMessages.encode(header))))]
        for f in d.files {
            // The header above promises each file's size and digest: a missing or cut-off file is
            // refused here (one stat) rather than sent as the document. Hashing again is left to
            // the reading recipient's gateway, which checks the digest against the header.
            try PayloadIntegrity.checkSize(f.file)
            // eb:PartProperties MimeType is the bare type; the charset is CharacterSet beside it.
            let type = FileMediaType.stored(f.mimeType)
            payloads.append(Payload(mimeType: type.essence, body: try .wholeFile(f.file.path), characterSet: type.charset))
        }
        let request = SubmissionHandler.Request(
            to: party, service: EAddressMessages.service, action: EAddressMessages.documentAction, conversationId: d.messageId,
            properties: ["originalSender": .init(d.sender), "finalRecipient": .init(r.address), "documentId": .init(d.messageId)], payloads: [])
        do {
            // Over the agreement's payload limit the receiver refuses it (EBMS:0010) after every
            // retry: refused here instead, so the recipient is Failed at once with the limit.
            try Outbound(context: context).queue(request, payloads: payloads, id: as4Id, checkLegLimit: true)
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
    /// Submitted forever, retried every minute. A file labelled XML that cannot be read as XML
    /// (`XMLPayloadError`; a submission here refuses it, but a document passing through a hub
    /// may carry one) is such a refusal too. Store and disk errors are thrown: they may pass.
    @discardableResult
    func sendDocumentOrFail(_ d: Document, to r: DocumentRecipient) throws -> Bool {
        do {
            return try sendDocument(d, to: r)
        } catch where error is SubmissionError || error is CryptoError || error is EbmsError || error is XMLPayloadError {
            let reason = (error as? SubmissionError)?.reason ?? (error as? EbmsError)?.reason
                ?? (error as? XMLPayloadError).map(Self.fileProblem(d)) ?? "\(error)"
            let detail = "could not be queued for \(r.party ?? "?"): \(reason)"
            // Two nodes' start-up requeues may both meet this recipient: the one whose update
            // made it Failed owes the origin its report, so the origin is not told twice.
            let now = Date()
            let owed = OriginReports.owed(d, decision: RecipientDecision(accepted: false, code: "noAgreement", reason: detail, at: now),
                                          retrievedAt: nil, at: now)
            guard try context.mailbox.updateRecipient(RecipientUpdate(messageId: d.messageId, address: r.address, status: .failed, detail: detail,
                                                                      notifications: Self.senderNotifications(d, address: r.address, status: .failed, detail: detail),
                                                                      originReport: owed),
                                                      at: now) else { return false }
            context.log.log(.error, "document-unqueueable", ["document_id": d.messageId, "recipient": r.address, "to": r.party, "reason": reason])
            OriginReports(context: context).queueNow(d, recipient: r.address)
            return false
        }
    }

    /// An `XMLPayloadError` of a document's AS4 message in the document's words: payload 0 is
    /// the document header, so payload n is file n.
    static func fileProblem(_ d: Document) -> (XMLPayloadError) -> String {
        { e in
            guard e.index >= 1, e.index <= d.files.count else { return e.description }
            return "file \(e.index) (\(d.files[e.index - 1].name)): \(e.reason)"
        }
    }

    /// Tells the access point a document came from what became of it at recipient `recipient`
    /// (`refTo`: the document's carrier). Returns false, queueing nothing, when that report was
    /// queued already: its id is derived from carrier, document, recipient and status
    /// (`OriginStatusReport`), so an intake repeated, or an owed report queued again by the
    /// outbox (`OriginReports`), tells the origin once.
    @discardableResult
    func sendStatus(toParty party: String, refTo: String?, report: EAddressMessages.StatusReport, sender: String) throws -> Bool {
        guard let status = RecipientStatus(rawValue: report.status) else {
            throw SubmissionError(status: 500, reason: "no recipient status \(report.status) to report")
        }
        let id = try OriginStatusReport.messageId(carrier: refTo ?? report.documentId, documentId: report.documentId,
                                                  recipient: report.recipient, status: status, domain: context.messageIdDomain)
        // Checked before sealing to save the signature; the queue's unique id is the last word.
        if try context.store.findMessage(id: id, direction: .outbound) != nil { return false }
        let request = SubmissionHandler.Request(
            to: party, service: EAddressMessages.service, action: EAddressMessages.statusAction, conversationId: report.documentId,
            refToMessageId: refTo, properties: ["originalSender": .init(report.recipient), "finalRecipient": .init(sender), "documentId": .init(report.documentId)],
            payloads: [])
        let payload = Payload(contentID: EAddressMessages.headerContentID, mimeType: "application/json",
                              body: .bytes(Array(try EAddressMessages.encode(report))))
        do {
            try Outbound(context: context).queue(request, payloads: [payload], id: id)
        } catch StoreError.duplicateMessageId {
            return false
        }
        return true
    }

    // MARK: Notifications

    /// What the sender's connections hear when recipient `address` of `d` reaches `status`. A
    /// reading is news to a sender who asked for it (`notifyOnDelivery`), and to every sender
    /// told the recipient was DeliveryDelayed: it learns of the reading after all (the store
    /// adds whether it came before or after the deadline).
    static func senderNotifications(_ d: Document, address: String, status: RecipientStatus, detail: String?) -> [BackendNotification] {
        let kind: String
        switch status {
        case .accepted: kind = "accepted"
        case .delivered:
            let delayed = d.recipients.first { $0.address == address }?.status == .deliveryDelayed
            guard wantsDeliveryNotice(d) || delayed else { return [] }
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

    /// The P-Mode party a stored party id (`type::value` or `value`) belongs to.
    func partyName(_ storedPartyId: String) -> String? {
        context.pmodes.parties.first { $0.partyIds.contains { $0.description == storedPartyId } }?.name
    }

    /// A document message received here: into the recipient's mailbox when this gateway serves
    /// it, forwarded when another access point does (hub); otherwise refused, and the origin told
    /// it failed. Returns nil when it was taken in, else why not (the caller marks the AS4 message
    /// `Failed` with it); throws only what may pass (store, disk), for the caller to try again.
    ///
    /// What the message alone decides was judged before the receipt (`DocumentHeaderCheck`);
    /// what is judged here depends on state that may change after it: the directory and the
    /// registers, the P-Modes (a reload may drop the origin party) and the mailboxes (the
    /// document id taken meanwhile by a document from another access point).
    func takeDocument(_ m: StoredMessage) throws -> IntakeFailure? {
        // The receipt needed a P-Mode with this party: unknown only after a reload since, and
        // then there is no one to report to either.
        guard let origin = partyName(m.metadata.fromParty) else {
            return IntakeFailure(code: IntakeFailure.unknownSenderParty,
                                 reason: "sender party \(m.metadata.fromParty) is not in the P-Modes in force (removed after the receipt?); it could not be told",
                                 report: .notSent)
        }
        let header: EAddressMessages.DocumentHeader
        do {
            // The same reading as before the receipt, so nothing that passed there fails here.
            header = try DocumentHeaderCheck.header(of: m.parts, carrier: .init { name in m.metadata.properties.first { $0.name == name }?.value })
        } catch let problem as DocumentHeaderProblem {
            // Without a header there is no document id to report on.
            return IntakeFailure(code: IntakeFailure.documentHeaderInvalid, reason: "\(problem.description); \(origin) could not be told",
                                 report: .notSent)
        }
        let files = Array(m.parts.dropFirst())
        let size = Int(files.reduce(Int64(0)) { $0 + $1.file.size })
        // Kept in canonical spelling, as submissions are: inboxes, limits and legal holds match by it.
        let senderAddress = (try? EAddress(header.sender).canonical) ?? header.sender
        let recipientAddress = (try? EAddress(header.recipient).canonical) ?? header.recipient
        if let reason = try senderRefusal(header.sender, origin: origin) {
            return try refuse(header, origin: origin, carrier: m, code: Self.senderNotServed, reason: reason)
        }
        // The same rules as a submission here: reported back Failed with the same code.
        let judged = try RecipientRules(context: context).judge(from: header.sender, to: header.recipient, at: Date())
        if let refusal = judged.refusal {
            // A refusal that read the register tells the origin who is in it, as a refused
            // submission tells its connection: recorded the same way before the report leaves.
            if let code = judged.registerRead { try recordRegisterRead(code, origin: origin) }
            return try refuse(header, origin: origin, carrier: m, code: refusal.outcome, reason: refusal.reason)
        }
        guard let recipientEAddress = try? EAddress(header.recipient) else {
            // An e-address since DocumentHeaderCheck; kept so a bad one is refused, not retried.
            return try refuse(header, origin: origin, carrier: m, code: IntakeFailure.documentHeaderInvalid,
                              reason: "the recipient \(header.recipient) is not an e-address")
        }
        let decision = try context.router.route(to: recipientEAddress, from: try? EAddress(header.sender), size: size, at: Date())
        let recipient: NewDocument.Recipient
        switch decision {
        case .localMailbox:
            // Refused before the receipt (MailboxQuota in InboundProcessor, pushed or pulled) when
            // the message names finalRecipient; one without it, or racing another, lands here.
            if let full = try MailboxQuota(context: context).refusal(for: recipientAddress, adding: size) {
                return try refuse(header, origin: origin, carrier: m, code: MailboxQuota.outcome, reason: full)
            }
            // The AS4 message that brought this recipient (one per recipient): its carrier, which
            // the retention purge erases with the document and the evidence names.
            recipient = .init(address: recipientAddress, route: .mailbox, status: .accepted, as4MessageId: m.metadata.messageId)
        case .remoteAccessPoint(let remote):
            // Hub: on to the access point serving the address, never back where it came from.
            guard let party = try accessPointParty(remote.accessPoint.partyId, for: recipientAddress), party != origin else {
                return try refuse(header, origin: origin, carrier: m, code: "noAgreement",
                                  reason: "this gateway cannot forward to access point \(remote.accessPoint.partyId)")
            }
            recipient = .init(address: recipientAddress, route: .remote, status: .submitted, party: party,
                              as4MessageId: Identifier.messageId(domain: context.messageIdDomain))
        default:
            return try refuse(header, origin: origin, carrier: m, code: decision.outcome, reason: decision.reason)
        }
        // A later arrival of a document held already (another recipient: one AS4 message each)
        // adds only its recipient; its payloads are not copied into files nothing would name.
        // From anywhere else than the first one's origin, the id is someone else's document:
        // refused, never merged (the insert refuses it too, should two arrive at once); from
        // that origin, another document under the id is refused alike (`DocumentArrivingAgain`).
        let heldDocument = try context.mailbox.document(messageId: header.documentId)
        if let held = heldDocument {
            guard held.originParty == origin else {
                return try refuse(header, origin: origin, carrier: m, code: IntakeFailure.documentIdTaken,
                                  reason: Self.documentIdTaken(header.documentId, heldFrom: held.originParty))
            }
            let arriving = DocumentArrivingAgain(sender: senderAddress, metadata: header.metadata, files: zip(header.files, files).map {
                DocumentFile(name: $0.name, mimeType: DocumentHeaderCheck.mediaType($0, of: $1), file: $1.file)
            })
            let differences = arriving.differences(from: held)
            guard differences.isEmpty else {
                return try refuse(header, origin: origin, carrier: m, code: IntakeFailure.documentIdTaken,
                                  reason: Self.documentIdTaken(header.documentId, heldFrom: origin, differing: differences))
            }
        }
        if let taken = try carrierTaken(m, recipient: recipient, documentId: header.documentId) {
            return try refuse(header, origin: origin, carrier: m, code: IntakeFailure.messageIdTaken, reason: taken)
        }
        let documentFiles: [DocumentFile]
        do {
            documentFiles = heldDocument != nil ? [] : try zip(header.files, files).map {
                DocumentFile(name: $0.name, mimeType: DocumentHeaderCheck.mediaType($0, of: $1), file: try fileBacked($1))
            }
        } catch let missing as PayloadMissing {
            return try refuse(header, origin: origin, carrier: m, code: IntakeFailure.payloadMissing, reason: missing.reason)
        }
        var document = NewDocument(
            messageId: header.documentId, connection: nil, idempotencyKey: nil, sender: senderAddress, metadata: header.metadata,
            originParty: origin, originMessageId: m.metadata.messageId, files: documentFiles, recipients: [recipient])
        document.retainUntil = try RetentionPolicy(context: context).retainUntil(
            storedAt: Date(), addresses: [senderAddress, recipientAddress])
        let notices = recipient.route == .mailbox
            ? [BackendNotification(address: recipientAddress, kind: "newMessage", messageId: header.documentId,
                                   recipient: recipientAddress, detail: "from \(senderAddress)", at: Date())] : []
        let inserted: DocumentInsertResult
        do {
            inserted = try context.mailbox.insertDocument(document, notifications: notices, at: Date())
        } catch MailboxStoreError.conflict {
            // Stored between the checks and here: the carrier's id, or another access point's
            // document with this id.
            if let taken = try carrierTaken(m, recipient: recipient, documentId: header.documentId) {
                return try refuse(header, origin: origin, carrier: m, code: IntakeFailure.messageIdTaken, reason: taken)
            }
            let holder = try context.mailbox.document(messageId: header.documentId)?.originParty
            return try refuse(header, origin: origin, carrier: m, code: IntakeFailure.documentIdTaken,
                              reason: Self.documentIdTaken(header.documentId, heldFrom: holder))
        }
        guard case .stored = inserted else {
            // The same document for a recipient it is held for already: a copy its origin sent
            // again under another MessageId, or this message's intake repeated.
            context.log.log(.info, "document-held-already", ["document_id": header.documentId, "recipient": header.recipient, "from": origin,
                                                             "message_id": m.metadata.messageId])
            return nil
        }
        if recipient.route == .remote, let d = try context.mailbox.document(messageId: header.documentId),
           let r = d.recipients.first(where: { $0.address == recipientAddress }) {
            // One that cannot be forwarded is taken in all the same: its recipient is Failed here
            // and reported to the origin (sendDocumentOrFail).
            guard try sendDocumentOrFail(d, to: r) else { return nil }
            context.log.log(.info, "document-forwarded", ["document_id": header.documentId, "recipient": header.recipient, "from": origin,
                                                          "to": recipient.party])
        } else {
            context.log.log(.info, "mailbox-delivery", ["document_id": header.documentId, "recipient": header.recipient, "from": origin])
        }
        return nil
    }

    /// Why a document id cannot be taken: someone else's document has it, or, with `differing`
    /// (what differs), another document from the same access point.
    static func documentIdTaken(_ documentId: String, heldFrom holder: String?, differing: [String] = []) -> String {
        "document id \(documentId) is already held here for " + (differing.isEmpty ? "a document " : "another document ")
            + (holder.map { "from access point \($0)" } ?? "submitted by a backend of this gateway")
            + (differing.isEmpty ? "" : " (this one has \(differing.joined(separator: " and ")))")
            + "; a document is identified by its id, so this one was not taken in (send it again under a new id)"
    }

    /// Why message `m` cannot carry its document to `recipient`, if it cannot: the mailbox knows a
    /// recipient's carrier by its MessageId alone (each names one recipient, uniquely), and this
    /// MessageId already carried another document or recipient here: the same party's id used
    /// again after its duplicate-detection window, or the id of one of this gateway's own
    /// messages. The same message taken in again (its intake repeated, or sent again after the
    /// window) names its own recipient and passes. The other document is not named: it may be
    /// another party's, and the reason goes to this message's origin.
    func carrierTaken(_ m: StoredMessage, recipient: NewDocument.Recipient, documentId: String) throws -> String? {
        guard let carrier = recipient.as4MessageId, carrier == m.metadata.messageId,
              let holder = try context.mailbox.recipient(as4MessageId: carrier),
              holder.messageId != documentId || holder.address != recipient.address else { return nil }
        return "the AS4 MessageId \(carrier) already carried another document or recipient here; a document's message is identified "
            + "by its MessageId, so this one was not taken in (send it again under a new MessageId)"
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
            // The party id matched; a self-service access point speaks only for its registration's
            // addresses even when the directory names its party id for another one.
            guard try SelfServicePartyIds.mayServe(address.canonical, party: origin, context: context) else {
                return "\(address.canonical) is not an address of the registration of self-service access point \(origin)"
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
        guard let bytes = part.bytes else { throw PayloadMissing(reason: "payload \(part.contentId) has neither a file nor stored bytes") }
        return try context.store.storePayload(.bytes(bytes), at: Date())
    }

    /// A received payload the store has no contents for: trying again will not find them.
    struct PayloadMissing: Error {
        var reason: String
    }

    /// The P-Mode party with this party id to which we may send e-address documents for
    /// `address` (the directory row's), if any. A self-service access point is that party only
    /// for its registration's addresses: a row naming its party id for another address (the
    /// directory changed after its approval) is no route, never a delivery to the registrant.
    func accessPointParty(_ partyId: String, for address: String) throws -> String? {
        if case .party(let name) = try accessPoint(partyId, for: address) { return name }
        return nil
    }

    /// Where a document for `address` goes when the directory names access point `partyId`, or
    /// why it cannot: the submitting DMS is told which, since only one of them is the partner's.
    enum AccessPointChoice: Equatable {
        case party(String)
        /// No agreement lets us send documents to that access point.
        case noAgreement
        /// A self-service access point the directory names for an address outside its registration.
        case notAuthorised(party: String)
    }

    func accessPoint(_ partyId: String, for address: String) throws -> AccessPointChoice {
        let set = context.pmodes
        guard let party = set.parties.first(where: { $0.partyIds.contains { $0.value == partyId } }),
              case .success = set.outboundLeg(from: context.party, to: party.name, service: .init(EAddressMessages.service),
                                              action: EAddressMessages.documentAction) else { return .noAgreement }
        guard try SelfServicePartyIds.mayServe(address, party: party.name, context: context) else {
            context.log.log(.error, "self-service-party-conflict",
                            ["party": party.name, "reason": "the directory names its party id \(partyId) for an address outside its registration; not routed"])
            return .notAuthorised(party: party.name)
        }
        return .party(party.name)
    }

    /// Records that a refusal reported to access point `origin` read the non-digital register
    /// entry of `code`, where operators see who learnt of whom (`GET /api/v1/channel/lookups`,
    /// connection `access-point:<party>`); a failure to record it fails this intake, to be tried
    /// again, so no report goes out unrecorded.
    private func recordRegisterRead(_ code: String, origin: String) throws {
        let asker = "access-point:" + origin
        try context.registers.logChannelLookup(connection: asker, personCodes: [code], purpose: .refusedSubmission, at: Date())
        context.log.log(.info, "channel-lookup", ["connection": asker, "persons": "1", "purpose": ChannelLookupPurpose.refusedSubmission.rawValue])
    }

    /// Reports recipient `header.recipient` Failed to the origin with `code` and `reason`, and
    /// says so in the intake failure it returns. When no report can be queued (no status leg back
    /// to the origin, no usable certificate: configuration, not a passing fault), the failure says
    /// that instead; store and disk errors are thrown, to be tried again.
    private func refuse(_ header: EAddressMessages.DocumentHeader, origin: String, carrier: StoredMessage, code: String, reason: String) throws -> IntakeFailure {
        let report = EAddressMessages.StatusReport(documentId: header.documentId, recipient: header.recipient, status: RecipientStatus.failed.rawValue,
                                                   code: code, reason: reason, at: Date(), retrievedAt: nil)
        do {
            // Told before, by an intake of this message that failed already (an operator had it
            // run again, or a crash repeated it): one Failed report per outcome, so not again.
            guard try sendStatus(toParty: origin, refTo: carrier.metadata.messageId, report: report, sender: header.sender) else {
                return IntakeFailure(code: code, reason: "\(reason); reported Failed to \(origin) at an earlier intake, not again", report: .sent)
            }
        } catch where error is SubmissionError || error is CryptoError || error is EbmsError {
            let why = (error as? SubmissionError)?.reason ?? (error as? EbmsError)?.reason ?? "\(error)"
            return IntakeFailure(code: code, reason: "\(reason); \(origin) could not be told: \(why)", report: .notSent)
        }
        context.log.log(.warning, "document-refused", ["document_id": header.documentId, "recipient": header.recipient, "code": code, "reason": reason])
        return IntakeFailure(code: code, reason: "\(reason); reported Failed to \(origin)", report: .sent)
    }

    /// What the origin hears of received message `m` that the mailbox worker set aside
    /// (`IntakeStrikes`: the store kept refusing its intake) with `code` and `reason`. A document
    /// not taken in is reported Failed, as a refusal is; one whose recipient is held here already
    /// (only its mark failed) is not, since the recipient has it, and a status report is never
    /// answered. The report may meet the store's refusal as well: the failure then says the
    /// origin could not be told. What may pass (an outage, a full disk) is thrown.
    func setAside(_ m: StoredMessage, code: String, reason: String) throws -> IntakeFailure {
        guard m.metadata.action == EAddressMessages.documentAction else { return IntakeFailure(code: code, reason: reason, report: .none) }
        guard let origin = partyName(m.metadata.fromParty) else {
            return IntakeFailure(code: code, reason: "\(reason); sender party \(m.metadata.fromParty) is not in the P-Modes in force, so it could not be told",
                                 report: .notSent)
        }
        let header: EAddressMessages.DocumentHeader
        do {
            header = try DocumentHeaderCheck.header(of: m.parts, carrier: .init { name in m.metadata.properties.first { $0.name == name }?.value })
        } catch let problem as DocumentHeaderProblem {
            return IntakeFailure(code: code, reason: "\(reason); \(problem.description); \(origin) could not be told", report: .notSent)
        }
        let recipient = (try? EAddress(header.recipient).canonical) ?? header.recipient
        if let held = try context.mailbox.document(messageId: header.documentId), held.originParty == origin,
           held.recipients.contains(where: { $0.address == recipient }) {
            return IntakeFailure(code: code, reason: "\(reason); its document \(header.documentId) is held here for \(recipient) already, so \(origin) was not told it failed",
                                 report: .none)
        }
        do {
            return try refuse(header, origin: origin, carrier: m, code: code, reason: reason)
        } catch let e as StoreError where !e.isTransient {
            return IntakeFailure(code: code, reason: "\(reason); \(origin) could not be told: \(e)", report: .notSent)
        }
    }

    /// A status message about a document we sent: applied when it comes from the access point
    /// the recipient was sent to. Returns nil when applied (or passed by the recipient's state
    /// already), else why not; a status report is not answered, so nobody is told but the log
    /// and the message's status.
    func takeStatus(_ m: StoredMessage) throws -> IntakeFailure? {
        func invalid(_ reason: String) -> IntakeFailure { IntakeFailure(code: IntakeFailure.statusReportInvalid, reason: reason, report: .none) }
        guard let from = partyName(m.metadata.fromParty) else {
            return IntakeFailure(code: IntakeFailure.unknownSenderParty,
                                 reason: "sender party \(m.metadata.fromParty) is not in the P-Modes in force (removed after the receipt?)", report: .none)
        }
        guard let first = m.parts.first else { return invalid("no status payload") }
        let report: EAddressMessages.StatusReport
        do {
            report = try EAddressMessages.decode(EAddressMessages.StatusReport.self, from: try contents(of: first))
        } catch let e as CocoaError where e.code == .fileReadNoSuchFile {
            return invalid("the status payload's file is gone: \(e)")
        } catch let e as DecodingError {
            return invalid("the status report is not valid: \(e)")
        }
        guard let status = RecipientStatus(rawValue: report.status), [.delivered, .recipientAccepted, .recipientRejected, .failed].contains(status) else {
            return invalid("status \(report.status) cannot be reported by a mailbox")
        }
        guard let d = try context.mailbox.document(messageId: report.documentId),
              let r = d.recipients.first(where: { $0.address == report.recipient }), r.route == .remote, r.party == from else {
            return IntakeFailure(code: IntakeFailure.statusReportNotApplicable,
                                 reason: "\(from) reported \(report.status) on document \(report.documentId) for \(report.recipient), which this gateway did not send it",
                                 report: .none)
        }
        let decision = (status == .recipientAccepted || status == .recipientRejected)
            ? RecipientDecision(accepted: status == .recipientAccepted, code: report.code, reason: report.reason, at: report.at) : nil
        let detail = [report.code, report.reason].compactMap { $0 }.joined(separator: ": ")
        // The recipient's retrievedAt is when it read the document at the receiving side, not
        // when this report arrived (bounded: `ReportedReadingTime`).
        let readAt = (report.retrievedAt ?? (status == .delivered ? report.at : nil))
            .map { ReportedReadingTime(reported: $0, documentCreatedAt: d.createdAt, now: Date()) }
        if let readAt, readAt.beyondSkew {
            context.log.log(.warning, "status-report-time-clamped", ["document_id": d.messageId, "recipient": r.address, "from": from,
                                                                     "reason": readAt.clampNote])
        }
        let clamped = readAt?.clampNote.map { "; " + $0 } ?? ""
        var steps: [(status: RecipientStatus, decision: RecipientDecision?, detail: String)] = []
        if let readAt, report.retrievedAt != nil, status != .delivered, r.status.allows(.delivered, receiptHeld: r.receipt != nil) {
            steps.append((.delivered, nil, "read at \(ISO8601DateFormatter().string(from: readAt.recorded)), reported by \(from)\(clamped)"))
        }
        steps.append((status, decision, (detail.isEmpty ? "reported by \(from)" : detail) + (status == .delivered ? clamped : "")))
        do {
            for step in steps {
                let now = Date()
                let retrievedAt = step.status == .delivered ? readAt?.recorded : nil
                // A document forwarded here by a hub: the news goes on to where it came from, owed
                // with the step. A failure goes on with its code and reason, or the origin would
                // learn only that it failed.
                let relayed = step.decision ?? (step.status == .failed
                    ? RecipientDecision(accepted: false, code: report.code, reason: report.reason, at: report.at) : nil)
                // The reading time relayed is the one recorded here (bounded by ReportedReadingTime), so
                // the origin never holds a time this hub refused to believe. An answer carries it too:
                // relayed apart, the answer may reach the origin before the reading, which the origin
                // then records first from it (as it does with an answer from the serving access point).
                let readTime = retrievedAt ?? (step.status == .failed ? nil : readAt?.recorded ?? r.retrievedAt)
                let update = RecipientUpdate(messageId: d.messageId, address: r.address, status: step.status, detail: step.detail,
                                             decision: step.decision, retrieved: step.status == .delivered, retrievedAt: retrievedAt,
                                             notifications: Self.senderNotifications(d, address: r.address, status: step.status,
                                                                                     detail: step.status == .delivered || detail.isEmpty ? nil : detail),
                                             originReport: OriginReports.owed(d, decision: relayed, retrievedAt: readTime, at: now))
                if try context.mailbox.updateRecipient(update, at: now) {
                    context.log.log(step.status == .failed ? .warning : .info, "status-report-applied", [
                        "document_id": d.messageId, "recipient": r.address, "from": from, "status": step.status.rawValue,
                        "message_id": m.metadata.messageId, "ref_to": r.as4MessageId, "reason": step.detail])
                    OriginReports(context: context).queueNow(d, recipient: r.address)
                } else {
                    // A report the recipient's state has passed (a resent or out-of-order one): kept in the log.
                    context.log.log(.info, "status-report-not-applied", ["document_id": d.messageId, "recipient": r.address, "from": from,
                                                                         "status": step.status.rawValue])
                }
            }
        } catch MailboxStoreError.conflict {
            // Reported twice (a resent status): the first answer stands.
        }
        return nil
    }
}

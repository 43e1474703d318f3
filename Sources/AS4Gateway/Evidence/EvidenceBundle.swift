import AS4Crypto
import EnvelopeXML
import Foundation
import MessageStore
import Routing

/// Builds the evidence bundle of one document (docs/EVIDENCE.md): the document and its files'
/// digests, each recipient's sending state with the signed receipt and what it was checked
/// against, recipients' answers, every event of the document and of its AS4 messages with their
/// hash-chain values, all sealed by `EvidenceSeal` with the gateway's signing key.
struct EvidenceBundle {
    let context: GatewayContext
    static let ns = EvidenceSeal.namespace

    /// `recipients`: those the caller may see (the sender sees all; a recipient its own).
    /// `wholeMetadata`: the sender's bundle; a recipient's gets the metadata with its list of
    /// recipients reduced to `recipients`, marked `view="recipient"`.
    func build(_ d: Document, recipients: [DocumentRecipient], wholeMetadata: Bool, now: Date = Date()) throws -> [UInt8] {
        let documentEvents = try context.mailbox.events(messageId: d.messageId)
        let shown = Set(recipients.map(\.address))
        let chainedDocumentEvents = try context.store.chainedEvents(.documentEvents, messageId: d.messageId)
            .filter { $0.fields[1].map(shown.contains) ?? true }
        var as4Ids = recipients.compactMap(\.as4MessageId)
        if let origin = d.originMessageId { as4Ids.append(origin) }
        var messageEvents: [ChainedEvent] = []
        for id in Set(as4Ids) { messageEvents += try context.store.chainedEvents(.messageEvents, messageId: id) }
        messageEvents.sort { $0.id < $1.id }

        let proof = LegalProof(context: context)
        var w = EvidenceXMLWriter(capacity: 16384)
        w.open("ev:Content", [("Id", EvidenceSeal.contentId)])
        w.open("ev:Message", [("messageId", d.messageId), ("sender", d.sender), ("createdAt", Self.time(d.createdAt)),
                              ("gateway", context.party), ("generatedAt", Self.time(now)),
                              ("deliveryBy", d.deliveryBy.map(Self.time)), ("originParty", d.originParty),
                              ("originMessageId", d.originMessageId)], selfClosing: true)
        w.element("ev:Statement", text: MessageRoutes.legalStatement)
        if wholeMetadata {
            w.element("ev:Metadata", text: d.metadata)
        } else {
            // Sealed as shown: the seal vouches for this copy, not for the list the sender wrote.
            w.element("ev:Metadata", [("view", "recipient")], text: MetadataRecipients.limited(d.metadata, to: shown))
        }
        w.open("ev:Files")
        for (i, f) in d.files.enumerated() {
            w.open("ev:File", [("n", String(i + 1)), ("name", f.name), ("mimeType", f.mimeType), ("size", String(f.file.size)),
                               ("sha256", f.file.sha256)], selfClosing: true)
        }
        w.close("ev:Files")
        w.open("ev:Recipients")
        for r in recipients {
            let sending = proof.sending(d, r, events: documentEvents)
            w.open("ev:Recipient", [("address", r.address), ("route", r.route == .mailbox ? "localMailbox" : "remoteAccessPoint"),
                                    ("status", r.status.rawValue), ("accessPoint", r.party), ("as4MessageId", r.as4MessageId),
                                    ("retrievedAt", r.retrievedAt.map(Self.time)),
                                    ("sent", sending.sent ? "true" : "false"), ("sentAt", sending.sentAt.map(Self.time)),
                                    ("deemedNotifiedOn", sending.deemedNotifiedOn?.description)])
            w.element("ev:SentStatement", text: sending.statement)
            if let decision = r.decision {
                w.open("ev:Decision", [("decision", decision.accepted ? "accept" : "reject"), ("code", decision.code),
                                       ("reason", decision.reason), ("at", Self.time(decision.at))], selfClosing: true)
            }
            if let receipt = r.receipt, let as4 = r.as4MessageId {
                w.element("ev:Receipt", [("contentType", "application/soap+xml"), ("verified", sending.receiptValid == true ? "true" : "false"),
                                         ("detail", sending.receiptDetail)], text: receipt.base64EncodedString())
                let sent = try context.store.findMessage(id: as4, direction: .outbound)
                if let references = sent?.outbound?.sentReferences { w.element("ev:SentReferences", text: references) }
                for certificate in receiverCertificates(sent) {
                    w.element("ev:ReceiverCertificate", text: Data(certificate.derBytes).base64EncodedString())
                }
            }
            w.close("ev:Recipient")
        }
        w.close("ev:Recipients")
        w.open("ev:Events", [("table", ChainedTable.documentEvents.rawValue)])
        for e in chainedDocumentEvents {
            w.open("ev:Event", [("eventId", String(e.id)), ("messageId", e.fields[0]), ("recipient", e.fields[1]),
                                ("at", Self.time(millis: e.fields[2])), ("status", e.fields[3]), ("detail", e.fields[4]),
                                ("prevHash", e.prevHash), ("hash", e.hash)], selfClosing: true)
        }
        w.close("ev:Events")
        w.open("ev:Events", [("table", ChainedTable.messageEvents.rawValue)])
        for e in messageEvents {
            w.open("ev:Event", [("eventId", String(e.id)), ("messageId", e.messageId), ("messageRow", e.fields[0]),
                                ("at", Self.time(millis: e.fields[1])), ("direction", e.fields[2]), ("status", e.fields[3]),
                                ("code", e.fields[4]), ("detail", e.fields[5]), ("prevHash", e.prevHash), ("hash", e.hash)],
                   selfClosing: true)
        }
        w.close("ev:Events")
        w.close("ev:Content")
        return try EvidenceSeal.seal(content: w.bytes, identity: context.signing)
    }

    /// The receiving party's signing certificates from the agreement the message was sent under,
    /// self-service partners included, valid when the receipt arrived (what `ReceiptCheck`
    /// verified the receipt against).
    func receiverCertificates(_ sent: StoredMessage?) -> [Certificate] {
        guard let sent else { return [] }
        return ((try? SentAgreement.of(sent, at: sent.receiptAt ?? Date(), context: context)) ?? nil)?.signingCertificates ?? []
    }

    // MARK: Times

    /// RFC 3339 in UTC with milliseconds: exactly the store's resolution, so the hash-chain
    /// fields can be rebuilt from the bundle.
    static func time(_ date: Date) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.string(from: date)
    }

    static func time(millis: String?) -> String? {
        millis.flatMap(Int64.init).map { time(Date(timeIntervalSince1970: Double($0) / 1000)) }
    }

    static func parseTime(_ text: String) -> Date? {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.date(from: text)
    }

    static func millis(_ text: String?) -> String? {
        text.flatMap(parseTime).map { String(Int64(($0.timeIntervalSince1970 * 1000).rounded())) }
    }
}

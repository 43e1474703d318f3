import AS4Crypto
import EnvelopeXML
import Foundation
import MessageStore
import WSSecurity

/// Checks an evidence bundle offline (`as4gw evidence verify`): the seal, each event's hash
/// against its own fields, and each embedded receipt again, as `ReceiptCheck` did at sending.
struct EvidenceVerifier {
    /// Trust anchors for the sealing certificate and the receivers' certificates.
    var anchors: [Certificate]
    /// The gateway's own signing certificates: when given, the seal must be by one of them, not
    /// just by any certificate the anchors vouch for (another access point under the same CA).
    var sealers: [Certificate] = []

    struct Summary {
        var messageId: String
        var sealedBy: String
        var generatedAt: String
        var recipients: [(address: String, sent: Bool, deemedNotifiedOn: String?)]
        var events: Int
        var receipts: Int
    }

    /// Throws an `EvidenceError` with the first reason the bundle is not good. When the seal's
    /// digest fails, the content is still examined so the reason can say what inside it no
    /// longer holds together (an event changed, a receipt that no longer verifies).
    func verify(_ bytes: [UInt8], now: Date = Date()) throws -> Summary {
        let checked: EvidenceSeal.Checked
        do {
            checked = try EvidenceSeal.verify(bytes, anchors: anchors, at: now)
        } catch let sealError as EvidenceError {
            if sealError.description.hasPrefix("the content's digest"),
               let document = try? XMLDocument(parsing: bytes, limits: EvidenceSeal.limits),
               let content = document.root?.firstChild("Content", EvidenceSeal.namespace) {
                do {
                    _ = try checkContent(content)
                } catch let inner as EvidenceError {
                    throw EvidenceError("\(sealError.description); \(inner.description)")
                }
            }
            throw sealError
        }
        // Any certificate under the anchors can seal a bundle; with sealers pinned, only theirs.
        if !sealers.isEmpty, !sealers.contains(where: { $0.derBytes == checked.signer.derBytes }) {
            throw EvidenceError("sealed by \(checked.signer.subject), which is not one of the gateway certificates given with --sealer")
        }
        var summary = try checkContent(checked.content)
        summary.sealedBy = checked.signer.subject
        return summary
    }

    private func checkContent(_ content: XMLElement) throws -> Summary {
        let ns = EvidenceSeal.namespace
        guard let message = content.firstChild("Message", ns), let messageId = message.attribute("messageId") else {
            throw EvidenceError("ev:Message with a messageId is missing")
        }
        var summary = Summary(messageId: messageId, sealedBy: "", generatedAt: message.attribute("generatedAt") ?? "",
                              recipients: [], events: 0, receipts: 0)
        for file in content.firstChild("Files", ns)?.children("File", ns) ?? [] {
            let digest = file.attribute("sha256") ?? ""
            guard digest.count == 64, digest.allSatisfy({ $0.isHexDigit && !$0.isUppercase }) else {
                throw EvidenceError("file \(file.attribute("n") ?? "?") (\(file.attribute("name") ?? "")): its SHA-256 \(digest) is not 64 lowercase hex digits")
            }
        }
        for events in content.children("Events", ns) {
            guard let tableName = events.attribute("table"), let table = ChainedTable(rawValue: tableName) else {
                throw EvidenceError("ev:Events names no known table")
            }
            for event in events.children("Event", ns) {
                try checkEvent(event, table: table)
                summary.events += 1
            }
        }
        for recipient in content.firstChild("Recipients", ns)?.children("Recipient", ns) ?? [] {
            let address = recipient.attribute("address") ?? "?"
            let sent = recipient.attribute("sent") == "true"
            if let receipt = recipient.firstChild("Receipt", ns) {
                // A receipt the bundle relies on must verify again; one the gateway itself
                // found wanting (not sent, not verified) claims nothing, so it is not judged.
                if sent || receipt.attribute("verified") == "true" {
                    try checkReceipt(receipt, in: recipient, address: address)
                    summary.receipts += 1
                }
            } else if sent && recipient.attribute("route") == "remoteAccessPoint" {
                throw EvidenceError("recipient \(address): marked sent without a receipt")
            }
            summary.recipients.append((address, sent, recipient.attribute("deemedNotifiedOn")))
        }
        return summary
    }

    /// The event's hash must be what its own fields and prevHash give (EventChain's format).
    private func checkEvent(_ e: XMLElement, table: ChainedTable) throws {
        guard let idText = e.attribute("eventId"), let id = Int64(idText) else { throw EvidenceError("an event without an eventId") }
        guard let hash = e.attribute("hash"), let prev = e.attribute("prevHash") else { return }  // written before the chain existed
        guard let at = EvidenceBundle.millis(e.attribute("at")) else {
            throw EvidenceError("\(table.rawValue) event \(id): its time \(e.attribute("at") ?? "(none)") is not an RFC 3339 time with milliseconds")
        }
        // A stored value XML cannot carry is in the bundle as `nameBase64` (EvidenceText): the
        // hash is over the value itself.
        func field(_ name: String) throws -> String? {
            do { return try EvidenceText.value(of: name) { e.attribute($0) } } catch {
                throw EvidenceError("\(table.rawValue) event \(id): \(error)")
            }
        }
        let fields: [String?] = switch table {
        case .documentEvents: [try field("messageId"), try field("recipient"), at, try field("status"), try field("detail")]
        case .messageEvents: [try field("messageRow"), at, try field("direction"), try field("status"), try field("code"),
                              try field("detail")]
        }
        let expected = EventChain.hash(table: table, id: id, prevHash: prev, fields: fields)
        guard expected == hash else {
            throw EvidenceError("\(table.rawValue) event \(id): its hash does not match its fields (time, status or detail changed): expected \(expected), found \(hash)")
        }
    }

    /// Runs the receipt through `ReceiptValidator` again: signed by one of the receiver's
    /// certificates the bundle names (chained to the anchors or pinned, as at sending), for our
    /// AS4 message, acknowledging exactly the references we signed.
    private func checkReceipt(_ receipt: XMLElement, in recipient: XMLElement, address: String) throws {
        let ns = EvidenceSeal.namespace
        guard let as4 = recipient.attribute("as4MessageId") else { throw EvidenceError("recipient \(address): a receipt without as4MessageId") }
        guard let bytes = Data(base64Encoded: receipt.trimmedText, options: .ignoreUnknownCharacters) else {
            throw EvidenceError("recipient \(address): the receipt is not base64")
        }
        guard let references = SentReferenceCoding.decode(recipient.firstChild("SentReferences", ns)?.trimmedText) else {
            throw EvidenceError("recipient \(address): the references signed at sending are missing or unreadable")
        }
        var certificates: [Certificate] = []
        for element in recipient.children("ReceiverCertificate", ns) {
            guard let certificate = try? Certificate(base64DER: element.trimmedText) else {
                throw EvidenceError("recipient \(address): a receiver certificate does not parse")
            }
            certificates.append(certificate)
        }
        guard !certificates.isEmpty else { throw EvidenceError("recipient \(address): no receiver certificate to check the receipt with") }
        let at = recipient.attribute("sentAt").flatMap(EvidenceBundle.parseTime) ?? Date()
        var policy = SecurityPolicy.receiving
        policy.requireEncryption = false
        do {
            let trust = CertificateValidator(trustStore: try TrustStore(anchors: anchors + certificates))
            let verifier = SignatureVerifier(policy: policy, trust: trust, candidates: certificates, expectedSigners: certificates,
                                             checkRevocation: false)
            let message = try AS4Message.read(try MessageInput.load(bytes: [UInt8](bytes), contentType: "application/soap+xml"))
            _ = try ReceiptValidator(verifier: verifier).validate(message, sentMessageId: as4, sentReferences: references, at: at)
        } catch let e as EbmsError {
            throw EvidenceError("recipient \(address): the receipt for \(as4) does not verify: \(e.reason)")
        } catch {
            throw EvidenceError("recipient \(address): the receipt for \(as4) does not verify: \(error)")
        }
        if receipt.attribute("verified") != "true" && recipient.attribute("sent") == "true" {
            throw EvidenceError("recipient \(address): marked sent although its receipt was not verified when sealed")
        }
    }
}

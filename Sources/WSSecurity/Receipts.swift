import AS4Crypto
import EnvelopeXML
import Foundation

/// Non-repudiation receipts (AS4 §5.1.8, AS4-WIRE §5): building one for a message we received,
/// and checking one for a message we sent.
public enum ReceiptBuilder {
    /// The `ebbp:NonRepudiationInformation` of a received signed message: one
    /// `MessagePartNRInformation` per `ds:Reference` of its SignedInfo, each a copy of the
    /// reference (exclusive-canonical, so the copy carries its own namespace declarations).
    public static func nonRepudiationInformation(of signature: SignatureInfo) throws -> String {
        var w = XMLWriter(capacity: 4096)
        w.open("ebbp:NonRepudiationInformation", [("xmlns:ebbp", NS.ebbp)])
        for ref in signature.references {
            w.open("ebbp:MessagePartNRInformation")
            w.raw(try Canonicalizer.exclusive(ref.element))
            w.close("ebbp:MessagePartNRInformation")
        }
        w.close("ebbp:NonRepudiationInformation")
        return String(decoding: w.bytes, as: UTF8.self)
    }

    /// The receipt signal for `message` (whose signature was verified and is `signature`).
    public static func receipt(for message: AS4Message, signature: SignatureInfo, messageId: String,
                               at time: Date = Date()) throws -> SignalMessage {
        guard let ref = message.messaging.primary?.messageInfo.messageId else {
            throw EbmsError(.other, "nothing to acknowledge")
        }
        return SignalMessage(messageInfo: MessageInfo(timestamp: Timestamp(time), messageId: messageId, refToMessageId: ref),
                             kind: .receipt(Receipt(content: [try nonRepudiationInformation(of: signature)])))
    }

    /// The signature of a verified message, read from its (single) Security header.
    public static func signature(of message: AS4Message) throws(EbmsError) -> SignatureInfo {
        guard let security = message.envelope.securityHeaders.first,
              let signature = try SecurityHeader.read(security).signatures.first else {
            throw EbmsError(.policyNoncompliance, "the message is not signed: no non-repudiation receipt can be built")
        }
        return signature
    }
}

/// Checks a receipt against the message we sent (AS4-WIRE §5.3): its own signature (by the
/// responder's certificate), `RefToMessageId`, and one NonRepudiationInformation reference per
/// reference we signed, with the same URI, transforms, digest method and digest value.
/// Anything missing, extra or different is EBMS:0302 InvalidReceipt.
public struct ReceiptValidator {
    public var verifier: SignatureVerifier

    public init(verifier: SignatureVerifier) {
        self.verifier = verifier
    }

    public struct Result {
        public var receipt: SignalMessage
        public var signature: SignatureReport
    }

    public func validate(_ response: AS4Message, sentMessageId: String, sentReferences: [SentReference],
                         at time: Date = Date()) throws(EbmsError) -> Result {
        guard let signal = response.messaging.signals.first(where: { if case .receipt = $0.kind { return true } else { return false } }),
              case .receipt(let receipt) = signal.kind else {
            if let errors = response.messaging.signals.first(where: { if case .errors = $0.kind { return true } else { return false } }),
               case .errors(let list) = errors.kind, let first = list.first {
                // An error about some other message is no answer to ours.
                if let ref = errors.messageInfo.refToMessageId ?? first.refToMessageInError, ref != sentMessageId {
                    throw EbmsError(.invalidReceipt, "the response is an error about \(ref), not about \(sentMessageId)")
                }
                let code = first.knownCode ?? .other
                throw EbmsError(code, "the receiver answered \(first.errorCode) \(first.shortDescription ?? ""): \(first.description?.text ?? "")")
            }
            throw EbmsError(.invalidReceipt, "the response carries no eb:Receipt")
        }
        guard signal.messageInfo.refToMessageId == sentMessageId else {
            throw EbmsError(.invalidReceipt, "the receipt refers to \(signal.messageInfo.refToMessageId ?? "no message"), not to \(sentMessageId)")
        }
        let report = verifier.verify(response, attachments: response.attachments, at: time)
        // Unsigned only where we signed nothing and the agreement asks for no signature.
        if let error = report.error, verifier.policy.requireSignature || !sentReferences.isEmpty || response.envelope.hasSignature {
            throw EbmsError(.invalidReceipt, "the receipt's signature is not acceptable: \(error.reason)")
        }
        // Nothing signed (an agreement without signing): a reception-awareness receipt, with or
        // without non-repudiation information, is all there is to have.
        guard !sentReferences.isEmpty else { return Result(receipt: signal, signature: report) }
        let copies = try Self.references(in: receipt, elements: Self.contentElements(of: response.envelope, count: receipt.content.count))
        for sent in sentReferences {
            let matching = copies.filter { $0.uri == sent.uri }
            guard matching.count == 1, let copy = matching.first else {
                throw EbmsError(.invalidReceipt, matching.isEmpty ? "the receipt does not acknowledge \(sent.uri)"
                                                                 : "the receipt acknowledges \(sent.uri) \(matching.count) times")
            }
            guard copy.digestMethod == sent.digestMethod, copy.transforms == sent.transforms,
                  Digest.constantTimeEquals(copy.digestValue, sent.digestValue) else {
                throw EbmsError(.invalidReceipt, "the receipt's digest of \(sent.uri) differs from what was sent")
            }
        }
        if copies.count != sentReferences.count {
            throw EbmsError(.invalidReceipt, "the receipt acknowledges \(copies.count) parts, but \(sentReferences.count) were sent")
        }
        return Result(receipt: signal, signature: report)
    }

    /// The `ds:Reference` copies of a receipt's NonRepudiationInformation. References outside the
    /// ebbp namespace (seen in Domibus test data) are refused: strict, as the schema says.
    ///
    /// `elements`: the receipt's content elements in the parsed response, whose canonical forms
    /// `receipt.content` holds (`contentElements(of:count:)`). Each is read in place of parsing
    /// its text again, where that parse would have succeeded (`XMLLimits.admitCanonicalForm`):
    /// the text is the element's exclusive C14N, so both give the same names, namespaces,
    /// attribute values and text. Parsing it again was a tenth of checking a receipt.
    public static func references(in receipt: Receipt, elements: [XMLElement]? = nil) throws(EbmsError) -> [SentReference] {
        var out: [SentReference] = []
        for (index, xml) in receipt.content.enumerated() {
            let root: XMLElement
            if let elements, elements.count == receipt.content.count, XMLLimits.envelope.admitCanonicalForm(xml, of: elements[index]) {
                root = elements[index]
            } else {
                let doc: XMLDocument
                do { doc = try XMLDocument(parsing: xml) } catch { throw EbmsError(.invalidReceipt, "receipt content is not XML") }
                guard let parsedRoot = doc.root else { continue }
                root = parsedRoot
            }
            guard root.isElement("NonRepudiationInformation", NS.ebbp) else { continue }
            for info in root.children("MessagePartNRInformation", NS.ebbp) {
                guard let ref = info.firstChild("Reference", NS.ds), let uri = ref.attribute("URI"),
                      let dm = ref.firstChild("DigestMethod", NS.ds)?.attribute("Algorithm"),
                      let dvText = ref.firstChild("DigestValue", NS.ds)?.text, let dv = Base64.decode(dvText) else {
                    throw EbmsError(.invalidReceipt, "a MessagePartNRInformation holds no complete ds:Reference")
                }
                let transforms = ref.firstChild("Transforms", NS.ds)?.children("Transform", NS.ds).compactMap { $0.attribute("Algorithm") } ?? []
                out.append(SentReference(uri: uri, transforms: transforms, digestMethod: dm, digestValue: dv))
            }
        }
        guard !out.isEmpty else { throw EbmsError(.invalidReceipt, "the receipt has no NonRepudiationInformation") }
        return out
    }

    /// The child elements of `envelope`'s eb:Receipt, in order: `EnvelopeParser.readSignal` made
    /// one `Receipt.content` string of each, and allows one Receipt signal per eb:Messaging. Nil
    /// when they do not line up with `count` strings.
    static func contentElements(of envelope: ParsedEnvelope, count: Int) -> [XMLElement]? {
        let receipts = envelope.messagingElement.children("SignalMessage", NS.eb).compactMap { $0.firstChild("Receipt", NS.eb) }
        guard receipts.count == 1, let children = receipts.first?.children, children.count == count else { return nil }
        return children
    }
}

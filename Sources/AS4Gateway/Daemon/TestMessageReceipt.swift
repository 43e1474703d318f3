import EnvelopeXML
import Foundation
import Routing
import WSSecurity

/// A test message (ebMS3 Core §5.2.2.9: "ping") that passed every check a message from its
/// sender passes, signature, decryption and digests included: answered with a receipt as such a
/// message would be (its NonRepudiationInformation naming what it signed), and neither stored
/// nor handed to a consumer. Payloads are allowed (the processing is "not different from any
/// other user message"): decompressed within the leg's limit to check them, then dropped.
///
/// Nothing is kept, so there is nothing to deliver twice: a copy sent again after a lost
/// receipt gets a receipt for what it carries, like the first. A MessageId the sender already
/// used for a message we hold names that message, not this one, and is refused as an id reused
/// for other content is.
extension InboundProcessor {
    func answerTestMessage(_ message: AS4Message, attachments: [MIMEPart], signature: SignatureInfo?, match: Match, window: TimeInterval,
                           fields: [String: String?], started: Date) throws -> [UInt8] {
        guard let user = message.messaging.userMessage else { throw EbmsError(.valueInconsistent, "no user message") }
        if try earlierCopy(of: user, window: window) != nil {
            throw EbmsError(.valueInconsistent, "the MessageId was already received with different content")
        }
        let limit = UInt64(match.leg.payload.maxMessageBytes)
        var total: UInt64 = 0
        for info in user.payloads {
            guard let cid = info.contentID, let part = attachments.first(where: { $0.contentID == cid }) else {
                throw EbmsError(.externalPayloadError, "eb:PartInfo \(info.href ?? "(SOAP Body)") names no attachment")
            }
            let remaining = limit > total ? limit - total : 0
            if info.isCompressed {
                var sink = DiscardingSink()
                do {
                    total += try Gzip.decompress(part.body, to: &sink, limits: Self.gzipLimits(remaining))
                } catch let e as EbmsError where e.detail == Gzip.outputLimitDetail {
                    throw EbmsError(.decompressionFailure, "the decompressed payloads exceed the agreement's limit of \(limit) bytes")
                }
            } else {
                guard part.body.count <= remaining else { throw sizeError(limit) }
                total += part.body.count
            }
        }
        let receipt = try buildReceipt(for: message, signature: signature, security: match.leg.security)
        context.log.log(.info, "ping", fields.merging(["pmode": match.pmode.id, "signed": signature == nil ? "false" : "true",
                                                       "parts": String(user.payloads.count), "elapsed_ms": ms(started)]) { $1 })
        return receipt
    }
}

/// Output nobody reads: the decompressor still counts it against its limit.
struct DiscardingSink: ByteSink {
    mutating func write(_ bytes: UnsafeRawBufferPointer) throws {}
}

@testable import AS4Gateway
import AS4Crypto
import EnvelopeXML
import Foundation
import HTTPServer
import WSSecurity

/// A user message gw-a sends gw-b under the harness's P-Mode (`gw-a-to-gw-b-0`), built as
/// `MessageSealer` builds one but with what a test chooses and a sealer would never write: the
/// parts' PartProperties and MIME headers (repeated ones too), the SOAP version, the signer.
/// Not encrypted: the leg must say `encrypt: false`.
struct CraftedMessage {
    struct Part {
        var contentID = "\(UUID().uuidString)@gw-a"
        var properties: [Property] = [Property(EbmsConstants.mimeType, "application/xml")]
        /// The MIME header fields as they travel, in order; nil: Content-Type `signedType`, Content-ID.
        var headers: [(String, String)]?
        var body: [UInt8] = Array("<doc>crafted</doc>".utf8)
        /// The media type the attachment's digest is computed for (the SwA content transform).
        var signedType = "application/xml"
    }

    var id = "\(UUID().uuidString)@gw-a"
    var from = "gw-a"
    /// eb:From's PartyIds when not the one `from` names (ebMS3 allows several).
    var fromIds: [PartyId]?
    var service = "urn:eadrese:services:delivery"
    var action = "DeliverDocument"
    var parts: [Part] = [Part()]
    var soapVersion: SOAPVersion = .soap12
    var conversationId = "conv-\(UUID().uuidString)"
    var timestamp = Timestamp()

    var user: UserMessage {
        let type = "urn:oasis:names:tc:ebcore:partyid-type:unregistered"
        return UserMessage(messageInfo: MessageInfo(timestamp: timestamp, messageId: id),
                           from: EnvelopeXML.Party(ids: fromIds ?? [PartyId(from, type: type)], role: "urn:as4gw:roles:sender"),
                           to: EnvelopeXML.Party(PartyId("gw-b", type: type), role: "urn:as4gw:roles:receiver"),
                           collaboration: CollaborationInfo(agreementRef: AgreementRef("urn:as4gw:agreements:test"),
                                                            service: Service(service), action: action,
                                                            conversationId: conversationId),
                           payloads: parts.map { PartInfo(href: "cid:\($0.contentID)", properties: $0.properties) })
    }

    /// The HTTP Content-Type and body, signed by `signer` (nil: not signed).
    func sealed(by signer: SignatureBuilder?) throws -> (contentType: String, body: [UInt8]) {
        let messagingId = "_" + Identifier.uuid()
        let bodyId = "_" + Identifier.uuid()
        let built = EnvelopeBuilder.build(Messaging(user, id: messagingId), bodyId: bodyId, soapVersion: soapVersion)
        var envelope = built.bytes
        if let signer {
            let signature = try signer.sign(envelope: built, messagingId: messagingId, bodyId: bodyId, attachments: parts.map {
                .init(contentID: $0.contentID, mediaType: try? MediaType.parse($0.signedType), body: .bytes($0.body))
            })
            envelope = built.inserting(securityHeader: SignatureBuilder.securityHeader(
                signature: signature, encryption: nil, soapPrefix: soapVersion == .soap12 ? "env" : "S11"))
        }
        let rootType = soapVersion == .soap12 ? "application/soap+xml" : "text/xml"
        guard !parts.isEmpty else { return ("\(rootType); charset=UTF-8", envelope) }
        let boundary = "crafted-\(UUID().uuidString)"
        var body = Array("--\(boundary)\r\nContent-Type: \(rootType); charset=UTF-8\r\nContent-ID: <root@gw-a>\r\n\r\n".utf8) + envelope
        for part in parts {
            body += Array("\r\n--\(boundary)\r\n".utf8)
            for (name, value) in part.headers ?? [("Content-Type", part.signedType), ("Content-ID", "<\(part.contentID)>")] {
                body += Array("\(name): \(value)\r\n".utf8)
            }
            body += Array("\r\n".utf8) + part.body
        }
        body += Array("\r\n--\(boundary)--\r\n".utf8)
        return ("multipart/related; type=\"\(rootType)\"; boundary=\"\(boundary)\"; start=\"<root@gw-a>\"", body)
    }
}

extension InProcessNode {
    /// The development PKI's signing identity of `party` (or the key and certificate at `key`, `certificate`).
    func signer(_ party: String = "gw-a", key: String? = nil, certificate: String? = nil) throws -> SignatureBuilder {
        let certs = context.config.pmodeDirectory + "/certs"
        return try SignatureBuilder(identity: SigningIdentity(privateKey: try KeyMaterial.privateKey(key ?? certs + "/\(party).signing.key"),
                                                              certificate: try KeyMaterial.certificate(certificate ?? certs + "/\(party).signing.pem")))
    }

    /// Posts `message`, signed by `signer`, to this node's AS4 endpoint; `headers` are added to
    /// the request's.
    func receive(_ message: CraftedMessage, signedBy signer: SignatureBuilder?, headers: [(String, String)] = []) throws -> HTTPResponse {
        let (contentType, body) = try message.sealed(by: signer)
        return post(InboundProcessor(context: context), path: "/as4", contentType: contentType, body: body, headers: headers)
    }
}

extension HTTPResponse {
    /// The ebMS error code of an error signal, if the body is one.
    var ebmsErrorCode: String? {
        bodyText.range(of: "errorCode=\"").map { String(bodyText[$0.upperBound...].prefix(9)) }
    }
}

import AS4Crypto
import EnvelopeXML
import Foundation
import WSSecurity

/// `as4gw seal`: builds a complete signed (optionally compressed and encrypted) AS4 message.
enum SealCommand {
    static let help = """
    Usage: as4gw seal --from PARTY --to PARTY --service S --action A
                      --sign-key KEY.pem --sign-cert CERT.pem [--encrypt-cert CERT.pem]
                      [--profile 1.15|2.0] [--compress] [--property NAME=VALUE ...] [options] [PAYLOAD...]

    Writes one AS4 user message, MIME headers first (Content-Type, then a blank line, then the
    multipart/related body), to standard output or --out FILE. Order of operations as AS4
    requires: compress, sign, encrypt. Without PAYLOAD files the message is SOAP only (no
    attachments), as for a connectivity test.

    Profiles:
      1.15  RSA-SHA256 signature; encryption RSA-OAEP (SHA-256, MGF1-SHA256) + AES-128-GCM
      2.0   Ed25519 (or ECDSA-SHA256 with an EC key) signature; encryption X25519 (or ECDH-ES
            with an EC certificate) + HKDF-SHA256 + AES-128 key wrap + AES-128-GCM

    Options:
      --from PARTY, --to PARTY        party ids (eb:From/eb:To)
      --from-type T, --to-type T      party id types (default: none, the id must then be a URI)
      --from-role R, --to-role R      roles (default: the ebMS default role)
      --service S [--service-type T] --action A
      --conversation-id ID            default: a new UUID
      --message-id ID                 default: a new UUID@as4gw
      --agreement URI [--pmode ID]    eb:AgreementRef
      --property NAME=VALUE           message property, repeatable (e.g. originalSender, finalRecipient)
      --mime-type TYPE                media type of the payloads (default: guessed from the file name)
      --key-reference bst|ski|issuer-serial          signing certificate reference (default bst)
      --encrypt-key-reference bst|ski|issuer-serial  recipient certificate reference (default ski)
      --out FILE                      write there instead of standard output

    Exit status: 0 written; 2 usage or I/O error.
    """

    static func run(_ args: [String]) -> Int32 {
        let a: Arguments
        do {
            a = try Arguments(args, valued: ["from", "to", "from-type", "to-type", "from-role", "to-role", "service", "service-type",
                                             "action", "conversation-id", "message-id", "agreement", "pmode", "property",
                                             "sign-key", "sign-cert", "encrypt-cert", "profile", "mime-type", "key-reference",
                                             "encrypt-key-reference", "out"],
                              flags: ["compress"])
        } catch {
            return CLI.usageError("\(error)", help: help)
        }
        if a.has("help") { print(help); return 0 }
        for required in ["from", "to", "service", "action", "sign-key", "sign-cert"] where a.value(required) == nil {
            return CLI.usageError("seal needs --\(required)", help: help)
        }
        let profile = a.value("profile") ?? "1.15"
        guard ["1.15", "2.0"].contains(profile) else { return CLI.usageError("--profile must be 1.15 or 2.0", help: help) }
        guard let keyRef = KeyReferenceStyle(rawValue: a.value("key-reference") ?? "bst"),
              let encRef = KeyReferenceStyle(rawValue: a.value("encrypt-key-reference") ?? "ski") else {
            return CLI.usageError("key references are bst, ski or issuer-serial", help: help)
        }
        var properties: [Property] = []
        for p in a.values("property") {
            guard let eq = p.firstIndex(of: "="), eq != p.startIndex else {
                return CLI.usageError("--property takes NAME=VALUE, got \(p)", help: help)
            }
            properties.append(Property(String(p[..<eq]), String(p[p.index(after: eq)...])))
        }

        do {
            let identity = SigningIdentity(privateKey: try KeyMaterial.privateKey(a.value("sign-key")!),
                                           certificate: try KeyMaterial.certificate(a.value("sign-cert")!))
            guard identity.privateKey.matches(try identity.certificate.publicKey) else {
                return CLI.usageError("the signing key does not belong to the signing certificate", help: help)
            }
            let algorithm = try profileAlgorithm(profile, identity)
            var encryption: MessageSealer.Encryption?
            if let path = a.value("encrypt-cert") {
                let recipient = try KeyMaterial.certificate(path)
                encryption = .init(recipient: recipient, method: try profileEncryption(profile, recipient), keyReference: encRef)
            }
            var payloads: [Payload] = []
            for path in a.positionals {
                guard FileManager.default.isReadableFile(atPath: path) else { return CLI.ioError("cannot read payload \(path)") }
                payloads.append(Payload(mimeType: a.value("mime-type") ?? guessMimeType(path), body: try .wholeFile(path)))
            }
            let user = UserMessage(
                messageInfo: MessageInfo(messageId: a.value("message-id") ?? Identifier.uuid() + "@as4gw"),
                from: Party(PartyId(a.value("from")!, type: a.value("from-type")), role: a.value("from-role") ?? EbmsConstants.defaultRole),
                to: Party(PartyId(a.value("to")!, type: a.value("to-type")), role: a.value("to-role") ?? EbmsConstants.defaultRole),
                collaboration: CollaborationInfo(agreementRef: a.value("agreement").map { AgreementRef($0, pmode: a.value("pmode")) },
                                                 service: Service(a.value("service")!, type: a.value("service-type")),
                                                 action: a.value("action")!,
                                                 conversationId: a.value("conversation-id") ?? Identifier.uuid()),
                properties: properties)
            let spool = NSTemporaryDirectory()
            let sealer = MessageSealer(signer: try SignatureBuilder(identity: identity, algorithm: algorithm, keyReference: keyRef),
                                       encryption: encryption, compress: a.has("compress"), spoolDirectory: spool)
            let sealed = try sealer.seal(user, payloads: payloads)
            defer { sealed.removeSpoolFiles() }
            try write(sealed, to: a.value("out"))
            CLI.printError("as4gw: sealed \(sealed.messageId) (\(payloads.count) payload(s), \(algorithm.uri)\(encryption.map { ", encrypted " + $0.method.rawValue } ?? ""))")
            return 0
        } catch let e as KeyMaterial.LoadError {
            return CLI.ioError(e.description)
        } catch let e as ProfileMismatch {
            return CLI.usageError(e.description, help: help)
        } catch {
            return CLI.ioError("seal failed: \(error)")
        }
    }

    struct ProfileMismatch: Error, CustomStringConvertible { var description: String }

    static func profileAlgorithm(_ profile: String, _ identity: SigningIdentity) throws -> SignatureAlgorithm {
        switch (profile, identity.privateKey.keyType) {
        case ("1.15", .rsa): return .rsaSHA256
        case ("2.0", .ed25519): return .ed25519
        case ("2.0", .ec(.p256)): return .ecdsaSHA256
        case (_, let type): throw ProfileMismatch(description: "profile \(profile) cannot sign with a \(type) key (1.15: RSA; 2.0: Ed25519 or EC P-256)")
        }
    }

    static func profileEncryption(_ profile: String, _ recipient: Certificate) throws -> KeyEncryptionMethod {
        switch (profile, recipient.keyType) {
        case ("1.15", .rsa): return .rsaOAEP
        case ("2.0", .x25519): return .x25519HKDF
        case ("2.0", .ec): return .ecdhESHKDF
        case (_, let type): throw ProfileMismatch(description: "profile \(profile) cannot encrypt for a \(type) certificate (1.15: RSA; 2.0: X25519 or EC)")
        }
    }

    static func write(_ sealed: SealedMessage, to path: String?) throws {
        // Body first into a file sink (it may be large), then headers + body to the destination.
        let tmp = try FileSink.createTemporary(in: NSTemporaryDirectory(), prefix: "as4gw-seal-")
        defer { unlink(tmp.path) }
        var body = tmp
        let contentType = try sealed.write(to: &body)
        try tmp.close()
        let head = "MIME-Version: 1.0\r\nContent-Type: \(contentType)\r\n\r\n"
        if let path {
            var out = try FileSink(path: path, permissions: 0o644)
            try out.write(head)
            try out.write(contentsOf: try .wholeFile(tmp.path))
            try out.close()
        } else {
            var out = StandardOutputSink()
            try out.write(head)
            try out.write(contentsOf: try .wholeFile(tmp.path))
        }
    }

    static func guessMimeType(_ path: String) -> String {
        switch (path as NSString).pathExtension.lowercased() {
        case "xml": return "application/xml"
        case "pdf": return "application/pdf"
        case "txt": return "text/plain"
        case "json": return "application/json"
        case "edoc", "asice", "zip": return "application/vnd.etsi.asic-e+zip"
        default: return "application/octet-stream"
        }
    }
}

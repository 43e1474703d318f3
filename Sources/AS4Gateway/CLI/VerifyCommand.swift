import AS4Crypto
import EnvelopeXML
import Foundation
import WSSecurity

/// `as4gw verify`: decrypts and verifies one message and prints the verdict as JSON.
enum VerifyCommand {
    static let help = """
    Usage: as4gw verify FILE --trust CA.pem [--trust ...] [--certs DIR] [--crl CRL.pem]
                        [--decrypt-key KEY.pem [--decrypt-cert CERT.pem]] [--expect-signer CERT.pem]
                        [--at now|message|ISO-8601] [--profile 1.15|2.0|any] [--content-type VALUE] [--out DIR]

    Decrypts (with --decrypt-key), verifies the WS-Security signature strictly and prints a JSON
    verdict: valid, the ebMS error and reason, the signer and its validity, the algorithms, each
    reference, and each part's SHA-256 and size after decryption and decompression.

      --trust FILE|DIR    trust anchors (PEM/DER files or a folder of them, repeatable); a partner's self-signed
                          certificate may be its own anchor
      --certs DIR|FILE    candidate certificates for signatures that name their key by Subject
                          Key Identifier or issuer/serial instead of carrying it
      --crl FILE          check the signer against this CRL (repeatable)
      --expect-signer F   the signer must be this certificate (the sending party's)
      --at WHEN           when certificates and timestamps are judged: now (default), message
                          (the message's own eb:Timestamp), or an ISO-8601 time
      --profile P         allowed algorithms: 1.15, 2.0, or any (default: both profiles plus the
                          SHA-2 variants and key transports real peers send; never SHA-1/RSA-1.5)
      --out DIR           write the decrypted, decompressed payloads there

    Input forms as for `inspect`. Exit status: 0 valid, 1 invalid (with the reason), 2 usage or I/O error.
    """

    static func run(_ args: [String]) -> Int32 {
        let a: Arguments
        do {
            a = try Arguments(args, valued: ["trust", "certs", "crl", "decrypt-key", "decrypt-cert", "expect-signer", "at",
                                             "profile", "content-type", "out"], flags: ["compact"])
        } catch {
            return CLI.usageError("\(error)", help: help)
        }
        if a.has("help") { print(help); return 0 }
        guard a.positionals.count == 1 else { return CLI.usageError("verify takes exactly one FILE", help: help) }
        guard !a.values("trust").isEmpty else { return CLI.usageError("verify needs --trust", help: help) }
        let policy: SecurityPolicy
        switch a.value("profile") ?? "any" {
        case "1.15": policy = .eDelivery115
        case "2.0": policy = .eDelivery20
        case "any": policy = .receiving
        case let other: return CLI.usageError("unknown profile \(other)", help: help)
        }
        let path = a.positionals[0]
        let pretty = !a.has("compact")

        let anchors: [Certificate], candidates: [Certificate], crls: [CertificateRevocationList]
        let expected: [Certificate]?, keys: [DecryptionKey]
        do {
            anchors = try a.values("trust").flatMap(KeyMaterial.certificateDirectory)
            candidates = try a.values("certs").flatMap(KeyMaterial.certificateDirectory) + anchors
            crls = try KeyMaterial.crls(a.values("crl"))
            expected = try a.value("expect-signer").map { [try KeyMaterial.certificate($0)] }
            if let keyPath = a.value("decrypt-key") {
                keys = [DecryptionKey(privateKey: try KeyMaterial.privateKey(keyPath),
                                      certificate: try a.value("decrypt-cert").map(KeyMaterial.certificate))]
            } else {
                keys = []
            }
        } catch {
            return CLI.ioError("\(error)")
        }
        let message: AS4Message
        do {
            message = try AS4Message.read(try MessageInput.load(path: path, contentType: a.value("content-type"),
                                                                spoolDirectory: NSTemporaryDirectory()))
        } catch let e as EbmsError {
            return emit(verdict(error: e), pretty: pretty)
        } catch {
            return CLI.ioError("cannot read \(path): \(error)")
        }
        let time: Date
        switch a.value("at") ?? "now" {
        case "now": time = Date()
        case "message": time = message.messaging.primary?.messageInfo.timestamp.date ?? Date()
        case let iso:
            guard let t = Timestamp(lexical: iso) else { return CLI.usageError("--at takes now, message or an ISO-8601 time", help: help) }
            time = t.date
        }

        var spoolFiles: [String] = []
        defer { for f in spoolFiles { unlink(f) } }
        var attachments = message.attachments
        var stillEncrypted = message.envelope.encryptedContentIDs
        var decryptionError: EbmsError?
        if !keys.isEmpty, !stillEncrypted.isEmpty, let security = message.envelope.securityHeaders.first {
            do throws(EbmsError) {
                let header = try SecurityHeader.read(security)
                attachments = try AttachmentDecryptor.decrypt(message, header: header, keys: keys, policy: policy,
                                                              spoolDirectory: NSTemporaryDirectory())
                for part in attachments {
                    if case .file(let p, _, _) = part.body, !message.attachments.contains(where: { $0.body == part.body }) { spoolFiles.append(p) }
                }
                stillEncrypted = []
            } catch {
                decryptionError = error
            }
        }
        let trust: CertificateValidator
        do {
            trust = CertificateValidator(trustStore: try TrustStore(anchors: anchors, crls: crls))
        } catch {
            return CLI.ioError("cannot build the truststore: \(error)")
        }
        var verifier = SignatureVerifier(policy: policy, trust: trust, candidates: candidates, expectedSigners: expected,
                                         checkRevocation: !crls.isEmpty)
        // The operator examines this one message: every reference's verdict, even under a
        // signature that does not authenticate.
        verifier.examinesUnauthenticated = true
        let report = verifier.verify(message, attachments: attachments, encryptedContentIDs: stillEncrypted, at: time)
        var error = decryptionError ?? report.error
        if error == nil, !stillEncrypted.isEmpty {
            error = EbmsError(.failedDecryption, "the message has encrypted parts and no --decrypt-key was given")
        }
        var parts: [JSON] = []
        if error == nil {
            do throws(EbmsError) {
                parts = try finalParts(message, attachments: attachments, outDir: a.value("out"))
            } catch let e {
                error = e
            }
        }
        var json = verdict(error: error)
        json.append(("signer", report.signer.map { signer in
            .object([("subject", .string(signer.subject)), ("issuer", .string(signer.issuer)),
                     ("serial", .string(signer.serialNumber)),
                     ("notBefore", .string(Timestamp(signer.notBefore).lexical)), ("notAfter", .string(Timestamp(signer.notAfter).lexical)),
                     ("validAt", .bool(signer.isValid(at: time))), ("trusted", .bool(report.certificate?.isValid ?? false)),
                     ("certificateStatus", .string(report.certificate?.message))])
        } ?? .null))
        json.append(("evaluatedAt", .string(Timestamp(time).lexical)))
        // The mathematical verdict alone (SignatureValue and every checkable digest), apart from
        // trust, time and policy: what an auditor of an old message wants to know.
        json.append(("signatureValue", report.signatureValueValid.map(JSON.bool) ?? .null))
        json.append(("cryptographicallyValid", .bool(report.isCryptographicallyValid)))
        json.append(("algorithms", .object([("canonicalization", .string(report.canonicalizationMethod)),
                                            ("signature", .string(report.signatureMethod)),
                                            ("digests", .array(Array(Set(report.digestMethods)).sorted().map { .string($0) }))])))
        json.append(("references", .array(report.references.map { r in
            var fields: [(String, JSON)] = [("uri", .string(r.uri))]
            switch r.status {
            case .valid: fields.append(("ok", .bool(true)))
            case .digestMismatch: fields += [("ok", .bool(false)), ("reason", .string("digest mismatch"))]
            case .invalid(let why): fields += [("ok", .bool(false)), ("reason", .string(why))]
            case .unverifiable(let why): fields += [("ok", .null), ("reason", .string(why))]
            }
            return .object(fields)
        })))
        json.append(("parts", .array(parts)))
        return emit(json, pretty: pretty)
    }

    static func verdict(error: EbmsError?) -> [(String, JSON)] {
        [("valid", .bool(error == nil)), ("error", .string(error?.code.rawValue)), ("reason", .string(error?.reason))]
    }

    static func emit(_ fields: [(String, JSON)], pretty: Bool) -> Int32 {
        print(JSON.object(fields).serialized(pretty: pretty))
        if case .bool(false)? = fields.first(where: { $0.0 == "valid" })?.1,
           case .string(let code)? = fields.first(where: { $0.0 == "error" })?.1,
           case .string(let reason)? = fields.first(where: { $0.0 == "reason" })?.1 {
            CLI.printError("as4gw: invalid: \(code) \(reason)")
            return 1
        }
        return 0
    }

    /// Each part after decompression: digest and size, written to `outDir` when given.
    static func finalParts(_ message: AS4Message, attachments: [MIMEPart], outDir: String?) throws(EbmsError) -> [JSON] {
        var out: [JSON] = []
        let infos = message.messaging.userMessage?.payloads ?? []
        for part in attachments {
            guard let cid = part.contentID else { continue }
            let info = infos.first { $0.contentID == cid }
            do {
                let digest = try DigestContext(algorithm: .sha256)
                var sink = DigestingSink(context: digest)
                var file: FileSink?
                if let outDir {
                    let name = cid.map { $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" ? $0 : "_" }
                    file = try FileSink(path: outDir + "/" + String(name), permissions: 0o644)
                    sink.file = file
                }
                if info?.isCompressed == true {
                    try Gzip.decompress(part.body, to: &sink)
                } else {
                    try sink.write(contentsOf: part.body)
                }
                try file?.close()
                out.append(.object([("contentId", .string(cid)), ("mimeType", .string(info?.mimeType ?? part.contentType?.essence)),
                                    ("compressed", .bool(info?.isCompressed ?? false)), ("size", .uint(sink.count)),
                                    ("sha256", .string(hexString(try digest.finalize())))]))
            } catch let e as EbmsError {
                throw e
            } catch {
                throw EbmsError(.other, "cannot write payload \(cid): \(error)")
            }
        }
        return out
    }
}

/// Digests what passes through and optionally copies it to a file.
struct DigestingSink: ByteSink {
    let context: DigestContext
    var file: FileSink?
    var count: UInt64 = 0

    init(context: DigestContext) { self.context = context }

    mutating func write(_ bytes: UnsafeRawBufferPointer) throws {
        try context.update(bytes)
        try file?.write(bytes)
        count += UInt64(bytes.count)
    }
}

func hexString(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

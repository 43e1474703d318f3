import AS4Crypto
import EnvelopeXML
import Foundation
import WSSecurity
#if canImport(Glibc)
import Glibc
#endif

/// `as4gw bench crypto`: seal and open rates beside the machine's raw RSA-2048 signing rate,
/// the receipt's two halves (build and sign; parse and check against what was sent), and streaming throughput for one large attachment. Profile 1.15 algorithms (RSA-SHA256,
/// RSA-OAEP, AES-128-GCM); keys are generated for the run.
struct CryptoBenchmark {
    var seconds: Double
    var largeMB: Int
    var directory: String

    func run() throws -> [(key: String, value: Double)] {
        let codec = CodecBenchmark(seconds: seconds, largeMB: largeMB, directory: directory)
        let now = Date()
        let ca = try CertificateAuthority.createSelfSigned(subject: .init(commonName: "bench CA"), key: try .generateRSA(bits: 2048),
                                                           validFrom: now - 3600, validUntil: now + 86400)
        func party(_ cn: String) throws -> SigningIdentity {
            let key = try PrivateKey.generateRSA(bits: 2048)
            return SigningIdentity(privateKey: key, certificate: try ca.issueCertificate(for: key.publicKey, subject: .init(commonName: cn),
                                                                                         validFrom: now - 3600, validUntil: now + 86400))
        }
        let sender = try party("sender")
        let receiver = try party("receiver")

        // The bound: OpenSSL's own EVP_DigestSign over a SignedInfo-sized input, context set up each time.
        let signedInfoSized = [UInt8](repeating: 0x61, count: 1200)
        let rawSign = try codec.rate { _ = try Signer.sign(data: signedInfoSized, key: sender.privateKey, algorithm: .rsaSHA256) }

        let payload = (0..<10_240).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ 17) }
        let user = codec.sampleUser(contentID: "payload-1@as4gw.bench")
        let signer = try SignatureBuilder(identity: sender)
        let encryption = MessageSealer.Encryption(recipient: receiver.certificate, method: .rsaOAEP)
        let sealSigned = MessageSealer(signer: signer, encryption: nil, compress: false)
        let sealFull = MessageSealer(signer: signer, encryption: encryption, compress: false)
        let sealCompressed = MessageSealer(signer: signer, encryption: encryption, compress: true)
        func sealAndWrite(_ sealer: MessageSealer) throws -> ([UInt8], String) {
            let sealed = try sealer.seal(user, payloads: [Payload(contentID: "payload-1@as4gw.bench", mimeType: "application/octet-stream", body: .bytes(payload))])
            var sink = MemorySink()
            let ct = try sealed.write(to: &sink)
            return (sink.bytes, ct)
        }
        let signOnlyRate = try codec.rate { _ = try sealAndWrite(sealSigned) }
        let sealRate = try codec.rate { _ = try sealAndWrite(sealFull) }
        let sealCompressedRate = try codec.rate { _ = try sealAndWrite(sealCompressed) }

        let trust = CertificateValidator(trustStore: try TrustStore(anchors: [ca.certificate]))
        let verifier = SignatureVerifier(policy: .eDelivery115, trust: trust, expectedSigners: [sender.certificate])
        let keys = [DecryptionKey(privateKey: receiver.privateKey, certificate: receiver.certificate)]
        let (wire, contentType) = try sealAndWrite(sealFull)
        let openRate = try codec.rate {
            let message = try AS4Message.read(try MessageInput.load(bytes: wire, contentType: contentType))
            let plain = try AttachmentDecryptor.decrypt(message, header: try SecurityHeader.read(message.envelope.securityHeaders[0]),
                                                        keys: keys, policy: .eDelivery115, spoolDirectory: nil)
            let report = verifier.verify(message, attachments: plain)
            if let error = report.error { throw error }
        }

        // The receipt: gateway B builds and signs it for a message it verified (a SignatureBuilder
        // per receipt, as the daemon makes one per answer); gateway A parses the answer and checks
        // it against the references it signed, the receiver's certificate expected.
        let sent = try sealFull.seal(user, payloads: [Payload(contentID: "payload-1@as4gw.bench", mimeType: "application/octet-stream", body: .bytes(payload))])
        var sentSink = MemorySink()
        let sentType = try sent.write(to: &sentSink)
        let received = try AS4Message.read(try MessageInput.load(bytes: sentSink.bytes, contentType: sentType))
        let receivedSignature = try ReceiptBuilder.signature(of: received)
        func signedReceipt() throws -> [UInt8] {
            let signal = try ReceiptBuilder.receipt(for: received, signature: receivedSignature, messageId: Identifier.messageId(domain: "as4gw.bench"))
            return try MessageSealer(signer: try SignatureBuilder(identity: receiver)).seal(signal: signal).envelope
        }
        let receiptBuildRate = try codec.rate { _ = try signedReceipt() }
        let receiptEnvelope = try signedReceipt()
        let receiptValidator = ReceiptValidator(verifier: SignatureVerifier(policy: .eDelivery115, trust: trust, candidates: [receiver.certificate],
                                                                            expectedSigners: [receiver.certificate]))
        let receiptCheckRate = try codec.rate {
            let reply = try AS4Message.read(try MessageInput.load(bytes: receiptEnvelope, contentType: MultipartWriter.soapContentType))
            _ = try receiptValidator.validate(reply, sentMessageId: sent.messageId, sentReferences: sent.references)
        }

        // One large attachment, file to file: seal (digest + encrypt + MIME) and open (parse + decrypt + verify).
        let bytes = UInt64(largeMB) << 20
        let payloadPath = directory + "/as4gw-bench-crypto-payload-\(getpid())"
        let messagePath = directory + "/as4gw-bench-crypto-message-\(getpid())"
        defer { unlink(payloadPath); unlink(messagePath) }
        try codec.writePseudoRandom(path: payloadPath, bytes: bytes)
        let large = MessageSealer(signer: signer, encryption: encryption, compress: false, spoolDirectory: directory)
        let t0 = codec.now()
        let sealed = try large.seal(codec.sampleUser(contentID: "large@as4gw.bench"),
                                    payloads: [Payload(contentID: "large@as4gw.bench", mimeType: "application/octet-stream", body: try .wholeFile(payloadPath))])
        let file = try FileSink(path: messagePath)
        var sink = file
        let largeType = try sealed.write(to: &sink)
        try file.close()
        sealed.removeSpoolFiles()
        let t1 = codec.now()
        let message = try AS4Message.read(try MessageInput.load(path: messagePath, contentType: largeType))
        let plain = try AttachmentDecryptor.decrypt(message, header: try SecurityHeader.read(message.envelope.securityHeaders[0]),
                                                    keys: keys, policy: .eDelivery115, spoolDirectory: directory)
        defer { for p in plain { if case .file(let path, _, _) = p.body, path != messagePath { unlink(path) } } }
        let report = verifier.verify(message, attachments: plain)
        if let error = report.error { throw error }
        let t2 = codec.now()
        let mb = Double(bytes) / 1_048_576
        return [
            ("raw_rsa2048_sign_per_s", rawSign),
            ("sign_only_msgs_per_s", signOnlyRate),
            ("seal_msgs_per_s", sealRate),
            ("seal_vs_raw_sign_pct", 100 * sealRate / rawSign),
            ("seal_compressed_msgs_per_s", sealCompressedRate),
            ("verify_decrypt_msgs_per_s", openRate),
            ("receipt_sign_per_s", receiptBuildRate),
            ("receipt_check_per_s", receiptCheckRate),
            ("large_mb", mb),
            ("large_seal_mb_per_s", mb / (t1 - t0)),
            ("large_open_mb_per_s", mb / (t2 - t1)),
            ("peak_rss_mb", peakRSSMegabytes()),
        ]
    }
}

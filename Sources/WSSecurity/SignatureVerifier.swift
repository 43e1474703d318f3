import AS4Crypto
import EnvelopeXML
import Foundation

/// Verifies the WS-Security signature of an AS4 message, strictly (AS4-WIRE §3.9, §7):
/// algorithms only from the policy's allow-list, exclusive C14N only, the references must cover
/// exactly the `eb:Messaging` header and Body that were parsed (by node identity, so a moved copy
/// cannot stand in) and every attachment a PartInfo names, identifiers must be unique, and the
/// signing certificate must chain to the truststore, be valid at the evaluation time, not be
/// revoked, be fit to sign (`CertificatePurpose`), and be the expected party's when one is given.
///
/// In two phases, so that a message nobody we trust signed costs no more than its envelope:
/// `authenticate` judges what SignedInfo alone decides (algorithms, each reference's form) and the
/// signer (the key, the SignatureValue over the canonical SignedInfo, which never depends on
/// decrypted parts, and the expected party's trusted, valid certificate). Only a signature that
/// passes reaches `checkReferences`, which resolves and digests each reference (attachments after
/// decryption; an XML attachment is canonicalised as it streams, `StreamingCanonicalizer`) and
/// judges coverage and the wsu:Timestamp. `verify` runs both.
public struct SignatureVerifier {
    /// References a SignedInfo may hold besides one per attachment (eb:Messaging, the Body, a
    /// Timestamp, a BinarySecurityToken, and room for what other implementations add).
    static let referencesBesideAttachments = 8

    public var policy: SecurityPolicy
    public var trust: CertificateValidator?
    /// Certificates that SKI / issuer-serial references may name (P-Mode party certs, `--certs`).
    public var candidates: [Certificate]
    /// When set, the signer must be one of these (the sending party's certificates).
    public var expectedSigners: [Certificate]?
    public var checkRevocation: Bool
    /// Bounds for an XML attachment canonicalised for its digest; a listener narrows the size to
    /// the agreement's messages.
    public var attachmentXMLLimits: XMLLimits = .attachment
    /// Whether the references of a signature that did not authenticate are still resolved and
    /// digested, for a report of every reference: `as4gw verify`, where an operator examines one
    /// message. Never on a listener, where the sender of an unauthenticated message would choose
    /// how much we parse.
    public var examinesUnauthenticated = false

    public init(policy: SecurityPolicy, trust: CertificateValidator?, candidates: [Certificate] = [],
                expectedSigners: [Certificate]? = nil, checkRevocation: Bool = false) {
        self.policy = policy
        self.trust = trust
        self.candidates = candidates
        self.expectedSigners = expectedSigners
        self.checkRevocation = checkRevocation
    }

    /// Both phases, for a message whose parts are at hand.
    /// - Parameters:
    ///   - attachments: the message's parts after decryption (`AttachmentDecryptor`); parts still
    ///     encrypted are reported unverifiable.
    ///   - encryptedContentIDs: parts that are still ciphertext.
    ///   - time: when certificates and a wsu:Timestamp are judged.
    ///   - preread: the message's Security header as the caller already read it (for decryption),
    ///     used when it is that very element; else the header is read here.
    ///   - identifiers: the envelope's identifier index, when the caller already built it.
    public func verify(_ message: AS4Message, attachments: [MIMEPart], encryptedContentIDs: Set<String> = [],
                       at time: Date = Date(), header preread: SecurityHeader? = nil,
                       identifiers: IdentifierIndex? = nil) -> SignatureReport {
        checkReferences(authenticate(message, at: time, header: preread, identifiers: identifiers),
                        attachments: attachments, encryptedContentIDs: encryptedContentIDs)
    }

    /// The first phase: the Security header for the ultimate receiver, its one signature, the
    /// algorithms, the form of every reference (how many, URIs, transforms), the signer's key and
    /// the SignatureValue, and the signer's certificate. Nothing a reference points at is read.
    public func authenticate(_ message: AS4Message, at time: Date = Date(), header preread: SecurityHeader? = nil,
                             identifiers: IdentifierIndex? = nil) -> SignatureAuthentication {
        var result = SignatureAuthentication(message: message, time: time)
        let envelope = message.envelope
        // Only the blocks aimed at us (ParsedEnvelope.securityHeaders): another role's are not ours.
        guard envelope.securityHeaders.count <= 1 else {
            result.report.fail(EbmsError(.policyNoncompliance, "more than one wsse:Security header for the ultimate receiver"))
            return result
        }
        guard let securityElement = envelope.securityHeaders.first else {
            result.report.fail(EbmsError(.policyNoncompliance, "the message carries no wsse:Security header: it is not signed"))
            return result
        }
        let header: SecurityHeader
        do {
            if let preread, preread.element == securityElement {
                header = preread
            } else {
                header = try SecurityHeader.read(securityElement)
            }
        } catch {
            result.report.fail(error)
            return result
        }
        result.header = header
        guard header.signatures.count == 1, let signature = header.signatures.first else {
            result.report.fail(EbmsError(header.signatures.isEmpty ? .policyNoncompliance : .failedAuthentication,
                                         header.signatures.isEmpty ? "the message is not signed" : "more than one ds:Signature in wsse:Security"))
            return result
        }
        result.report.signatureMethod = signature.signatureMethod
        result.report.canonicalizationMethod = signature.canonicalizationMethod
        result.report.digestMethods = signature.references.map(\.digestMethod)

        // Algorithms first: nothing is computed with an algorithm the policy does not allow.
        checkAlgorithms(signature, &result.report)

        do throws(EbmsError) {
            if let identifiers { result.identifiers = identifiers } else { result.identifiers = try IdentifierIndex(document: envelope.document) }
        } catch {
            result.report.fail(error)
            return result
        }

        // One reference per signed thing: eb:Messaging, the Body, each attachment, perhaps a
        // Timestamp or a token. Each costs a canonicalisation or a digest of an attachment, so a
        // signature must not choose how many: a SignedInfo with thousands of them is refused, and
        // so is the first URI named twice.
        let attachmentCount = message.attachments.count
        let maxReferences = attachmentCount + Self.referencesBesideAttachments
        guard signature.references.count <= maxReferences else {
            result.report.fail(EbmsError(.failedAuthentication, "SignedInfo has \(signature.references.count) references; "
                                         + "at most \(maxReferences) for a message with \(attachmentCount) attachment(s)"))
            return result
        }
        var seenURIs: Set<String> = []
        for ref in signature.references {
            // An attachment is compared as the part it names: `cid:a@b` and `cid:a%40b` are one.
            let named = ref.uri.hasPrefix("cid:") ? "cid:" + ContentID.normalize(ref.uri) : ref.uri
            if !seenURIs.insert(named).inserted {
                result.report.fail(EbmsError(.failedAuthentication, "ds:Reference URI \(ref.uri) appears twice"))
                return result
            }
            if let error = formProblem(ref)?.error { result.report.fail(error) }
        }
        result.signature = signature

        // SignatureValue over the canonical SignedInfo, with the key the KeyInfo names.
        let resolver = KeyResolver(tokens: header.tokens, candidates: candidates + (trust?.trustStore.anchors ?? []) + (trust?.trustStore.intermediates ?? []))
        do throws(EbmsError) {
            let resolved = try resolver.resolve(signature.keyReference)
            result.report.signer = resolved.certificate
            result.report.signerChain = resolved.chain
            guard let key = try? resolved.certificate.publicKey else {
                throw EbmsError(.failedAuthentication, "the signer certificate holds no usable public key")
            }
            result.report.signatureValueValid = try checkSignatureValue(signature, key: key)
            if result.report.signatureValueValid == false {
                result.report.fail(EbmsError(.failedAuthentication, "the SignatureValue does not verify with the signer's key"))
            }
        } catch {
            result.report.fail(error)
        }
        checkCertificate(at: time, &result.report)
        return result
    }

    /// The second phase, for a signature that authenticated: every reference resolved and
    /// digested (`attachments` as decrypted), coverage, and the wsu:Timestamp. A report that
    /// already failed is returned as it is, unless `examinesUnauthenticated`.
    public func checkReferences(_ authentication: SignatureAuthentication, attachments: [MIMEPart],
                                encryptedContentIDs: Set<String> = []) -> SignatureReport {
        var report = authentication.report
        guard let signature = authentication.signature, let ids = authentication.identifiers,
              report.error == nil || examinesUnauthenticated else { return report }
        let message = authentication.message
        let partsByID = Dictionary(attachments.compactMap { p in p.contentID.map { ($0, p) } }, uniquingKeysWith: { a, _ in a })
        var covered: Set<XMLElement> = []
        var coveredParts: Set<String> = []
        for ref in signature.references {
            let status: SignatureReport.ReferenceStatus
            if let problem = formProblem(ref) {
                status = .invalid(problem.reason)
            } else {
                status = digestReference(ref, ids: ids, signatureElement: signature.element, parts: partsByID,
                                         encrypted: encryptedContentIDs, covered: &covered, coveredParts: &coveredParts)
            }
            report.references.append(.init(uri: ref.uri, digestMethod: ref.digestMethod, status: status))
        }
        for ref in report.references {
            switch ref.status {
            case .digestMismatch: report.fail(EbmsError(.failedAuthentication, "digest mismatch for \(ref.uri)", detail: ref.uri))
            case .invalid(let why): report.fail(EbmsError(.failedAuthentication, why, detail: ref.uri))
            case .valid, .unverifiable: break
            }
        }
        checkCoverage(message, covered: covered, coveredParts: coveredParts, &report)
        checkTimestamp(authentication.header?.timestamp, signed: covered, at: report.evaluatedAt, &report)
        return report
    }

    // MARK: - steps

    func checkAlgorithms(_ signature: SignatureInfo, _ report: inout SignatureReport) {
        if signature.canonicalizationMethod != Alg.excC14N {
            report.fail(EbmsError(.policyNoncompliance, "SignedInfo canonicalization \(signature.canonicalizationMethod) is not exclusive C14N"))
        }
        if !policy.signatureAlgorithms.contains(signature.signatureMethod) {
            if SignatureAlgorithm(uri: signature.signatureMethod) == nil {
                report.fail(EbmsError(.failedAuthentication, "unsupported SignatureMethod \(signature.signatureMethod)"))
            } else {
                report.fail(EbmsError(.policyNoncompliance, "SignatureMethod \(signature.signatureMethod) is not allowed by the policy"))
            }
        }
        for ref in signature.references where !policy.digestAlgorithms.contains(ref.digestMethod) {
            let known = DigestAlgorithm(xmlURI: ref.digestMethod) != nil
            report.fail(EbmsError(known ? .policyNoncompliance : .failedAuthentication,
                                  "DigestMethod \(ref.digestMethod) of \(ref.uri) is \(known ? "not allowed by the policy" : "not supported")"))
        }
    }

    /// Why a reference will not be resolved, judged from SignedInfo alone: its digest algorithm
    /// (already reported by `checkAlgorithms`), its transforms, or a URI that is neither `#id` nor
    /// `cid:`. `reason` is the reference's status, `error` the refusal it adds. Nil: it may be digested.
    func formProblem(_ ref: ReferenceInfo) -> (reason: String, error: EbmsError?)? {
        guard policy.digestAlgorithms.contains(ref.digestMethod), DigestAlgorithm(xmlURI: ref.digestMethod) != nil else {
            return ("digest algorithm \(ref.digestMethod) refused", nil)
        }
        if ref.uri.hasPrefix("#") {
            guard ref.transforms.count == 1, ref.transforms[0].algorithm == Alg.excC14N else {
                return ("transforms not allowed",
                        EbmsError(.policyNoncompliance, "\(ref.uri): same-document references allow exactly one exclusive C14N transform"))
            }
            return nil
        }
        if ref.uri.hasPrefix("cid:") {
            guard ref.transforms.map(\.algorithm) == [Alg.attachmentContentSignature] else {
                return ("transforms not allowed",
                        EbmsError(.policyNoncompliance, "\(ref.uri): attachment references need exactly the Attachment-Content-Signature-Transform"))
            }
            return nil
        }
        return ("only #id and cid: references are allowed",
                EbmsError(.policyNoncompliance, "reference to \(ref.uri.isEmpty ? "the whole document" : "the external URI \(ref.uri)") is not allowed"))
    }

    /// The digest verdict of a reference whose form `formProblem` accepted.
    func digestReference(_ ref: ReferenceInfo, ids: IdentifierIndex, signatureElement: XMLElement, parts: [String: MIMEPart],
                         encrypted: Set<String>, covered: inout Set<XMLElement>,
                         coveredParts: inout Set<String>) -> SignatureReport.ReferenceStatus {
        guard let digest = DigestAlgorithm(xmlURI: ref.digestMethod) else { return .invalid("digest algorithm \(ref.digestMethod) refused") }
        if ref.uri.hasPrefix("#") {
            let id = String(ref.uri.dropFirst())
            guard let target = ids.element(for: id) else { return .invalid("reference target \(ref.uri) does not exist") }
            if signatureElement.isInSubtree(of: target) || target.isInSubtree(of: signatureElement) {
                return .invalid("\(ref.uri) would sign its own signature (enveloped signatures are not allowed)")
            }
            covered.insert(target)
            do {
                let bytes = try Canonicalizer.exclusive(target, inclusivePrefixes: ref.transforms[0].inclusivePrefixes ?? [])
                let computed = try Digest.hash(bytes, algorithm: digest)
                return Digest.constantTimeEquals(computed, ref.digestValue) ? .valid : .digestMismatch
            } catch {
                return .invalid("\(ref.uri) cannot be canonicalised")
            }
        }
        let cid = ContentID.normalize(ref.uri)
        coveredParts.insert(cid)
        if encrypted.contains(cid) { return .unverifiable("the part is encrypted and no decryption key was given") }
        guard let part = parts[cid] else { return .unverifiable("the part is not present") }
        do {
            let computed = try AttachmentDigest.digest(part.body, mediaType: part.contentType, algorithm: digest,
                                                       xmlLimits: attachmentXMLLimits)
            return Digest.constantTimeEquals(computed, ref.digestValue) ? .valid : .digestMismatch
        } catch {
            return .invalid(error.reason)
        }
    }

    func checkSignatureValue(_ signature: SignatureInfo, key: PublicKey) throws(EbmsError) -> Bool {
        guard let algorithm = SignatureAlgorithm(uri: signature.signatureMethod) else {
            throw EbmsError(.failedAuthentication, "unsupported SignatureMethod \(signature.signatureMethod)")
        }
        do {
            let canonical = try Canonicalizer.exclusive(signature.signedInfo, inclusivePrefixes: signature.canonicalizationPrefixes)
            return try Verifier.verify(signature: signature.signatureValue, data: canonical, key: key, algorithm: algorithm,
                                       allowLegacySHA1: policy.signatureAlgorithms.contains(Alg.rsaSHA1))
        } catch {
            throw EbmsError(.failedAuthentication, "the signer's key does not fit \(signature.signatureMethod)")
        }
    }

    /// Coverage is judged against the very elements the parser read the message from.
    func checkCoverage(_ message: AS4Message, covered: Set<XMLElement>, coveredParts: Set<String>, _ report: inout SignatureReport) {
        let envelope = message.envelope
        // A signed eb:Messaging or Body that is not the one processed is a wrapping attack, not a
        // mere gap in coverage.
        for element in covered {
            if element.isElement("Messaging", NS.eb), element != envelope.messagingElement {
                report.fail(EbmsError(.failedAuthentication, "the signed eb:Messaging is not the header that was processed (signature wrapping)"))
            }
            if element.localName == "Body", element.namespaceURI == envelope.soapVersion.namespace, element != envelope.bodyElement {
                report.fail(EbmsError(.failedAuthentication, "the signed SOAP Body is not the Body that was processed (signature wrapping)"))
            }
        }
        if !covered.contains(envelope.messagingElement) {
            report.fail(EbmsError(.policyNoncompliance, "the signature does not cover the eb:Messaging header that was processed"))
        }
        if !covered.contains(envelope.bodyElement) {
            report.fail(EbmsError(.policyNoncompliance, "the signature does not cover the SOAP Body that was processed"))
        }
        for part in message.messaging.userMessage?.payloads ?? [] {
            guard let cid = part.contentID else { continue }
            if !coveredParts.contains(cid) {
                report.fail(EbmsError(.policyNoncompliance, "the attachment \(part.href ?? cid) is not signed", detail: part.href))
            }
        }
        for cid in coveredParts where !(message.messaging.userMessage?.payloads.contains { $0.contentID == cid } ?? false) {
            report.fail(EbmsError(.policyNoncompliance, "the signature references cid:\(cid), which no eb:PartInfo names"))
        }
    }

    func checkCertificate(at time: Date, _ report: inout SignatureReport) {
        guard let signer = report.signer else { return }
        if let expected = expectedSigners, !expected.contains(signer) {
            report.fail(EbmsError(.failedAuthentication, "the message is signed by \(signer.subject), not by the expected party's certificate"))
        }
        if let refusal = CertificatePurpose.signingRefusal(signer) {
            report.fail(EbmsError(.failedAuthentication, "signer certificate \(signer.subject) may not sign messages: \(refusal)"))
        }
        if let trust {
            let result = trust.validate(leaf: signer, intermediates: report.signerChain, at: time, checkRevocation: checkRevocation)
            report.certificate = result
            if !result.isValid {
                report.fail(EbmsError(.failedAuthentication, "signer certificate \(signer.subject): \(result.message)"))
            }
        } else if !signer.isValid(at: time) {
            report.fail(EbmsError(.failedAuthentication, "signer certificate \(signer.subject) is not valid at \(Timestamp(time).lexical) (valid \(Timestamp(signer.notBefore).lexical) to \(Timestamp(signer.notAfter).lexical))"))
        }
    }

    /// A wsu:Timestamp is signed only when a reference resolved to that very element (by node,
    /// as eb:Messaging and the Body are judged): an Id, or the lack of one, proves nothing. One
    /// that is present unsigned is refused, since nothing vouches for its times.
    func checkTimestamp(_ ts: SecurityTimestamp?, signed: Set<XMLElement>, at time: Date, _ report: inout SignatureReport) {
        guard let ts else { return }
        if !signed.contains(ts.element) {
            report.fail(EbmsError(.policyNoncompliance, "wsu:Timestamp is present but not signed"))
        }
        if let created = ts.created, created.date.timeIntervalSince(time) > policy.clockSkew {
            report.fail(EbmsError(.failedAuthentication, "wsu:Timestamp Created \(created.lexical) lies in the future"))
        }
        if let expires = ts.expires, time.timeIntervalSince(expires.date) > policy.clockSkew {
            report.fail(EbmsError(.failedAuthentication, "wsu:Timestamp expired at \(expires.lexical)"))
        }
    }
}

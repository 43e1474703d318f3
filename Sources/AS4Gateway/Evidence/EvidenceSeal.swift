import AS4Crypto
import EnvelopeXML
import Foundation
import WSSecurity

/// The gateway's XMLDSig seal over an evidence bundle (docs/EVIDENCE.md):
///
///     <ev:EvidenceBundle xmlns:ev="urn:as4gw:evidence:1">
///       <ev:Content Id="evidence-content"> … </ev:Content>
///       <ds:Signature> SignedInfo (exc-c14n; one Reference URI="#evidence-content", exc-c14n,
///                      SHA-256) · SignatureValue · KeyInfo/X509Data/X509Certificate </ds:Signature>
///     </ev:EvidenceBundle>
///
/// A detached reference to the one Content element rather than an enveloped signature over the
/// root: the signed bytes are then exactly the canonical Content, and the verifier refuses any
/// other shape (a second Content, an Id elsewhere, extra children), which closes the wrapping
/// attacks an Id reference would otherwise allow.
enum EvidenceSeal {
    static let namespace = "urn:as4gw:evidence:1"
    static let contentId = "evidence-content"
    static let dsNamespace = "http://www.w3.org/2000/09/xmldsig#"
    static let excC14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
    static let sha256URI = "http://www.w3.org/2001/04/xmlenc#sha256"

    /// Seals `content` (the serialized `ev:Content` element, which must carry `Id="evidence-content"`).
    static func seal(content: [UInt8], identity: SigningIdentity) throws -> [UInt8] {
        let open = Array("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ev:EvidenceBundle xmlns:ev=\"\(namespace)\">".utf8)
        let close = Array("</ev:EvidenceBundle>\n".utf8)
        // The digest is taken over the Content as a verifier will see it: parsed in place, then
        // canonicalised (the namespace declaration moves onto it).
        let unsigned = try XMLDocument(parsing: open + content + close, limits: limits)
        guard let element = unsigned.root?.firstChild("Content", namespace) else {
            throw EvidenceError("the evidence content did not parse as ev:Content")
        }
        let digest = try Digest.sha256(try Canonicalizer.exclusive(element))
        let algorithm = identity.defaultAlgorithm
        let signedInfo = canonicalSignedInfo(digest: digest, signatureMethod: algorithm.uri)
        let value = try Signer.sign(data: signedInfo, key: identity.privateKey, algorithm: algorithm)
        var w = XMLWriter(capacity: 4096)
        w.open("ds:Signature", [("xmlns:ds", dsNamespace)])
        w.raw(signedInfo)
        w.element("ds:SignatureValue", text: Data(value).base64EncodedString())
        w.open("ds:KeyInfo")
        w.open("ds:X509Data")
        w.element("ds:X509Certificate", text: Data(identity.certificate.derBytes).base64EncodedString())
        w.close("ds:X509Data")
        w.close("ds:KeyInfo")
        w.close("ds:Signature")
        return open + content + Array("\n".utf8) + w.bytes + Array("\n".utf8) + close
    }

    /// SignedInfo written directly in its exclusive-canonical form (what is signed is what is embedded).
    static func canonicalSignedInfo(digest: [UInt8], signatureMethod: String) -> [UInt8] {
        Array(("<ds:SignedInfo xmlns:ds=\"\(dsNamespace)\">"
            + "<ds:CanonicalizationMethod Algorithm=\"\(excC14N)\"></ds:CanonicalizationMethod>"
            + "<ds:SignatureMethod Algorithm=\"\(signatureMethod)\"></ds:SignatureMethod>"
            + "<ds:Reference URI=\"#\(contentId)\"><ds:Transforms><ds:Transform Algorithm=\"\(excC14N)\"></ds:Transform></ds:Transforms>"
            + "<ds:DigestMethod Algorithm=\"\(sha256URI)\"></ds:DigestMethod><ds:DigestValue>\(Data(digest).base64EncodedString())</ds:DigestValue>"
            + "</ds:Reference></ds:SignedInfo>").utf8)
    }

    /// Bundles hold receipts and every event of a document: larger than an envelope header.
    static let limits = XMLLimits(maxBytes: 64 << 20, maxDepth: 32, maxNodes: 2_000_000)

    /// What the seal says once checked.
    struct Checked {
        var content: XMLElement
        var signer: Certificate
        var document: XMLDocument
    }

    /// Checks the shape, the digest, the signature and the signer's chain to `anchors`; throws
    /// an `EvidenceError` naming the first thing that fails.
    static func verify(_ bytes: [UInt8], anchors: [Certificate], at time: Date) throws -> Checked {
        let document: XMLDocument
        do {
            document = try XMLDocument(parsing: bytes, limits: limits)
        } catch {
            throw EvidenceError("not well-formed XML: \(error)")
        }
        guard let root = document.root, root.isElement("EvidenceBundle", namespace) else {
            throw EvidenceError("the root element is not ev:EvidenceBundle (\(namespace))")
        }
        let children = root.children
        guard children.count == 2, children[0].isElement("Content", namespace), children[1].isElement("Signature", dsNamespace) else {
            throw EvidenceError("ev:EvidenceBundle must hold exactly ev:Content and then ds:Signature")
        }
        let content = children[0], signature = children[1]
        guard content.attribute("Id") == contentId else { throw EvidenceError("ev:Content must carry Id=\"\(contentId)\"") }
        let withIds = root.descendantsAndSelf().filter { e in ["Id", "ID", "id"].contains { e.attribute($0) != nil } }
        guard withIds.count == 1 else { throw EvidenceError("only ev:Content may carry an Id attribute") }

        guard let signedInfo = signature.firstChild("SignedInfo", dsNamespace),
              let valueText = signature.firstChild("SignatureValue", dsNamespace)?.trimmedText,
              let certText = signature.firstChild("KeyInfo", dsNamespace)?.firstChild("X509Data", dsNamespace)?
                .firstChild("X509Certificate", dsNamespace)?.trimmedText else {
            throw EvidenceError("ds:Signature lacks SignedInfo, SignatureValue or KeyInfo/X509Data/X509Certificate")
        }
        let references = signedInfo.children("Reference", dsNamespace)
        guard signedInfo.firstChild("CanonicalizationMethod", dsNamespace)?.attribute("Algorithm") == excC14N,
              references.count == 1, let reference = references.first, reference.attribute("URI") == "#\(contentId)",
              let transforms = reference.firstChild("Transforms", dsNamespace)?.children("Transform", dsNamespace),
              transforms.map({ $0.attribute("Algorithm") }) == [excC14N],
              reference.firstChild("DigestMethod", dsNamespace)?.attribute("Algorithm") == sha256URI,
              let digestText = reference.firstChild("DigestValue", dsNamespace)?.trimmedText,
              let expectedDigest = Data(base64Encoded: digestText) else {
            throw EvidenceError("ds:SignedInfo is not the seal's: exc-c14n, one SHA-256 reference to #\(contentId)")
        }
        guard let methodURI = signedInfo.firstChild("SignatureMethod", dsNamespace)?.attribute("Algorithm"),
              let algorithm = SignatureAlgorithm(uri: methodURI), !algorithm.isLegacy else {
            throw EvidenceError("unsupported signature method")
        }
        let actualDigest = try Digest.sha256(try Canonicalizer.exclusive(content))
        guard Digest.constantTimeEquals(actualDigest, [UInt8](expectedDigest)) else {
            throw EvidenceError("the content's digest does not match the sealed one: the bundle was changed after sealing")
        }
        let signer: Certificate
        do {
            signer = try Certificate(base64DER: certText)
        } catch {
            throw EvidenceError("the sealing certificate does not parse: \(error)")
        }
        guard let value = Data(base64Encoded: valueText, options: .ignoreUnknownCharacters),
              (try? Verifier.verify(signature: value, data: try Canonicalizer.exclusive(signedInfo), key: signer.publicKey,
                                    algorithm: algorithm)) == true else {
            throw EvidenceError("the seal's signature value does not verify with the sealing certificate (\(signer.subject))")
        }
        // Judged when it sealed (the time the sealed content states), so a bundle stays
        // verifiable after the gateway's certificate has expired.
        let sealedAt = content.firstChild("Message", namespace)?.attribute("generatedAt").flatMap(EvidenceBundle.parseTime) ?? time
        let chain = CertificateValidator(trustStore: try TrustStore(anchors: anchors)).validate(leaf: signer, at: sealedAt)
        guard chain.isValid else {
            throw EvidenceError("the sealing certificate (\(signer.subject)) is not trusted: \(chain.message)")
        }
        return Checked(content: content, signer: signer, document: document)
    }
}

struct EvidenceError: Error, CustomStringConvertible, Equatable {
    var description: String
    init(_ description: String) { self.description = description }
}

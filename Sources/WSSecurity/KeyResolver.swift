import AS4Crypto
import EnvelopeXML

/// Resolves a SecurityTokenReference to a certificate: a BinarySecurityToken of the same header
/// for direct references, otherwise a lookup among candidate certificates we already hold
/// (P-Mode, truststore, `--certs`). A certificate that merely happens to be elsewhere in the
/// message is never used for SKI or issuer/serial references (AS4-WIRE §3.5).
public struct KeyResolver {
    public var tokens: [BinarySecurityToken]
    public var candidates: [Certificate]

    public init(tokens: [BinarySecurityToken], candidates: [Certificate]) {
        self.tokens = tokens
        self.candidates = candidates
    }

    /// The certificate and, for PkiPath tokens, the rest of the path the sender sent with it.
    public struct Resolved {
        public var certificate: Certificate
        public var chain: [Certificate]
    }

    public func resolve(_ reference: KeyReference?) throws(EbmsError) -> Resolved {
        guard let reference else {
            // No KeyInfo: only unambiguous when the header carries exactly one token.
            guard tokens.count == 1 else { throw EbmsError(.failedAuthentication, "ds:Signature has no KeyInfo") }
            return try fromToken(tokens[0])
        }
        switch reference {
        case .tokenReference(let id, _):
            guard let token = tokens.first(where: { $0.id == id }) else {
                throw EbmsError(.failedAuthentication, "SecurityTokenReference names #\(id), which is no BinarySecurityToken of this header")
            }
            return try fromToken(token)
        case .subjectKeyIdentifier(let ski):
            // The extension's value first: a certificate it names is the one meant even when
            // another candidate without the extension has the same key (a renewal, say).
            if let c = candidates.first(where: { $0.subjectKeyIdentifier == ski })
                ?? candidates.first(where: { $0.isNamedByComputedSubjectKeyIdentifier(ski) }) {
                return Resolved(certificate: c, chain: [])
            }
            throw EbmsError(.failedAuthentication, "no known certificate has the Subject Key Identifier \(hex(ski))")
        case .thumbprintSHA1(let thumb):
            if let c = candidates.first(where: { $0.sha1Thumbprint == thumb }) { return Resolved(certificate: c, chain: []) }
            throw EbmsError(.failedAuthentication, "no known certificate has the SHA-1 thumbprint \(hex(thumb))")
        case .issuerSerial(let issuer, let serial):
            if let c = candidates.first(where: { $0.matches(issuerName: issuer, serialNumber: serial) }) {
                return Resolved(certificate: c, chain: [])
            }
            throw EbmsError(.failedAuthentication, "no known certificate is issued by \(issuer) with serial \(serial)")
        case .embeddedCertificate(let der):
            do {
                return Resolved(certificate: try CertificateCache.certificate(derEncoded: der), chain: [])
            } catch {
                throw EbmsError(.failedAuthentication, "ds:X509Certificate is not a valid certificate")
            }
        case .encryptedKey(let id):
            throw EbmsError(.failedAuthentication, "a signature cannot be keyed by the EncryptedKey #\(id)")
        }
    }

    func fromToken(_ token: BinarySecurityToken) throws(EbmsError) -> Resolved {
        do {
            switch token.valueType {
            case Alg.x509PKIPath?:
                let path = try CertificateCache.pkiPathLeafFirst(token.der)
                guard let leaf = path.first else { throw EbmsError(.failedAuthentication, "empty PkiPath token") }
                return Resolved(certificate: leaf, chain: Array(path.dropFirst()))
            case Alg.x509v3?, nil:
                return Resolved(certificate: try CertificateCache.certificate(derEncoded: token.der), chain: [])
            case let other?:
                throw EbmsError(.policyNoncompliance, "BinarySecurityToken ValueType \(other) is not an X.509 token")
            }
        } catch let e as EbmsError {
            throw e
        } catch {
            throw EbmsError(.failedAuthentication, "BinarySecurityToken holds no valid certificate")
        }
    }
}

extension Certificate {
    /// Whether an X509SubjectKeyIdentifier KeyIdentifier names this certificate, which has no
    /// subjectKeyIdentifier extension, by the value computed from its key. WSS4J (Domibus and
    /// Harmony, phase4, most Java AS4 gateways) writes SHA-1 over the subjectPublicKey bits (RFC
    /// 5280 §4.2.1.2 method (1); `CryptoBase.getSKIBytesFromCert`) for such a certificate, in a
    /// signature's KeyInfo and in an EncryptedKey naming its recipient. A certificate with the
    /// extension is named by the extension's value only, whatever its key hashes to: a CA may
    /// derive the extension otherwise (RFC 7093), and then the computed value names nothing.
    /// We never write a computed value ourselves (BSP R5206; `KeyReferenceCheck`).
    func isNamedByComputedSubjectKeyIdentifier(_ ski: [UInt8]) -> Bool {
        subjectKeyIdentifier == nil && subjectPublicKeySHA1 == ski
    }
}

func hex(_ bytes: [UInt8]) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var out: [UInt8] = []
    for b in bytes { out.append(digits[Int(b >> 4)]); out.append(digits[Int(b & 15)]) }
    return String(decoding: out, as: UTF8.self)
}

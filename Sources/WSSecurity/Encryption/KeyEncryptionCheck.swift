import AS4Crypto
import EnvelopeXML

/// How the content-encryption key of one `xenc:EncryptedKey` is to be recovered, once its
/// algorithms have passed the policy.
enum KeyTransport {
    /// RSA-OAEP key transport (eDelivery 1.x, and the legacy `rsa-oaep-mgf1p`).
    case rsaOAEP(RSAOAEP.Parameters)
    /// Key agreement + HKDF + AES-128 key wrap (eDelivery 2.0).
    case agreement(KeyAgreementKind, HKDFParameters, OriginatorKey)
}

enum KeyAgreementKind: Equatable {
    case x25519
    case ecdhES(ECCurve)
}

/// The algorithm rules for an `xenc:EncryptedKey` (AS4-WIRE §3.6, §3.8, §7.4). A violation is
/// EBMS:0103 naming the algorithm; whatever the policy says, RSA 1.5 and OAEP labels are refused.
enum KeyEncryptionCheck {
    static func check(_ key: EncryptedKeyInfo, policy: SecurityPolicy) throws(EbmsError) -> KeyTransport {
        let name = key.id.map { "xenc:EncryptedKey #\($0)" } ?? "xenc:EncryptedKey"
        if key.algorithm == Alg.rsa15 {
            // PKCS#1 v1.5 decryption is a padding oracle by construction; no policy may enable it.
            throw violation("\(name) uses RSA 1.5 key transport (\(Alg.rsa15)), which is never accepted")
        }
        if let agreement = key.agreement {
            return try checkAgreement(agreement, keyWrap: key.algorithm, name: name, policy: policy)
        }
        switch key.algorithm {
        case Alg.rsaOAEP11, Alg.rsaOAEPMGF1P: break
        case Alg.kwAES128:
            throw violation("\(name) wraps the key with \(key.algorithm) but has no xenc:AgreementMethod (pre-shared keys are not supported)")
        default:
            throw violation("\(name) uses the key transport algorithm \(key.algorithm), which is not supported")
        }
        guard policy.keyEncryptionAlgorithms.contains(key.algorithm) else {
            throw violation("\(name) uses the key transport algorithm \(key.algorithm), which the policy does not allow")
        }
        guard !key.hasOAEPParams else {
            throw violation("\(name) carries xenc:OAEPparams; OAEP labels are not accepted")
        }
        guard let parameters = RSAOAEP.Parameters(algorithmURI: key.algorithm, digestURI: key.oaepDigest, mgfURI: key.mgf) else {
            throw violation("\(name) names an OAEP digest (\(key.oaepDigest ?? "default")) or MGF (\(key.mgf ?? "default")) that is not supported")
        }
        // The MGF in force, explicit or by default (rsa-oaep-mgf1p and an absent xenc11:MGF mean MGF1-SHA1).
        let mgf = RSAOAEP.Parameters.mgfURI(for: parameters.mgf1Digest)
        guard policy.mgfAlgorithms.contains(mgf) else {
            throw violation("\(name) uses the mask generation function \(mgf), which the policy does not allow")
        }
        // The OAEP digest in force, explicit or by default (SHA-1 when ds:DigestMethod is absent).
        guard policy.oaepDigestAlgorithms.contains(parameters.digest.xmlURI) else {
            throw violation("\(name) uses the OAEP digest \(parameters.digest.xmlURI), which the policy does not allow")
        }
        return .rsaOAEP(parameters)
    }

    static func checkAgreement(_ agreement: KeyAgreementInfo, keyWrap: String, name: String,
                               policy: SecurityPolicy) throws(EbmsError) -> KeyTransport {
        guard keyWrap == Alg.kwAES128 else {
            throw violation("\(name) wraps the agreed key with \(keyWrap); only \(Alg.kwAES128) is accepted")
        }
        guard policy.keyEncryptionAlgorithms.contains(agreement.algorithm) else {
            throw violation("\(name) uses the key agreement algorithm \(agreement.algorithm), which the policy does not allow")
        }
        guard agreement.keyDerivation == Alg.hkdf else {
            throw violation("\(name) uses the key derivation \(agreement.keyDerivation); only \(Alg.hkdf) is accepted")
        }
        guard let hkdf = agreement.hkdf else { throw violation("\(name) has no dsig-more:HKDFParams") }
        guard hkdf.prf == Alg.hmacSHA256 else {
            throw violation("\(name) uses the HKDF PRF \(hkdf.prf.isEmpty ? "(none)" : hkdf.prf); only \(Alg.hmacSHA256) is accepted")
        }
        // kw-aes128 needs a 16-byte key-encryption key; any other length is a mismatch to refuse,
        // not to truncate.
        guard hkdf.keyLength == 16 else {
            throw violation("\(name) derives a key of \(hkdf.keyLength) bytes, but \(Alg.kwAES128) needs 16")
        }
        let kind: KeyAgreementKind
        switch (agreement.algorithm, agreement.originator) {
        case (Alg.x25519, .subjectPublicKeyInfo):
            kind = .x25519
        case (Alg.ecdhES, .ecPoint(let curveURI, _)):
            guard let curve = ECCurve(urn: curveURI) else {
                throw violation("\(name) uses the curve \(curveURI), which is not supported")
            }
            kind = .ecdhES(curve)
        case (Alg.x25519, _), (Alg.ecdhES, _):
            throw violation("the OriginatorKeyInfo of \(name) does not fit \(agreement.algorithm)")
        default:
            throw violation("\(name) uses the key agreement algorithm \(agreement.algorithm), which is not supported")
        }
        return .agreement(kind, hkdf, agreement.originator)
    }

    static func violation(_ reason: String) -> EbmsError { EbmsError(.policyNoncompliance, reason) }
}

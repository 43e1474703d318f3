import AS4Crypto
import EnvelopeXML
import Foundation

/// What the verifier found, reference by reference, and the one ebMS error that decides.
public struct SignatureReport {
    public enum ReferenceStatus: Equatable, Sendable {
        case valid
        case digestMismatch
        /// The part is absent (envelope captured alone) or still encrypted: nothing to digest.
        case unverifiable(String)
        case invalid(String)
    }

    public struct Reference {
        public var uri: String
        public var digestMethod: String
        public var status: ReferenceStatus
    }

    public var signatureMethod: String?
    public var canonicalizationMethod: String?
    public var digestMethods: [String] = []
    public var references: [Reference] = []
    /// nil when never checked (e.g. the signing key could not be found).
    public var signatureValueValid: Bool?
    public var signer: Certificate?
    public var signerChain: [Certificate] = []
    public var certificate: ValidationResult?
    /// The time certificates and timestamps were judged at.
    public var evaluatedAt: Date = Date()
    /// The first rule broken, in processing order; nil means the signature is valid and trusted.
    public var error: EbmsError?

    public var isValid: Bool { error == nil }

    /// SignatureValue and every reference that could be checked verify: the mathematical verdict,
    /// independent of trust, time and coverage policy.
    public var isCryptographicallyValid: Bool {
        signatureValueValid == true && references.allSatisfy {
            switch $0.status {
            case .valid, .unverifiable: return true
            case .digestMismatch, .invalid: return false
            }
        }
    }

    mutating func fail(_ error: EbmsError) {
        if self.error == nil { self.error = error }
    }
}

import AS4Crypto
import EnvelopeXML
import Foundation

/// The first phase of `SignatureVerifier`: what the SignedInfo and the signer decide, judged
/// before anything a reference points at is parsed, decrypted or digested. A message that fails
/// here has cost its envelope and one signature check, however large its attachments are.
public struct SignatureAuthentication {
    /// The verdict so far. An error here is final: the second phase only adds to a report
    /// without one (or, for `SignatureVerifier.examinesUnauthenticated`, records its findings).
    public internal(set) var report: SignatureReport
    /// The message's one `ds:Signature`, once the Security header could be read.
    public internal(set) var signature: SignatureInfo?
    var header: SecurityHeader?
    var identifiers: IdentifierIndex?
    let message: AS4Message

    init(message: AS4Message, time: Date) {
        self.message = message
        report = SignatureReport()
        report.evaluatedAt = time
    }

    /// The SignatureValue verifies over the canonical SignedInfo with the signer's key, and the
    /// signer is a certificate we expect, trusted and valid (as far as the verifier was asked to
    /// judge trust and expectation).
    public var isAuthenticated: Bool { report.error == nil && signature != nil }
}

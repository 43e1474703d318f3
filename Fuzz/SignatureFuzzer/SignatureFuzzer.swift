import AS4Crypto
import EnvelopeXML
import Foundation
import WSSecurity

/// libFuzzer entry point: one input through the receiving security pipeline as `as4gw verify`
/// runs it: read the message, read the `wsse:Security` header, decrypt the attachments with the
/// fixed keys, verify the signature against the fixed truststore at the message's own time.
///
/// The verifier must refuse or accept, never crash; and an acceptance must be one it can stand
/// behind: a checked SignatureValue, a trusted signer, and no reference that failed.
@_cdecl("LLVMFuzzerTestOneInput")
public func signatureFuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let raw = try? MessageInput.load(bytes: bytes), let message = try? AS4Message.read(raw) else { return 0 }
    let material = FuzzKeyMaterial.shared

    var attachments = message.attachments
    var stillEncrypted = message.envelope.encryptedContentIDs
    if let security = message.envelope.securityHeaders.first, let header = try? SecurityHeader.read(security),
       !stillEncrypted.isEmpty,
       let decrypted = try? AttachmentDecryptor.decrypt(message, header: header, keys: material.decryptionKeys,
                                                        policy: .receiving, spoolDirectory: nil) {
        attachments = decrypted
        stillEncrypted = []
    }

    // The message's own time, so that the vectors' long-expired signers still chain; a fixed
    // fallback keeps every run of an input the same.
    let time = message.messaging.primary?.messageInfo.timestamp.date ?? Date(timeIntervalSince1970: 1_600_000_000)
    let verifier = SignatureVerifier(policy: .receiving, trust: material.trust, candidates: material.candidates)
    let report = verifier.verify(message, attachments: attachments, encryptedContentIDs: stillEncrypted, at: time)
    if report.isValid {
        let failed = report.references.filter {
            switch $0.status {
            case .valid, .unverifiable: return false
            case .digestMismatch, .invalid: return true
            }
        }
        guard report.signatureValueValid == true, report.signer != nil, report.certificate?.isValid == true,
              !report.references.isEmpty, failed.isEmpty else {
            fatalError("accepted without grounds: signatureValue \(String(describing: report.signatureValueValid)), "
                       + "signer \(String(describing: report.signer)), certificate \(String(describing: report.certificate)), "
                       + "references \(report.references.map { "\($0.uri)=\($0.status)" })")
        }
    }
    return 0
}

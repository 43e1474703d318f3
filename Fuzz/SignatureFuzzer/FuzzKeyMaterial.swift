import AS4Crypto
import Foundation
import WSSecurity

/// The fixed truststore, candidate certificates and decryption keys every input is judged
/// against: the ones the shared interop vectors ship with, read from `../shared/interop/vectors`
/// in place. With them the seeds verify and decrypt for real, so mutations start from messages
/// that get past the cheap checks into digests, signature values, chains and GCM.
struct FuzzKeyMaterial: Sendable {
    let anchors: [Certificate]
    let candidates: [Certificate]
    let trust: CertificateValidator
    let decryptionKeys: [DecryptionKey]

    static let shared: FuzzKeyMaterial = {
        do {
            return try FuzzKeyMaterial(vectors: vectorsDirectory())
        } catch {
            fatalError("cannot load the fuzzing key material from the interop vectors: \(error)")
        }
    }()

    init(vectors: String) throws {
        func certificates(_ relative: String) throws -> [Certificate] {
            try Certificate.certificates(fromFile: vectors + "/" + relative)
        }
        func key(_ keyPath: String, _ certPath: String) throws -> DecryptionKey {
            DecryptionKey(privateKey: try PrivateKey(pemEncoded: try String(contentsOfFile: vectors + "/" + keyPath, encoding: .utf8)),
                          certificate: try Certificate(pemEncoded: try String(contentsOfFile: vectors + "/" + certPath, encoding: .utf8)))
        }
        // Signers of the vectors whose verdict is "valid" (self-signed ones are their own anchor),
        // and the PEPPOL test CAs the receipt signers chain to.
        anchors = try ["as4net/keys/AccessPointA.cert.pem", "as4net/keys/AccessPointB.cert.pem",
                       "as4net/keys/holodeck-partya.cert.pem", "phase4/keys/dummy-pw-test.ph-as4.cert.pem",
                       "phase4/keys/peppol-expired-ap-cert.chain.pem", "harmony/keys/red_gw.cert.pem"].flatMap(certificates)
        candidates = anchors + (try ["as4net/keys/partyC.cert.pem", "as4net/keys/certificate-as4.cert.pem",
                                     "harmony/keys/blue_gw.cert.pem"].flatMap(certificates))
        trust = CertificateValidator(trustStore: try TrustStore(anchors: anchors))
        // The recipients of the encrypted vectors (EXPECTED.tsv, decrypt_key).
        decryptionKeys = [try key("as4net/keys/AccessPointB.key.pem", "as4net/keys/AccessPointB.cert.pem"),
                          try key("as4net/keys/partyC.key.pem", "as4net/keys/partyC.cert.pem"),
                          try key("as4net/keys/holodeck-partya.key.pem", "as4net/keys/holodeck-partya.cert.pem"),
                          try key("harmony/keys/red_gw.key.pem", "harmony/keys/red_gw.cert.pem")]
    }

    /// `shared/interop/vectors` beside the project root (the directory holding Package.swift), as
    /// the test targets find it.
    static func vectorsDirectory() -> String {
        var url = URL(fileURLWithPath: #filePath)
        while url.path != "/" {
            url.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { break }
        }
        return url.deletingLastPathComponent().appendingPathComponent("shared/interop/vectors").path
    }
}

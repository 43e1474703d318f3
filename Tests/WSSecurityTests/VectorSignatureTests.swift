import XCTest
import AS4Crypto
import EnvelopeXML
@testable import WSSecurity

/// The signature verdict of every signed vector, as EXPECTED.tsv states it.
final class VectorSignatureTests: XCTestCase {
    static var vectors: URL { SecurityHeaderReadTests.vectors }

    struct Row {
        var fields: [String: String]
        subscript(_ k: String) -> String? { fields[k].flatMap { $0 == "-" || $0.isEmpty ? nil : $0 } }
    }

    static let rows: [Row] = {
        guard let text = try? String(contentsOf: vectors.appendingPathComponent("EXPECTED.tsv"), encoding: .utf8) else { return [] }
        var lines = text.split(separator: "\n").map { $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init) }
        let header = lines.removeFirst()
        return lines.map { Row(fields: Dictionary(uniqueKeysWithValues: zip(header, $0))) }
    }()

    /// Every certificate shipped with the vectors: candidates for SKI and issuer/serial lookups.
    static let allCertificates: [Certificate] = {
        var out: [Certificate] = []
        for source in ["phase4", "harmony", "as4net", "holodeck"] {
            let dir = vectors.appendingPathComponent("\(source)/keys")
            for name in (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
            where name.hasSuffix(".pem") || name.hasSuffix(".crt") || name.hasSuffix(".cer") {
                out += (try? Certificate.certificates(fromFile: dir.appendingPathComponent(name).path)) ?? []
            }
        }
        return out
    }()

    func testEverySignedVectorGetsItsSignatureVerdict() throws {
        var checked = 0
        for row in Self.rows where row["signed"] == "yes" && row["parse"] != "fail" {
            let path = Self.vectors.appendingPathComponent(row.fields["path"]!).path
            let message = try AS4Message.read(try MessageInput.load(path: path))
            let verifier = SignatureVerifier(policy: .receiving, trust: nil, candidates: Self.allCertificates)
            let report = verifier.verify(message, attachments: message.attachments,
                                         encryptedContentIDs: message.envelope.encryptedContentIDs,
                                         at: message.messaging.units.first!.messageInfo.timestamp.date)
            let expectValid = row["signature"] == "valid"
            XCTAssertEqual(report.isCryptographicallyValid, expectValid,
                           "\(row.fields["path"]!): \(report.error?.description ?? "no error") refs=\(report.references.map { "\($0.uri)=\($0.status)" })")
            if !expectValid {
                XCTAssertTrue([.failedAuthentication, .policyNoncompliance].contains(report.error?.code), row.fields["path"]!)
            }
            // Certificate validity at the message's own time and on the table's reference day.
            if let signer = report.signer {
                let messageTime = message.messaging.units.first!.messageInfo.timestamp.date
                if let atMessage = row["cert_valid_at_message_time"] {
                    XCTAssertEqual(signer.isValid(at: messageTime), atMessage == "yes", "validity at message time: \(row.fields["path"]!)")
                }
                if let now = row["cert_valid_now_2026_11_27"] {
                    XCTAssertEqual(signer.isValid(at: Timestamp(lexical: "2026-11-27T12:00:00Z")!.date), now == "yes", "validity now: \(row.fields["path"]!)")
                }
            }
            checked += 1
        }
        XCTAssertGreaterThanOrEqual(checked, 20)
    }

    func testStrictVerdictsNameTheRuleBroken() throws {
        func report(_ relative: String, trust: [String] = [], at: String? = nil) throws -> SignatureReport {
            let message = try AS4Message.read(try MessageInput.load(path: Self.vectors.appendingPathComponent(relative).path))
            let anchors = try trust.flatMap { try Certificate.certificates(fromFile: Self.vectors.appendingPathComponent($0).path) }
            let validator = anchors.isEmpty ? nil : CertificateValidator(trustStore: try TrustStore(anchors: anchors))
            let time = at.flatMap { Timestamp(lexical: $0)?.date } ?? message.messaging.units.first!.messageInfo.timestamp.date
            return SignatureVerifier(policy: .receiving, trust: validator, candidates: Self.allCertificates)
                .verify(message, attachments: message.attachments, at: time)
        }
        // Fully valid with its trust anchor at message time; expired today.
        XCTAssertNil(try report("as4net/signed-mime/signed_holodeck_message.as4", trust: ["as4net/keys/AccessPointB.cert.pem"]).error)
        let governikus = try report("phase4/signed-receipt/governikus.as4in", trust: ["phase4/keys/peppol-expired-ap-cert.chain.pem"])
        XCTAssertNil(governikus.error, "\(String(describing: governikus.error))")
        let expired = try report("phase4/signed-receipt/governikus.as4in", trust: ["phase4/keys/peppol-expired-ap-cert.chain.pem"], at: "2026-11-27T12:00:00Z")
        XCTAssertEqual(expired.error?.code, .failedAuthentication)
        XCTAssertTrue(expired.error?.reason.contains("expired") ?? false, "\(String(describing: expired.error))")
        // Signed by a certificate the truststore does not know.
        let unknown = try report("as4net/signed-mime/signed_holodeck_message.as4", trust: ["as4net/keys/AccessPointA.cert.pem"])
        XCTAssertEqual(unknown.error?.code, .failedAuthentication)
        // Unsupported algorithm: the signature cannot be validated.
        XCTAssertEqual(try report("phase4/tampered/WrongSigningAlgorithm.xml").error?.code, .failedAuthentication)
        // A receipt whose signature leaves eb:Messaging out.
        XCTAssertEqual(try report("phase4/signed-receipt/TestReceipt11.xml").error?.code, .policyNoncompliance)
    }
}

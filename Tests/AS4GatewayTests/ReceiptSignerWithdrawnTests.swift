@testable import AS4Gateway
import AS4Crypto
import Foundation
import HTTPClient
import HTTPServer
import MessageStore
import XCTest

/// A receipt is taken only when signed with a signing certificate the P-Mode lists for the
/// responder now (`OutboundWorkers.checkReceipt` says why). Pinned here for the case that looks
/// like a false refusal: gw-b renewed its certificate, the overlap ended and gw-a withdrew the old
/// one, and gw-b answers a resent duplicate with the receipt it stored, signed with the old key.
final class ReceiptSignerWithdrawnTests: XCTestCase {
    var harness: GatewayHarness!

    override func tearDown() { harness = nil }

    func testAReceiptSignedWithAWithdrawnCertificateIsRefusedAlsoForAResentDuplicate() throws {
        harness = try GatewayHarness()
        try harness.configure(["gw-a", "gw-b"])
        let a = try InProcessNode(harness, party: "gw-a")
        let b = try InProcessNode(harness, party: "gw-b")  // signs with certs/gw-b.signing.pem throughout
        let certs = harness.pmodeDirectory + "/certs"

        _ = try a.submit(to: "gw-b")
        let job = try a.claim()
        let sent = try job.messageBytes.map { [UInt8]($0) } ?? [UInt8](Data(contentsOf: URL(fileURLWithPath: job.messagePath)))
        func answer() -> HTTPClientResponse {
            let r = b.post(InboundProcessor(context: b.context), path: "/as4", contentType: job.contentType, body: sent)
            return HTTPClientResponse(status: r.status, headers: r.headers.map { ($0.name, $0.value) }, body: r.bodyBytes,
                                      elapsed: 0, newConnections: 0)
        }
        let workers = OutboundWorkers(context: a.context)
        let original = answer()
        guard case .success = workers.judge(original, job) else { return XCTFail("the first receipt: \(workers.judge(original, job))") }

        // gw-b's renewed certificate is listed beside the old one (the overlap): still taken.
        let ca = try CertificateAuthority(key: try KeyMaterial.privateKey(certs + "/dev-ca.key"),
                                          certificate: try KeyMaterial.certificate(certs + "/dev-ca.pem"))
        let renewed = try ca.issueCertificate(for: try PrivateKey.generateRSA(bits: 2048).publicKey, subject: .init(commonName: "gw-b signing 2027"),
                                              validFrom: Date() - 60, validUntil: Date() + 86_400, keyUsage: [.digitalSignature, .nonRepudiation])
        try renewed.pemEncoded().write(toFile: certs + "/gw-b.signing-2027.pem", atomically: true, encoding: .utf8)
        let parties = harness.pmodeDirectory + "/parties.json"
        let text = try String(contentsOfFile: parties, encoding: .utf8)
        func list(_ signing: String) throws {
            let listed = text.replacingOccurrences(of: "\"signing\": [\"certs/gw-b.signing.pem\"]", with: "\"signing\": [\(signing)]")
            XCTAssertNotEqual(listed, text)
            try listed.write(toFile: parties, atomically: true, encoding: .utf8)
            XCTAssertEqual(a.context.registry.reload(from: harness.pmodeDirectory, requiredParties: ["gw-a"]), [])
        }
        try list("\"certs/gw-b.signing.pem\", \"certs/gw-b.signing-2027.pem\"")
        guard case .success = workers.judge(original, job) else { return XCTFail("during the overlap: \(workers.judge(original, job))") }

        // The overlap ended and gw-a withdrew the old certificate. gw-b answers the resend with the
        // receipt it stored, signed with the old key: refused as signed by no certificate of
        // gw-b's, so the message is retried and, if nobody restores the old certificate, fails.
        try list("\"certs/gw-b.signing-2027.pem\"")
        let duplicate = answer()
        XCTAssertEqual(duplicate.body, original.body, "gw-b answers the duplicate with its stored receipt")
        guard case .failure(let refusal) = workers.judge(duplicate, job) else { return XCTFail("the withdrawn certificate's receipt was taken") }
        XCTAssertEqual(refusal.code, "EBMS:0302", "\(refusal)")
        XCTAssertTrue(refusal.reason.contains("not by the expected party's certificate"), refusal.reason)

        // Listing the old certificate again (what the docs tell an operator to do until such
        // messages are settled) takes it.
        try list("\"certs/gw-b.signing.pem\", \"certs/gw-b.signing-2027.pem\"")
        guard case .success = workers.judge(duplicate, job) else { return XCTFail("relisted: \(workers.judge(duplicate, job))") }
    }
}

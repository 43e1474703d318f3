@testable import AS4Gateway
import EnvelopeXML
import Foundation
import HTTPClient
import MessageStore
import XCTest

/// A receiving side that refuses a document (an HTTP 413, an ebMS error) still gets the
/// agreement's retries, but its DMS sees the refusal while they go on, and the final Failed
/// carries the last answer of the peer rather than a transport error of a later attempt.
final class PeerRefusalTests: AnswerProxyTestCase {
    static let sender = "DVS@90000048472"
    static let company = "_DEFAULT@40003032949"

    func setUpExchange(proxyMode: String?, companyMaxBytes: Int? = nil) throws -> BackendClient {
        harness = try GatewayHarness()
        try harness.configure(["gw-a", "gw-b"], legs: [GatewayHarness.Leg(), GatewayHarness.Leg(action: "EAddressDocument", retries: 2, interval: 2), GatewayHarness.Leg(action: "EAddressStatus")])
        try harness.importDirectory("gw-a", [harness.remoteEntry(Self.company, ownerId: "40003032949", kind: "company", party: "gw-b")])
        try harness.importDirectory("gw-b", [GatewayHarness.localEntry(Self.company, ownerId: "40003032949", kind: "company", maxBytes: companyMaxBytes)])
        let dms = try BackendClient(port: harness.nodes["gw-a"]!.submitPort, token: try harness.addConnection("gw-a", name: "dms-a", addresses: [Self.sender]))
        try harness.start("gw-b")
        if let proxyMode { proxy = try harness.startAnswerProxy(inFrontOf: "gw-b", mode: proxyMode, extra: [], log: proxyLog) }
        try harness.start("gw-a")
        return dms
    }

    var proxyText: String { (try? String(contentsOfFile: proxyLog, encoding: .utf8)) ?? "" }

    func recipient(_ dms: BackendClient, _ id: String) throws -> [String: Any] {
        let r = try dms.get("/api/v1/messages/\(id)")
        XCTAssertEqual(r.status, 200, r.text)
        return ((r.json["recipients"] as? [[String: Any]]) ?? []).first ?? [:]
    }

    func lastAttemptError(_ recipient: [String: Any]) -> (code: String, reason: String)? {
        guard let e = recipient["lastAttemptError"] as? [String: Any], let code = e["code"] as? String, let reason = e["reason"] as? String else { return nil }
        return (code, reason)
    }

    /// The 413 is recorded as what it is; the DMS sees it while the retries go on, also after a
    /// later attempt's connection broke; the final Failed names it as the last answer.
    func testAnHTTP413IsShownWhileRetryingAndNamedInTheFinalFailure() throws {
        let dms = try setUpExchange(proxyMode: "refuse-size")
        let sent = try dms.submit(metadata: BackendClient.metadata(from: Self.sender, to: [Self.company]), files: [("a.txt", Array("big enough".utf8))])
        XCTAssertEqual(sent.status, 202, sent.text)
        let id = try XCTUnwrap(sent.json["messageId"] as? String)

        var seen: [String] = []
        try harness.waitUntil(timeout: 60, "the recipient Failed") {
            let r = try recipient(dms, id)
            if let e = lastAttemptError(r) {
                XCTAssertEqual(r["status"] as? String, "Submitted")
                XCTAssertTrue((r["sentStatement"] as? String ?? "").contains("HTTP 413"), "\(r)")
                if !seen.contains(e.code) { seen.append(e.code) }
                XCTAssertTrue(e.code == "HTTP 413" || e.reason.hasSuffix("last answer: HTTP 413: the receiving gateway refused the message's size (HTTP 413 Content Too Large)"), "\(e)")
            }
            return r["status"] as? String == "Failed"
        }
        XCTAssertEqual(seen.first, "HTTP 413", "the 413 is the first attempt's recorded error: \(seen)")
        // The agreement's retries are kept (three attempts), and the final Failed names the 413.
        let events = ((try recipient(dms, id))["events"] as? [[String: Any]]) ?? []
        let failure = try XCTUnwrap(events.last { ($0["status"] as? String) == "Failed" }?["detail"] as? String, "\(events)")
        XCTAssertTrue(failure.contains("EBMS:0301") && failure.contains("no valid receipt after 3 attempts: "), failure)
        XCTAssertTrue(failure.hasSuffix("; last answer: HTTP 413: the receiving gateway refused the message's size (HTTP 413 Content Too Large)"), failure)
        XCTAssertTrue(proxyText.contains("1 refused 413") && proxyText.contains("3 dropped"), proxyText)
    }

    /// gw-b's per-address limit (which gw-a's directory does not know) refuses with EBMS:0004
    /// before its receipt: the DMS sees it during the retries, and Failed with it after them.
    func testAnEbMSRefusalIsShownWhileRetrying() throws {
        let dms = try setUpExchange(proxyMode: nil, companyMaxBytes: 100)
        let sent = try dms.submit(metadata: BackendClient.metadata(from: Self.sender, to: [Self.company]), files: [("big.bin", Array(repeating: 7, count: 2000))])
        XCTAssertEqual(sent.status, 202, sent.text)
        let id = try XCTUnwrap(sent.json["messageId"] as? String)
        var shown: (code: String, reason: String)?
        try harness.waitUntil(timeout: 60, "the refusal shown while Submitted, then Failed") {
            let r = try recipient(dms, id)
            if r["status"] as? String == "Submitted", let e = lastAttemptError(r) {
                shown = e
                XCTAssertTrue((r["sentStatement"] as? String ?? "").contains("got no receipt: EBMS:0004"), "\(r)")
            }
            return r["status"] as? String == "Failed"
        }
        XCTAssertEqual(shown?.code, "EBMS:0004", "\(String(describing: shown))")
        XCTAssertTrue(shown?.reason.contains("100") ?? false, "\(String(describing: shown))")
    }

    /// One AS4 message carries a document's files beside the SOAP root part and the document
    /// header, and receivers refuse more than 1000 MIME parts (EBMS:0007): 999 files are refused
    /// at submission, not after the retries; 998 reach gw-b and are receipted.
    func testMoreFilesThanOneAS4MessageHoldsAreRefusedAtSubmission() throws {
        let dms = try setUpExchange(proxyMode: nil)
        let files = (1...999).map { (name: "f\($0).txt", bytes: [UInt8(ascii: "x")]) }
        let metadata = BackendClient.metadata(from: Self.sender, to: [Self.company])
        let tooMany = try dms.submit(metadata: metadata, files: files)
        XCTAssertEqual(tooMany.status, 422, tooMany.text)
        XCTAssertEqual(tooMany.json["type"] as? String, "urn:as4gw:problem:invalid-request", tooMany.text)
        XCTAssertTrue((tooMany.json["detail"] as? String ?? "").hasPrefix("the document has 999 files; at most 998 fit one AS4 message"), tooMany.text)
        XCTAssertEqual(((tooMany.json["errors"] as? [[String: Any]]) ?? []).compactMap { $0["pointer"] as? String }, ["file"], tooMany.text)
        let fit = try dms.submit(metadata: metadata, files: Array(files.prefix(998)))
        XCTAssertEqual(fit.status, 202, fit.text)
        let id = try XCTUnwrap(fit.json["messageId"] as? String)
        try harness.waitUntil(timeout: 300, "998 files Accepted at gw-b") { try recipient(dms, id)["status"] as? String == "Accepted" }
    }
}

/// How one attempt's failure is recorded, without a peer.
final class AttemptFailureTests: XCTestCase {
    /// A TLS certificate that is none of the pinned ones: the reason says where the pins come
    /// from, so the operator knows what to update; other TLS failures keep curl's words alone.
    func testAPinMismatchSaysWhereThePinsComeFrom() {
        let curl = "curl 90 (SSL public key does not match pinned public key): SSL: public key does not match pinned public key"
        let party = "urn:oasis:names:tc:ebcore:partyid-type:unregistered::gw-b"
        XCTAssertEqual(OutboundWorkers.connectionReason(HTTPClientError.tls(curl), toParty: party),
                       "TLS: \(curl): the endpoint's TLS certificate is none of those the P-Modes list for gw-b "
                       + "(certificates.tls in parties.json); if the partner renewed it, add its new certificate there")
        let expired = HTTPClientError.tls("curl 60 (SSL peer certificate or SSH remote key was not OK): SSL certificate problem: certificate has expired")
        XCTAssertEqual(OutboundWorkers.connectionReason(expired, toParty: party), "\(expired)")
        let refused = HTTPClientError.connectionFailed("curl 7 (Couldn't connect to server)")
        XCTAssertEqual(OutboundWorkers.connectionReason(refused, toParty: party), "\(refused)")
    }

    func testDefiniteHTTPAnswersAreRecordedAsSuchAndOutliveLaterTransportErrors() {
        let refused = AttemptFailure(httpStatus: 413)
        XCTAssertEqual(refused.code, "HTTP 413")
        XCTAssertTrue(refused.isPeerAnswer)
        XCTAssertEqual(AttemptFailure(httpStatus: 403).code, "HTTP 403")
        for temporary in [503, 502, 429, 507, 200] {
            XCTAssertEqual(AttemptFailure(httpStatus: temporary).code, "EBMS:0005", "\(temporary)")
            XCTAssertFalse(AttemptFailure(httpStatus: temporary).isPeerAnswer)
        }
        // A full disk at the receiver passes: worded as the temporary condition it is, never as a refusal.
        for temporary in [429, 502, 503, 504, 507] {
            let reason = AttemptFailure(httpStatus: temporary, answer: "no body").reason
            XCTAssertEqual(reason, "the receiving side could not take the message for now: HTTP \(temporary) without an AS4 signal (no body)")
        }
        XCTAssertEqual(AttemptFailure(httpStatus: 200, answer: "no body").reason, "HTTP 200 without an AS4 signal (no body)")
        XCTAssertEqual(AttemptFailure(httpStatus: 404, answer: "no body").reason, "the receiving gateway refused the message with HTTP 404 and no AS4 signal (no body)")
        XCTAssertTrue(AttemptFailure(EbmsError(.mimeInconsistency, "more than 1000 MIME parts")).isPeerAnswer)
        XCTAssertFalse(AttemptFailure(EbmsError(.invalidReceipt, "bad")).isPeerAnswer)

        let first = refused.retryError(after: nil)
        XCTAssertEqual(first, DeliveryError(code: "HTTP 413", reason: refused.reason))
        let broken = AttemptFailure(EbmsError(.connectionFailure, "curl 55 (Failed sending data to the peer): Broken pipe"))
        let second = broken.retryError(after: first)
        XCTAssertEqual(second.code, "EBMS:0005")
        XCTAssertEqual(second.reason, "curl 55 (Failed sending data to the peer): Broken pipe; last answer: HTTP 413: \(refused.reason)")
        // A third broken attempt still carries the answer, once.
        XCTAssertEqual(broken.retryError(after: second), second)
        XCTAssertEqual(broken.finalError(attempts: 3, after: second),
                       DeliveryError(code: "EBMS:0301", reason: "no valid receipt after 3 attempts: curl 55 (Failed sending data to the peer): Broken pipe; last answer: HTTP 413: \(refused.reason)"))
        // The peer's own answer on the last attempt is the reason.
        let tooLarge = AttemptFailure(EbmsError(.other, "tooLarge: at most 100 bytes"))
        XCTAssertEqual(tooLarge.finalError(attempts: 3, after: second), DeliveryError(code: "EBMS:0004", reason: "tooLarge: at most 100 bytes"))
        XCTAssertEqual(broken.finalError(attempts: 3, after: nil).reason, "no valid receipt after 3 attempts: curl 55 (Failed sending data to the peer): Broken pipe")
    }
}

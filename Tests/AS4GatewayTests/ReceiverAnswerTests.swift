@testable import AS4Gateway
import AS4Crypto
import EnvelopeXML
import Foundation
import HTTPClient
import MessageStore
import WSSecurity
import XCTest

/// What the sender makes of answers other implementations give instead of a valid receipt,
/// judged and recorded by gw-a's delivery worker in this process (no peer, no HTTP): only the
/// receiver's own refusal is recorded as its answer; an answer we cannot read or accept, or a
/// warning, is no receipt and is retried like a missing one; phase4's "already received" to a
/// resend is neither a refusal nor a delivery, but `ReceiptLost` at once.
final class ReceiverAnswerTests: XCTestCase {
    var harness: GatewayHarness!
    var a: InProcessNode!
    var workers: OutboundWorkers!

    func start(_ leg: GatewayHarness.Leg = .init(retries: 1)) throws {
        harness = try GatewayHarness()
        try harness.configure(["gw-a", "gw-b"], legs: [leg])
        a = try InProcessNode(harness, party: "gw-a")  // writes the development PKI
        workers = OutboundWorkers(context: a.context)
    }

    override func tearDown() {
        workers = nil
        a = nil
        harness = nil
    }

    func response(_ body: [UInt8], status: Int = 200) -> HTTPClientResponse {
        HTTPClientResponse(status: status, headers: [("Content-Type", "application/soap+xml; charset=UTF-8")], body: body,
                           elapsed: 0, newConnections: 0)
    }

    func signal(ref: String?, _ kind: SignalMessage.Kind) -> [UInt8] {
        EnvelopeBuilder.envelope(Messaging(SignalMessage(messageInfo: MessageInfo(messageId: "\(UUID().uuidString)@peer", refToMessageId: ref),
                                                         kind: kind)))
    }

    func failure(_ outcome: Result<[UInt8], AttemptFailure>, file: StaticString = #filePath, line: UInt = #line) throws -> AttemptFailure {
        guard case .failure(let f) = outcome else { return try XCTUnwrap(nil, "the answer was taken as a receipt", file: file, line: line) }
        return f
    }

    /// The next attempt of the one queued message (its retry is due within the P-Mode's interval).
    func nextAttempt() throws -> OutboundJob {
        try XCTUnwrap(try a.store.claimDue(now: Date().addingTimeInterval(120), limit: 1, owner: "test/w0", lease: 60).first)
    }

    func judgeAndSettle(_ job: OutboundJob, _ answer: HTTPClientResponse) -> Result<[UInt8], AttemptFailure> {
        let outcome = workers.judge(answer, job)
        workers.settle(job, outcome, retryAfter: nil, fields: ["message_id": job.metadata.messageId])
        return outcome
    }

    func lastError(_ id: String) throws -> (status: MessageStatus, error: DeliveryError?) {
        let m = try XCTUnwrap(try a.store.findMessage(id: id, direction: .outbound))
        return (m.status, m.outbound?.lastError)
    }

    /// phase4's answer to a message id its duplicate check has seen: up to 2.5 in the
    /// Description, from 2.6 in the ErrorDetail beside EBMS:0004's generic Description.
    static func alreadyReceived(_ id: String, newer: Bool = false) -> ErrorDetail {
        newer ? ErrorDetail(errorCode: "EBMS:0004", severity: "failure", origin: "ebMS", category: "Content", refToMessageInError: id,
                            shortDescription: "Other", description: PartDescription("An undefined error occurred.", lang: "en"),
                            detail: "Not invoking SPIs, because message with Message ID '\(id)' was already handled (this is a duplicate)")
              : ErrorDetail(errorCode: "EBMS:0004", severity: "failure", refToMessageInError: id, shortDescription: "Other",
                            description: PartDescription("Another message with the same ID was already received!", lang: "en"))
    }

    // MARK: F5: an answer we cannot read

    /// A receipt without RefToMessageId fails our parser (EBMS:0009): that is our complaint
    /// about the receipt (EBMS:0302), not the receiver's error, and after the retries the
    /// message fails EBMS:0301 with it.
    func testAReceiptWithoutRefToMessageIdIsAnInvalidReceiptRetriedLikeAMissingOne() throws {
        try start()
        let id = try a.submit(to: "gw-b")
        let noRef = response(signal(ref: nil, .receipt(Receipt(content: ["<x:Ack xmlns:x=\"urn:test\"/>"]))))
        let first = try failure(judgeAndSettle(try a.claim(), noRef))
        XCTAssertEqual(first.code, "EBMS:0302", first.reason)
        XCTAssertFalse(first.isPeerAnswer)
        XCTAssertEqual(first.reason, "the answer cannot be read as an AS4 signal: EBMS:0009 InvalidHeader: a Receipt signal needs eb:RefToMessageId")
        XCTAssertEqual(try lastError(id).status, .submitted, "retried")

        _ = judgeAndSettle(try nextAttempt(), noRef)
        let (status, error) = try lastError(id)
        XCTAssertEqual(status, .failed)
        XCTAssertEqual(error, DeliveryError(code: "EBMS:0301", reason: "no valid receipt after 2 attempts: " + first.reason))
    }

    // MARK: F9: a Fault with the ebMS error in its Detail

    func testAFaultWithAnEbMSErrorInItsDetailIsRecordedAsThatError() throws {
        try start()
        let id = try a.submit(to: "gw-b")
        let fault = """
            <S12:Envelope xmlns:S12="http://www.w3.org/2003/05/soap-envelope"><S12:Body><S12:Fault>
            <S12:Code><S12:Value>S12:Sender</S12:Value></S12:Code><S12:Reason><S12:Text xml:lang="en">Internal error</S12:Text></S12:Reason>
            <S12:Detail><eb:Error xmlns:eb="\(NS.eb)" errorCode="EBMS:0103" severity="failure" origin="security" category="Processing"
             shortDescription="PolicyNoncompliance" refToMessageInError="\(id)"><eb:Description xml:lang="en">no signature</eb:Description></eb:Error>
            </S12:Detail></S12:Fault></S12:Body></S12:Envelope>
            """
        let refused = try failure(judgeAndSettle(try a.claim(), response(Array(fault.utf8), status: 500)))
        XCTAssertEqual(refused.code, "EBMS:0103")
        XCTAssertTrue(refused.isPeerAnswer)
        XCTAssertEqual(refused.reason, "the receiver answered EBMS:0103 PolicyNoncompliance: no signature (in a SOAP Fault with HTTP 500: S12:Sender Internal error)")
        XCTAssertEqual(try lastError(id).error?.code, "EBMS:0103")

        // The same Fault about another message is no answer to ours.
        let misdirected = fault.replacingOccurrences(of: "refToMessageInError=\"\(id)\"", with: "refToMessageInError=\"other@peer\"")
        let other = try failure(workers.judge(response(Array(misdirected.utf8), status: 500), try nextAttempt()))
        XCTAssertEqual(other.code, "EBMS:0302")
        XCTAssertFalse(other.isPeerAnswer)
    }

    // MARK: an HTTP answer without a signal

    /// A proxy's or web server's page in place of the gateway's answer: its media type, size
    /// and title (HTML) or first line (plain text) reach the reason, and so the log line and the
    /// message's error, so the operator sees what answered, not only the status.
    func testAPageInsteadOfASignalIsDescribedInTheReason() throws {
        try start()
        _ = try a.submit(to: "gw-b")
        let job = try a.claim()
        func answer(_ status: Int, _ type: String?, _ body: String) -> HTTPClientResponse {
            HTTPClientResponse(status: status, headers: type.map { [("Content-Type", $0)] } ?? [], body: Array(body.utf8),
                               elapsed: 0, newConnections: 0)
        }
        let page = "<!DOCTYPE html><html><head>\n<TITLE>502 Bad\n  Gateway</TITLE></head><body>nginx</body></html>"
        let proxy = try failure(workers.judge(answer(502, "text/html; charset=utf-8", page), job))
        XCTAssertEqual(proxy.code, "EBMS:0005")
        XCTAssertEqual(proxy.reason, "the receiving side could not take the message for now: HTTP 502 without an AS4 signal (text/html, \(page.utf8.count) bytes, title \"502 Bad Gateway\")")
        let text = try failure(workers.judge(answer(404, "text/plain", "no route /as4 here\nmore"), job))
        XCTAssertEqual(text.code, "HTTP 404")
        XCTAssertEqual(text.reason, "the receiving gateway refused the message with HTTP 404 and no AS4 signal (text/plain, 23 bytes: \"no route /as4 here\")")
        let bare = try failure(workers.judge(answer(500, nil, ""), job))
        XCTAssertEqual(bare.reason, "the receiving side could not take the message for now: HTTP 500 without an AS4 signal (no body)")
        let json = try failure(workers.judge(answer(403, "application/json", "{\"error\": \"forbidden\"}"), job))
        XCTAssertEqual(json.reason, "the receiving gateway refused the message with HTTP 403 and no AS4 signal (application/json, 22 bytes)")
    }

    // MARK: a receiver's own error code

    /// A code outside ebMS3's table (a vendor's own, phase4's EBMS:4001) is recorded as the
    /// receiver gave it: in the message's error, its event and the log line; as the last
    /// answer it stays in view when the next attempt gets none.
    func testAReceiversOwnCodeIsRecordedAsItGaveIt() throws {
        try start(.init(retries: 1))
        let id = try a.submit(to: "gw-b")
        let vendor = ErrorDetail(errorCode: "DOM_006", severity: "failure", refToMessageInError: id, shortDescription: "PolicyViolation",
                                 description: PartDescription("payload profile not met"))
        let refused = try failure(judgeAndSettle(try a.claim(), response(signal(ref: id, .errors([vendor])))))
        let said = "the receiver answered DOM_006 PolicyViolation: payload profile not met"
        XCTAssertEqual(refused.code, "DOM_006")
        XCTAssertTrue(refused.isPeerAnswer)
        XCTAssertEqual(refused.reason, said)
        XCTAssertEqual(try lastError(id).error, DeliveryError(code: "DOM_006", reason: said))
        let row = try XCTUnwrap(try a.store.findMessage(id: id, direction: .outbound)).rowId
        XCTAssertEqual(try a.store.events(for: row).last?.code, "DOM_006")
        let retry = a.log.split(separator: "\n").first { $0.contains("event=retry") && $0.contains("message_id=\(id)") }.map(String.init) ?? ""
        XCTAssertTrue(retry.contains("error_code=DOM_006"), a.log)

        workers.settle(try nextAttempt(), .failure(AttemptFailure(EbmsError(.connectionFailure, "curl 7 (Couldn't connect to server)"))),
                       retryAfter: nil, fields: ["message_id": id])
        XCTAssertEqual(try lastError(id).error, DeliveryError(code: "EBMS:0301", reason: "no valid receipt after 2 attempts: "
                                                                  + "curl 7 (Couldn't connect to server); last answer: DOM_006: \(said)"))

        let other = try a.submit(to: "gw-b")
        let duplicate = ErrorDetail(errorCode: "EBMS:4001", severity: "failure", refToMessageInError: other, shortDescription: "DuplicateDetected")
        _ = judgeAndSettle(try a.claim(), response(signal(ref: other, .errors([duplicate]))))
        _ = judgeAndSettle(try nextAttempt(), response(signal(ref: other, .errors([duplicate]))))
        XCTAssertEqual(try lastError(other).status, .failed)
        XCTAssertEqual(try lastError(other).error, DeliveryError(code: "EBMS:4001", reason: "the receiver answered EBMS:4001 DuplicateDetected"))
        let failed = a.log.split(separator: "\n").first { $0.contains("event=failed") && $0.contains("message_id=\(other)") }.map(String.init) ?? ""
        XCTAssertTrue(failed.contains("status=Failed error_code=EBMS:4001"), a.log)
    }

    /// A code a record must not hold as given (a line break and a forged log line in it, one
    /// too long, a look-alike letter, a space) is recorded as EBMS:0004 with the code shown
    /// escaped in the reason; the receiver's texts are put on one line.
    func testACodeThatCannotBeRecordedAsGivenIsRecordedAsOtherShowingIt() throws {
        try start(.init(retries: 0))
        let id = try a.submit(to: "gw-b")
        let forged = ErrorDetail(errorCode: "EBMS:0004\nlevel=error event=delivered", severity: "failure", refToMessageInError: id,
                                 description: PartDescription("first line\r\nlevel=info event=delivered message_id=\(id)\u{202E}"))
        let answer = AttemptFailure(.refusal(forged), sentMessageId: id, sentBefore: false)
        let reason = "the receiver answered EBMS:0004 (for the code \"EBMS:0004\\u{A}level=error event=delivered\", which is not recorded "
            + "as given): first line  level=info event=delivered message_id=\(id)"
        XCTAssertEqual(answer.code, "EBMS:0004")
        XCTAssertEqual(answer.reason, reason)
        workers.settle(try a.claim(), .failure(answer), retryAfter: nil, fields: ["message_id": id])
        XCTAssertEqual(try lastError(id).error, DeliveryError(code: "EBMS:0004", reason: reason))
        XCTAssertFalse(a.log.contains("\nlevel=error event=delivered") || a.log.contains("\nlevel=info event=delivered"), a.log)
        XCTAssertTrue(a.log.contains("status=Failed error_code=EBMS:0004"), a.log)

        let long = String(repeating: "A", count: 65)
        XCTAssertEqual(PeerErrorCode(long).recorded, "EBMS:0004")
        XCTAssertEqual(PeerErrorCode(long).shown, "EBMS:0004 (for the code \"\(long.prefix(64))\"… (65 characters), which is not recorded as given)")
        XCTAssertEqual(PeerErrorCode(String(long.prefix(64))).recorded, String(long.prefix(64)))
        XCTAssertEqual(PeerErrorCode("\u{415}BMS:0004").shown, "EBMS:0004 (for the code \"\\u{415}BMS:0004\", which is not recorded as given)")
        XCTAssertEqual(PeerErrorCode("EBMS 0004").recorded, "EBMS:0004")
        XCTAssertEqual(PeerErrorCode("x\"\\").recorded, "x\"\\", "printable")
        XCTAssertEqual(PeerErrorCode("x \"\\").shown, "EBMS:0004 (for the code \"x \\u{22}\\u{5C}\", which is not recorded as given)")
        for kept in ["EBMS:0004", "EBMS:4001", "DOM_006", "urn:fdc:peppol:error:1"] { XCTAssertEqual(PeerErrorCode(kept).recorded, kept) }
        // Recorded as given, a code of its own still counts as the receiver's answer; our own words do not.
        for peer in ["DOM_006", "EBMS:4001", "urn:fdc:peppol:error:1", "HTTP 413", "ReceiptLost"] { XCTAssertTrue(AttemptFailure.isPeerAnswer(code: peer), peer) }
        for ours in ["EBMS:0005", "EBMS:0301", "EBMS:0302", "local-storage", "deadline", "withdrawn", ""] {
            XCTAssertFalse(AttemptFailure.isPeerAnswer(code: ours), ours)
        }
    }

    // MARK: F10: a warning instead of a receipt

    func testAWarningInsteadOfAReceiptIsNoReceiptAndNoRefusal() throws {
        try start()
        let id = try a.submit(to: "gw-b")
        let warning = ErrorDetail(errorCode: "EBMS:0002", severity: "warning", shortDescription: "FeatureNotSupported",
                                  description: PartDescription("just a warning"))
        let answer = response(signal(ref: nil, .errors([warning])))
        let first = try failure(judgeAndSettle(try a.claim(), answer))
        XCTAssertEqual(first.code, "EBMS:0301")
        XCTAssertFalse(first.isPeerAnswer)
        XCTAssertEqual(first.reason, "the receiver answered only a warning, and no receipt: EBMS:0002 FeatureNotSupported: just a warning")
        XCTAssertEqual(try lastError(id).status, .submitted, "retried")

        _ = judgeAndSettle(try nextAttempt(), answer)
        XCTAssertEqual(try lastError(id).status, .failed)
        XCTAssertEqual(try lastError(id).error, DeliveryError(code: "EBMS:0301", reason: "no valid receipt after 2 attempts: " + first.reason))
    }

    // MARK: F6: an unsigned leg

    /// A leg that signs nothing takes an unsigned receipt without the responder's signing
    /// certificate; a signed answer still needs it, to be checked.
    func testAnUnsignedLegTakesAnUnsignedReceiptWithoutTheRespondersSigningCertificate() throws {
        try start(.init(encrypt: false, sign: false))
        let path = harness.pmodeDirectory + "/parties.json"
        var document = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
        var parties = try XCTUnwrap(document["parties"] as? [[String: Any]])
        let b = try XCTUnwrap(parties.firstIndex { $0["name"] as? String == "gw-b" })
        var roles = try XCTUnwrap(parties[b]["certificates"] as? [String: Any])
        roles["signing"] = nil
        parties[b]["certificates"] = roles
        document["parties"] = parties
        try JSONSerialization.data(withJSONObject: document).write(to: URL(fileURLWithPath: path))
        XCTAssertEqual(a.context.registry.reload(from: harness.pmodeDirectory, requiredParties: ["gw-a"]), [])

        let id = try a.submit(to: "gw-b")
        let job = try a.claim()
        let receipt = SignalMessage(messageInfo: MessageInfo(messageId: "r@peer", refToMessageId: id),
                                    kind: .receipt(Receipt(content: ["<x:Ack xmlns:x=\"urn:test\"/>"])))
        guard case .success = workers.judge(response(EnvelopeBuilder.envelope(Messaging(receipt))), job) else {
            return XCTFail("the unsigned receipt was refused: \(workers.judge(response(EnvelopeBuilder.envelope(Messaging(receipt))), job))")
        }
        let certs = harness.pmodeDirectory + "/certs"
        let signer = try SignatureBuilder(identity: SigningIdentity(privateKey: try KeyMaterial.privateKey(certs + "/gw-b.signing.key"),
                                                                    certificate: try KeyMaterial.certificate(certs + "/gw-b.signing.pem")))
        let signed = try MessageSealer(signer: signer).seal(signal: receipt).envelope
        let refused = try failure(workers.judge(response(signed), job))
        XCTAssertEqual(refused.code, "EBMS:0302")
        XCTAssertEqual(refused.reason, "no signing certificate of the responding party to check its receipt with")
    }

    /// phase4 before 3.0 answers an unsigned message with an empty eb:Receipt: on a leg that
    /// signs nothing it is the receipt there is to have (Delivered); on a signed leg, signed or
    /// not, it is no receipt (EBMS:0302, retried as a missing one).
    func testAnEmptyReceiptDeliversOnAnUnsignedLegOnly() throws {
        let empty = { (ref: String) in
            Array(#"<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Header><eb:Messaging xmlns:eb="http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/" env:mustUnderstand="true"><eb:SignalMessage><eb:MessageInfo><eb:Timestamp>2026-11-28T01:00:00Z</eb:Timestamp><eb:MessageId>r@peer</eb:MessageId><eb:RefToMessageId>"# .utf8)
                + Array(ref.utf8) + Array("</eb:RefToMessageId></eb:MessageInfo><eb:Receipt/></eb:SignalMessage></eb:Messaging></env:Header><env:Body/></env:Envelope>".utf8)
        }
        try start(.init(encrypt: false, sign: false))
        let id = try a.submit(to: "gw-b")
        guard case .success = judgeAndSettle(try a.claim(), response(empty(id))) else { return XCTFail("the empty receipt was refused") }
        XCTAssertEqual(try lastError(id).status, .delivered)

        try start()
        let signedId = try a.submit(to: "gw-b")
        let unsignedAnswer = try failure(judgeAndSettle(try a.claim(), response(empty(signedId))))
        XCTAssertEqual(unsignedAnswer.code, "EBMS:0302")
        XCTAssertFalse(unsignedAnswer.isPeerAnswer)
        let certs = harness.pmodeDirectory + "/certs"
        let signer = try SignatureBuilder(identity: SigningIdentity(privateKey: try KeyMaterial.privateKey(certs + "/gw-b.signing.key"),
                                                                    certificate: try KeyMaterial.certificate(certs + "/gw-b.signing.pem")))
        let parsed = try AS4Message.read(try MessageInput.load(bytes: empty(signedId), contentType: "application/soap+xml"))
        let signed = try MessageSealer(signer: signer).seal(signal: try XCTUnwrap(parsed.messaging.signals.first)).envelope
        let refused = try failure(judgeAndSettle(try nextAttempt(), response(signed)))
        XCTAssertEqual(refused.code, "EBMS:0302")
        XCTAssertTrue(refused.reason.contains("the receipt has no NonRepudiationInformation"), refused.reason)
        XCTAssertEqual(try lastError(signedId).status, .failed, "retries used up")
    }

    /// A receipt signed with a certificate the P-Mode lists for the responder but that expired is
    /// refused as expired (as an inbound message is), not as signed by someone else's.
    func testAReceiptSignedWithAnExpiredListedCertificateIsRefusedAsExpired() throws {
        try start(.init(encrypt: false, sign: false))
        let certs = harness.pmodeDirectory + "/certs"
        let ca = try CertificateAuthority(key: try KeyMaterial.privateKey(certs + "/dev-ca.key"),
                                          certificate: try KeyMaterial.certificate(certs + "/dev-ca.pem"))
        let key = try PrivateKey.generateRSA(bits: 2048)
        let expired = try ca.issueCertificate(for: key.publicKey, subject: .init(commonName: "gw-b signing 2025"),
                                              validFrom: Date() - 30 * 86_400, validUntil: Date() - 86_400,
                                              keyUsage: [.digitalSignature, .nonRepudiation])
        try expired.pemEncoded().write(toFile: certs + "/gw-b.signing-expired.pem", atomically: true, encoding: .utf8)
        let parties = harness.pmodeDirectory + "/parties.json"
        let text = try String(contentsOfFile: parties, encoding: .utf8)
        let listed = text.replacingOccurrences(of: "\"signing\": [\"certs/gw-b.signing.pem\"]",
                                               with: "\"signing\": [\"certs/gw-b.signing.pem\", \"certs/gw-b.signing-expired.pem\"]")
        XCTAssertNotEqual(listed, text)
        try listed.write(toFile: parties, atomically: true, encoding: .utf8)
        XCTAssertEqual(a.context.registry.reload(from: harness.pmodeDirectory, requiredParties: ["gw-a"]), [])

        let id = try a.submit(to: "gw-b")
        let job = try a.claim()
        let receipt = SignalMessage(messageInfo: MessageInfo(messageId: "r@peer", refToMessageId: id),
                                    kind: .receipt(Receipt(content: ["<x:Ack xmlns:x=\"urn:test\"/>"])))
        let signed = try MessageSealer(signer: try SignatureBuilder(identity: SigningIdentity(privateKey: key, certificate: expired)))
            .seal(signal: receipt).envelope
        let refused = try failure(workers.judge(response(signed), job))
        XCTAssertEqual(refused.code, "EBMS:0302")
        XCTAssertTrue(refused.reason.contains("expired on"), refused.reason)
    }

    // MARK: F1: phase4's "already received"

    /// On a first send the answer is an ordinary refusal (retried as the agreement says); to a
    /// resend it means the receipt of an earlier send was lost: the message fails at once with
    /// `ReceiptLost`, its remaining attempt unused, in either of phase4's wordings.
    func testPhase4sAlreadyReceivedToAResendEndsTheMessageAsReceiptLost() throws {
        try start(.init(retries: 2))
        let id = try a.submit(to: "gw-b")
        let first = try failure(judgeAndSettle(try a.claim(), response(signal(ref: id, .errors([Self.alreadyReceived(id)])))))
        XCTAssertEqual(first.code, "EBMS:0004")
        XCTAssertFalse(first.endsDelivery)
        XCTAssertEqual(first.reason, "the receiver answered EBMS:0004 Other: Another message with the same ID was already received!")
        XCTAssertEqual(try lastError(id).status, .submitted, "a first send's refusal is retried")

        let resend = try nextAttempt()
        XCTAssertEqual(resend.attempt, 2)
        let lost = try failure(judgeAndSettle(resend, response(signal(ref: id, .errors([Self.alreadyReceived(id, newer: true)])))))
        XCTAssertTrue(lost.endsDelivery)
        let (status, error) = try lastError(id)
        XCTAssertEqual(status, .failed)
        XCTAssertEqual(error, DeliveryError(code: "ReceiptLost", reason: "the receiver reports it already holds this message (its receipt to an earlier "
                                                + "attempt was lost): no proof of delivery; it answered EBMS:0004 Other: An undefined error occurred. "
                                                + "(Not invoking SPIs, because message with Message ID '\(id)' was already handled (this is a duplicate))"))
        let m = try XCTUnwrap(try a.store.findMessage(id: id, direction: .outbound))
        XCTAssertEqual(m.outbound?.attempts, 2, "the third attempt is not made")
        XCTAssertNil(m.receipt)
        let line = a.log.split(separator: "\n").first { $0.contains("event=failed") }.map(String.init) ?? ""
        XCTAssertTrue(line.contains("message_id=\(id)") && line.contains("status=Failed error_code=ReceiptLost"), a.log)
    }

    /// The attempt budget starts again after an operator's retry (and after a restart that did
    /// not count a cut-off attempt), but the message went out before all the same.
    func testAnEarlierSendBeforeAnOperatorsRetryCounts() throws {
        try start(.init(retries: 0))
        let id = try a.submit(to: "gw-b")
        workers.settle(try a.claim(), .failure(AttemptFailure(EbmsError(.connectionFailure, "curl 52 (Empty reply from server)"))),
                       retryAfter: nil, fields: [:])
        XCTAssertEqual(try lastError(id).status, .failed)
        try a.store.retryFailed(messageId: id, at: Date())
        let again = try a.claim()
        XCTAssertEqual(again.attempt, 1)
        let lost = try failure(workers.judge(response(signal(ref: nil, .errors([Self.alreadyReceived(id)]))), again))
        XCTAssertEqual(lost.code, "ReceiptLost")
    }

    /// The first attempt after `as4gw messages retry` says so in one line (message id and
    /// attempt); a first attempt of a new message and a later attempt of the retried one do not.
    func testTheFirstAttemptAfterAnOperatorsRetryIsLoggedOnce() throws {
        try start(.init(retries: 1))
        // The retry falls due after the P-Mode's interval: claimed as of an hour on.
        func due() throws -> OutboundJob { try XCTUnwrap(try a.store.claimDue(now: Date() + 3600, limit: 1, owner: "test/w0", lease: 60).first) }
        let id = try a.submit(to: "gw-b")
        workers.deliver(try due(), client: nil)
        XCTAssertEqual(try lastError(id).status, .submitted)
        workers.deliver(try due(), client: nil)
        XCTAssertEqual(try lastError(id).status, .failed)
        XCTAssertFalse(a.log.contains("event=retry-taken-up"), a.log)
        try a.store.retryFailed(messageId: id, at: Date())
        workers.deliver(try due(), client: nil)
        workers.deliver(try due(), client: nil)
        XCTAssertEqual(try lastError(id).status, .failed)
        let lines = a.log.split(separator: "\n").filter { $0.contains("event=retry-taken-up") }
        XCTAssertEqual(lines.count, 1, a.log)
        XCTAssertTrue(lines.first.map { $0.contains("message_id=\(id)") && $0.contains("attempt=1") } ?? false, "\(lines)")
    }

    /// Only phase4's words, as EBMS:0004 about our message, count; anything else stays what it is.
    func testOnlyAnAlreadyReceivedAboutOurMessageIsRecognised() {
        let id = "m@gw-a"
        let said = Self.alreadyReceived(id)
        XCTAssertEqual(ReceiverAnswer.of([said], signalRef: nil, sentMessageId: id), .alreadyReceived(said))
        var wrapped = said
        wrapped.description = PartDescription("  ANOTHER message with\n   the same ID was already received ")
        XCTAssertEqual(ReceiverAnswer.of([wrapped], signalRef: nil, sentMessageId: id), .alreadyReceived(wrapped))
        var otherCode = said
        otherCode.errorCode = "EBMS:0003"
        XCTAssertEqual(ReceiverAnswer.of([otherCode], signalRef: nil, sentMessageId: id), .refusal(otherCode))
        var unnamed = said
        unnamed.refToMessageInError = nil
        XCTAssertEqual(ReceiverAnswer.of([unnamed], signalRef: nil, sentMessageId: id), .refusal(unnamed), "it names no message")
        XCTAssertEqual(ReceiverAnswer.of([unnamed], signalRef: id, sentMessageId: id), .alreadyReceived(unnamed), "the signal names ours")
        let decryption = ErrorDetail(errorCode: "EBMS:0102", severity: "failure", refToMessageInError: id)
        XCTAssertEqual(ReceiverAnswer.of([said, decryption], signalRef: nil, sentMessageId: id), .refusal(decryption))
        var warning = said
        warning.severity = "warning"
        XCTAssertEqual(ReceiverAnswer.of([warning], signalRef: nil, sentMessageId: id), .warningsOnly(warning))
        XCTAssertEqual(ReceiverAnswer.of([warning, decryption], signalRef: nil, sentMessageId: id), .refusal(decryption),
                       "a failure beside a warning is a refusal")
        XCTAssertEqual(ReceiverAnswer.of([Self.alreadyReceived("other@gw-a")], signalRef: nil, sentMessageId: id), .aboutAnother("other@gw-a"))
        XCTAssertNil(ReceiverAnswer.of([], signalRef: id, sentMessageId: id))
    }

    /// Holodeck B2B's error signal, as its packaging writes one: its own `eb3` prefix (and stray
    /// `xsi`/`xsd` declarations) on the Envelope, attributes in its order, eb:ErrorDetail before
    /// eb:Description, the severity in capitals, and, as in its EmptyMPC answer, no refToMessageInError
    /// on the eb:Error. Read as any other: a refusal (or a warning) in the receiver's words.
    func testHolodeckShapedErrorsAreReadAsAnyOther() throws {
        let id = "m@gw-a"
        func errors(_ error: String, ref: String?) throws -> (errors: [ErrorDetail], ref: String?) {
            let xml = """
                <S12:Envelope xmlns:S12="http://www.w3.org/2003/05/soap-envelope" xmlns:xsi="http://www.w3.org/1999/XMLSchema-instance/" \
                xmlns:xsd="http://www.w3.org/1999/XMLSchema" xmlns:eb3="http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/">\
                <S12:Header><eb3:Messaging S12:mustUnderstand="true"><eb3:SignalMessage><eb3:MessageInfo>\
                <eb3:Timestamp>2026-11-28T10:00:00.000Z</eb3:Timestamp><eb3:MessageId>e-1@hb2b.example</eb3:MessageId>\
                \(ref.map { "<eb3:RefToMessageId>\($0)</eb3:RefToMessageId>" } ?? "")</eb3:MessageInfo>\(error)\
                </eb3:SignalMessage></eb3:Messaging></S12:Header><S12:Body/></S12:Envelope>
                """
            let signal = try XCTUnwrap(try EnvelopeParser.parse(Array(xml.utf8)).messaging.signals.first)
            guard case .errors(let list) = signal.kind else { XCTFail("not an error signal"); return ([], nil) }
            return (list, signal.messageInfo.refToMessageId)
        }
        let refused = try errors("""
            <eb3:Error errorCode="EBMS:0103" severity="FAILURE" origin="security" category="Processing" \
            refToMessageInError="\(id)" shortDescription="PolicyNoncompliance"><eb3:ErrorDetail>Not all payloads are signed</eb3:ErrorDetail>\
            <eb3:Description xml:lang="en">The processor determined that the message's security methods do not conform</eb3:Description></eb3:Error>
            """, ref: nil)
        let refusal = try XCTUnwrap(refused.errors.first)
        XCTAssertEqual(ReceiverAnswer.of(refused.errors, signalRef: refused.ref, sentMessageId: id), .refusal(refusal))
        XCTAssertEqual(ReceiverAnswer.words(refusal), "EBMS:0103 PolicyNoncompliance: The processor determined that the message's security "
                       + "methods do not conform (Not all payloads are signed)")
        let warned = try errors("""
            <eb3:Error errorCode="EBMS:0006" severity="WARNING" origin="ebMS" category="Communication" \
            shortDescription="EmptyMessagePartitionChannel"/>
            """, ref: id)
        XCTAssertEqual(ReceiverAnswer.of(warned.errors, signalRef: warned.ref, sentMessageId: id), .warningsOnly(warned.errors[0]))
    }
}

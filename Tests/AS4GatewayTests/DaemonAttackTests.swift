import AS4Crypto
@testable import AS4Gateway
import EnvelopeXML
import Foundation
import MessageStore
import XCTest

/// Messages `as4gw seal` writes as gw-a, posted over HTTPS to a running gw-b.
class SealingTestCase: XCTestCase {
    var harness: GatewayHarness!
    var certs: String { harness.pmodeDirectory + "/certs" }
    /// The body of the last answer `post` got.
    var lastReply = ""
    /// The reason the last answer's error signal gives (its eb:Description).
    var lastReason: String {
        guard let start = lastReply.range(of: "<eb:Description"), let open = lastReply.range(of: ">", range: start.upperBound..<lastReply.endIndex),
              let close = lastReply.range(of: "</eb:Description>", range: open.upperBound..<lastReply.endIndex) else { return "" }
        return String(lastReply[open.upperBound..<close.lowerBound])
    }

    override func setUpWithError() throws {
        harness = try GatewayHarness()
        try harness.configure(["gw-a", "gw-b"])
        try harness.start("gw-b")  // generates the development PKI; gw-a is only the forger's identity
    }

    override func tearDown() { harness = nil }

    /// A message gw-a could really send to gw-b under the test P-Mode, written by `as4gw seal`.
    /// `extra`: more `seal` arguments (e.g. `--property K=V`).
    /// `action`/`pmode`: another leg of the test P-Modes; `compress: false` leaves the XML
    /// document an XML attachment (digested through its canonical form).
    func seal(id: String, signKey: String? = nil, signCert: String? = nil, encrypt: Bool = true, content: String? = nil,
              action: String = "DeliverDocument", pmode: String = "gw-a-to-gw-b-0", compress: Bool = true,
              extra: [String] = []) throws -> String {
        let out = harness.root.appendingPathComponent("\(id).mime").path
        let doc = try harness.file("\(id).xml", Array("<doc>\(content ?? id)</doc>".utf8))
        let pdf = try harness.file("\(id).pdf", (0..<4000).map { UInt8(truncatingIfNeeded: $0 &* 13) })
        var args = ["seal", "--message-id", id, "--from", "gw-a", "--from-type", "urn:oasis:names:tc:ebcore:partyid-type:unregistered",
                    "--from-role", "urn:as4gw:roles:sender", "--to", "gw-b", "--to-type", "urn:oasis:names:tc:ebcore:partyid-type:unregistered",
                    "--to-role", "urn:as4gw:roles:receiver", "--service", "urn:eadrese:services:delivery", "--action", action,
                    "--agreement", "urn:as4gw:agreements:test", "--pmode", pmode] + (compress ? ["--compress"] : []) + [
                    "--sign-key", signKey ?? certs + "/gw-a.signing.key", "--sign-cert", signCert ?? certs + "/gw-a.signing.pem",
                    "--out", out] + extra + [doc, pdf]
        if encrypt { args += ["--encrypt-cert", certs + "/gw-b.encryption.pem"] }
        let r = try GatewayProcess.run(args)
        XCTAssertEqual(r.status, 0, r.stderr)
        return out
    }

    /// POSTs a sealed file (MIME headers first, as `seal` writes it) and returns status + error code.
    /// `edit` sees the SOAP envelope part only (the attachments are binary ciphertext);
    /// `clientCertificateOf` names the party whose TLS client certificate the POST presents.
    func post(_ path: String, clientCertificateOf party: String? = nil, edit: ((inout String) -> Void)? = nil,
              editBytes: ((inout [UInt8]) -> Void)? = nil) throws -> (Int, String?) {
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        if let edit, let start = find(bytes, "<env:Envelope"), let endTag = find(bytes, "</env:Envelope>", from: start) {
            let end = endTag + "</env:Envelope>".utf8.count
            var text = String(decoding: bytes[start..<end], as: UTF8.self)
            edit(&text)
            bytes.replaceSubrange(start..<end, with: Array(text.utf8))
        }
        editBytes?(&bytes)
        // Split "MIME-Version/Content-Type headers, blank line, body".
        let separator: [UInt8] = [13, 10, 13, 10]
        var split = 0
        while split + 4 <= bytes.count, Array(bytes[split..<split + 4]) != separator { split += 1 }
        let head = String(decoding: bytes[..<split], as: UTF8.self)
        let contentType = head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-type:") }
            .map { String($0.dropFirst("content-type:".count)).trimmingCharacters(in: .whitespaces) } ?? ""
        let body = harness.root.appendingPathComponent(UUID().uuidString).path
        try Data(bytes[(split + 4)...]).write(to: URL(fileURLWithPath: body))
        let response = harness.root.appendingPathComponent(UUID().uuidString).path
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        p.arguments = ["-s", "-o", response, "-w", "%{http_code}", "--cacert", certs + "/dev-ca.pem"]
            + (party.map { ["--cert", certs + "/\($0).tls.pem", "--key", certs + "/\($0).tls.key"] } ?? [])
            + ["-H", "Content-Type: \(contentType)", "--data-binary", "@\(body)", harness.nodes["gw-b"]!.as4URL]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let code = Int(String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)) ?? 0
        p.waitUntilExit()
        let reply = (try? String(contentsOfFile: response, encoding: .utf8)) ?? ""
        lastReply = reply
        let error = reply.range(of: "errorCode=\"").map { String(reply[$0.upperBound...].prefix(9)) }
        return (code, error)
    }

    /// The URI of every ds:Reference in a receipt's NonRepudiationInformation.
    func referenceURIs(_ text: String) -> [String] {
        guard let start = text.range(of: "NonRepudiationInformation"),
              let end = text.range(of: "</ebbp:NonRepudiationInformation>", range: start.upperBound..<text.endIndex) else { return [] }
        return text[start.upperBound..<end.lowerBound].components(separatedBy: "<ds:Reference ").dropFirst().compactMap { ref in
            ref.range(of: "URI=\"").map { String(ref[$0.upperBound...].prefix { $0 != "\"" }) }
        }
    }

    func find(_ bytes: [UInt8], _ needle: String, from: Int = 0) -> Int? {
        let n = Array(needle.utf8)
        guard bytes.count >= n.count, from <= bytes.count - n.count else { return nil }
        for i in from...(bytes.count - n.count) where bytes[i] == n[0] && Array(bytes[i..<i + n.count]) == n { return i }
        return nil
    }

    func assertNothingStored(_ id: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let store = try harness.store("gw-b")
        defer { store.close() }
        XCTAssertNil(try store.findMessage(id: id, direction: .inbound), "\(id) was stored", file: file, line: line)
    }

}

/// The security issue's attack corpus, posted over HTTPS to a running daemon: each forgery gets
/// its ebMS error and nothing of it reaches the store.
final class DaemonAttackTests: SealingTestCase {
    /// A part sent base64-encoded and large enough to be decoded into a spool file: whatever the
    /// verdict on the message, the file is gone once the request is answered.
    func testDecodedBase64PartsLeaveNoSpoolFiles() throws {
        let envelope = try String(contentsOfFile: GatewayProcess.vector("phase4/usermessage-unsigned/UserMessage12.xml"), encoding: .utf8)
        let blob = Data((0..<(9 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 2654435761) }).base64EncodedString(options: .lineLength76Characters)
        let body = "--b64\r\nContent-Type: application/soap+xml\r\n\r\n\(envelope)\r\n--b64\r\nContent-Type: application/octet-stream\r\n"
            + "Content-ID: <blob@test>\r\nContent-Transfer-Encoding: base64\r\n\r\n\(blob)\r\n--b64--\r\n"
        let file = try harness.file("b64.mime", Array(("Content-Type: multipart/related; boundary=b64; type=\"application/soap+xml\"\r\n\r\n" + body).utf8))
        let (status, error) = try post(file)
        XCTAssertEqual(status, 500)
        XCTAssertNotNil(error)
        let spool = harness.nodes["gw-b"]!.data + "/spool"
        let left = try FileManager.default.contentsOfDirectory(atPath: spool)
        XCTAssertEqual(left, [], "spool files left: \(left)")
    }

    func testForgeriesAreRefusedAndNothingIsStored() throws {
        // The control: a genuine message is accepted with a receipt.
        // Kept aside: sealing the same id again writes the same file.
        let genuinePath = harness.root.appendingPathComponent("genuine-first.mime").path
        try FileManager.default.copyItem(atPath: try seal(id: "genuine@test", extra: ["--conversation-id", "conv-genuine"]), toPath: genuinePath)
        let (okStatus, okError) = try post(genuinePath)
        XCTAssertEqual(okStatus, 200)
        XCTAssertNil(okError)
        let genuineReceipt = lastReply

        var cases: [(String, String, Int, String)] = []  // id, what, expected HTTP status, expected code
        func check(_ id: String, _ what: String, _ result: (Int, String?), _ code: String) throws {
            XCTAssertEqual(result.0, 500, "\(what)")
            XCTAssertEqual(result.1, code, "\(what)")
            try assertNothingStored(id)
            cases.append((id, what, result.0, code))
        }

        // Ciphertext of an attachment altered: GCM refuses it.
        try check("tampered@test", "tampered attachment", try post(try seal(id: "tampered@test"), editBytes: { bytes in
            bytes[bytes.count - 300] ^= 0x01
        }), "EBMS:0102")
        // Sent in clear where the agreement requires encryption.
        try check("clear@test", "unencrypted", try post(try seal(id: "clear@test", encrypt: false)), "EBMS:0103")
        // Failures go back with HTTP 500 and a SOAP Fault beside the eb:Error.
        XCTAssertTrue(lastReply.contains("<env:Fault><env:Code><env:Value>env:Sender</env:Value></env:Code>"), lastReply)
        XCTAssertTrue(lastReply.contains("EBMS:0103 PolicyNoncompliance</env:Text>"), lastReply)
        // Signed by a key the P-Mode does not know (from an unknown CA).
        let key = try PrivateKey.generateRSA(bits: 2048)
        let stranger = try CertificateAuthority.selfSignedCertificate(subject: .init(commonName: "gw-a impostor"), key: key,
                                                                      validFrom: Date() - 60, validUntil: Date() + 3600)
        let keyPath = try harness.file("impostor.key", Array(try key.pemEncoded().utf8))
        let certPath = try harness.file("impostor.pem", Array(try stranger.pemEncoded().utf8))
        try check("impostor@test", "unknown signer", try post(try seal(id: "impostor@test", signKey: keyPath, signCert: certPath)), "EBMS:0101")
        // The Body moved under a wrapper and a new Body put in its place.
        try check("wrapped@test", "body wrapping", try post(try seal(id: "wrapped@test")) { text in
            guard let start = text.range(of: "<env:Body"), let end = text.range(of: "</env:Body>", range: start.upperBound..<text.endIndex) else { return }
            let body = String(text[start.lowerBound..<end.upperBound])
            text.replaceSubrange(start.lowerBound..<end.upperBound, with: "<env:Body></env:Body>")
            text = text.replacingOccurrences(of: "</env:Header>", with: "<w:W xmlns:w=\"urn:w\">\(body)</w:W></env:Header>")
        }, "EBMS:0101")
        // SHA-1 instead of SHA-256 in a digest.
        try check("sha1@test", "digest downgrade", try post(try seal(id: "sha1@test")) { text in
            if let r = text.range(of: "<ds:DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\">") {
                text.replaceSubrange(r, with: "<ds:DigestMethod Algorithm=\"http://www.w3.org/2000/09/xmldsig#sha1\">")
            }
        }, "EBMS:0103")
        // A second element claiming the signed eb:Messaging's id.
        try check("dupid@test", "duplicate wsu:Id", try post(try seal(id: "dupid@test")) { text in
            guard let r = text.range(of: "wsu:Id=\"_", range: text.range(of: "<eb:Messaging")!.upperBound..<text.endIndex) else { return }
            let id = String(text[r.upperBound...].prefix { $0 != "\"" })
            text = text.replacingOccurrences(of: "</env:Header>", with: "<y:Y xmlns:y=\"urn:y\" Id=\"_\(id)\"/></env:Header>")
        }, "EBMS:0101")
        // The genuine message sealed and signed again (new wsu:Ids, so other digests for
        // eb:Messaging and the Body; the same payloads): a retry, given the receipt again and not
        // stored twice.
        let firstReceipt = genuineReceipt
        let resigned = try seal(id: "genuine@test", extra: ["--conversation-id", "conv-genuine"])
        let (retryStatus, retryError) = try post(resigned)
        XCTAssertEqual(retryStatus, 200, "a re-signed retry")
        XCTAssertNil(retryError)
        // Its receipt acknowledges what this copy signed (a sender matches the receipt's
        // NonRepudiationInformation against its own SignedInfo), so it is a new receipt.
        let retryText = String(decoding: try Data(contentsOf: URL(fileURLWithPath: resigned)), as: UTF8.self)
        let acknowledged = referenceURIs(lastReply).filter { $0.hasPrefix("#") }
        XCTAssertEqual(acknowledged.count, 2, lastReply)
        for uri in acknowledged { XCTAssertTrue(retryText.contains("wsu:Id=\"\(uri.dropFirst())\""), "\(uri) not signed by the retry") }
        XCTAssertNotEqual(lastReply, firstReceipt)
        XCTAssertTrue(harness.nodes["gw-b"]!.log.contains("event=duplicate message_id=genuine@test"))
        XCTAssertTrue(harness.nodes["gw-b"]!.log.contains("status=new-receipt"))
        // The same bytes again: the stored receipt, byte for byte.
        XCTAssertEqual(try post(genuinePath).0, 200)
        XCTAssertEqual(lastReply, firstReceipt)
        // The same payloads under another header (here another conversation) are not this
        // message: no receipt for a header that was never stored.
        let (otherHeaderStatus, otherHeaderError) = try post(try seal(id: "genuine@test", extra: ["--conversation-id", "conv-other"]))
        XCTAssertEqual(otherHeaderStatus, 500)
        XCTAssertEqual(otherHeaderError, "EBMS:0003")
        let store = try harness.store("gw-b")
        XCTAssertEqual(try store.listMessages(status: nil, since: nil, direction: .inbound, limit: 100)
            .filter { $0.metadata.messageId == "genuine@test" }.count, 1)
        store.close()
        // The genuine message's id reused for other content: refused, never given the old receipt.
        let (reuseStatus, reuseError) = try post(try seal(id: "genuine@test", content: "other content"), edit: nil, editBytes: nil)
        XCTAssertEqual(reuseStatus, 500, "a different message under an id already received")
        XCTAssertEqual(reuseError, "EBMS:0003")
        XCTAssertEqual(cases.count, 6)
        let log = harness.nodes["gw-b"]!.log
        for (id, _, _, code) in cases {
            XCTAssertTrue(log.contains("event=refused message_id=\(id)") && log.contains(code), "log line for \(id)")
            // A forged header names any sender it likes: the line names where it came from too.
            let line = log.split(separator: "\n").first { $0.contains("event=refused message_id=\(id) ") } ?? ""
            XCTAssertTrue(line.contains(" client=127.0.0.1"), "the client address in the refused line: \(line)")
        }
    }
}

/// A message replayed after the duplicate-detection window but while its eb:Timestamp is still
/// accepted (the window plus the clock skew) is a duplicate: answered, not stored again.
final class ReplayWindowTests: SealingTestCase {
    override func setUpWithError() throws {
        harness = try GatewayHarness()
        try harness.configure(["gw-a", "gw-b"], legs: [.init(duplicateWindow: 1)])
        try harness.start("gw-b")
    }

    func testAReplayJustPastTheWindowIsStillADuplicate() throws {
        let sealed = try seal(id: "replayed@test")
        XCTAssertEqual(try post(sealed).0, 200)
        Thread.sleep(forTimeInterval: 2.5)
        let (status, error) = try post(sealed)
        XCTAssertEqual(status, 200, "the original receipt again")
        XCTAssertNil(error)
        let store = try harness.store("gw-b")
        defer { store.close() }
        XCTAssertEqual(try store.listMessages(status: nil, since: nil, direction: .inbound, limit: 10).count, 1, "stored once")
        XCTAssertTrue(harness.nodes["gw-b"]!.log.contains("event=duplicate message_id=replayed@test"), harness.nodes["gw-b"]!.log)
    }
}

/// A captured PullRequest replayed, or one stamped far from now, hands out nothing; the ids are
/// kept in the store, so a new guard on the same store (another node, a restart) refuses too.
final class ReplayGuardTests: XCTestCase {
    func testReplayAndStaleTimestampsAreRefused() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("as4gw-replay-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var store = try SQLiteMessageStore(dataDirectory: directory)
        defer { store.close() }
        func admit(_ id: String, age: Double) -> String? {
            let now = Date()
            do {
                try ReplayGuard(store: store, skew: 300).admit(MessageInfo(timestamp: Timestamp(now - age), messageId: id), now: now)
                return nil
            } catch let e as EbmsError {
                return e.code.rawValue
            } catch {
                return "\(error)"
            }
        }
        XCTAssertNil(admit("pr-1@x", age: 0))
        XCTAssertEqual(admit("pr-1@x", age: 1), "EBMS:0003", "the same request again")
        XCTAssertEqual(admit("pr-2@x", age: 3600), "EBMS:0003", "an hour old")
        XCTAssertEqual(admit("pr-3@x", age: -3600), "EBMS:0003", "an hour ahead")
        XCTAssertNil(admit("pr-4@x", age: 100), "within the skew")
        store.close()
        store = try SQLiteMessageStore(dataDirectory: directory)
        XCTAssertEqual(admit("pr-4@x", age: 101), "EBMS:0003", "refused after a restart too")

        // Kept for twice the skew, then removed by the clean-up, when the timestamp check alone refuses the request.
        let cleanup = SeenRequestCleanup(store: store, keepFor: 600)
        XCTAssertEqual(try cleanup.removeExpired(now: Date() + 599).removed, 0)
        XCTAssertEqual(try cleanup.removeExpired(now: Date() + 601).removed, 2)
    }
}

/// SOAP header blocks and their roles (SOAP 1.2 Part 1 §2.2, §5.2.3): a mandatory block aimed at
/// us that we do not process stops the message with an env:MustUnderstand fault; blocks for other
/// roles are not ours to judge; wsse:Security in the `next` role is ours.
final class HeaderBlockRoleTests: SealingTestCase {
    func insertHeader(_ block: String) -> (inout String) -> Void {
        { text in text = text.replacingOccurrences(of: "</env:Header>", with: block + "</env:Header>") }
    }

    func testAMandatoryBlockWeDoNotProcessIsRefusedWithMustUnderstand() throws {
        for (n, attributes) in ["env:mustUnderstand=\"true\"", "env:mustUnderstand=\"1\" env:role=\"http://www.w3.org/2003/05/soap-envelope/role/next\"",
                                "env:mustUnderstand=\"true\" env:role=\"http://www.w3.org/2003/05/soap-envelope/role/ultimateReceiver\""].enumerated() {
            let id = "must-\(n)@test"
            let (status, error) = try post(try seal(id: id), edit: insertHeader("<x:Foo xmlns:x=\"urn:x\" \(attributes)>1</x:Foo>"))
            XCTAssertEqual(status, 500, attributes)
            XCTAssertEqual(error, "EBMS:0009", attributes)
            XCTAssertTrue(lastReply.contains("<env:Value>env:MustUnderstand</env:Value>"), lastReply)
            XCTAssertTrue(lastReply.contains("refToMessageInError=\"\(id)\""), lastReply)
            try assertNothingStored(id)
        }
        XCTAssertTrue(harness.nodes["gw-b"]!.log.contains("header block x:Foo is marked mustUnderstand"))
    }

    /// The fault names every block it refuses, one env:NotUnderstood header block each, whose
    /// qname resolves on that element to the block's namespace and local name (SOAP 1.2 §5.4.8),
    /// a block in the default namespace included.
    func testTheFaultCarriesANotUnderstoodBlockForEachBlockNotProcessed() throws {
        let blocks = "<abc:Extension xmlns:abc=\"urn:x:ext\" env:mustUnderstand=\"true\">1</abc:Extension>"
            + "<Routing xmlns=\"urn:y:routing\" env:mustUnderstand=\"1\"><Hop>2</Hop></Routing>"
            + "<opt:Hint xmlns:opt=\"urn:z\">optional</opt:Hint>"
        let (status, error) = try post(try seal(id: "two-unknown@test"), edit: insertHeader(blocks))
        XCTAssertEqual(status, 500)
        XCTAssertEqual(error, "EBMS:0009")
        let root = try XCTUnwrap(try XMLDocument(parsing: lastReply).root, lastReply)
        XCTAssertEqual(root.firstChild("Body", NS.soap12)?.firstChild("Fault", NS.soap12)?.firstChild("Code", NS.soap12)?
            .firstChild("Value", NS.soap12)?.trimmedText, "env:MustUnderstand")
        let named = try XCTUnwrap(root.firstChild("Header", NS.soap12)).children("NotUnderstood", NS.soap12).map { element -> String in
            let qname = element.attribute("qname") ?? ""
            let parts = qname.split(separator: ":", maxSplits: 1).map(String.init)
            return "{\(element.namespaceURI(forPrefix: parts.count == 2 ? parts[0] : nil) ?? "")}\(parts.last ?? "")"
        }
        XCTAssertEqual(named, ["{urn:x:ext}Extension", "{urn:y:routing}Routing"], lastReply)
        try assertNothingStored("two-unknown@test")
        XCTAssertTrue(harness.nodes["gw-b"]!.log.contains("header blocks abc:Extension, Routing are marked mustUnderstand"))
    }

    func testBlocksForOtherRolesOrOptionalOnesAreIgnored() throws {
        for (n, attributes) in ["env:mustUnderstand=\"true\" env:role=\"urn:some:intermediary\"",
                                "env:mustUnderstand=\"true\" env:role=\"http://www.w3.org/2003/05/soap-envelope/role/none\"",
                                "env:mustUnderstand=\"false\"", ""].enumerated() {
            let (status, error) = try post(try seal(id: "optional-\(n)@test"), edit: insertHeader("<x:Foo xmlns:x=\"urn:x\" \(attributes)>1</x:Foo>"))
            XCTAssertEqual(status, 200, attributes)
            XCTAssertNil(error, attributes)
        }
    }

    func testSecurityInTheNextRoleIsOurs() throws {
        let (status, error) = try post(try seal(id: "next@test")) { text in
            text = text.replacingOccurrences(of: "<wsse:Security ", with: "<wsse:Security env:role=\"http://www.w3.org/2003/05/soap-envelope/role/next\" ")
        }
        XCTAssertEqual(status, 200, lastReply)
        XCTAssertNil(error)
        // Aimed at another role, it is not ours: the message counts as unsigned and is refused.
        let (otherStatus, otherError) = try post(try seal(id: "elsewhere@test")) { text in
            text = text.replacingOccurrences(of: "<wsse:Security ", with: "<wsse:Security env:role=\"urn:some:intermediary\" ")
        }
        XCTAssertEqual(otherStatus, 500)
        XCTAssertNotNil(otherError)
        try assertNothingStored("elsewhere@test")
    }

    func testASecurityHeaderForAnotherRoleIsNotOurs() throws {
        // Beside ours, a Security block for an intermediary, or for no one: not ours to process
        // or count, so the message is received as if it were absent (SOAP 1.2 Part 1 §2.2).
        for (n, role) in ["urn:some:intermediary", "http://www.w3.org/2003/05/soap-envelope/role/none"].enumerated() {
            let id = "other-role-\(n)@test"
            let (status, error) = try post(try seal(id: id)) { text in
                text = text.replacingOccurrences(of: "</env:Header>", with: "<wsse:Security xmlns:wsse=\"\(NS.wsse)\" env:role=\"\(role)\">"
                                                  + "<wsse:UsernameToken><wsse:Username>someone</wsse:Username></wsse:UsernameToken>"
                                                  + "</wsse:Security></env:Header>")
            }
            XCTAssertEqual(status, 200, lastReply)
            XCTAssertNil(error, role)
        }
        let store = try harness.store("gw-b")
        defer { store.close() }
        XCTAssertNotNil(try store.findMessage(id: "other-role-0@test", direction: .inbound))
        // Two blocks for us (no role and `next` both target the ultimate receiver) stay refused.
        let (status, error) = try post(try seal(id: "two-for-us@test")) { text in
            text = text.replacingOccurrences(of: "</env:Header>", with: "<wsse:Security xmlns:wsse=\"\(NS.wsse)\" "
                                              + "env:role=\"http://www.w3.org/2003/05/soap-envelope/role/next\"></wsse:Security></env:Header>")
        }
        XCTAssertEqual(status, 500)
        XCTAssertEqual(error, "EBMS:0103", lastReply)
        XCTAssertEqual(lastReason, "the message carries 2 wsse:Security headers")
    }
}

extension DaemonAttackTests {
    /// A header the parser refuses as a whole still names its MessageId in the error, so that the
    /// sender can tie the error to its message (ebMS3 §6.3).
    func testAnInvalidHeaderIsAnsweredWithItsMessageId() throws {
        let (status, error) = try post(try seal(id: "noconversation@test")) { text in
            guard let start = text.range(of: "<eb:ConversationId>"), let end = text.range(of: "</eb:ConversationId>") else { return }
            text.removeSubrange(start.lowerBound..<end.upperBound)
        }
        XCTAssertEqual(status, 500)
        XCTAssertEqual(error, "EBMS:0009")
        XCTAssertTrue(lastReply.contains("refToMessageInError=\"noconversation@test\""), lastReply)
        XCTAssertTrue(lastReply.contains("<eb:RefToMessageId>noconversation@test</eb:RefToMessageId>"), lastReply)
        try assertNothingStored("noconversation@test")
        // An id the profile forbids is not echoed.
        let (_, bracketError) = try post(try seal(id: "brackets@test")) { text in
            text = text.replacingOccurrences(of: "<eb:MessageId>brackets@test</eb:MessageId>", with: "<eb:MessageId>&lt;brackets@test&gt;</eb:MessageId>")
        }
        XCTAssertEqual(bracketError, "EBMS:0009")
        XCTAssertFalse(lastReply.contains("refToMessageInError"), lastReply)
    }

    /// A wsu:Timestamp that no reference signed vouches for nothing, Id or not (it cannot be
    /// signed without one): refused, never taken as if signed.
    func testAnUnsignedTimestampIsRefusedWithOrWithoutAnId() throws {
        let now = Date()
        func timestamp(_ attributes: String) -> String {
            "<wsu:Timestamp \(attributes)><wsu:Created>\(Timestamp(now - 5).lexical)</wsu:Created>"
                + "<wsu:Expires>\(Timestamp(now + 300).lexical)</wsu:Expires></wsu:Timestamp>"
        }
        for (n, attributes) in ["", "wsu:Id=\"TS-unsigned\""].enumerated() {
            let id = "unsigned-timestamp-\(n)@test"
            let (status, error) = try post(try seal(id: id)) { text in
                guard let start = text.range(of: "<wsse:Security "), let end = text.range(of: ">", range: start.upperBound..<text.endIndex) else { return }
                text.insert(contentsOf: timestamp(attributes), at: end.upperBound)
            }
            XCTAssertEqual(status, 500, attributes)
            XCTAssertEqual(error, "EBMS:0103", lastReply)
            XCTAssertEqual(lastReason, "wsu:Timestamp is present but not signed")
            try assertNothingStored(id)
        }
    }
}

/// The receiver's own check of the agreement's size limit, whatever the sender checked: a
/// compressible payload small on the wire but over the limit once expanded is refused.
final class ReceiverSizeLimitTests: SealingTestCase {
    override func setUpWithError() throws {
        harness = try GatewayHarness()
        try harness.configure(["gw-a", "gw-b"], legs: [.init(retries: 0, maxMessageBytes: 10_000)])
        try harness.start("gw-b")
    }

    func testAPayloadOverTheAgreedSizeOnceExpandedIsRefused() throws {
        let (status, error) = try post(try seal(id: "expands@test", content: String(repeating: "x", count: 60_000)))
        XCTAssertEqual(status, 500)
        XCTAssertEqual(error, "EBMS:0303", lastReply)
        XCTAssertTrue(harness.nodes["gw-b"]!.log.contains("limit"), harness.nodes["gw-b"]!.log)
        try assertNothingStored("expands@test")
    }
}

@testable import AS4Gateway
import AS4Crypto
import EnvelopeXML
import Foundation
import HTTPServer
import MessageStore
import Routing
import XCTest

/// The API's small parsers and checks in process: form-data dispositions, Content-Digest,
/// credentials, the metadata's field problems, loopback peers.
final class APIParsingTests: XCTestCase {
    func testDispositionParameters() {
        XCTAssertEqual(FormData.dispositionParameters("form-data; name=\"file\"; filename=\"a; b.pdf\""), ["name": "file", "filename": "a; b.pdf"])
        XCTAssertEqual(FormData.dispositionParameters("Form-Data;name=metadata"), ["name": "metadata"])
        XCTAssertEqual(FormData.dispositionParameters("form-data; name=\"x\\\"y\""), ["name": "x\"y"])
        XCTAssertNil(FormData.dispositionParameters("attachment; filename=\"a.pdf\""))
    }

    func testMembersGivenTwiceAreFoundWithTheirPointer() {
        func first(_ text: String) -> String? { StrictJSON.duplicateMember(in: Array(text.utf8)) }
        XCTAssertNil(first("{\"a\": 1, \"b\": {\"a\": [\"a\", \"a\"]}, \"c\": [{\"a\": 1}, {\"a\": 2}]}"))
        XCTAssertEqual(first("{\"recipients\": [\"x\"], \"subject\": \"s\", \"recipients\": [\"y\"]}"), "/recipients")
        XCTAssertEqual(first("{\"a\": 1, \"\\u0061\": 2}"), "/a")
        XCTAssertEqual(first("{\"l\": [0, {\"x/y\": {\"k\": 1, \"k\": 2}}]}"), "/l/1/x~1y/k")
        XCTAssertEqual(first("{\"s\": \"a\\\", \\\"s\\\": \", \"s\": 1}"), "/s")
        XCTAssertNil(first("{\"s\": \"a\\\", \\\"s\\\": \", \"t\": 1}"))
    }

    func testContentDigest() throws {
        let digest = try Digest.sha256(Array("abc".utf8))
        let b64 = Data(digest).base64EncodedString()
        XCTAssertEqual(UploadRoutes.sha256(contentDigest: "sha-256=:\(b64):"), digest)
        XCTAssertEqual(UploadRoutes.sha256(contentDigest: "sha-512=:AAAA:, SHA-256=:\(b64):"), digest)
        XCTAssertNil(UploadRoutes.sha256(contentDigest: "sha-256=\(b64)"), "RFC 9530 wants the byte-sequence colons")
        XCTAssertNil(UploadRoutes.sha256(contentDigest: "sha-256=:AAAA:"), "not 32 bytes")
        XCTAssertNil(UploadRoutes.sha256(contentDigest: nil))
    }

    func testCredentialsMatchTokensAndCertificatesOfActiveConnectionsOnly() throws {
        let (token, hash) = try APICredentials.newToken()
        XCTAssertTrue(token.hasPrefix("as4gw_"))
        XCTAssertEqual(token.count, 6 + 64)
        XCTAssertEqual(hash, try APICredentials.digest(token))
        let ca = try CertificateAuthority.createSelfSigned(subject: .init(commonName: "api test"), key: try PrivateKey.generateEC(curve: .p256),
                                                           validFrom: Date() - 60, validUntil: Date() + 3600)
        let cert = ca.certificate
        let live = BackendConnection(name: "live", tokenSHA256: hash, certificateSHA256: nil, addresses: [], createdAt: Date())
        let byCert = BackendConnection(name: "cert", tokenSHA256: nil, certificateSHA256: try APICredentials.fingerprint(cert), addresses: [], createdAt: Date())
        var revoked = live
        revoked.name = "revoked"
        revoked.revokedAt = Date()
        func head(_ auth: String?, _ certificate: Certificate? = nil) -> HTTPRequestHead {
            HTTPRequestHead(method: "GET", path: "/api/v1/inbox", headers: auth.map { ["Authorization": $0] } ?? HTTPHeaders(),
                            clientCertificate: certificate)
        }
        XCTAssertEqual(try APICredentials.authenticate(head("Bearer \(token)"), among: [revoked, live])?.name, "live")
        XCTAssertEqual(try APICredentials.authenticate(head("bearer  \(token) "), among: [live])?.name, "live")
        XCTAssertNil(try APICredentials.authenticate(head("Bearer \(token)"), among: [revoked]))
        XCTAssertNil(try APICredentials.authenticate(head("Bearer \(token)x"), among: [live]))
        XCTAssertNil(try APICredentials.authenticate(head("Basic \(token)"), among: [live]))
        XCTAssertEqual(try APICredentials.authenticate(head(nil, cert), among: [live, byCert])?.name, "cert")
        XCTAssertNil(try APICredentials.authenticate(head(nil), among: [live, byCert]))

        // Credentials naming two connections are refused, whatever the order of the connections;
        // a certificate that no connection holds (the TLS layer's own) leaves the token to decide.
        func refusal(_ h: HTTPRequestHead, _ connections: [BackendConnection]) -> String? {
            do {
                return "authenticated as \(try APICredentials.authenticate(h, among: connections)?.name ?? "nobody")"
            } catch let p as Problem {
                return "\(p.status) \(p.type)"
            } catch { return "\(error)" }
        }
        XCTAssertEqual(refusal(head("Bearer \(token)", cert), [live, byCert]), "400 ambiguous-credentials")
        XCTAssertEqual(refusal(head("Bearer \(token)", cert), [byCert, live]), "400 ambiguous-credentials")
        var both = live
        both.certificateSHA256 = byCert.certificateSHA256
        XCTAssertEqual(refusal(head("Bearer \(token)", cert), [both]), "authenticated as live")
        XCTAssertEqual(refusal(head("Bearer \(token)", cert), [live]), "authenticated as live")
        var twice = head("Bearer \(token)")
        twice.headers.add(name: "authorization", value: "Bearer as4gw_other")
        XCTAssertEqual(refusal(twice, [live]), "400 ambiguous-credentials")
        twice.headers.remove(name: "Authorization")
        twice.headers.add(name: "Authorization", value: "Bearer \(token)")
        XCTAssertEqual(refusal(twice, [live]), "authenticated as live")
    }

    func testMetadataProblemsNameTheirFields() {
        func problem(_ json: String) -> Problem? {
            do { _ = try SubmitRoute.metadata(Array(json.utf8)); return nil } catch { return error as? Problem }
        }
        XCTAssertEqual(problem("[1]")?.status, 400)
        XCTAssertEqual(problem("{\"sender\": ")?.status, 400)
        let p = problem("{\"sender\": 5, \"recipients\": [\"_DEFAULT@40003032949\", \"_default@40003032949\"], \"subject\": \"s\", "
                        + "\"notifyOnDelivery\": 1, \"idempotencyKey\": \"\", \"uploads\": \"x\"}")
        XCTAssertEqual(p?.status, 422)
        XCTAssertEqual(p?.errors.map(\.pointer), ["/sender", "/recipients/1", "/notifyOnDelivery", "/idempotencyKey", "/uploads"], "\(String(describing: p?.detail))")
        XCTAssertNil(problem("{\"sender\": \"DVS@90000048472\", \"recipients\": [\"_DEFAULT@40003032949\"], \"subject\": \"s\", \"notifyOnDelivery\": false}"))
    }

    /// Text XML 1.0 cannot carry (it would be refused by the receiving gateway and make the
    /// evidence bundle unwritable) is a 422 naming the field, for every free-text field.
    func testMetadataTextXMLCannotCarryIsRefusedPerField() {
        func problem(_ field: String, _ escaped: String) -> Problem? {
            var fields = ["\"subject\": \"s\""]
            if field == "subject" { fields = [] }
            fields.append("\"\(field)\": \"bad \(escaped) char\"")
            let json = "{\"sender\": \"DVS@90000048472\", \"recipients\": [\"_DEFAULT@40003032949\"], " + fields.joined(separator: ", ") + "}"
            do { _ = try SubmitRoute.metadata(Array(json.utf8)); return nil } catch { return error as? Problem }
        }
        for field in ["subject", "documentKind", "referenceNumber", "idempotencyKey"] {
            for escaped in ["\\uffff", "\\ufffe", "\\u0001", "\\u001f"] {
                let p = problem(field, escaped)
                XCTAssertEqual(p?.status, 422, "\(field) \(escaped)")
                XCTAssertEqual(p?.errors.map(\.pointer), ["/\(field)"], "\(field) \(escaped): \(String(describing: p?.detail))")
                XCTAssertTrue(p?.detail.contains("XML cannot carry") ?? false, "\(String(describing: p?.detail))")
            }
            XCTAssertNil(problem(field, "tab\\t line\\n cr\\r \\ufffd \\ud83d\\ude00"), field)
        }
        // A lone surrogate never becomes text the gateway keeps: refused, whichever way.
        let lone = problem("subject", "\\ud800")
        XCTAssertTrue(lone?.status == 400 || lone?.status == 422, "\(String(describing: lone?.status))")
    }

    /// The API's limits count Unicode code points, as the spec's maxLength does: "a" with 1,000
    /// combining accents is 1,001 characters (one grapheme cluster), and 200 "ā" (400 bytes of
    /// UTF-8) are a valid idempotency key.
    func testMetadataLengthsCountCodePoints() {
        func problem(subject: String = "s", key: String? = nil) -> Problem? {
            var object: [String: Any] = ["sender": "DVS@90000048472", "recipients": ["_DEFAULT@40003032949"], "subject": subject]
            if let key { object["idempotencyKey"] = key }
            let json = try! JSONSerialization.data(withJSONObject: object)
            do { _ = try SubmitRoute.metadata(Array(json)); return nil } catch { return error as? Problem }
        }
        let accents = "a" + String(repeating: "\u{0301}", count: 1000)
        XCTAssertEqual(accents.count, 1, "one grapheme cluster")
        XCTAssertEqual(problem(subject: accents)?.errors.map(\.pointer), ["/subject"])
        XCTAssertTrue(problem(subject: accents)?.detail.contains("longer than 1000 characters (Unicode code points)") ?? false)
        XCTAssertNil(problem(subject: "a" + String(repeating: "\u{0301}", count: 999)), "1,000 code points")
        XCTAssertNil(problem(subject: String(repeating: "😀", count: 1000)), "1,000 code points beyond the BMP")
        XCTAssertNil(problem(key: String(repeating: "ā", count: 200)), "200 code points, 400 bytes")
        XCTAssertEqual(problem(key: String(repeating: "ā", count: 201))?.errors.map(\.detail), ["must be a string of 1 to 200 characters"])
        XCTAssertEqual(TextInput.problem("e" + String(repeating: "\u{0301}", count: 5), maxLength: 5), "longer than 5 characters (Unicode code points)")
    }

    /// The API splits the path as sent at its `/`s and only then decodes each segment, so an id
    /// holding an escaped `/`, `?`, `#` or `%` stays one segment; the hrefs it gives are escaped.
    func testRoutesSplitTheRawPathAndHrefsAreEscaped() {
        let head = HTTPRequestHead(method: "GET", path: "/api/v1/messages/weird/id?x#y%/files/1", rawPath: "/api/v1/messages/weird%2Fid%3Fx%23y%25/files/1")
        XCTAssertEqual(APIHandler.segments(head), ["messages", "weird/id?x#y%", "files", "1"])
        XCTAssertEqual(APIHandler.segments(HTTPRequestHead(method: "GET", path: "/api/v1/", rawPath: "/api%2Fv1/inbox")), [])
        for id in ["weird/id?x#y%", "doc[1]+ā;x:y@gw-b", "7f39@gw-a"] {
            let href = DocumentView.href(id, file: 1)
            XCTAssertEqual(APIHandler.segments(HTTPRequestHead(method: "GET", path: "", rawPath: href)), ["messages", id, "files", "1"], href)
        }
        XCTAssertEqual(DocumentView.href("doc[1]+ā;x:y@gw-b", file: 2), "/api/v1/messages/doc%5B1%5D%2B%C4%81;x:y@gw-b/files/2")
        XCTAssertEqual(PercentEncoding.pathSegment("7f39-ab@gw-a.lv"), "7f39-ab@gw-a.lv", "the ids this gateway makes need no escape")
    }

    /// The ids a document may have: what the API can put in a URL unchanged in meaning, and every
    /// id this gateway makes.
    func testDocumentIdentifierRule() {
        for id in ["7f397eb5-a509-49fd-9a5e-bcce5bcc7fb4@gw-a", "doc[1]+ā;x:y@gw-b", "Lēmums-7", String(repeating: "d", count: 255),
                   Identifier.messageId(domain: "gw-ā.lv")] {
            XCTAssertNil(DocumentIdentifier.problem(id), id)
        }
        let refused: [(String, String)] = [("", "is empty"), (String(repeating: "d", count: 256), "has 256 characters; at most 255"),
                                           ("weird/id", "contains \"/\""), ("a?b", "contains \"?\""), ("a#b", "contains \"#\""),
                                           ("a%41", "contains \"%\""), ("a\\b", "contains \"\\\""), ("a b", "U+0020"),
                                           ("a\u{00A0}b", "U+00A0"), ("a\tb", "U+0009"), ("a\u{200B}b", "U+200B"), ("a\u{FFFF}", "U+FFFF")]
        for (id, says) in refused {
            let p = DocumentIdentifier.problem(id)
            XCTAssertTrue(p?.contains(says) ?? false, "\(id.debugDescription): \(String(describing: p))")
        }
    }

    func testLoopbackPeers() {
        for a in ["127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1"] { XCTAssertTrue(APIHandler.isLoopback(a), a) }
        for a in ["10.0.0.1", "::ffff:10.0.0.1", "", "1.127.0.0"] { XCTAssertFalse(APIHandler.isLoopback(a), a) }
    }
}

/// Files made while reading a submission and the start-up sweep of the spool folder.
final class SpoolCleanupTests: XCTestCase {
    private func scratch() throws -> String {
        let path = NSTemporaryDirectory() + "/as4gw-api-spool-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return path
    }

    private func files(_ directory: String) -> [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
    }

    /// A base64 part over 8 MiB encoded is decoded into a spool file (unless it is the first, the "root").
    private let metadata = "--b\r\nContent-Disposition: form-data; name=\"metadata\"\r\n\r\n{}\r\n"
    private let bigBase64 = String(repeating: "QUJD", count: (8 << 20) / 4 + 1)

    func testFormDataRemovesDecodedFilesWhenALaterPartIsRefused() throws {
        let spool = try scratch()
        let body = metadata + "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            + bigBase64 + "\r\n--b\r\nContent-Type: text/plain\r\n\r\nno disposition\r\n--b--\r\n"
        XCTAssertThrowsError(try FormData.parse(.bytes(Array(body.utf8)), contentType: "multipart/form-data; boundary=b", spoolDirectory: spool))
        XCTAssertEqual(files(spool), [])
    }

    func testFormDataNamesItsDecodedFilesForRemoval() throws {
        let spool = try scratch()
        let body = metadata + "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            + bigBase64 + "\r\n--b--\r\n"
        let form = try FormData.parse(.bytes(Array(body.utf8)), contentType: "multipart/form-data; boundary=b", spoolDirectory: spool)
        XCTAssertEqual(files(spool).count, 1)
        XCTAssertEqual(form.spoolFiles.count, 1)
        form.removeSpoolFiles()
        XCTAssertEqual(files(spool), [])
    }

    func testStartSweepRemovesLeftoverFilesOnly() throws {
        let spool = try scratch()
        for name in ["as4gw-body-abc123", "as4gw-00ff.b64dec", "as4gw-00ee.dechunked", "api-1.part"] {
            FileManager.default.createFile(atPath: spool + "/" + name, contents: Data("x".utf8))
        }
        try FileManager.default.createDirectory(atPath: spool + "/keep", withIntermediateDirectories: false)
        XCTAssertEqual(Gateway.sweepSpool(spool), 4)
        XCTAssertEqual(files(spool), ["keep"])
        XCTAssertEqual(Gateway.sweepSpool(spool + "/missing"), 0)
    }
}

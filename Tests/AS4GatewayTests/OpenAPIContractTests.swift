import AS4Crypto
import Foundation
import XCTest

/// docs/openapi.yaml against the OpenAPI 3.1 schema (openapi-spec-validator, pinned in
/// scripts/deps) and against the running API: every operation it lists is called, with and
/// without credentials, and each answer must have a documented status and match its schema.
final class OpenAPIContractTests: XCTestCase {
    static var spec: String { GatewayProcess.projectRoot.appendingPathComponent("docs/openapi.yaml").path }
    static var checker: String { GatewayProcess.projectRoot.appendingPathComponent("Tests/interop/openapi_check.py").path }

    static func python(_ args: [String]) throws -> (status: Int32, out: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", checker] + args
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try p.run()
        let out = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        return (p.terminationStatus, out)
    }

    func testTheFileIsAValidOpenAPI31Document() throws {
        let good = try Self.python(["validate", Self.spec])
        XCTAssertEqual(good.status, 0, good.out)
        // The validator does refuse: the same file without the API's title.
        let broken = try String(contentsOfFile: Self.spec, encoding: .utf8).replacingOccurrences(of: "  title: as4gw backend API\n", with: "")
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("openapi-broken-\(getpid()).yaml").path
        try broken.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        XCTAssertNotEqual(try Self.python(["validate", path]).status, 0)
    }

    /// API.md says any route may answer 400, 401, 500, 503 and 507, and any route with a body 413
    /// and 501 too: every operation declares them (with Retry-After on 503 and 507).
    func testEveryOperationDeclaresWhatAnyRouteMayAnswer() throws {
        let checked = try Self.python(["rules", Self.spec])
        XCTAssertEqual(checked.status, 0, checked.out)
        // The check does refuse: the same file with one operation's 507 left out.
        let text = try String(contentsOfFile: Self.spec, encoding: .utf8)
        let getUpload = try XCTUnwrap(text.range(of: "operationId: getUpload"))
        let status = try XCTUnwrap(text.range(of: "        '507': {$ref: '#/components/responses/InsufficientStorage'}\n", range: getUpload.upperBound..<text.endIndex))
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("openapi-rules-\(getpid()).yaml").path
        try text.replacingCharacters(in: status, with: "").write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let broken = try Self.python(["rules", path])
        XCTAssertNotEqual(broken.status, 0)
        XCTAssertTrue(broken.out.contains("getUpload (GET /api/v1/uploads/{uploadId}) does not declare 507"), broken.out)
    }

    /// An answer as the checker reads it: status, JSON body, media type, length and header fields.
    static func answer(_ operationId: String, _ reply: BackendClient.Reply) -> [String: Any] {
        let isJSON = reply.contentType?.contains("json") ?? false
        return ["operationId": operationId, "status": reply.status,
                "body": isJSON ? (try? JSONSerialization.jsonObject(with: Data(reply.body))) ?? NSNull() : NSNull(),
                "contentType": reply.contentType ?? NSNull(), "length": reply.body.count, "headers": reply.headers.map { [$0.0, $0.1] }]
    }

    func testEveryListedOperationAnswersWithADocumentedStatusAndShape() throws {
        let routes = try Self.python(["routes", Self.spec])
        XCTAssertEqual(routes.status, 0, routes.out)
        let operations = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(routes.out.utf8)) as? [[String: Any]])
        XCTAssertGreaterThanOrEqual(operations.count, 12)

        let sender = "DVS@90000048472", recipient = "_DEFAULT@40003032949"
        let h = try GatewayHarness()
        try h.configure(["gw-a", "gw-b"], legs: GatewayHarness.eAddressLegs)
        try h.importDirectory("gw-a", [GatewayHarness.localEntry(recipient, ownerId: "40003032949", kind: "company")])
        let port = h.nodes["gw-a"]!.submitPort
        let dms = try BackendClient(port: port, token: try h.addConnection("gw-a", name: "dms", addresses: [sender]))
        let mailbox = try BackendClient(port: port, token: try h.addConnection("gw-a", name: "mailbox", addresses: [recipient]))
        let registry = try BackendClient(port: port, token: try h.addConnection("gw-a", name: "registry", addresses: [], roles: ["operator"]))
        let lookup = try BackendClient(port: port, token: try h.addConnection("gw-a", name: "lookup", addresses: [], roles: ["lookup"]))
        let anonymous = try BackendClient(port: port, token: nil)
        let ops = try BackendClient(port: port, token: try h.addConnection("gw-a", name: "ops", addresses: [], roles: ["operator"]))
        try h.start("gw-a")
        // A file served with its own type, not application/octet-stream.
        let first = try dms.submit(metadata: BackendClient.metadata(from: sender, to: [recipient]),
                                   rawParts: [("Content-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\nContent-Type: text/plain", Array("A".utf8))])
        let id = try XCTUnwrap(first.json["messageId"] as? String, first.text)

        // One real call per operation; a listed operation without a call here fails the test.
        var answers: [[String: Any]] = []
        let chunk = try h.file("chunk", Array("0123456789".utf8))
        var uploadId = "", entryId = ""
        var holdId = ""
        var selfService: SelfServiceContract?
        let optIn = try h.file("opt-in.json", Array("{\"fromPersons\": true}".utf8))
        for op in operations {
            let opId = op["operationId"] as! String, method = op["method"] as! String
            let statuses = Set((op["statuses"] as! [NSNumber]).map(\.intValue))
            let path = (op["path"] as! String).replacingOccurrences(of: "{id}", with: id).replacingOccurrences(of: "{n}", with: "1")
                .replacingOccurrences(of: "{uploadId}", with: uploadId).replacingOccurrences(of: "{holdId}", with: holdId)
                .replacingOccurrences(of: "{entryId}", with: entryId).replacingOccurrences(of: "{address}", with: recipient)
                .replacingOccurrences(of: "{registrationId}", with: "reg-none").replacingOccurrences(of: "{sha256}", with: String(repeating: "0", count: 64))
            let reply: BackendClient.Reply
            switch opId {
            case "createUpload":
                reply = try dms.post(path, json: "{\"name\": \"c.bin\", \"size\": 10}")
                uploadId = (reply.json["uploadId"] as? String) ?? "missing"
            case "getUpload": reply = try dms.get(path)
            case "deleteUpload":
                let spare = try dms.post("/api/v1/uploads", json: "{\"name\": \"spare.bin\", \"size\": 10}")
                reply = try dms.call("DELETE", "/api/v1/uploads/\((spare.json["uploadId"] as? String) ?? "missing")", json: nil)
            case "putChunk": reply = try dms.put(path, file: chunk, headers: [("Content-Digest", "sha-256=:" + Data(try Digest.sha256(Array("0123456789".utf8))).base64EncodedString() + ":")])
            case "completeUpload": reply = try dms.post(path, json: "{}")
            case "submitMessage": reply = try dms.submit(metadata: BackendClient.metadata(from: sender, to: [recipient]), files: [("b.txt", [1, 2])])
            case "getMessage", "getReceipt", "getEvidence": reply = try dms.get(path)
            case "getFile": reply = try mailbox.get(path)
            case "headFile": reply = try mailbox.call("HEAD", path, json: nil)
            case "confirmMessage": reply = try mailbox.post(path, json: "{\"decision\": \"accept\", \"code\": \"OK\"}")
            case "getInbox": reply = try mailbox.get(path + "?address=\(recipient)&limit=10")
            case "getNotifications": reply = try mailbox.get(path)
            case "confirmNotifications":
                let last = try XCTUnwrap(((try mailbox.get("/api/v1/notifications").json["items"] as? [[String: Any]])?.last?["id"] as? NSNumber)?.intValue)
                reply = try mailbox.post(path, json: "{\"upTo\": \(last)}")
            case "putNoticeEmail": reply = try mailbox.call("PUT", path, json: "{\"email\": \"dvs@example.lv\"}")
            case "getNoticeEmail", "deleteNoticeEmail":
                XCTAssertEqual(try mailbox.call("PUT", path, json: "{\"email\": \"dvs@example.lv\"}").status, 200)
                reply = try mailbox.call(method, path, json: nil)
            case "listNotices": reply = try mailbox.get(path + "?address=\(recipient)")
            case "listLegalHolds", "getAddressLimits": reply = try ops.get(path)
            case "placeLegalHold":
                reply = try ops.post(path, json: "{\"messageId\": \"\(id)\", \"reason\": \"contract test\"}")
                holdId = (reply.json["id"] as? NSNumber).map { "\($0.intValue)" } ?? "missing"
                XCTAssertEqual(reply.headers.first { $0.0.lowercased() == "location" }?.1, "/api/v1/legal-holds/\(holdId)")
            case "getLegalHold": reply = try ops.get(path)
            case "releaseLegalHold": reply = try ops.post(path, json: "{}")
            case "setAddressLimits": reply = try ops.put(path, json: "{\"mailboxBytes\": 1000000}")
            case _ where SelfServiceContract.operations.contains(opId):
                // On a second gateway whose API speaks HTTPS: registrants authenticate by certificate.
                selfService = try selfService ?? SelfServiceContract()
                reply = try selfService!.call(opId)
            case "addNonDigitalPerson":
                reply = try registry.post(path, json: "{\"personCode\": \"16117519997\", \"reason\": \"Court decision\"}")
                entryId = (reply.json["id"] as? NSNumber).map { "\($0)" } ?? "missing"
            case "listNonDigitalPersons", "listNonDigitalHistory", "listChannelLookups": reply = try registry.get(path)
            case "endNonDigitalPerson": reply = try registry.post(path, json: "{\"reason\": \"lifted\"}")
            case "lookupChannel": reply = try lookup.get(path + "?person=16117519997")
            case "lookupChannelBatch": reply = try lookup.post(path, json: "{\"persons\": [\"16117519997\", \"32123456789\", \"nobody\"]}")
            case "getOptIn": reply = try mailbox.get(path)
            case "setOptIn": reply = try mailbox.put(path, file: optIn)
            default:
                XCTFail("\(method) \(path) (\(opId)) is listed but this test has no call for it")
                continue
            }
            XCTAssertTrue((200..<300).contains(reply.status) && statuses.contains(reply.status), "\(opId): \(reply.status) \(reply.text)")
            answers.append(Self.answer(opId, reply))
            let refused: BackendClient.Reply
            switch method {
            case "GET": refused = try anonymous.get(path)
            case "PUT": refused = try anonymous.put(path, file: chunk)
            case "POST": refused = try anonymous.post(path, json: "{}")
            default: refused = try anonymous.call(method, path, json: nil)
            }
            XCTAssertEqual(refused.status, 401, "\(opId) without credentials")
            XCTAssertTrue(statuses.contains(401), "\(opId) does not document 401")
            answers.append(Self.answer(opId, refused))
        }

        // Refusals and second answers the spec must document as well, each with its header fields.
        let keyed = BackendClient.metadata(from: sender, to: [recipient], key: "contract-replay")
        XCTAssertEqual(try dms.submit(metadata: keyed, files: [("c.txt", [3])]).status, 202)
        let replay = try dms.submit(metadata: keyed, files: [("c.txt", [3])])
        XCTAssertEqual(replay.status, 200, replay.text)
        var extra: [(String, BackendClient.Reply)] = [("submitMessage", replay)]
        let sent = try dms.submit(metadata: "{\"sender\": \"\(sender)\", \"recipients\": [\"\(recipient)\"], \"subject\": \"s\", \"uploads\": [\"\(uploadId)\"]}", files: [])
        XCTAssertEqual(sent.status, 202, sent.text)
        extra.append(("deleteUpload", try dms.call("DELETE", "/api/v1/uploads/\(uploadId)", json: nil)))
        XCTAssertEqual(try dms.post("/api/v1/uploads", json: "{\"name\": \"small.bin\", \"size\": 1}").status, 201)
        extra.append(("createUpload", try dms.post("/api/v1/uploads", json: "{\"name\": \"huge.bin\", \"size\": \(64 << 30)}")))
        var full: BackendClient.Reply?
        for _ in 0..<33 where full == nil {
            let r = try dms.post("/api/v1/uploads", json: "{\"name\": \"f.bin\", \"size\": 1}")
            if r.status != 201 { full = r }
        }
        extra.append(("createUpload", try XCTUnwrap(full)))
        extra.append(("getLegalHold", try ops.get("/api/v1/legal-holds/999999")))
        extra += try XCTUnwrap(selfService).refusals().map { ($0.operationId, $0.reply) }
        for (opId, reply) in extra {
            XCTAssertFalse((500..<600).contains(reply.status), "\(opId): \(reply.status) \(reply.text)")
            answers.append(Self.answer(opId, reply))
        }
        XCTAssertEqual(extra.map(\.1.status), [200, 409, 413, 409, 404, 422, 400, 422], extra.map { "\($0.0): \($0.1.text)" }.joined(separator: "\n"))
        let file = h.root.appendingPathComponent("answers.json").path
        try JSONSerialization.data(withJSONObject: answers).write(to: URL(fileURLWithPath: file))
        let check = try Self.python(["responses", Self.spec, file])
        XCTAssertEqual(check.status, 0, check.out)
    }
}

import Foundation
import HTTPClient
import XCTest

/// A DMS talking to a gateway's backend API in tests: multipart submissions, JSON in and out.
struct BackendClient {
    let base: String
    let token: String?
    let http: HTTPClient

    init(port: UInt16, token: String?) throws {
        base = "http://127.0.0.1:\(port)"
        self.token = token
        http = try HTTPClient(configuration: HTTPClientConfiguration())
    }

    struct Reply {
        var status: Int
        var body: [UInt8]
        var contentType: String?
        var contentDisposition: String?
        /// Every header field of the answer, in arrival order.
        var headers: [(String, String)] = []
        var json: [String: Any] { ((try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any]) ?? [:] }
        var text: String { String(decoding: body, as: UTF8.self) }
    }

    /// One recipient's view in `GET /api/v1/messages/{id}` (the first one, or `address`'s); empty when absent.
    func recipient(of id: String, _ address: String? = nil) throws -> [String: Any] {
        let list = (try get("/api/v1/messages/\(id)").json["recipients"] as? [[String: Any]]) ?? []
        return list.first { address == nil || $0["address"] as? String == address } ?? [:]
    }

    private var auth: [(String, String)] { token.map { [("Authorization", "Bearer \($0)")] } ?? [] }

    func get(_ path: String) throws -> Reply {
        let r = try http.get(url: base + path, headers: auth)
        return Reply(status: r.status, body: r.body, contentType: r.header("Content-Type"), contentDisposition: r.header("Content-Disposition"),
                     headers: r.headers)
    }

    func post(_ path: String, json: String) throws -> Reply {
        let r = try http.post(url: base + path, headers: auth + [("Content-Type", "application/json")], body: .bytes(Array(json.utf8)))
        return Reply(status: r.status, body: r.body, contentType: r.header("Content-Type"), headers: r.headers)
    }

    /// Any method, through curl (the project's HTTP client only GETs and POSTs): `body` is curl's
    /// arguments for the body (none, `--data-binary …`), `headers` come after the credentials.
    func curl(_ method: String, _ path: String, body: [String] = [], headers: [(String, String)] = []) throws -> Reply {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("curl-\(UUID().uuidString)").path
        let head = out + ".head"
        defer { for f in [out, head] { try? FileManager.default.removeItem(atPath: f) } }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        // HEAD by -I: with -X HEAD curl would wait for the body the Content-Length announces.
        let verb = method == "HEAD" ? ["-I"] : ["-X", method]
        p.arguments = ["-s"] + verb + ["-o", out, "-D", head, "-w", "%{http_code} %{content_type}"] + body
            + (auth + headers).flatMap { ["-H", "\($0.0): \($0.1)"] } + [base + path]
        let pipe = Pipe()
        p.standardOutput = pipe
        try p.run()
        let written = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).split(separator: " ", maxSplits: 1)
        p.waitUntilExit()
        let fields = ((try? String(contentsOfFile: head, encoding: .utf8)) ?? "").components(separatedBy: "\r\n").dropFirst().compactMap { line -> (String, String)? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
        // -I writes the header fields where the body would go: a HEAD answer has no body.
        let received = method == "HEAD" ? [] : (try? [UInt8](Data(contentsOf: URL(fileURLWithPath: out)))) ?? []
        return Reply(status: Int(written.first ?? "") ?? 0, body: received,
                     contentType: written.count > 1 ? String(written[1]) : nil, headers: fields)
    }

    /// Any method with an optional JSON body.
    func call(_ method: String, _ path: String, json: String?) throws -> Reply {
        try curl(method, path, body: json.map { ["--data-binary", $0] } ?? [], headers: json == nil ? [] : [("Content-Type", "application/json")])
    }

    /// PUT with a file as the body.
    func put(_ path: String, file: String, headers: [(String, String)] = []) throws -> Reply {
        try curl("PUT", path, body: ["--data-binary", "@" + file], headers: [("Content-Type", "application/octet-stream")] + headers)
    }

    /// POST /api/v1/messages with a metadata part (as given, so tests can send it broken) and files.
    func submit(metadata: String?, files: [(name: String, bytes: [UInt8])]) throws -> Reply {
        let boundary = "as4gw-test-\(UUID().uuidString)"
        var body: [UInt8] = []
        if let metadata {
            body += Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"metadata\"\r\nContent-Type: application/json\r\n\r\n\(metadata)\r\n".utf8)
        }
        for f in files {
            body += Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\(f.name)\"\r\nContent-Type: application/octet-stream\r\n\r\n".utf8)
            body += f.bytes + Array("\r\n".utf8)
        }
        body += Array("--\(boundary)--\r\n".utf8)
        let r = try http.post(url: base + "/api/v1/messages", headers: auth + [("Content-Type", "multipart/form-data; boundary=\(boundary)")],
                              body: .bytes(body))
        return Reply(status: r.status, body: r.body, contentType: r.header("Content-Type"), headers: r.headers)
    }

    /// POST /api/v1/messages with a metadata part and file parts whose part headers are given
    /// whole (`Content-Disposition` and the rest), for the names and types a DMS may send.
    func submit(metadata: String, rawParts: [(headers: String, bytes: [UInt8])]) throws -> Reply {
        let boundary = "as4gw-test-\(UUID().uuidString)"
        var body = Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"metadata\"\r\nContent-Type: application/json\r\n\r\n\(metadata)\r\n".utf8)
        for p in rawParts {
            body += Array("--\(boundary)\r\n\(p.headers)\r\n\r\n".utf8) + p.bytes + Array("\r\n".utf8)
        }
        body += Array("--\(boundary)--\r\n".utf8)
        let r = try http.post(url: base + "/api/v1/messages", headers: auth + [("Content-Type", "multipart/form-data; boundary=\(boundary)")],
                              body: .bytes(body))
        return Reply(status: r.status, body: r.body, contentType: r.header("Content-Type"), headers: r.headers)
    }

    static func metadata(from sender: String, to recipients: [String], key: String? = nil, notify: Bool = true) -> String {
        let list = recipients.map { "\"\($0)\"" }.joined(separator: ", ")
        return "{\"sender\": \"\(sender)\", \"recipients\": [\(list)], \"subject\": \"Lēmums Nr. 7\", \"documentKind\": \"decision\", "
            + "\"referenceNumber\": \"1-2/7\", \"notifyOnDelivery\": \(notify)" + (key.map { ", \"idempotencyKey\": \"\($0)\"" } ?? "") + "}"
    }
}

extension GatewayHarness {
    /// The P-Mode legs of documents between e-addresses and their status reports.
    static let eAddressLegs: [Leg] = [Leg(), Leg(action: "EAddressDocument"), Leg(action: "EAddressStatus")]

    /// `as4gw connections add`; returns the token. `roles`: `operator`, `lookup`. `shared`: the
    /// addresses are held by another connection too, on purpose.
    func addConnection(_ node: String, name: String, addresses: [String], roles: [String] = [], shared: Bool = false) throws -> String {
        let r = try GatewayProcess.run(["connections", "add", name, "--data", nodes[node]!.data] + addresses.flatMap { ["--address", $0] }
                                       + roles.flatMap { ["--role", $0] } + (shared ? ["--shared"] : []))
        guard r.status == 0, let token = r.json?["token"] as? String else { throw HarnessTimeout(description: "connections add: \(r.stderr)") }
        return token
    }

    /// Imports a JSON directory into a node's store.
    func importDirectory(_ node: String, _ entries: [String]) throws {
        let path = try file("directory-\(node)-\(UUID().uuidString.prefix(6)).json", Array("{\"addresses\": [\(entries.joined(separator: ","))]}".utf8))
        let r = try GatewayProcess.run(["directory", "import", path, "--data", nodes[node]!.data])
        guard r.status == 0 else { throw HarnessTimeout(description: "directory import: \(r.stderr)") }
    }

    /// gw-a's directory sends `company` to gw-b, whose mailbox holds it; a DMS connection of gw-a
    /// holds `sender`. Starts both gateways and returns that DMS's client.
    func companyMailboxOnB(_ company: String, ownerId: String, dmsOf sender: String, kind: String = "company") throws -> BackendClient {
        try importDirectory("gw-a", [remoteEntry(company, ownerId: ownerId, kind: kind, party: "gw-b")])
        try importDirectory("gw-b", [Self.localEntry(company, ownerId: ownerId, kind: kind)])
        let dms = try BackendClient(port: nodes["gw-a"]!.submitPort, token: try addConnection("gw-a", name: "dms", addresses: [sender]))
        try start("gw-a")
        try start("gw-b")
        return dms
    }

    /// gw-a (configured with the e-address legs, started) whose mailbox holds the company
    /// `_DEFAULT@40003032949`, with a DMS connection for each side: `ministry` holds `DVS@90000048472`.
    static func localMinistryAndCompany() throws -> (h: GatewayHarness, ministry: BackendClient, company: BackendClient) {
        let h = try GatewayHarness()
        try h.configure(["gw-a", "gw-b"], legs: GatewayHarness.eAddressLegs)
        try h.importDirectory("gw-a", [GatewayHarness.localEntry("_DEFAULT@40003032949", ownerId: "40003032949", kind: "company")])
        let port = h.nodes["gw-a"]!.submitPort
        let ministry = try BackendClient(port: port, token: try h.addConnection("gw-a", name: "ministry", addresses: ["DVS@90000048472"]))
        let company = try BackendClient(port: port, token: try h.addConnection("gw-a", name: "company", addresses: ["_DEFAULT@40003032949"]))
        try h.start("gw-a")
        return (h, ministry, company)
    }

    static func localEntry(_ address: String, ownerId: String, kind: String, maxBytes: Int? = nil) -> String {
        "{\"address\": \"\(address)\", \"ownerId\": \"\(ownerId)\", \"ownerKind\": \"\(kind)\", \"accessPoint\": \"local\""
            + (maxBytes.map { ", \"maxMessageBytes\": \($0)" } ?? "") + "}"
    }

    func remoteEntry(_ address: String, ownerId: String, kind: String, party: String) -> String {
        "{\"address\": \"\(address)\", \"ownerId\": \"\(ownerId)\", \"ownerKind\": \"\(kind)\", \"accessPoint\": \"remote\", \"partyId\": \"\(party)\", "
            + "\"partyIdType\": \"urn:oasis:names:tc:ebcore:partyid-type:unregistered\", \"endpoint\": \"\(nodes[party]!.as4URL)\", "
            + "\"certificates\": [\"sha256:\(String(repeating: "ab", count: 32))\"]}"
    }
}

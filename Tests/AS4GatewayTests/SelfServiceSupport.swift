import AS4Crypto
import Foundation
import HTTPClient
import XCTest

/// One gateway (gw-a) whose API listener speaks HTTPS with optional client certificates, and
/// company certificates issued by the development CA the way a qualified CA names a company
/// (organizationIdentifier `NTRLV-<registration number>`).
final class SelfServiceGateway {
    let h: GatewayHarness
    let certs: String
    let ca: CertificateAuthority
    var base: String { "https://127.0.0.1:\(h.nodes["gw-a"]!.submitPort)" }
    var data: String { h.nodes["gw-a"]!.data }

    /// `settings`: more top-level members of gw-a's configuration (JSON text after a comma).
    init(parties: [String] = ["gw-a", "gw-b"], settings: String? = nil) throws {
        h = try GatewayHarness()
        try h.configure(parties, legs: GatewayHarness.eAddressLegs)
        // The first start writes the development PKI whose CA issues the companies' certificates.
        try h.start("gw-a")
        h.stop("gw-a")
        certs = h.pmodeDirectory + "/certs"
        ca = try CertificateAuthority(key: try PrivateKey(pemEncoded: try String(contentsOfFile: certs + "/dev-ca.key", encoding: .utf8)),
                                      certificate: try Certificate(pemEncoded: try String(contentsOfFile: certs + "/dev-ca.pem", encoding: .utf8)))
        let config = h.root.appendingPathComponent("api-tls.json").path
        try """
        {"apiListener": {"address": "127.0.0.1", "port": 0, "path": "/submit",
                         "tls": {"certificate": "\(certs)/gw-a.tls.pem", "key": "\(certs)/gw-a.tls.key", "clientAuthentication": "optional"}}
         \(settings.map { ", " + $0 } ?? "")}
        """.write(toFile: config, atomically: true, encoding: .utf8)
        h.nodes["gw-a"]!.extraArguments = ["--config", config]
    }

    /// P-Modes of gw-a's own (itself and the template party only) in a folder of their own, with
    /// the same development CA and keys: the path to start gw-a with.
    func templateOnlyPModes() throws -> String {
        let directory = h.root.appendingPathComponent("pmode-a").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: certs, toPath: directory + "/certs")
        try h.configure(["gw-a", "template-ap"], legs: GatewayHarness.eAddressLegs, directory: directory)
        return directory
    }

    func start(pmode: String? = nil) throws { try h.start("gw-a", pmode: pmode) }

    /// A client certificate issued by the development CA, written as `<name>.pem`/`.key`.
    struct Identity {
        var certificate: Certificate
        var certificateFile: String
        var keyFile: String
        var pem: String { (try? certificate.pemEncoded()) ?? "" }
        var sha256: String { Digest.hexSHA256(certificate.derBytes) }
    }

    /// `issuer`: another CA than the development CA; its certificate goes into the file after
    /// the leaf, so the TLS client sends the chain.
    func issue(_ name: String, organizationIdentifier: String? = nil, serialNumber: String? = nil, days: Double = 365,
               issuer: CertificateAuthority? = nil) throws -> Identity {
        let key = try PrivateKey.generateEC(curve: .p256)
        let now = Date()
        let certificate = try (issuer ?? ca).issueCertificate(
            for: key.publicKey, subject: .init(commonName: name, organization: "Company \(name)", country: "LV",
                                               organizationIdentifier: organizationIdentifier, serialNumber: serialNumber),
            validFrom: now - 3600, validUntil: now + days * 86_400, keyUsage: [.digitalSignature, .keyEncipherment])
        let file = h.root.appendingPathComponent(name).path
        try (certificate.pemEncoded() + (try issuer.map { try $0.certificate.pemEncoded() } ?? "")).write(toFile: file + ".pem", atomically: true, encoding: .utf8)
        try key.pemEncoded().write(toFile: file + ".key", atomically: true, encoding: .utf8)
        return Identity(certificate: certificate, certificateFile: file + ".pem", keyFile: file + ".key")
    }

    /// A client of the API: with a client certificate, a bearer token, both or neither.
    func client(_ identity: Identity? = nil, token: String? = nil, node: String = "gw-a") throws -> BackendClient {
        var c = HTTPClientConfiguration()
        c.trustedCAFile = certs + "/dev-ca.pem"
        c.clientCertificateFile = identity?.certificateFile
        c.clientKeyFile = identity?.keyFile
        return BackendClient(base: "https://127.0.0.1:\(h.nodes[node]!.submitPort)", token: token, http: try HTTPClient(configuration: c))
    }

    /// gw-a's configuration file (the API listener's TLS and the `settings`).
    var configFile: String { h.root.appendingPathComponent("api-tls.json").path }
}

extension BackendClient {
    init(base: String, token: String?, http: HTTPClient) {
        self.base = base
        self.token = token
        self.http = http
    }
}

extension Digest {
    static func hexSHA256(_ bytes: [UInt8]) -> String {
        ((try? sha256(bytes)) ?? []).map { String(format: "%02x", $0) }.joined()
    }
}

/// Checks a problem+json answer: status, type and (part of) the detail.
func expectProblem(_ r: BackendClient.Reply, _ status: Int, _ type: String, _ detail: String? = nil,
                   file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(r.status, status, r.text, file: file, line: line)
    XCTAssertEqual(r.contentType, "application/problem+json", r.text, file: file, line: line)
    XCTAssertEqual(r.json["type"] as? String, "urn:as4gw:problem:" + type, r.text, file: file, line: line)
    if let detail { XCTAssertTrue((r.json["detail"] as? String ?? "").contains(detail), r.text, file: file, line: line) }
}

/// JSON text of a string (PEM texts hold line breaks).
func jsonString(_ s: String) -> String {
    String(decoding: try! JSONSerialization.data(withJSONObject: [s]), as: UTF8.self).dropFirst().dropLast().description
}

/// The self-service operations of docs/openapi.yaml for `OpenAPIContractTests`: one successful
/// call each, against a gateway with an HTTPS API listener (registrants authenticate by client
/// certificate). Each call sets up what it needs, so the order of the operations does not matter.
final class SelfServiceContract {
    static let operations: Set<String> = ["createRegistration", "listRegistrations", "listExpiringCertificates", "getRegistration",
                                          "approveRegistration", "rejectRegistration", "addRegistrationCertificate",
                                          "revokeRegistrationCertificate"]
    let gw: SelfServiceGateway
    let company: BackendClient
    let ops: BackendClient
    private var made = 0

    init() throws {
        gw = try SelfServiceGateway()
        company = try gw.client(try gw.issue("contract-company", organizationIdentifier: "NTRLV-40003032949"))
        ops = try gw.client(token: try gw.h.addConnection("gw-a", name: "contract-ops", addresses: [], roles: ["operator"]))
        try gw.start()
    }

    /// A new pending DMS registration (each for an address of its own).
    private func register() throws -> BackendClient.Reply {
        made += 1
        return try company.post("/api/v1/registrations", json: "{\"kind\": \"dms\", \"addresses\": [\"C\(made)@40003032949\"]}")
    }

    private func pending() throws -> String {
        let r = try register()
        return try XCTUnwrap(r.json["id"] as? String, r.text)
    }

    /// Adds a certificate ending in 10 days to a new registration; returns both ids.
    private func rolledOver() throws -> (id: String, sha256: String, reply: BackendClient.Reply) {
        let id = try pending()
        let successor = try gw.issue("contract-successor-\(made)", organizationIdentifier: "NTRLV-40003032949", days: 10)
        let reply = try company.post("/api/v1/registrations/\(id)/certificates", json: "{\"certificate\": \(jsonString(successor.pem))}")
        return (id, successor.sha256, reply)
    }

    /// Refusals the spec must document too: an approval whose comment is no string (422) or
    /// whose body is no JSON object (400).
    func refusals() throws -> [(operationId: String, reply: BackendClient.Reply)] {
        let base = "/api/v1/registrations"
        return [("approveRegistration", try ops.post(base + "/\(try pending())/approve", json: "{\"comment\": {}}")),
                ("approveRegistration", try ops.post(base + "/\(try pending())/approve", json: "[]")),
                ("revokeRegistrationCertificate", try company.post(base + "/\(try rolledOver().id)/certificates/\(String(repeating: "0", count: 64))/revoke",
                                                                   json: "{\"reason\": 7}"))]
    }

    func call(_ operationId: String) throws -> BackendClient.Reply {
        let base = "/api/v1/registrations"
        switch operationId {
        case "createRegistration": return try register()
        case "listRegistrations": _ = try pending(); return try ops.get(base + "?status=pending")
        case "getRegistration": return try company.get(base + "/" + (try pending()))
        case "approveRegistration": return try ops.post(base + "/\(try pending())/approve", json: "{}")
        case "rejectRegistration": return try ops.post(base + "/\(try pending())/reject", json: "{\"reason\": \"no contract\"}")
        case "addRegistrationCertificate": return try rolledOver().reply
        case "revokeRegistrationCertificate":
            let r = try rolledOver()
            return try company.post(base + "/\(r.id)/certificates/\(r.sha256)/revoke", json: "{\"reason\": \"test\"}")
        case "listExpiringCertificates": _ = try rolledOver(); return try ops.get(base + "/expiring?days=30")
        default: throw HarnessTimeout(description: "no call for \(operationId)")
        }
    }
}

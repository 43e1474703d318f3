import Foundation
@testable import AS4Gateway
import HTTPClient
import XCTest

/// The API listener over HTTPS with optional client certificates: a connection registered with a
/// certificate authenticates by it alone; a token connection still works; any other certificate
/// is no credential.
final class BackendAPITLSTests: XCTestCase {
    func testClientCertificateAuthenticatesItsConnectionOnly() throws {
        let h = try GatewayHarness()
        try h.configure(["gw-a", "gw-b"], legs: GatewayHarness.eAddressLegs)
        // The first start writes the development PKI whose files the API listener then uses.
        try h.start("gw-a")
        h.stop("gw-a")
        let certs = h.pmodeDirectory + "/certs"
        try h.useTLSListener("gw-a", "apiListener", clientAuthentication: "optional")
        let address = "_DEFAULT@40003032949"
        let data = h.nodes["gw-a"]!.data
        let added = try GatewayProcess.run(["connections", "add", "cert-dms", "--address", address, "--certificate", "\(certs)/gw-b.tls.pem", "--data", data])
        XCTAssertEqual(added.status, 0, added.stderr)
        XCTAssertEqual(added.json?["token"] as? NSNull, NSNull(), "a certificate connection gets no token")
        XCTAssertEqual((added.json?["certificateSHA256"] as? String)?.count, 64)
        let token = try h.addConnection("gw-a", name: "token-dms", addresses: [address], shared: true)
        let listed = try GatewayProcess.run(["connections", "list", "--data", data])
        XCTAssertEqual(listed.stdout.split(separator: "\n").count, 2)
        XCTAssertFalse(listed.stdout.contains(token), "the token is never shown again")
        try h.start("gw-a")

        let url = "https://127.0.0.1:\(h.nodes["gw-a"]!.submitPort)/api/v1/inbox?address=\(address)"
        func client(_ party: String?) throws -> HTTPClient {
            var c = HTTPClientConfiguration()
            c.trustedCAFile = certs + "/dev-ca.pem"
            if let party {
                c.clientCertificateFile = "\(certs)/\(party).tls.pem"
                c.clientKeyFile = "\(certs)/\(party).tls.key"
            }
            return try HTTPClient(configuration: c)
        }
        XCTAssertEqual(try client("gw-b").get(url: url).status, 200, "the registered certificate")
        XCTAssertEqual(try client("gw-a").get(url: url).status, 401, "a valid certificate of no connection")
        XCTAssertEqual(try client(nil).get(url: url).status, 401)
        XCTAssertEqual(try client(nil).get(url: url, headers: [("Authorization", "Bearer \(token)")]).status, 200)
        XCTAssertThrowsError(try HTTPClient(configuration: HTTPClientConfiguration()).get(url: url.replacingOccurrences(of: "https:", with: "http:")),
                             "no plain HTTP on a TLS listener")
        XCTAssertEqual(try GatewayProcess.run(["connections", "revoke", "cert-dms", "--data", data]).status, 0)
        XCTAssertEqual(try client("gw-b").get(url: url).status, 401, "revoked")
    }
}

/// Every refused API request is one log line and a problem+json body, also when the HTTP server
/// refuses it itself (no client certificate where one is required); the AS4 endpoint logs its
/// early refusals too, naming the client.
final class RefusalLogTests: XCTestCase {
    func testRefusalsAreLoggedAndAnsweredAsProblems() throws {
        let h = try GatewayHarness()
        try h.configure(["gw-a", "gw-b"], legs: GatewayHarness.eAddressLegs)
        try h.start("gw-a")
        h.stop("gw-a")
        let certs = h.pmodeDirectory + "/certs"
        try h.useTLSListener("gw-a", "apiListener", clientAuthentication: "required")
        try h.start("gw-a")
        var plain = HTTPClientConfiguration()
        plain.trustedCAFile = certs + "/dev-ca.pem"
        let noCertificate = try HTTPClient(configuration: plain).get(url: "https://127.0.0.1:\(h.nodes["gw-a"]!.submitPort)/api/v1/inbox?address=_PRIVATE@161175-19997")
        XCTAssertEqual(noCertificate.status, 403)
        XCTAssertEqual(noCertificate.headers.first { $0.0.lowercased() == "content-type" }?.1, "application/problem+json")
        XCTAssertEqual((try JSONSerialization.jsonObject(with: Data(noCertificate.body)) as? [String: Any])?["status"] as? Int, 403)
        var withCertificate = plain
        withCertificate.clientCertificateFile = certs + "/gw-b.tls.pem"
        withCertificate.clientKeyFile = certs + "/gw-b.tls.key"
        let unknown = try HTTPClient(configuration: withCertificate).get(url: "https://127.0.0.1:\(h.nodes["gw-a"]!.submitPort)/api/v1/inbox",
                                                                         headers: [("Authorization", "Bearer not-a-token")])
        XCTAssertEqual(unknown.status, 401)
        let as4 = try HTTPClient(configuration: plain).post(url: h.nodes["gw-a"]!.as4URL, headers: [("Content-Type", "text/plain")], body: .bytes([1]))
        XCTAssertEqual(as4.status, 415)
        let lines = h.nodes["gw-a"]!.log.split(separator: "\n")
        let refused403 = lines.first { $0.contains("event=api-refused") && $0.contains("status=403") }
        XCTAssertNotNil(refused403, h.nodes["gw-a"]!.log)
        XCTAssertTrue(refused403?.contains("client=127.0.0.1") ?? false)
        XCTAssertFalse(h.nodes["gw-a"]!.log.contains("19997"), "no personal code in the log")
        XCTAssertTrue(lines.contains { $0.contains("event=api-refused") && $0.contains("status=401") && $0.contains("path=/api/v1/inbox") })
        XCTAssertTrue(lines.contains { $0.contains("event=http-refused") && $0.contains("status=415") && $0.contains("client=127.0.0.1") })
    }

    func testBarePersonalCodesAreMaskedInRefusalLines() {
        XCTAssertEqual(APIHandler.maskingCodes("/api/v1/x/161175-19997/end?c=32123456789"), "/api/v1/x/***********/end?c=***********")
        XCTAssertEqual(APIHandler.maskingCodes("company 40003032949, order 1234567890123"), "company 40003032949, order 1234567890123")
    }

    /// A person's address in a refused request is the person's pseudonym, as on every other line
    /// (`_PRIVATE@~` and the HMAC), not `_PRIVATE@***********`, which no line can be matched with.
    func testPersonsAddressInARefusalLineGetsTheirPseudonym() {
        let log = EventLog(format: .logfmt, pseudonymKey: Array(repeating: 7, count: 32))
        let person = log.maskingPersonalCodes("_PRIVATE@32123456789")
        XCTAssertTrue(person.hasPrefix("_PRIVATE@~") && person.count == "_PRIVATE@~".count + 10, person)
        XCTAssertEqual(log.maskingPersonalCodes(APIHandler.maskingCodes("/api/v1/addresses/_PRIVATE@32123456789/notice-email")),
                       "/api/v1/addresses/\(person)/notice-email")
        XCTAssertEqual(log.maskingPersonalCodes(APIHandler.maskingCodes("_private@321234-56789 is not held; nor 32123456789")),
                       "_private@" + person.dropFirst("_PRIVATE@".count) + " is not held; nor ***********")
    }
}

import AS4Crypto
import Foundation
@testable import HTTPServer
import XCTest

/// HTTPS through GnuTLS: the protocol floor and TLS client certificates checked per request.
final class HTTPServerTLSTests: XCTestCase {
    private var directory: ServerTestDirectory!
    private var files: ServerTestPKI.Files!

    override func setUpWithError() throws {
        self.directory = try ServerTestDirectory()
        self.files = try ServerTestPKI.shared.write(to: self.directory)
    }

    override func tearDown() {
        self.directory.remove()
    }

    /// A handler answering with the client certificate's subject (or "anonymous").
    private static func whoAmI() -> ServerTestHandler {
        ServerTestHandler { request in .text(200, request.head.clientCertificate?.subject ?? "anonymous") }
    }

    private func startTLS(_ clientAuthentication: HTTPServerConfiguration.TLS.ClientAuthentication = .none,
                          priorities: String = HTTPServerConfiguration.TLS.defaultPriorities,
                          handler: ServerTestHandler = whoAmI(), logger: (@Sendable (String) -> Void)? = nil) throws -> (HTTPServer, String) {
        let pki = ServerTestPKI.shared
        let tls = HTTPServerConfiguration.TLS(certificateChainPEM: try pki.server.certificate.pemEncoded(),
                                              privateKeyPEM: try pki.server.key.pemEncoded(),
                                              clientAuthentication: clientAuthentication, priorities: priorities)
        let configuration = HTTPServerConfiguration(tls: tls, spoolDirectory: self.directory.path, logger: logger)
        return try startTestServer(configuration, handler: handler, scheme: "https", host: "localhost")
    }

    /// curl arguments trusting the test CA and resolving `localhost` to 127.0.0.1 only.
    private func curlTLS(_ server: HTTPServer, _ url: String, client: ServerTestPKI.Files.Client? = nil, _ extra: [String] = []) -> [String] {
        var arguments = ["--cacert", self.files.caCertificate, "--resolve", "localhost:\(server.port):127.0.0.1"]
        if let client {
            arguments += ["--cert", client.certificate, "--key", client.key]
        }
        return arguments + extra + [url]
    }

    func testHTTPSWithTheServerCertificateTrustedByTheClient() throws {
        let (server, base) = try self.startTLS()
        defer { server.stop(gracePeriod: 1) }

        let result = try ServerTestCurl.run(self.curlTLS(server, base + "/"))
        XCTAssertEqual(result.exitCode, 0, result.errorText)
        XCTAssertEqual(result.status, 200)
        XCTAssertEqual(result.text, "anonymous", "no client certificate is requested without client authentication")

        // An unknown server CA is refused by the client: the handshake really uses our certificate.
        let untrusting = try ServerTestCurl.run(["--resolve", "localhost:\(server.port):127.0.0.1", base + "/"])
        XCTAssertEqual(untrusting.exitCode, 60, untrusting.errorText)
    }

    func testTLS12And13AreAccepted() throws {
        let (server, base) = try self.startTLS()
        defer { server.stop(gracePeriod: 1) }

        for versions in [["--tlsv1.2", "--tls-max", "1.2"], ["--tlsv1.3", "--tls-max", "1.3"]] {
            let result = try ServerTestCurl.run(self.curlTLS(server, base + "/", versions))
            XCTAssertEqual(result.status, 200, "\(versions): \(result.errorText)")
        }
    }

    func testTLS11IsRefused() throws {
        // SECLEVEL=0 lets OpenSSL 3 offer TLS 1.1 at all, so a failure is the server's refusal.
        let tls11 = ["--tlsv1.1", "--tls-max", "1.1", "--ciphers", "DEFAULT:@SECLEVEL=0"]
        let (server, base) = try self.startTLS()
        defer { server.stop(gracePeriod: 1) }
        let refused = try ServerTestCurl.run(self.curlTLS(server, base + "/", tls11))
        XCTAssertEqual(refused.exitCode, 35, "TLS handshake failure expected: \(refused.errorText)")
        XCTAssertEqual(refused.status, 0)

        // Control: the same client gets through to a server whose priorities allow TLS 1.1.
        let (permissive, permissiveBase) = try self.startTLS(priorities: "NORMAL:-VERS-ALL:+VERS-TLS1.2:+VERS-TLS1.1")
        defer { permissive.stop(gracePeriod: 1) }
        let control = try ServerTestCurl.run(self.curlTLS(permissive, permissiveBase + "/", tls11))
        XCTAssertEqual(control.status, 200, control.errorText)
    }

    func testPriorityStringsAreParsedByGnuTLS() throws {
        XCTAssertNoThrow(try TLSPriorities.validate(HTTPServerConfiguration.TLS.defaultPriorities))
        XCTAssertThrowsError(try TLSPriorities.validate("SECURE256:+VERS-TLS9.9")) { error in
            XCTAssertTrue("\(error)".contains("VERS-TLS9.9"), "\(error)")
        }
        let pki = ServerTestPKI.shared
        let tls = HTTPServerConfiguration.TLS(certificateChainPEM: try pki.server.certificate.pemEncoded(),
                                              privateKeyPEM: try pki.server.key.pemEncoded(), priorities: "NONSENSE")
        XCTAssertThrowsError(try HTTPServer(configuration: .init(tls: tls, spoolDirectory: self.directory.path),
                                            handler: Self.whoAmI()))
    }

    func testMismatchedKeyIsRejectedAtConfiguration() throws {
        let pki = ServerTestPKI.shared
        let tls = HTTPServerConfiguration.TLS(certificateChainPEM: try pki.server.certificate.pemEncoded(),
                                              privateKeyPEM: try pki.client.key.pemEncoded())
        XCTAssertThrowsError(try HTTPServer(configuration: .init(tls: tls, spoolDirectory: self.directory.path),
                                            handler: Self.whoAmI())) { error in
            XCTAssertTrue("\(error)".contains("does not belong"), "\(error)")
        }
    }

    func testPlainHTTPToTheTLSPortGoesToTheLoggerOnly() throws {
        let log = ServerTestLog()
        let (server, _) = try self.startTLS(logger: { log.append($0) })
        defer { server.stop(gracePeriod: 1) }

        let result = try ServerTestCurl.run(["http://127.0.0.1:\(server.port)/"])
        XCTAssertNotEqual(result.status, 200)
        let deadline = Date(timeIntervalSinceNow: 2)
        while log.all.isEmpty && Date() < deadline {
            usleep(10_000)
        }
        XCTAssertFalse(log.all.isEmpty, "libmicrohttpd's complaint reaches the configured logger")
    }

    func testRequiredClientCertificate() throws {
        let pki = ServerTestPKI.shared
        let handler = Self.whoAmI()
        let (server, base) = try self.startTLS(.required(try pki.validator()), handler: handler)
        defer { server.stop(gracePeriod: 1) }

        let missing = try ServerTestCurl.run(self.curlTLS(server, base + "/"))
        XCTAssertEqual(missing.status, 403, missing.errorText)
        XCTAssertEqual(missing.text, "a TLS client certificate is required\n")

        let stranger = try ServerTestCurl.run(self.curlTLS(server, base + "/", client: self.files.stranger))
        XCTAssertEqual(stranger.status, 403, stranger.errorText)
        XCTAssertTrue(stranger.text.contains("does not chain to a trusted anchor"), stranger.text)

        let expired = try ServerTestCurl.run(self.curlTLS(server, base + "/", client: self.files.expired))
        XCTAssertEqual(expired.status, 403, expired.errorText)
        XCTAssertTrue(expired.text.contains("expired"), expired.text)

        let valid = try ServerTestCurl.run(self.curlTLS(server, base + "/", client: self.files.client))
        XCTAssertEqual(valid.status, 200, valid.errorText)
        XCTAssertEqual(valid.text, pki.client.certificate.subject)
        XCTAssertEqual(handler.requests.count, 1, "refused requests never reach the handler")
        XCTAssertEqual(handler.requests.first?.head.clientCertificate, pki.client.certificate)
    }

    func testRefusalComesBeforeTheBodyIsRead() throws {
        let handler = Self.whoAmI()
        let (server, base) = try self.startTLS(.required(try ServerTestPKI.shared.validator()), handler: handler)
        defer { server.stop(gracePeriod: 1) }
        let body = self.directory.file("body")
        try Data(count: 2 << 20).write(to: URL(fileURLWithPath: body))

        let result = try ServerTestCurl.run(self.curlTLS(server, base + "/as4", client: self.files.stranger,
                                                         ["-H", "Expect: 100-continue", "--data-binary", "@" + body]))
        XCTAssertEqual(result.status, 403)
        XCTAssertEqual(result.uploadedBytes, 0)
        XCTAssertEqual(handler.admitCount, 0, "the certificate is checked before admit()")
    }

    func testRevokedClientCertificateWithACRL() throws {
        let pki = ServerTestPKI.shared
        let (server, base) = try self.startTLS(.required(try pki.validator(crl: true)))
        defer { server.stop(gracePeriod: 1) }

        let revoked = try ServerTestCurl.run(self.curlTLS(server, base + "/", client: self.files.revoked))
        XCTAssertEqual(revoked.status, 403)
        XCTAssertTrue(revoked.text.contains("revoked"), revoked.text)
        XCTAssertEqual(try ServerTestCurl.run(self.curlTLS(server, base + "/", client: self.files.client)).status, 200)
    }

    func testOptionalClientCertificate() throws {
        let pki = ServerTestPKI.shared
        let (server, base) = try self.startTLS(.optional(try pki.validator()))
        defer { server.stop(gracePeriod: 1) }

        XCTAssertEqual(try ServerTestCurl.run(self.curlTLS(server, base + "/")).text, "anonymous")
        XCTAssertEqual(try ServerTestCurl.run(self.curlTLS(server, base + "/", client: self.files.client)).text,
                       pki.client.certificate.subject)
        XCTAssertEqual(try ServerTestCurl.run(self.curlTLS(server, base + "/", client: self.files.expired)).status, 403,
                       "a certificate that is sent must be valid")
    }
}

/// Certificates for the TLS tests, made once: a CA, the server (`localhost`), a client, an expired
/// and a revoked client, and a client from an unrelated CA.
final class ServerTestPKI: Sendable {
    struct Identity: Sendable {
        let key: PrivateKey
        let certificate: Certificate
    }

    /// Paths of the PEM files curl reads.
    struct Files {
        struct Client {
            let certificate: String
            let key: String
        }

        let caCertificate: String
        let client: Client
        let expired: Client
        let revoked: Client
        let stranger: Client
    }

    static let shared = try! ServerTestPKI()

    let ca: CertificateAuthority
    let otherCA: CertificateAuthority
    let server: Identity
    let client: Identity
    let expired: Identity
    let revoked: Identity
    let stranger: Identity
    let crl: CertificateRevocationList

    private init() throws {
        let now = Date()
        let day: TimeInterval = 86400
        self.ca = try .createSelfSigned(subject: .init(commonName: "as4gw HTTP test CA", organization: "as4gw"),
                                        key: try .generateEC(curve: .p256), validFrom: now - day, validUntil: now + 3650 * day)
        self.otherCA = try .createSelfSigned(subject: .init(commonName: "Unrelated CA"), key: try .generateEC(curve: .p256),
                                             validFrom: now - day, validUntil: now + 3650 * day)
        func issue(_ authority: CertificateAuthority, _ commonName: String, from: Date = now - day, until: Date = now + 365 * day,
                   serial: String? = nil) throws -> Identity {
            let key = try PrivateKey.generateEC(curve: .p256)
            let certificate = try authority.issueCertificate(for: key.publicKey, subject: .init(commonName: commonName, organization: "as4gw"),
                                                             validFrom: from, validUntil: until, serialNumber: serial)
            return Identity(key: key, certificate: certificate)
        }
        self.server = try issue(self.ca, "localhost")
        self.client = try issue(self.ca, "party-b gateway")
        self.expired = try issue(self.ca, "party-b old gateway", from: now - 400 * day, until: now - 30 * day)
        self.revoked = try issue(self.ca, "party-b revoked gateway", serial: "7001")
        self.stranger = try issue(self.otherCA, "party-b gateway")
        self.crl = try self.ca.issueCRL(revokedSerialNumbers: ["7001"], thisUpdate: now - 3600, nextUpdate: now + 30 * day)
    }

    func validator(crl: Bool = false) throws -> CertificateValidator {
        CertificateValidator(trustStore: try TrustStore(anchors: [self.ca.certificate], crls: crl ? [self.crl] : []))
    }

    /// Writes the PEM files into `directory`.
    func write(to directory: ServerTestDirectory) throws -> Files {
        func save(_ name: String, _ text: String) throws -> String {
            let path = directory.file(name)
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            return path
        }
        func client(_ name: String, _ identity: Identity) throws -> Files.Client {
            Files.Client(certificate: try save(name + ".pem", try identity.certificate.pemEncoded()),
                         key: try save(name + "-key.pem", try identity.key.pemEncoded()))
        }
        return Files(caCertificate: try save("ca.pem", try self.ca.certificate.pemEncoded()),
                     client: try client("client", self.client), expired: try client("expired", self.expired),
                     revoked: try client("revoked", self.revoked), stranger: try client("stranger", self.stranger))
    }
}

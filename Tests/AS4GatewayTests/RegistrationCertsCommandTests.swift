import Foundation
import MessageStore
import XCTest

/// `as4gw certs --registrations` over a store written here: what it lists and its exit codes.
final class RegistrationCertsCommandTests: XCTestCase {
    func testExpiredAndExpiringCertificatesAndExitCodes() throws {
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("as4gw-regcerts-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: data) }
        let now = Date()
        let store = try SQLiteRegistrationStore(dataDirectory: data)
        func certificate(_ sha: String, _ id: String, ends: TimeInterval) -> RegisteredCertificate {
            RegisteredCertificate(registrationId: id, sha256: sha, pem: "PEM", subject: "CN=\(sha)", notBefore: now - 86_400,
                                  notAfter: now + ends, addedAt: now)
        }
        func registration(_ id: String) -> Registration {
            Registration(id: id, kind: .dms, registrationNumber: "40003032949", registrantSubject: "CN=c", registrantSHA256: "aa",
                         addresses: ["\(id)@40003032949"], createdAt: now)
        }
        try store.addRegistration(registration("A"), certificates: [certificate(String(repeating: "a", count: 64), "A", ends: 10 * 86_400 + 3600),
                                                                     certificate(String(repeating: "b", count: 64), "A", ends: 90 * 86_400)],
                                  actor: "t", at: now)
        store.close()

        let ok = try GatewayProcess.run(["certs", "--registrations", "--data", data])
        XCTAssertEqual(ok.status, 0, ok.stderr)
        XCTAssertEqual(ok.stdout.split(separator: "\n").count, 1, ok.stdout)
        XCTAssertTrue(ok.stdout.hasPrefix("EXPIRING  A  40003032949  " + String(repeating: "a", count: 64)), ok.stdout)
        XCTAssertTrue(ok.stdout.contains("10 day(s) left"), ok.stdout)
        let wide = try GatewayProcess.run(["certs", "--registrations", "--days", "100", "--data", data, "--json"])
        XCTAssertEqual((wide.json?["certificates"] as? [Any])?.count, 2, wide.stdout)

        let reopened = try SQLiteRegistrationStore(dataDirectory: data)
        try reopened.addRegistration(registration("B"), certificates: [certificate(String(repeating: "c", count: 64), "B", ends: -60)],
                                     actor: "t", at: now)
        reopened.close()
        let expired = try GatewayProcess.run(["certs", "--registrations", "--data", data])
        XCTAssertEqual(expired.status, 1, "an expired certificate fails the check")
        XCTAssertTrue(expired.stdout.hasPrefix("EXPIRED  B"), expired.stdout)

        XCTAssertEqual(try GatewayProcess.run(["certs", "--registrations", "--pmode", data]).status, 2)
        XCTAssertEqual(try GatewayProcess.run(["certs", "--registrations", "--data", data, "--config", "x.json"]).status, 2)
        XCTAssertEqual(try GatewayProcess.run(["certs", "--data", data]).status, 2, "--data goes with --registrations")
        XCTAssertEqual(try GatewayProcess.run(["certs", "--registrations", "--data", "/proc/no-such-dir/x"]).status, 1)
    }
}

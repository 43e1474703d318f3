@testable import AS4Gateway
import AS4Crypto
import Foundation
import Synchronization
import XCTest

/// The development PKI is written once, whoever starts first: two gateways started together on
/// one P-Mode directory (scripts/demo, a compose file) must not each write a certificate of their
/// own, or one of them pins a TLS key the other no longer serves.
final class DevelopmentPKITests: XCTestCase {
    func testTwoStartsAtOnceWriteEachFileOnce() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("dev-pki-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var parties: [String: [String: String]] = [:]
        for party in ["gw-a", "gw-b"] {
            parties[party] = Dictionary(uniqueKeysWithValues: ["signing", "encryption", "tls"].map { ($0, "\(directory)/certs/\(party).\($0).pem") })
        }
        let wanted = parties
        let results = Mutex<[Result<[String], any Error>]>([])
        let group = DispatchGroup()
        for _ in 0..<2 {
            DispatchQueue.global().async(group: group) {
                let result = Result { try DevelopmentPKI.ensure(pmodeDirectory: directory, parties: wanted).files }
                results.withLock { $0.append(result) }
            }
        }
        group.wait()
        let written = try results.withLock { $0 }.flatMap { try $0.get() }
        XCTAssertEqual(written.count, 14, "the CA and three certificates with keys for each party, each written once: \(written)")
        XCTAssertEqual(Set(written).count, written.count, "\(written)")

        // What is on disk hangs together: every certificate issued by the CA on disk, for its key.
        let ca = try Certificate(pemEncoded: try String(contentsOfFile: directory + "/certs/dev-ca.pem", encoding: .utf8))
        for path in parties.values.flatMap(\.values) {
            let certificate = try Certificate(pemEncoded: try String(contentsOfFile: path, encoding: .utf8))
            let key = try PrivateKey(pemEncoded: try String(contentsOfFile: DevelopmentPKI.keyPathFor(certificate: path), encoding: .utf8))
            XCTAssertEqual(certificate.issuerName, ca.subjectName, path)
            XCTAssertEqual(try certificate.publicKey, key.publicKey, path)
        }
        // A third start finds everything and writes nothing.
        XCTAssertEqual(try DevelopmentPKI.ensure(pmodeDirectory: directory, parties: parties).files, [])
    }
}

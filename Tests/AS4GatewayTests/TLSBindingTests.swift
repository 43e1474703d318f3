import AS4Crypto
import Foundation
import MessageStore
import XCTest

/// The TLS certificates the P-Modes list for a party bind TLS to that party, beyond the
/// truststore's CA: a message pushed with another access point's client certificate (same CA)
/// is refused, and our connection to a partner whose server shows another key is not made.
class TLSBindingTests: SealingTestCase {
    var clientAuthentication: String { "required" }

    override func setUpWithError() throws {
        harness = try GatewayHarness()
        try harness.configure(["gw-a", "gw-b", "gw-c"])
        try harness.start("gw-b")  // generates the development PKI of all three
        harness.stop("gw-b")
        try harness.useTLSListener("gw-b", "as4Listener", clientAuthentication: clientAuthentication)
        try harness.start("gw-b")
    }

    func testAMessageMustComeOverItsSendersOwnTLSCertificate() throws {
        let forged = try post(try seal(id: "other-ap@test"), clientCertificateOf: "gw-c")
        XCTAssertEqual(forged.0, 500)
        XCTAssertEqual(forged.1, "EBMS:0101", lastReply)
        XCTAssertTrue(harness.nodes["gw-b"]!.log.contains("is not one the P-Modes list for gw-a"), harness.nodes["gw-b"]!.log)
        try assertNothingStored("other-ap@test")
        XCTAssertEqual(try post(try seal(id: "own-ap@test"), clientCertificateOf: "gw-a").0, 200, lastReply)
    }

    func testOurConnectionToAPartnerShowingAnotherKeyIsNotMade() throws {
        // gw-a's P-Modes say gw-b's TLS certificate is gw-c's: gw-b's real one does not match.
        let parties = harness.pmodeDirectory + "/parties.json"
        let text = try String(contentsOfFile: parties, encoding: .utf8)
        try text.replacingOccurrences(of: "\"tls\": [\"certs/gw-b.tls.pem\"]", with: "\"tls\": [\"certs/gw-c.tls.pem\"]")
            .write(toFile: parties, atomically: true, encoding: .utf8)
        try harness.start("gw-a")
        let id = try harness.send(from: "gw-a", to: "gw-b", files: [try harness.file("p.txt", Array("pinned".utf8))])
        let failed = try harness.waitFor("gw-a", id, .outbound, .failed)
        XCTAssertTrue(failed.outbound?.lastError?.reason.lowercased().contains("pinned") ?? false, "\(String(describing: failed.outbound?.lastError))")
        XCTAssertNil(try harness.message("gw-b", id, .inbound))
    }
}

/// With client certificates optional, a party whose P-Modes list TLS certificates must still
/// present one: sending none is no way around the binding.
final class OptionalTLSBindingTests: TLSBindingTests {
    override var clientAuthentication: String { "optional" }

    func testAPartyWithListedTLSCertificatesMustPresentOne() throws {
        let bare = try post(try seal(id: "no-cert@test"))
        XCTAssertEqual(bare.0, 500)
        XCTAssertEqual(bare.1, "EBMS:0101", lastReply)
        XCTAssertTrue(harness.nodes["gw-b"]!.log.contains("no TLS client certificate came with the message"), harness.nodes["gw-b"]!.log)
        try assertNothingStored("no-cert@test")
    }

    /// A second `serve` on the data directory of a running one refuses to start, and the first
    /// goes on.
    func testASecondServeOnTheSameDataDirectoryRefusesToStart() throws {
        let node = harness.nodes["gw-b"]!
        let second = try GatewayProcess.run(["serve", "--party", "gw-b", "--data", node.data, "--pmode", harness.pmodeDirectory,
                                             "--as4-port", "0", "--submit-port", "0", "--admin-port", "0"])
        XCTAssertEqual(second.status, 2, second.stderr)
        XCTAssertTrue(second.stderr.contains("another as4gw serve is running with the data directory"), second.stderr)
        XCTAssertEqual(try post(try seal(id: "still-up@test"), clientCertificateOf: "gw-a").0, 200, lastReply)
    }
}

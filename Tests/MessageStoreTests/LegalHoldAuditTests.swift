import Foundation
@testable import MessageStore
import XCTest

/// `LegalHoldAudit` by the recorded times: a purge under a hold that covered the document then
/// (by message or by an address of the purge record) is named, one before the hold or after its
/// release is not; a release without a name or before its placing is named.
final class LegalHoldAuditTests: XCTestCase {
    let t0 = Date(timeIntervalSince1970: 1_790_000_000)

    func purge(_ id: Int64, _ message: String, at: Date, sender: String = "S@1", recipients: [String] = ["R@1"]) -> PurgeRecord {
        PurgeRecord(id: id, messageId: message, sender: sender, recipients: recipients, fileDigests: [], bytes: 0, as4Messages: [],
                    retainUntil: at, purgedAt: at, purgedBy: "mailbox-worker")
    }

    func testPurgesUnderAHoldAndImplausibleReleasesAreNamed() {
        let holds = [
            LegalHold(id: 1, target: .message("m1"), reason: "r", placedBy: "ops", placedAt: t0),
            LegalHold(id: 2, target: .address("R@2"), reason: "r", placedBy: "ops", placedAt: t0, releasedBy: "ops", releasedAt: t0 + 100),
            LegalHold(id: 3, target: .message("m4"), reason: "r", placedBy: "ops", placedAt: t0, releasedBy: "x", releasedAt: Date(timeIntervalSince1970: 0.001)),
            LegalHold(id: 4, target: .message("m5"), reason: "r", placedBy: "ops", placedAt: t0, releasedBy: "", releasedAt: t0 + 5),
        ]
        let purges = [
            purge(10, "m1", at: t0 + 10),                              // active hold on the message
            purge(11, "m2", at: t0 + 50, recipients: ["R@1", "R@2"]),  // address hold, released later
            purge(12, "m3", at: t0 + 200, recipients: ["R@2"]),        // after the release: fine
            purge(13, "m1x", at: t0 - 10),                             // another document, and before any hold
            purge(14, "m6", at: t0 + 60, sender: "R@2"),               // the held address as sender
        ]
        let findings = LegalHoldAudit.findings(holds: holds, purges: purges)
        XCTAssertEqual(findings.map { [$0.holdId, $0.purgeId ?? 0] }, [[3, 0], [4, 0], [1, 10], [2, 11], [2, 14]])
        guard findings.count == 5 else { return }
        XCTAssertTrue(findings[0].problem.contains("legal hold 3 was released at 1970-01-01T00:00:00.001Z by x, before it was placed"), findings[0].problem)
        XCTAssertTrue(findings[1].problem.contains("without a releaser's name"), findings[1].problem)
        XCTAssertTrue(findings[2].problem.contains("document m1 was purged at") && findings[2].problem.contains("still active"), findings[2].problem)
        XCTAssertTrue(findings[3].problem.contains("released only at"), findings[3].problem)
        XCTAssertEqual(LegalHoldAudit.findings(holds: [holds[1]], purges: [purges[2], purges[3]]), [], "nothing held then")
    }
}

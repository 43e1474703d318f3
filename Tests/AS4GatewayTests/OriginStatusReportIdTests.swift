@testable import AS4Gateway
import EnvelopeXML
import MessageStore
import XCTest

/// The derived ids of status reports stay ids a receiver takes, however long our domain is.
final class OriginStatusReportIdTests: XCTestCase {
    func testALongDomainGivesUpItsTailAndTheIdStaysWithin255Characters() throws {
        let domain = String(repeating: "d", count: EnvelopeParser.maxMessageIdLength - 37)  // the longest GatewayContext makes
        var ids: Set<String> = []
        for status in OwedReport.reportable {
            let id = try OriginStatusReport.messageId(carrier: "c@gw-a", documentId: "doc-1", recipient: "_DEFAULT@40003032949",
                                                      status: status, domain: domain)
            XCTAssertLessThanOrEqual(id.unicodeScalars.count, EnvelopeParser.maxMessageIdLength, id)
            XCTAssertNoThrow(try EnvelopeParser.checkMessageId(id, "MessageId"))
            XCTAssertTrue(id.contains("@ddd"), id)
            ids.insert(id)
        }
        XCTAssertEqual(ids.count, OwedReport.reportable.count, "one id per status still")
        // A short domain is kept whole.
        let short = try OriginStatusReport.messageId(carrier: "c@gw-a", documentId: "doc-1", recipient: "_DEFAULT@40003032949",
                                                     status: .delivered, domain: "gw-b")
        XCTAssertTrue(short.hasPrefix("delivered-") && short.hasSuffix("@gw-b"), short)
    }
}

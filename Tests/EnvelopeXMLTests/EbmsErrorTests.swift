import XCTest
@testable import EnvelopeXML

final class EbmsErrorTests: XCTestCase {
    func testCodesCarryTheirSpecAttributes() {
        XCTAssertEqual(EbmsError.Code.mimeInconsistency.shortDescription, "MimeInconsistency")
        XCTAssertEqual(EbmsError.Code.mimeInconsistency.category, "Unpackaging")
        XCTAssertEqual(EbmsError.Code.emptyMessagePartitionChannel.severity, .warning)
        XCTAssertEqual(EbmsError.Code.failedAuthentication.origin, "security")
        XCTAssertEqual(EbmsError.Code.decompressionFailure.rawValue, "EBMS:0303")
    }
}

import EnvelopeXML
import XCTest

/// Message ids: random version 4 UUIDs.
final class IdentifierTests: XCTestCase {
    func testARandomUUIDIsVersion4() {
        let id = Array(Identifier.uuid())
        XCTAssertEqual(id.count, 36)
        XCTAssertEqual(id[14], "4")
        XCTAssertTrue("89ab".contains(id[19]), String(id))
        XCTAssertNotEqual(Identifier.uuid(), Identifier.uuid())
    }
}

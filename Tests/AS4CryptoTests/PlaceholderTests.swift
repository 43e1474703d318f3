import XCTest
@testable import AS4Crypto
final class AS4CryptoLinkTests: XCTestCase { func testLinks() { XCTAssertTrue(true) } }

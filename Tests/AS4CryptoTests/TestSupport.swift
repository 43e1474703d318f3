import AS4Crypto
import Foundation
import XCTest

/// Locates the shared, read-only interop vectors (`../shared/interop/vectors` from the package root).
enum Vectors {
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // AS4CryptoTests
        .deletingLastPathComponent()  // Tests
        .deletingLastPathComponent()  // package root

    static let directory = packageRoot.deletingLastPathComponent().appendingPathComponent("shared/interop/vectors")

    static func path(_ relative: String) -> String {
        directory.appendingPathComponent(relative).path
    }

    static func text(_ relative: String) throws -> String {
        try String(contentsOfFile: path(relative), encoding: .utf8)
    }

    static func data(_ relative: String) throws -> Data {
        try Data(contentsOf: URL(fileURLWithPath: path(relative)))
    }
}

/// Bytes from a hex string (spaces ignored).
func hex(_ text: String) -> [UInt8] {
    let digits = Array(text.filter { !$0.isWhitespace })
    precondition(digits.count % 2 == 0, "odd hex length")
    return stride(from: 0, to: digits.count, by: 2).map { UInt8(String(digits[$0...$0 + 1]), radix: 16)! }
}

extension Array where Element == UInt8 {
    var hexString: String { map { String(format: "%02x", $0) }.joined() }
}

/// A UTC date from `yyyy-MM-dd` or a full ISO 8601 timestamp.
func utc(_ text: String) -> Date {
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = text.count == 10 ? [.withFullDate] : [.withInternetDateTime]
    return formatter.date(from: text)!
}

/// Asserts that `body` throws a `CryptoError` equal to `expected`.
func XCTAssertThrowsCryptoError<T>(_ expected: AS4CryptoErrorMatcher, _ body: @autoclosure () throws -> T,
                                   file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertThrowsError(try body(), file: file, line: line) { error in
        XCTAssertTrue(expected.matches(error), "unexpected error \(error)", file: file, line: line)
    }
}

/// Loose matching on `CryptoError` cases (ignoring associated text).
enum AS4CryptoErrorMatcher {
    case authenticationFailed, decryptionFailed, invalidSharedSecret, decoding, keyMismatch, unsupportedAlgorithm, invalidArgument

    func matches(_ error: Error) -> Bool {
        guard let error = error as? CryptoError else { return false }
        switch (self, error) {
        case (.authenticationFailed, .authenticationFailed), (.decryptionFailed, .decryptionFailed),
             (.invalidSharedSecret, .invalidSharedSecret), (.decoding, .decodingFailed), (.keyMismatch, .keyMismatch),
             (.unsupportedAlgorithm, .unsupportedAlgorithm), (.invalidArgument, .invalidArgument):
            return true
        default:
            return false
        }
    }
}

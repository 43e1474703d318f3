import Foundation

/// Base64 as XML carries it: line breaks and other white space inside the text are allowed
/// (XML Schema base64Binary, and real peers wrap at 76 characters).
enum Base64 {
    static func decode(_ text: String) -> [UInt8]? {
        var cleaned = ""
        cleaned.reserveCapacity(text.utf8.count)
        for u in text.unicodeScalars where !(u == " " || u == "\n" || u == "\r" || u == "\t") {
            cleaned.unicodeScalars.append(u)
        }
        guard let data = Data(base64Encoded: cleaned) else { return nil }
        return [UInt8](data)
    }

    static func encode(_ bytes: [UInt8]) -> String { Data(bytes).base64EncodedString() }
}

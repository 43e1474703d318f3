import Foundation

/// Base64 as XML carries it: line breaks and other white space inside the text are allowed
/// (XML Schema base64Binary, and real peers wrap at 76 characters). Works on the UTF-8 bytes:
/// certificates and signature values are decoded for every message.
enum Base64 {
    static func decode(_ text: String) -> [UInt8]? {
        var text = text
        return text.withUTF8 { utf8 -> [UInt8]? in
            var cleaned = Data(capacity: utf8.count)
            for b in utf8 where !(b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09) { cleaned.append(b) }
            guard let data = Data(base64Encoded: cleaned) else { return nil }
            return [UInt8](data)
        }
    }

    static func encode(_ bytes: [UInt8]) -> String { Data(bytes).base64EncodedString() }
}

import Foundation

/// Base64 as XML carries it: line breaks and other white space inside the text are allowed
/// (XML Schema base64Binary, and real peers wrap at 76 characters). Works on the UTF-8 bytes:
/// certificates and signature values are decoded for every message.
enum Base64 {
    static func decode(_ text: String) -> [UInt8]? {
        // Filtered into an array, not appended byte by byte to a `Data`: `Data.append` of single
        // bytes took ~9 % of the daemon's CPU in the end-to-end profile.
        var cleaned: [UInt8] = []
        cleaned.reserveCapacity(text.utf8.count)
        for b in text.utf8 where !(b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09) { cleaned.append(b) }
        guard let data = Data(base64Encoded: Data(cleaned)) else { return nil }
        return [UInt8](data)
    }

    static func encode(_ bytes: [UInt8]) -> String { Data(bytes).base64EncodedString() }
}

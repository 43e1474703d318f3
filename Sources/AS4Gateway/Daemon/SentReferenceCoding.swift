import Foundation
import WSSecurity

/// The references we signed, kept with an outbound message as JSON so its receipt can be
/// checked after a restart.
enum SentReferenceCoding {
    /// Written by hand in the shape `JSONEncoder` gave (and `decode` reads): Codable's encoder
    /// showed in the daemon's profile, once per submitted message.
    static func encode(_ references: [SentReference]) -> String {
        var out = "["
        for (i, reference) in references.enumerated() {
            if i > 0 { out += "," }
            out += "{\"uri\":"
            JSON.quote(reference.uri, into: &out)
            out += ",\"transforms\":["
            for (j, transform) in reference.transforms.enumerated() {
                if j > 0 { out += "," }
                JSON.quote(transform, into: &out)
            }
            out += "],\"digestMethod\":"
            JSON.quote(reference.digestMethod, into: &out)
            out += ",\"digestValue\":[" + reference.digestValue.map { String($0) }.joined(separator: ",") + "]}"
        }
        return out + "]"
    }

    /// nil when the column is missing or unreadable: the caller must not then accept any receipt.
    static func decode(_ text: String?) -> [SentReference]? {
        guard let text, let data = text.data(using: .utf8) else { return nil }
        return try? JSONDecoder().decode([SentReference].self, from: data)
    }
}

import Foundation
import WSSecurity

/// The references we signed, kept with an outbound message as JSON so its receipt can be
/// checked after a restart.
enum SentReferenceCoding {
    static func encode(_ references: [SentReference]) -> String {
        (try? String(decoding: JSONEncoder().encode(references), as: UTF8.self)) ?? "[]"
    }

    /// nil when the column is missing or unreadable: the caller must not then accept any receipt.
    static func decode(_ text: String?) -> [SentReference]? {
        guard let text, let data = text.data(using: .utf8) else { return nil }
        return try? JSONDecoder().decode([SentReference].self, from: data)
    }
}

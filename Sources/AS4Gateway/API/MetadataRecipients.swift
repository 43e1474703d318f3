import Foundation
import Routing

/// A document's metadata lists every recipient its sender addressed (`recipients`), persons among
/// them by their personal codes (`_PRIVATE@…`). Only the sender sees the whole list: a recipient
/// sees the recipients its own connection holds, and an access point the recipients it serves
/// (docs/API.md, "Who sees which recipients"). The rest of the metadata is shown as it is.
enum MetadataRecipients {
    /// `metadata` (JSON text) with its `recipients` reduced to the entries naming one of
    /// `addresses` (canonical spelling), in their order. Text that is not a JSON object with a
    /// `recipients` member has no list to reduce and is returned as it is.
    static func limited(_ metadata: String, to addresses: Set<String>) -> String {
        guard var object = object(metadata), object["recipients"] != nil else { return metadata }
        object["recipients"] = kept(object["recipients"], addresses)
        // Serialized as submissions store it; an object read from JSON always serializes again.
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }

    /// The metadata as the API shows it: whole for `nil` (the sender), else `limited`.
    static func shown(_ metadata: String, to addresses: Set<String>?) -> Any {
        let parsed = (try? JSONSerialization.jsonObject(with: Data(metadata.utf8))) ?? [String: Any]()
        guard let addresses, var object = parsed as? [String: Any], object["recipients"] != nil else { return parsed }
        object["recipients"] = kept(object["recipients"], addresses)
        return object
    }

    /// `metadata` without its `recipients` member, serialized as `limited` serializes it: what
    /// two copies of one document's metadata share whichever recipients each lists. Text that is
    /// not a JSON object is returned as it is.
    static func withoutRecipients(_ metadata: String) -> String {
        guard var object = object(metadata) else { return metadata }
        object["recipients"] = nil
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else { return metadata }
        return String(decoding: data, as: UTF8.self)
    }

    private static func object(_ metadata: String) -> [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(metadata.utf8))) as? [String: Any]
    }

    /// Entries are compared in canonical spelling (another access point's DMS may have written
    /// them otherwise); one that is not an e-address names nobody shown, and is dropped with a
    /// list that is not a list.
    private static func kept(_ list: Any?, _ addresses: Set<String>) -> [String] {
        ((list as? [Any]) ?? []).compactMap { item in
            guard let text = item as? String, let address = try? EAddress(text), addresses.contains(address.canonical) else { return nil }
            return text
        }
    }
}

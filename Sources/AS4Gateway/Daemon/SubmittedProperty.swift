import EnvelopeXML
import Foundation

/// One property of a submission (`properties` of the message or of a payload, by name): a
/// string, or `{"value": …, "type": …}` for a property with an `@type` (Peppol types
/// `originalSender` and `finalRecipient` `iso6523-actorid-upis`). The type is never read out of
/// the value, so a value may hold any text.
struct SubmittedProperty: Decodable, Equatable {
    var value: String
    var type: String?

    init(_ value: String, type: String? = nil) {
        self.value = value
        self.type = type
    }

    static let shape = "a property is a string, or {\"value\": \"…\", \"type\": \"…\"} to give it a type"

    init(from decoder: any Decoder) throws {
        if let single = try? decoder.singleValueContainer(), let value = try? single.decode(String.self) {
            self.init(value)
            return
        }
        guard let members = try? decoder.container(keyedBy: ConfigurationDecoding.AnyKey.self) else {
            throw ConfigurationDecoding.SettingError(decoder.codingPath, Self.shape)
        }
        let known = ["value", "type"]
        if let unknown = members.allKeys.map(\.stringValue).sorted().first(where: { !known.contains($0) }) {
            let hint = ConfigurationDecoding.suggestion(for: unknown, among: known).map { " (did you mean \($0)?)" } ?? ""
            throw ConfigurationDecoding.SettingError(decoder.codingPath + [ConfigurationDecoding.AnyKey(stringValue: unknown)],
                                                     "unknown member\(hint); \(Self.shape)")
        }
        func string(_ key: String) throws -> String? {
            let k = ConfigurationDecoding.AnyKey(stringValue: key)
            guard members.contains(k), !(try members.decodeNil(forKey: k)) else { return nil }
            guard let text = try? members.decode(String.self, forKey: k) else {
                throw ConfigurationDecoding.SettingError(decoder.codingPath + [k], "must be a string")
            }
            return text
        }
        guard let value = try string("value") else {
            throw ConfigurationDecoding.SettingError(decoder.codingPath + [ConfigurationDecoding.AnyKey(stringValue: "value")],
                                                     "missing; \(Self.shape)")
        }
        self.init(value, type: try string("type"))
    }

    /// The properties as the message carries them, in name order. An empty value or type is refused
    /// (`what` names the properties in the reason): eb:Property/@type names a scheme, and an
    /// empty one says nothing a property without it would not. So is a name, value or type
    /// with a character XML cannot carry (`XMLText.isCarriable`): the envelope writer would put
    /// U+FFFD in its place, and the receiver would get a value the submitter never sent.
    static func properties(_ given: [String: SubmittedProperty]?, _ what: String) throws -> [Property] {
        try (given ?? [:]).sorted { $0.key < $1.key }.map { name, p in
            let shown = Self.shown(name)
            for (part, text) in [("name", name), ("value", p.value), ("type", p.type ?? "")] where !XMLText.isCarriable(text) {
                throw SubmissionError(status: 422, reason: "\(what): the \(part) of property \(shown) \(TextInput.refusal)")
            }
            if let type = p.type, type.isEmpty {
                throw SubmissionError(status: 422, reason: "\(what): property \(shown) has an empty type; leave the type out for an untyped property")
            }
            // The ebMS3 schema makes eb:Property a non-empty string, and phase4 validates the
            // header against it: the message would be refused (EBMS:0009) at every send.
            if p.value.isEmpty {
                throw SubmissionError(status: 422, reason: "\(what): property \(shown) has an empty value, which eb:Property cannot carry (the ebMS3 schema needs at least one character); leave the property out")
            }
            return Property(name, p.value, type: p.type)
        }
    }

    /// A name as a reason quotes it: characters XML cannot carry as `\u{…}`, so the answer and
    /// the log line that repeats it stay one line.
    static func shown(_ name: String) -> String {
        guard !XMLText.isCarriable(name) else { return name }
        return name.unicodeScalars.map { XMLText.isCarriable(String($0)) ? String($0) : "\\u{\(String($0.value, radix: 16))}" }.joined()
    }
}

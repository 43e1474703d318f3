import Foundation

/// Strict reading of the configuration file. A misspelt key used to be ignored, so a listener
/// with `"tsl"` ran plain HTTP; and Foundation's decoding errors name Swift types
/// (`Expected to decode UInt16 …`) or nothing at all (`The data isn't in the correct format`).
/// These helpers make every object refuse keys it does not know (except `_`-prefixed
/// explanations) and word every error by the setting's path, as docs/CONFIG.md promises.
enum ConfigurationDecoding {
    /// One wrong setting: `path` as the operator writes it (`apiListener.tls.clientAuthentication`).
    struct SettingError: Error, CustomStringConvertible {
        var path: String
        var message: String
        var description: String { path.isEmpty ? message : "\(path): \(message)" }

        init(_ codingPath: [any CodingKey], _ message: String) {
            path = ConfigurationDecoding.path(codingPath)
            self.message = message
        }
    }

    /// Any key, to list what an object holds.
    struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int?
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { self.stringValue = String(intValue); self.intValue = intValue }
    }

    /// `as4Listener.tls.key`, `truststore[2]`.
    static func path(_ codingPath: [any CodingKey]) -> String {
        var text = ""
        for key in codingPath {
            if let index = key.intValue { text += "[\(index)]" } else { text += (text.isEmpty ? "" : ".") + key.stringValue }
        }
        return text
    }

    /// The words for a decoding error of the configuration file (without the file name).
    static func describe(_ error: any Error, data: Data) -> String {
        if let e = error as? SettingError { return e.description }
        guard let e = error as? DecodingError else { return "not valid JSON: \(error)" }
        switch e {
        case let .keyNotFound(key, ctx):
            return "\(path(ctx.codingPath + [key])): missing (required\(ctx.codingPath.isEmpty ? "" : " in " + path(ctx.codingPath)))"
        case let .typeMismatch(type, ctx), let .valueNotFound(type, ctx):
            let found = value(at: ctx.codingPath, in: data).map(kind) ?? "nothing"
            let what = "expected \(expected(type)), found \(found)"
            return ctx.codingPath.isEmpty ? "the file must hold one JSON object (\(what))" : "\(path(ctx.codingPath)): \(what)"
        case let .dataCorrupted(ctx):
            if ctx.codingPath.isEmpty {
                // JSONDecoder only says "not valid JSON"; JSONSerialization's error says where.
                var detail = ctx.debugDescription
                do { _ = try JSONSerialization.jsonObject(with: data) } catch {
                    if let text = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String { detail = text }
                }
                return "not valid JSON: \(detail)"
            }
            return "\(path(ctx.codingPath)): \(ctx.debugDescription)"
        @unknown default:
            return "\(error)"
        }
    }

    private static func expected(_ type: Any.Type) -> String {
        if type == String.self { return "a string" }
        if type == Bool.self { return "true or false" }
        if type is any BinaryInteger.Type { return "a whole number" }
        if type is any BinaryFloatingPoint.Type { return "a number" }
        let name = String(describing: type)
        if name.hasPrefix("Array") || name.hasPrefix("[") && !name.contains(":") { return "an array" }
        return "an object"
    }

    /// A JSON value as JSON has it, to say what was found instead of what was expected.
    private indirect enum JSONValue: Decodable {
        case null, bool, number, string, array([JSONValue]), object([String: JSONValue])

        init(from decoder: any Decoder) throws {
            if var items = try? decoder.unkeyedContainer() {
                var all: [JSONValue] = []
                while !items.isAtEnd { all.append(try items.decode(JSONValue.self)) }
                self = .array(all)
            } else if let c = try? decoder.container(keyedBy: AnyKey.self) {
                var all: [String: JSONValue] = [:]
                for key in c.allKeys { all[key.stringValue] = try c.decode(JSONValue.self, forKey: key) }
                self = .object(all)
            } else {
                let c = try decoder.singleValueContainer()
                if c.decodeNil() { self = .null } else if (try? c.decode(Bool.self)) != nil { self = .bool }
                else if (try? c.decode(Double.self)) != nil { self = .number } else { _ = try c.decode(String.self); self = .string }
            }
        }
    }

    private static func value(at codingPath: [any CodingKey], in data: Data) -> JSONValue? {
        guard var value = try? JSONDecoder().decode(JSONValue.self, from: data) else { return nil }
        for key in codingPath {
            switch value {
            case let .object(members): guard let next = members[key.stringValue] else { return nil }; value = next
            case let .array(items): guard let i = key.intValue, items.indices.contains(i) else { return nil }; value = items[i]
            default: return nil
            }
        }
        return value
    }

    private static func kind(_ value: JSONValue) -> String {
        switch value {
        case .null: return "null"
        case .bool: return "true or false"
        case .number: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }

    /// Closest known key, so `tsl` suggests `tls`.
    static func suggestion(for key: String, among known: [String]) -> String? {
        func distance(_ a: [Character], _ b: [Character]) -> Int {
            if a.isEmpty || b.isEmpty { return max(a.count, b.count) }
            var row = Array(0...b.count)
            for i in 1...a.count {
                var next = [i] + Array(repeating: 0, count: b.count)
                for j in 1...b.count { next[j] = min(row[j] + 1, next[j - 1] + 1, row[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)) }
                row = next
            }
            return row[b.count]
        }
        let scored = known.map { ($0, distance(Array(key.lowercased()), Array($0.lowercased()))) }
        guard let best = scored.min(by: { $0.1 < $1.1 }), best.1 <= 2, best.1 < key.count else { return nil }
        return best.0
    }
}

extension Decoder {
    /// Refuses keys outside `known` (other than `_`-prefixed explanations), one line per key.
    func refuseUnknownSettings(_ known: [String]) throws {
        let c = try container(keyedBy: ConfigurationDecoding.AnyKey.self)
        let unknown = c.allKeys.map(\.stringValue).filter { !$0.hasPrefix("_") && !known.contains($0) }.sorted()
        guard !unknown.isEmpty else { return }
        let lines = unknown.map { key in
            ConfigurationDecoding.SettingError(codingPath + [ConfigurationDecoding.AnyKey(stringValue: key)],
                                               "unknown setting" + (ConfigurationDecoding.suggestion(for: key, among: known).map { " (did you mean \($0)?)" } ?? ""))
        }
        throw ConfigurationDecoding.SettingError([], lines.map(\.description).joined(separator: "\n"))
    }
}

extension KeyedDecodingContainer {
    /// A whole-number setting; JSON numbers come as Double, so 70000 for a port or 1.5 for a
    /// count is worded instead of failing inside Foundation. Every integer setting is read so:
    /// Foundation's own integer decoding refuses 1.5 as "not valid JSON", naming no setting.
    func wholeNumber<T: FixedWidthInteger>(_ type: T.Type, forKey key: Key, range: String? = nil) throws -> T? {
        guard let number = try decodeIfPresent(Double.self, forKey: key) else { return nil }
        guard let value = T(exactly: number) else {
            let whole = number.rounded() == number
            if !whole && range == nil {
                throw ConfigurationDecoding.SettingError(codingPath + [key], "expected a whole number, found \(number)")
            }
            let shown = whole && abs(number) < 1e15 ? String(Int64(number)) : String(number)
            throw ConfigurationDecoding.SettingError(codingPath + [key], "\(shown) is not \(range ?? "a whole number from \(T.min) to \(T.max)")")
        }
        return value
    }

    func port(forKey key: Key) throws -> UInt16 {
        guard let port = try wholeNumber(UInt16.self, forKey: key, range: "a port number (0-65535; 0 lets the system choose)") else {
            throw DecodingError.keyNotFound(key, .init(codingPath: codingPath, debugDescription: "missing"))
        }
        return port
    }

    /// A string setting that may be absent or null but not empty (a path, a name).
    func nonEmptyString(forKey key: Key, _ why: String = "must not be empty") throws -> String? {
        guard let text = try decodeIfPresent(String.self, forKey: key) else { return nil }
        guard !text.isEmpty else { throw ConfigurationDecoding.SettingError(codingPath + [key], why) }
        return text
    }

    /// One of a fixed set of words.
    func oneOf<T: RawRepresentable & CaseIterable>(_ type: T.Type, forKey key: Key) throws -> T? where T.RawValue == String {
        guard let text = try decodeIfPresent(String.self, forKey: key) else { return nil }
        guard let value = T(rawValue: text) else {
            throw ConfigurationDecoding.SettingError(codingPath + [key], "\(text) is not one of \(T.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return value
    }
}

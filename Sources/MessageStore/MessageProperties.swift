import Foundation

/// One ebMS property as it travelled: an `eb:MessageProperties/eb:Property` (four-corner
/// `originalSender`, `finalRecipient`, `trackingIdentifier`, agreement-specific ones) or an
/// `eb:PartProperties/eb:Property` (`CharacterSet`, agreement-specific ones). eDelivery AS4 1.15
/// requires them to reach the consumer, so the store keeps them with the message, in order.
public struct MessageProperty: Sendable, Equatable, Hashable, Codable {
    public var name: String
    public var value: String
    /// The optional `@type` attribute (e.g. the party id scheme of `originalSender`).
    public var type: String?

    public init(_ name: String, _ value: String, type: String? = nil) {
        self.name = name
        self.value = value
        self.type = type
    }
}

extension Array where Element == MessageProperty {
    /// The value of the first property of that name.
    public subscript(name: String) -> String? { first { $0.name == name }?.value }
}

/// The most the store keeps of a message's properties. The parser bounds them only through the
/// envelope's size and node count (32 MiB, 200,000 nodes): one value could take the whole
/// envelope. These limits are far above what agreements use (Domibus keeps a value in 1024
/// characters), and a receiving gateway refuses a message beyond them before its receipt
/// (`EBMS:0003`) rather than store a part of what it was sent.
public enum PropertyLimits {
    /// Properties per message, and per part.
    public static let maxCount = 64
    /// UTF-8 bytes of a name.
    public static let maxNameBytes = 255
    /// UTF-8 bytes of a type.
    public static let maxTypeBytes = 1024
    /// UTF-8 bytes of a value.
    public static let maxValueBytes = 4096

    /// Why `properties` exceed the limits (`what` names them, e.g. "eb:MessageProperties"), or
    /// nil when they fit.
    public static func violation(_ properties: [MessageProperty], _ what: String) -> String? {
        if properties.count > maxCount { return "\(what) has \(properties.count) properties; at most \(maxCount) are kept" }
        for p in properties {
            let name = p.name.utf8.count <= 64 ? p.name : String(p.name.prefix(64)) + "…"
            if p.name.isEmpty { return "\(what) has a property without a name" }
            if p.name.utf8.count > maxNameBytes { return "\(what): property name \(name) exceeds \(maxNameBytes) bytes" }
            if let t = p.type, t.utf8.count > maxTypeBytes { return "\(what): the type of property \(name) exceeds \(maxTypeBytes) bytes" }
            if p.value.utf8.count > maxValueBytes { return "\(what): the value of property \(name) exceeds \(maxValueBytes) bytes" }
        }
        return nil
    }

    /// The store's own check, whoever calls it: nothing beyond the limits is written.
    static func check(_ metadata: MessageMetadata, parts: [MessagePart]) throws {
        if let v = violation(metadata.properties, "message \(metadata.messageId)") { throw StoreError.invalidArgument(v) }
        for part in parts {
            if let v = violation(part.properties, "part \(part.contentId)") { throw StoreError.invalidArgument(v) }
        }
    }
}

/// How properties sit in a row: one TEXT column holding a JSON array of `{"name", "type"?,
/// "value"}` in their order, NULL for none (rows written before migration 16 / 14 have none).
/// A column rather than a table: they are only ever read with their message or part, the same
/// text on both backends, and the retention purge, which deletes no message row, needs no step.
enum PropertyColumn {
    static func encode(_ properties: [MessageProperty]) throws -> String? {
        guard !properties.isEmpty else { return nil }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(properties), as: UTF8.self)
    }

    static func decode(_ text: String?, _ owner: @autoclosure () -> String) throws -> [MessageProperty] {
        guard let text, !text.isEmpty else { return [] }
        do {
            return try JSONDecoder().decode([MessageProperty].self, from: Data(text.utf8))
        } catch {
            throw StoreError.invalidArgument("\(owner()): unreadable properties in the database")
        }
    }
}

/// SQLite migration 16 and PostgreSQL migration 14 (the same statements on both).
enum PropertySchema {
    static let sql = """
        -- eb:MessageProperties of a message and eb:PartProperties of a part (PropertyColumn: a
        -- JSON array in order, NULL for none; rows already there keep NULL: nothing was kept
        -- then). The store refuses more than PropertyLimits before writing; the CHECK is the
        -- last word for any other writer, far above what those limits let through.
        ALTER TABLE messages ADD COLUMN properties TEXT CHECK (properties IS NULL OR length(properties) <= 4194304);
        ALTER TABLE parts ADD COLUMN properties TEXT CHECK (properties IS NULL OR length(properties) <= 4194304);
        """
}

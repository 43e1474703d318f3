import Synchronization

/// Parsed certificates by the exact DER bytes they were parsed from.
///
/// Why: OpenSSL 3 builds a provider decoder for the public key of every certificate it parses,
/// about a tenth of a millisecond, and a partner sends the same one or two certificates in the
/// token of every message and receipt (profiling showed ~8 % of a gateway's CPU in it). A
/// ``Certificate`` is immutable, so one parsed object can serve every message.
///
/// Bounded, because tokens are parsed before anything about their sender is known: an input
/// over `maxEntryBytes` is parsed without being kept, and when `capacity` entries or
/// `capacityBytes` of DER have been kept the cache starts over. A peer that sends a new
/// certificate with each message costs parsing time, never memory.
public enum CertificateCache {
    public static let capacity = 512
    public static let capacityBytes = 2 << 20
    public static let maxEntryBytes = 32 << 10
    private struct Key: Hashable {
        var isPath: Bool
        var der: [UInt8]
    }
    private struct Table {
        var entries: [Key: [Certificate]] = [:]
        var bytes = 0
    }
    private static let table = Mutex(Table())

    /// The certificate of `der`, parsed once (`Certificate(derEncoded:)` rules: the whole input
    /// must be one certificate).
    public static func certificate(derEncoded der: [UInt8]) throws -> Certificate {
        try lookup(Key(isPath: false, der: der)) { [try Certificate(derEncoded: der)] }[0]
    }

    /// The certificates of a PkiPath token, leaf first (``PKIPath/decodeLeafFirst(_:)``), parsed once.
    public static func pkiPathLeafFirst(_ der: [UInt8]) throws -> [Certificate] {
        try lookup(Key(isPath: true, der: der)) { try PKIPath.decodeLeafFirst(der) }
    }

    private static func lookup(_ key: Key, parse: () throws -> [Certificate]) throws -> [Certificate] {
        guard key.der.count <= maxEntryBytes else { return try parse() }
        if let known = table.withLock({ $0.entries[key] }) { return known }
        let parsed = try parse()
        table.withLock { t in
            if t.entries.count >= capacity || t.bytes + key.der.count > capacityBytes {
                t.entries.removeAll(keepingCapacity: true)
                t.bytes = 0
            }
            if t.entries.updateValue(parsed, forKey: key) == nil { t.bytes += key.der.count }
        }
        return parsed
    }

    /// Forgets every entry (tests).
    public static func removeAll() { table.withLock { $0 = Table() } }

    /// Entries held now (tests).
    public static var count: Int { table.withLock { $0.entries.count } }

    /// DER bytes held now (tests).
    public static var byteCount: Int { table.withLock { $0.bytes } }
}

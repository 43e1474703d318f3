import Synchronization

/// Parsed certificates by the exact DER bytes they were parsed from.
///
/// Why: OpenSSL 3 builds a provider decoder for the public key of every certificate it parses,
/// about a tenth of a millisecond, and a partner sends the same one or two certificates in the
/// token of every message and receipt (profiling showed ~8 % of a gateway's CPU in it). A
/// ``Certificate`` is immutable, so one parsed object can serve every message.
///
/// Bounded: when `capacity` different certificates have been seen the cache starts over, so a
/// peer that sends a new certificate with each message costs parsing time, never memory.
public enum CertificateCache {
    public static let capacity = 512
    private struct Key: Hashable {
        var isPath: Bool
        var der: [UInt8]
    }
    private static let entries = Mutex<[Key: [Certificate]]>([:])

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
        if let known = entries.withLock({ $0[key] }) { return known }
        let parsed = try parse()
        entries.withLock { table in
            if table.count >= capacity { table.removeAll(keepingCapacity: true) }
            table[key] = parsed
        }
        return parsed
    }

    /// Forgets every entry (tests).
    public static func removeAll() { entries.withLock { $0.removeAll() } }

    /// Entries held now (tests).
    public static var count: Int { entries.withLock { $0.count } }
}

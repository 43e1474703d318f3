/// Identifiers for message ids, `wsu:Id` values and Content-IDs: random, or derived from a digest.
///
/// Foundation's `UUID()` opens and reads /dev/urandom on every call on Linux (three system
/// calls); these come from a buffered pool, which matters at thousands of messages a second.
public enum Identifier {
    /// A random (version 4) UUID in lower case.
    public static func uuid() -> String { format(RandomPool.bytes(16), version: 4) }

    /// A UUID made of the first 16 bytes of `digest` (RFC 9562 version 8, lower case): the same
    /// digest gives the same UUID, for a message that must be queued once however often the work
    /// that queues it is repeated (a second attempt is then refused as a duplicate id).
    public static func uuid(fromDigest digest: [UInt8]) -> String {
        precondition(digest.count >= 16, "a UUID needs 16 bytes of digest")
        return format(Array(digest.prefix(16)), version: 8)
    }

    private static func format(_ bytes: [UInt8], version: UInt64) -> String {
        var hi: UInt64 = 0
        var lo: UInt64 = 0
        for i in 0..<8 {
            hi = hi << 8 | UInt64(bytes[i])
            lo = lo << 8 | UInt64(bytes[8 + i])
        }
        hi = (hi & 0xFFFF_FFFF_FFFF_0FFF) | (version << 12)
        lo = (lo & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000          // RFC 4122 variant
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(36)
        for word in [hi, lo] {
            for shift in stride(from: 60, through: 0, by: -4) {
                let position = out.count
                if position == 8 || position == 13 || position == 18 || position == 23 { out.append(0x2D) }
                out.append(digits[Int((word >> UInt64(shift)) & 0xF)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// An eb:MessageId: `<uuid>@<domain>` (eDelivery: a UUID in the id-left part).
    public static func messageId(domain: String = "as4gw") -> String { uuid() + "@" + domain }
}

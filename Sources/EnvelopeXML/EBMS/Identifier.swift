/// Random identifiers for message ids, `wsu:Id` values and Content-IDs.
///
/// Foundation's `UUID()` opens and reads /dev/urandom on every call on Linux (three system
/// calls); these come from a buffered pool, which matters at thousands of messages a second.
public enum Identifier {
    /// A random (version 4) UUID in lower case.
    public static func uuid() -> String {
        let random = RandomPool.bytes(16)
        var hi: UInt64 = 0
        var lo: UInt64 = 0
        for i in 0..<8 {
            hi = hi << 8 | UInt64(random[i])
            lo = lo << 8 | UInt64(random[8 + i])
        }
        hi = (hi & 0xFFFF_FFFF_FFFF_0FFF) | 0x0000_0000_0000_4000          // version 4
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

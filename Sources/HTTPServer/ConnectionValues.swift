import CMicroHTTPD
import Foundation

/// Reads what libmicrohttpd parsed from a request: header fields, query arguments, peer address.
/// Call only from the access handler of `connection`.
enum ConnectionValues {
    /// The `(name, value)` pairs of one kind (headers, query arguments) in the order received.
    /// A query argument without `=` has the value "".
    static func pairs(of connection: OpaquePointer, kind: MHD_ValueKind) -> [(String, String)] {
        let collector = PairCollector()
        withExtendedLifetime(collector) {
            _ = MHD_get_connection_values(connection, kind, collectPair, Unmanaged.passUnretained(collector).toOpaque())
        }
        return collector.pairs
    }

    /// The peer's IP address as text, or "" when MHD does not know it.
    static func remoteAddress(of connection: OpaquePointer) -> String {
        guard let address = as4gw_mhd_connection_client_address(connection) else { return "" }
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        let family = Int32(address.pointee.sa_family)
        let converted: UnsafePointer<CChar>?
        switch family {
        case AF_INET:
            converted = address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { ipv4 in
                withUnsafePointer(to: ipv4.pointee.sin_addr) { inet_ntop(AF_INET, $0, &text, socklen_t(text.count)) }
            }
        case AF_INET6:
            converted = address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { ipv6 in
                withUnsafePointer(to: ipv6.pointee.sin6_addr) { inet_ntop(AF_INET6, $0, &text, socklen_t(text.count)) }
            }
        default:
            converted = nil
        }
        guard converted != nil else { return "" }
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// Accumulates pairs for ``ConnectionValues/pairs(of:kind:)``; lives on the calling thread's stack frame only.
private final class PairCollector {
    var pairs: [(String, String)] = []
}

/// MHD key/value iterator (capture-free, see PLATFORM-NOTES G3): appends to the `PairCollector` in `cls`.
private let collectPair: MHD_KeyValueIterator = { cls, _, key, value in
    guard let cls, let key else { return MHD_Result.YES }
    let collector = Unmanaged<PairCollector>.fromOpaque(cls).takeUnretainedValue()
    collector.pairs.append((String(cString: key), value.map { String(cString: $0) } ?? ""))
    return MHD_Result.YES
}

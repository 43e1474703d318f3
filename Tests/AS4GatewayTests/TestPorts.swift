@testable import AS4Gateway
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Loopback ports for the gateways, peers and sinks the tests start. A port is checked free and
/// then bound later by a child process, so two test processes running at once could pick the
/// same one in between; `scripts/xctest-parallel` therefore gives each of its concurrent workers
/// a range of its own in `AS4GW_TEST_PORTS` (LOW-HIGH, below the kernel's ephemeral range and
/// the bench's 20000–32000). Without it, the bench's picker (one process at a time).
enum TestPorts {
    static func free() -> UInt16 {
        guard let range = assigned else { return E2EBenchmark.freePort() }
        for _ in 0..<1000 {
            let port = UInt16.random(in: range)
            guard canBind(port), handedOut.withLock({ $0.insert(port).inserted }) else { continue }
            return port
        }
        return 0
    }

    private static let assigned: ClosedRange<UInt16>? = {
        guard let text = ProcessInfo.processInfo.environment["AS4GW_TEST_PORTS"] else { return nil }
        let bounds = text.split(separator: "-").compactMap { UInt16($0) }
        guard bounds.count == 2, bounds[0] >= 1024, bounds[0] < bounds[1] else {
            fatalError("AS4GW_TEST_PORTS must be LOW-HIGH (1024 or above), not \(text)")
        }
        return bounds[0]...bounds[1]
    }()

    /// Never the same port twice in one process: a test may take one and bind it only later.
    private static let handedOut = Mutex<Set<UInt16>>([])

    private static func canBind(_ port: UInt16) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = port.bigEndian
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }
}

import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Counterparts that stop answering without going away, for tests of what a gateway does while
/// it waits on them, and the kernel's view that shows it is waiting (no timing involved).

/// Loopback TCP sockets as the kernel lists them (`/proc/net/tcp`, IPv4).
struct LoopbackSocket {
    var localPort: UInt16
    var remotePort: UInt16
    /// Bytes received that the owning process has not read yet.
    var unreadBytes: Int

    static func current() -> [LoopbackSocket] {
        let table = procText("/proc/net/tcp")
        return table.split(separator: "\n").dropFirst().compactMap { line in
            // sl local_address rem_address st tx_queue:rx_queue …, addresses as hex IP:PORT.
            let fields = line.split(separator: " ")
            guard fields.count > 4, let local = fields[1].split(separator: ":").last, let remote = fields[2].split(separator: ":").last,
                  let unread = fields[4].split(separator: ":").last,
                  let localPort = UInt16(local, radix: 16), let remotePort = UInt16(remote, radix: 16), let bytes = Int(unread, radix: 16) else {
                return nil
            }
            return LoopbackSocket(localPort: localPort, remotePort: remotePort, unreadBytes: bytes)
        }
    }

    /// How many connections to the server listening on `port` have something waiting there
    /// unread: a request (a TLS hello, an SQL statement) that nobody is answering.
    static func unanswered(atServerPort port: UInt16) -> Int {
        current().filter { $0.localPort == port && $0.remotePort != 0 && $0.unreadBytes > 0 }.count
    }
}

/// A TCP listener on 127.0.0.1 that never accepts: the kernel completes connections into its
/// backlog and takes what the client sends, and nothing is ever answered. Closed on deinit.
final class SilentListener {
    private var fd: Int32

    init(port: UInt16) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = port.bigEndian
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 16) == 0 else {
            let reason = String(cString: strerror(errno))
            Glibc.close(fd)
            throw HarnessTimeout(description: "cannot listen on 127.0.0.1:\(port): \(reason)")
        }
    }

    func close() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
    }

    deinit { close() }
}

extension ThrowAwayPostgres {
    var port: UInt16 { UInt16(url.split(separator: ":").last?.split(separator: "/").first ?? "") ?? 0 }

    /// Stops (SIGSTOP) this cluster's postmaster and every server process it started, and only
    /// those: the database then answers nothing while its sockets stay open, as a hung host
    /// would. Returns the processes to `thaw`.
    func freeze() throws -> [pid_t] {
        let pidFile = try String(contentsOfFile: directory + "/data/postmaster.pid", encoding: .utf8)
        guard let postmaster = pidFile.split(separator: "\n").first.flatMap({ pid_t($0) }) else {
            throw HarnessTimeout(description: "no postmaster pid in \(directory)/data/postmaster.pid")
        }
        // The postmaster first: stopped, it starts no further backends.
        kill(postmaster, SIGSTOP)
        var frozen = [postmaster]
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = pid_t(entry) else { continue }
            let stat = procText("/proc/\(entry)/stat")
            guard let end = stat.lastIndex(of: ")") else { continue }
            // "pid (command) state ppid …": the command may hold spaces and parentheses.
            let fields = stat[stat.index(after: end)...].split(separator: " ")
            if fields.count > 1, pid_t(fields[1]) == postmaster {
                kill(pid, SIGSTOP)
                frozen.append(pid)
            }
        }
        return frozen
    }

    func thaw(_ processes: [pid_t]) {
        for pid in processes { kill(pid, SIGCONT) }
    }
}

/// A /proc file read to its end: `String(contentsOfFile:)` trusts the size these files report
/// (0) and returns only the first page.
private func procText(_ path: String) -> String {
    guard let handle = FileHandle(forReadingAtPath: path) else { return "" }
    defer { try? handle.close() }
    // The throwing read: a process may end between the open and the read.
    return String(decoding: (try? handle.readToEnd()) ?? Data(), as: UTF8.self)
}

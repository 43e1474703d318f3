#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// Random bytes for identifiers and MIME boundaries, read from the kernel 4 KiB at a time.
///
/// `SystemRandomNumberGenerator` makes one getrandom(2) call per 8 bytes; at thousands of
/// messages a second the system calls cost more than the XML. Keys and IVs never come from
/// here (they use OpenSSL's DRBG); identifiers only need to be unpredictable and unique.
enum RandomPool {
    private struct State: ~Copyable {
        var buffer = [UInt8](repeating: 0, count: 4096)
        var next = 4096
    }

    private static let state = Mutex(State())

    static func fill(_ out: UnsafeMutableRawBufferPointer) {
        state.withLock { s in
            var written = 0
            while written < out.count {
                if s.next == s.buffer.count {
                    refill(&s.buffer)
                    s.next = 0
                }
                let n = min(out.count - written, s.buffer.count - s.next)
                s.buffer.withUnsafeBytes { src in
                    (out.baseAddress! + written).copyMemory(from: src.baseAddress! + s.next, byteCount: n)
                }
                // Bytes handed out are not kept around.
                for i in s.next..<(s.next + n) { s.buffer[i] = 0 }
                s.next += n
                written += n
            }
        }
    }

    private static func refill(_ buffer: inout [UInt8]) {
        var got = 0
        let fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC)
        if fd >= 0 {
            defer { close(fd) }
            while got < buffer.count {
                let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress! + got, $0.count - got) }
                if n <= 0 { if n < 0 && errno == EINTR { continue }; break }
                got += n
            }
        }
        if got < buffer.count {
            // /dev/urandom unavailable (e.g. a bare chroot): fall back to the standard generator.
            var rng = SystemRandomNumberGenerator()
            for i in got..<buffer.count { buffer[i] = UInt8.random(in: 0...255, using: &rng) }
        }
    }

    static func bytes(_ count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        out.withUnsafeMutableBytes { fill($0) }
        return out
    }
}

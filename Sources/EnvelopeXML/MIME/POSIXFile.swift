#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A local I/O failure (open, read, write, fsync) on attachment storage or a spool file.
///
/// Kept apart from `EbmsError` on purpose: a full disk or a vanished spool file is not the peer's
/// fault, and the message of this error carries a local path that must never travel to the peer.
/// Callers that have to answer on the wire map it to `EBMS:0004` (Other).
public struct ByteIOError: Error, Sendable, Equatable, CustomStringConvertible {
    public var operation: String
    public var path: String
    /// The `errno` value, or 0 when the failure is not a system call error (e.g. a short file).
    public var errorNumber: Int32

    public init(operation: String, path: String, errorNumber: Int32) {
        self.operation = operation
        self.path = path
        self.errorNumber = errorNumber
    }

    public var description: String {
        let reason = errorNumber == 0 ? "unexpected end of file" : String(cString: strerror(errorNumber))
        return "\(operation) \(path): \(reason)"
    }
}

/// A read-only file descriptor that closes itself. Reads use `pread`, so one descriptor can serve
/// independent readers and no shared file offset has to be tracked.
/// Not `Sendable`: it is created, used and dropped within one call.
final class ReadOnlyFile {
    let path: String
    private let fd: Int32

    init(path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ByteIOError(operation: "open", path: path, errorNumber: errno) }
        self.path = path
        self.fd = fd
    }

    deinit { close(fd) }

    func size() throws -> UInt64 {
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw ByteIOError(operation: "fstat", path: path, errorNumber: errno) }
        return UInt64(st.st_size)
    }

    /// Fills `buffer` from `offset`; returns fewer bytes only at end of file.
    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws -> Int {
        guard let base = buffer.baseAddress else { return 0 }
        var done = 0
        while done < buffer.count {
            let n = pread(fd, base + done, buffer.count - done, off_t(offset) + off_t(done))
            if n < 0 {
                if errno == EINTR { continue }
                throw ByteIOError(operation: "read", path: path, errorNumber: errno)
            }
            if n == 0 { break }
            done += n
        }
        return done
    }

    /// Like `read(into:at:)` but a short read is an error: the caller was promised these bytes.
    func readExactly(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws {
        if try read(into: buffer, at: offset) != buffer.count {
            throw ByteIOError(operation: "read", path: path, errorNumber: 0)
        }
    }
}

/// Lower-case hex of `byteCount` random bytes from the system CSPRNG (getrandom on Linux).
func randomHex(byteCount: Int) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var out: [UInt8] = []
    out.reserveCapacity(byteCount * 2)
    for b in RandomPool.bytes(byteCount) {
        out.append(digits[Int(b >> 4)])
        out.append(digits[Int(b & 0x0f)])
    }
    return String(decoding: out, as: UTF8.self)
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Synchronization

/// What is wrong with a stored payload file, measured against the size and SHA-256 recorded when
/// it was stored.
public enum PayloadDamage: Error, Sendable, Equatable, CustomStringConvertible {
    case missing(path: String)
    case unreadable(path: String, reason: String)
    case notARegularFile(path: String)
    case wrongSize(path: String, expected: Int64, found: Int64)
    case wrongDigest(path: String, expected: String, found: String)

    public var description: String {
        switch self {
        case .missing(let path): "the file \(path) is missing"
        case .unreadable(let path, let reason): "the file \(path) cannot be read: \(reason)"
        case .notARegularFile(let path): "\(path) is not a regular file"
        case .wrongSize(let path, let expected, let found): "the file \(path) has \(found) bytes, \(expected) were stored"
        case .wrongDigest(let path, let expected, let found): "the file \(path) has SHA-256 \(found), \(expected) was stored"
        }
    }

    /// A short word for logs and metrics.
    public var kind: String {
        switch self {
        case .missing: "missing"
        case .unreadable: "unreadable"
        case .notARegularFile: "not-a-file"
        case .wrongSize: "wrong-size"
        case .wrongDigest: "wrong-digest"
        }
    }
}

/// Checks stored payload files before they are served as what was stored.
///
/// `verify` hashes a file (streaming, 1 MiB at a time) only when this object has not yet seen it
/// intact with the same identity and change stamps; then it costs one `fstat`. Hashing every
/// download instead would read a file twice per download (a gigabyte file twice over, with the
/// first byte held back by the whole hash), while what damages a file at rest (truncation, an
/// overwrite, a restore of the wrong copy, deletion) changes its size, inode or `ctime`, and
/// `ctime` cannot be set back from user space. What it cannot see is decay below the file
/// system that leaves every stamp alone; a restart (an empty memory) checks each file once more.
/// The memory is bounded: when full it is emptied, which costs re-hashing, never a wrong answer.
public final class PayloadIntegrity: Sendable {
    /// The identity and change stamps of a file, as `fstat` gives them.
    private struct Stamp: Equatable, Sendable {
        var device: UInt64
        var inode: UInt64
        var size: Int64
        var modified: Int64
        var changed: Int64
        var sha256: String
    }

    private let verified = Mutex<[String: Stamp]>([:])
    private let capacity: Int
    private let hashedCount = Atomic<Int>(0)

    public init(capacity: Int = 8192) {
        self.capacity = max(1, capacity)
    }

    /// How many files were hashed so far (the others were known intact): for tests and metrics.
    public var filesHashed: Int { hashedCount.load(ordering: .relaxed) }

    /// Size only (one `stat`): for paths that read the file anyway and only need to refuse a
    /// missing or cut-off one before promising its size to someone.
    public static func checkSize(_ file: StoredFile) throws(PayloadDamage) {
        var info = stat()
        guard stat(file.path, &info) == 0 else {
            if errno == ENOENT { throw .missing(path: file.path) }
            throw .unreadable(path: file.path, reason: String(cString: strerror(errno)))
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw .notARegularFile(path: file.path) }
        guard Int64(info.st_size) == file.size else { throw .wrongSize(path: file.path, expected: file.size, found: Int64(info.st_size)) }
    }

    /// The file is there, a regular file of the stored size and the stored SHA-256.
    public func verify(_ file: StoredFile) throws(PayloadDamage) {
        let fd = open(file.path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { throw .missing(path: file.path) }
            throw .unreadable(path: file.path, reason: String(cString: strerror(errno)))
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw .unreadable(path: file.path, reason: String(cString: strerror(errno))) }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw .notARegularFile(path: file.path) }
        guard Int64(info.st_size) == file.size else { throw .wrongSize(path: file.path, expected: file.size, found: Int64(info.st_size)) }
        let stamp = Stamp(device: UInt64(info.st_dev), inode: UInt64(info.st_ino), size: Int64(info.st_size),
                          modified: Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec),
                          changed: Int64(info.st_ctim.tv_sec) * 1_000_000_000 + Int64(info.st_ctim.tv_nsec),
                          sha256: file.sha256.lowercased())
        if verified.withLock({ $0[file.path] == stamp }) { return }
        let found = try Self.hash(fd, path: file.path)
        hashedCount.add(1, ordering: .relaxed)
        guard found == stamp.sha256 else {
            verified.withLock { _ = $0.removeValue(forKey: file.path) }
            throw .wrongDigest(path: file.path, expected: stamp.sha256, found: found)
        }
        verified.withLock {
            if $0.count >= capacity { $0.removeAll(keepingCapacity: true) }
            $0[file.path] = stamp
        }
    }

    /// SHA-256 (hex) of what `fd` holds, read from its start in 1 MiB pieces.
    private static func hash(_ fd: Int32, path: String) throws(PayloadDamage) -> String {
        var hasher = SHA256()
        let size = 1 << 20
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 16)
        defer { buffer.deallocate() }
        var offset: off_t = 0
        while true {
            let n = pread(fd, buffer, size, offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw .unreadable(path: path, reason: String(cString: strerror(errno)))
            }
            if n == 0 { break }
            hasher.update(UnsafeRawBufferPointer(start: buffer, count: n))
            offset += off_t(n)
        }
        return SHA256.hex(hasher.finalize())
    }
}

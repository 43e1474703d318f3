#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import COpenSSL
import Foundation
import Synchronization

/// Payload files under `<root>/yyyy/mm/dd/<uuid>` (UTC date), made durable before they are
/// referenced: the file is written to `<uuid>.partial`, fsync'd, renamed, and the directory is
/// fsync'd (as is the parent of every directory created on the way), so after a crash a path that
/// was returned exists with its full content. A crash mid-copy can leave a `.partial` orphan, never
/// a short file under a final name.
struct PayloadDirectory: Sendable {
    let root: String
    static let chunkSize = 256 * 1024
    private let created = CreatedDay()

    init(root: String) { self.root = root }

    /// The last day directory this object created or found, so that each payload of the day does
    /// not repeat four mkdir calls and the calendar arithmetic. Its entries were made durable
    /// (parent fsync'd) before it was remembered.
    private final class CreatedDay: Sendable {
        private let last = Mutex<(day: Int, path: String)>((Int.min, ""))

        func path(for day: Int) -> String? {
            last.withLock { $0.day == day ? $0.path : nil }
        }

        func remember(_ path: String, for day: Int) {
            last.withLock { $0 = (day, path) }
        }
    }

    /// 128 random bits from OpenSSL's DRBG as hex: Foundation's `UUID()` opens /dev/urandom on
    /// every call on Linux, once per stored payload.
    static func randomName() -> String {
        var bytes = [UInt8](repeating: 0, count: 16)
        if RAND_bytes(&bytes, 16) != 1 { return UUID().uuidString.lowercased() }
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(32)
        for b in bytes { out.append(digits[Int(b >> 4)]); out.append(digits[Int(b & 15)]) }
        return String(decoding: out, as: UTF8.self)
    }

    func store(_ source: PayloadSource, at date: Date) throws -> StoredFile {
        let directory = try makeDayDirectory(for: date)
        let name = Self.randomName()
        let final = directory + "/" + name
        switch source {
        case let .bytes(data):
            return try writeDurably(to: final, in: directory) { fd, hasher in
                try data.withUnsafeBytes { raw in
                    hasher.update(raw)
                    try Self.writeAll(fd, raw, path: final)
                }
                return Int64(data.count)
            }
        case let .copy(path):
            return try copy(from: path, to: final, in: directory)
        case let .move(path):
            guard rename(path, final) == 0 else {
                let code = errno
                guard code == EXDEV else { throw StoreError.io(operation: "rename", path: path, errno: code) }
                let stored = try copy(from: path, to: final, in: directory)
                guard unlink(path) == 0 else { throw StoreError.io(operation: "unlink", path: path, errno: errno) }
                return stored
            }
            // Renamed: the content may never have been flushed by whoever wrote it.
            let stored = try hashAndSync(final)
            try Self.syncDirectory(directory)
            return stored
        }
    }

    // MARK: Steps

    private func copy(from source: String, to final: String, in directory: String) throws -> StoredFile {
        let input = open(source, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { throw StoreError.io(operation: "open", path: source, errno: errno) }
        defer { _ = close(input) }
        return try writeDurably(to: final, in: directory) { fd, hasher in
            var total: Int64 = 0
            var buffer = [UInt8](repeating: 0, count: Self.chunkSize)
            while true {
                let n = try buffer.withUnsafeMutableBytes { try Self.readSome(input, $0, path: source) }
                if n == 0 { return total }
                try buffer.withUnsafeBytes { raw in
                    let chunk = UnsafeRawBufferPointer(rebasing: raw[0..<n])
                    hasher.update(chunk)
                    try Self.writeAll(fd, chunk, path: final)
                }
                total += Int64(n)
            }
        }
    }

    /// Writes `<final>.partial` with `fill`, fsyncs it, renames it to `final`, fsyncs the directory.
    private func writeDurably(to final: String, in directory: String,
                              fill: (Int32, inout SHA256) throws -> Int64) throws -> StoredFile {
        let partial = final + ".partial"
        let fd = open(partial, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw StoreError.io(operation: "open", path: partial, errno: errno) }
        var hasher = SHA256()
        do {
            let size = try fill(fd, &hasher)
            guard fsync(fd) == 0 else { throw StoreError.io(operation: "fsync", path: partial, errno: errno) }
            guard close(fd) == 0 else { throw StoreError.io(operation: "close", path: partial, errno: errno) }
            guard rename(partial, final) == 0 else {
                throw StoreError.io(operation: "rename", path: partial, errno: errno)
            }
            try Self.syncDirectory(directory)
            return StoredFile(path: final, size: size, sha256: SHA256.hex(hasher.finalize()))
        } catch {
            _ = close(fd)  // harmless EBADF when already closed
            _ = unlink(partial)
            throw error
        }
    }

    /// Reads a file to hash it, fsyncs it, and reports its size.
    private func hashAndSync(_ path: String) throws -> StoredFile {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw StoreError.io(operation: "open", path: path, errno: errno) }
        defer { _ = close(fd) }
        var hasher = SHA256()
        var total: Int64 = 0
        var buffer = [UInt8](repeating: 0, count: Self.chunkSize)
        while true {
            let n = try buffer.withUnsafeMutableBytes { try Self.readSome(fd, $0, path: path) }
            if n == 0 { break }
            buffer.withUnsafeBytes { hasher.update(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            total += Int64(n)
        }
        guard fsync(fd) == 0 else { throw StoreError.io(operation: "fsync", path: path, errno: errno) }
        return StoredFile(path: path, size: total, sha256: SHA256.hex(hasher.finalize()))
    }

    /// `<root>/yyyy/mm/dd`, creating what is missing; each new directory's parent is fsync'd so the
    /// new entry survives a crash.
    private func makeDayDirectory(for date: Date) throws -> String {
        let dayNumber = Int((date.timeIntervalSince1970 / 86_400).rounded(.down))
        if let known = created.path(for: dayNumber) { return known }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let day = calendar.dateComponents([.year, .month, .day], from: date)
        let components = [String(format: "%04d", day.year ?? 0), String(format: "%02d", day.month ?? 0),
                          String(format: "%02d", day.day ?? 0)]
        try Self.makeDirectory(root)
        var path = root
        for component in components {
            let parent = path
            path += "/" + component
            if try Self.makeDirectory(path) { try Self.syncDirectory(parent) }
        }
        created.remember(path, for: dayNumber)
        return path
    }

    // MARK: System calls

    /// mkdir; true when this call created it.
    @discardableResult
    static func makeDirectory(_ path: String) throws -> Bool {
        if mkdir(path, 0o750) == 0 { return true }
        let code = errno
        var info = stat()
        guard code == EEXIST, stat(path, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else {
            throw StoreError.io(operation: "mkdir", path: path, errno: code)
        }
        return false
    }

    /// mkdir -p.
    static func makeDirectoryTree(_ path: String) throws {
        var prefix = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            prefix += "/" + component
            try makeDirectory(prefix)
        }
    }

    static func syncDirectory(_ path: String) throws {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw StoreError.io(operation: "open", path: path, errno: errno) }
        defer { _ = close(fd) }
        guard fsync(fd) == 0 else { throw StoreError.io(operation: "fsync", path: path, errno: errno) }
    }

    private static func readSome(_ fd: Int32, _ buffer: UnsafeMutableRawBufferPointer, path: String) throws -> Int {
        while true {
            let n = read(fd, buffer.baseAddress, buffer.count)
            if n >= 0 { return n }
            if errno != EINTR { throw StoreError.io(operation: "read", path: path, errno: errno) }
        }
    }

    private static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws {
        var offset = 0
        while offset < bytes.count {
            let n = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw StoreError.io(operation: "write", path: path, errno: errno)
            }
            offset += n
        }
    }
}

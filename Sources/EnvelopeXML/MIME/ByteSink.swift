#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where the MIME writer and the gzip codec put their output: a memory buffer for small messages,
/// a file for anything that may be large. Generic (`inout some ByteSink`) rather than an
/// existential so the per-chunk call is direct.
public protocol ByteSink {
    mutating func write(_ bytes: UnsafeRawBufferPointer) throws
}

extension ByteSink {
    public mutating func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    public mutating func write(_ string: String) throws {
        try write(Array(string.utf8))
    }

    /// Streams a body into the sink chunk by chunk (bounded memory for `.file` bodies).
    public mutating func write(contentsOf body: PartBody) throws {
        if case .bytes(let b) = body { return try write(b) }
        try body.forEachChunk { try write($0) }
    }
}

/// An in-memory sink.
public struct MemorySink: ByteSink, Sendable {
    public private(set) var bytes: [UInt8] = []

    public init() {}

    public mutating func write(_ bytes: UnsafeRawBufferPointer) throws {
        self.bytes.append(contentsOf: bytes)
    }
}

/// A file sink with a 64 KiB write buffer. Call `close()` (or `sync()` when the data must be
/// durable, e.g. before a receipt leaves) — `deinit` only makes a best-effort flush, because
/// errors cannot be reported from there.
///
/// A class because it owns a descriptor; not `Sendable`: one writer at a time.
public final class FileSink: ByteSink {
    public enum Mode: Sendable {
        /// Fail if the file exists (`O_EXCL`): the safe choice for spool files.
        case createNew
        /// Create or truncate.
        case truncate
    }

    public let path: String
    /// Bytes accepted so far (buffered or written).
    public private(set) var bytesWritten: UInt64 = 0
    private var fd: Int32
    private var buffer: [UInt8] = []
    private let bufferSize = PartBody.defaultChunkSize

    public init(path: String, mode: Mode = .truncate, permissions: mode_t = 0o600) throws {
        let flags = O_WRONLY | O_CREAT | O_CLOEXEC | (mode == .createNew ? O_EXCL : O_TRUNC)
        let fd = open(path, flags, permissions)
        guard fd >= 0 else { throw ByteIOError(operation: "create", path: path, errorNumber: errno) }
        self.path = path
        self.fd = fd
        buffer.reserveCapacity(bufferSize)
    }

    /// Creates a new file with a random name (`prefix` + 32 hex + `suffix`) in `directory`.
    public static func createTemporary(in directory: String, prefix: String = "as4gw-",
                                       suffix: String = ".part") throws -> FileSink {
        let dir = directory.hasSuffix("/") ? directory : directory + "/"
        return try FileSink(path: dir + prefix + randomHex(byteCount: 16) + suffix, mode: .createNew)
    }

    deinit {
        if fd >= 0 {
            try? flush()
            _ = closeDescriptor(fd)
        }
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard fd >= 0 else { throw ByteIOError(operation: "write (closed)", path: path, errorNumber: EBADF) }
        bytesWritten += UInt64(bytes.count)
        if buffer.count + bytes.count <= bufferSize {
            buffer.append(contentsOf: bytes)
            return
        }
        try flush()
        // Large writes bypass the buffer: no point copying them first.
        if bytes.count >= bufferSize { try writeFully(bytes) } else { buffer.append(contentsOf: bytes) }
    }

    /// Non-mutating overload: a `let` file sink can be written to (it is a reference).
    public func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    public func write(_ string: String) throws {
        try write(Array(string.utf8))
    }

    /// Hands buffered bytes to the kernel.
    public func flush() throws {
        guard !buffer.isEmpty else { return }
        try buffer.withUnsafeBytes { try writeFully($0) }
        buffer.removeAll(keepingCapacity: true)
    }

    /// Flushes and `fsync`s: the bytes are on stable storage when this returns.
    public func sync() throws {
        try flush()
        guard fsync(fd) == 0 else { throw ByteIOError(operation: "fsync", path: path, errorNumber: errno) }
    }

    /// Flushes and closes. Idempotent.
    public func close() throws {
        guard fd >= 0 else { return }
        defer { fd = -1 }
        let flushError: Error?
        do { try flush(); flushError = nil } catch { flushError = error }
        let rc = closeDescriptor(fd)
        if let flushError { throw flushError }
        guard rc == 0 else { throw ByteIOError(operation: "close", path: path, errorNumber: errno) }
    }

    /// The written file as a body (after `close()` or `flush()`).
    public var body: PartBody { .file(path: path, offset: 0, length: bytesWritten) }

    private func writeFully(_ bytes: UnsafeRawBufferPointer) throws {
        guard let base = bytes.baseAddress else { return }
        var done = 0
        while done < bytes.count {
            let n = writeDescriptor(fd, base + done, bytes.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                throw ByteIOError(operation: "write", path: path, errorNumber: errno)
            }
            done += n
        }
    }
}

// File-scope wrappers: inside `FileSink` the names `close`/`write` mean its own methods.
private func closeDescriptor(_ fd: Int32) -> Int32 { close(fd) }
private func writeDescriptor(_ fd: Int32, _ p: UnsafeRawPointer, _ n: Int) -> Int { write(fd, p, n) }

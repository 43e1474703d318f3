#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The bytes of a MIME part (or of a whole message): either held in memory, or a byte range of a
/// file. Parsing a message that sits in a file yields `.file` ranges of that file, so a gigabyte
/// attachment is never copied into memory; it is streamed with `forEachChunk` when needed.
///
/// A `.file` value is only a reference: the file must stay unchanged while the value is in use.
public enum PartBody: Sendable, Equatable {
    case bytes([UInt8])
    case file(path: String, offset: UInt64, length: UInt64)

    /// Default chunk size for streaming reads; also the buffer size used throughout the codec.
    /// Chunk size for streaming bodies: large enough that read/write system calls and per-chunk
    /// crypto setup stay small beside the bytes moved (measured: 64 KiB → 256 KiB took a 200 MB
    /// seal from ~400 to ~575 MB/s), small enough to keep memory flat.
    public static let defaultChunkSize = 256 * 1024
    /// Window of the MIME boundary scanner: small messages are the common case.
    public static let scanWindowSize = 64 * 1024

    /// The whole of a file, as a `.file` range (the size is taken now).
    public static func wholeFile(_ path: String) throws -> PartBody {
        let file = try ReadOnlyFile(path: path)
        return .file(path: path, offset: 0, length: try file.size())
    }

    public var count: UInt64 {
        switch self {
        case .bytes(let b): return UInt64(b.count)
        case .file(_, _, let length): return length
        }
    }

    public var isEmpty: Bool { count == 0 }

    /// A sub-range of this body (relative to its start). Traps if the range is out of bounds,
    /// like an array subscript would.
    public func slice(offset: UInt64, length: UInt64) -> PartBody {
        precondition(offset <= count && length <= count - offset, "PartBody slice out of bounds")
        switch self {
        case .bytes(let b):
            return .bytes(Array(b[Int(offset)..<Int(offset + length)]))
        case .file(let path, let base, _):
            return .file(path: path, offset: base + offset, length: length)
        }
    }

    /// Reads everything into memory. Meant for small parts (the SOAP envelope); for payloads use
    /// `forEachChunk`. `maxBytes` guards against an unexpectedly large part.
    public func readAll(maxBytes: UInt64 = UInt64(Int.max)) throws -> [UInt8] {
        switch self {
        case .bytes(let b):
            guard UInt64(b.count) <= maxBytes else { throw ByteIOError.tooLarge(count, maxBytes) }
            return b
        case .file(let path, let offset, let length):
            guard length <= maxBytes, length <= UInt64(Int.max) else {
                throw ByteIOError.tooLarge(length, maxBytes)
            }
            let file = try ReadOnlyFile(path: path)
            var failure: Error?
            let out = [UInt8](unsafeUninitializedCapacity: Int(length)) { buf, initialized in
                do {
                    try file.readExactly(into: UnsafeMutableRawBufferPointer(buf), at: offset)
                    initialized = Int(length)
                } catch {
                    failure = error
                    initialized = 0
                }
            }
            if let failure { throw failure }
            return out
        }
    }

    /// Calls `body` with consecutive chunks of at most `size` bytes, in order. For `.file` bodies
    /// one buffer of `size` bytes is reused, so memory stays bounded whatever the length. The
    /// buffer is only valid during the call.
    public func forEachChunk(size: Int = PartBody.defaultChunkSize,
                             _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        precondition(size > 0, "chunk size must be positive")
        switch self {
        case .bytes(let b):
            try b.withUnsafeBytes { all in
                var start = 0
                while start < all.count {
                    let end = min(all.count, start + size)
                    try body(UnsafeRawBufferPointer(rebasing: all[start..<end]))
                    start = end
                }
            }
        case .file(let path, let offset, let length):
            guard length > 0 else { return }
            let file = try ReadOnlyFile(path: path)
            let cap = Int(min(UInt64(size), length))
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: cap, alignment: 16)
            defer { buffer.deallocate() }
            var done: UInt64 = 0
            while done < length {
                let n = Int(min(UInt64(cap), length - done))
                let part = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<n])
                try file.readExactly(into: part, at: offset + done)
                try body(UnsafeRawBufferPointer(part))
                done += UInt64(n)
            }
        }
    }
}

extension ByteIOError {
    static func tooLarge(_ size: UInt64, _ limit: UInt64) -> ByteIOError {
        ByteIOError(operation: "readAll of \(size) bytes (limit \(limit))", path: "", errorNumber: EFBIG)
    }
}

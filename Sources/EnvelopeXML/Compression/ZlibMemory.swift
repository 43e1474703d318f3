import CZlib
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// zlib's allocator for our streams: blocks a stream frees are kept, a bounded number, and
/// handed to the next stream asking for that size.
///
/// Why: a deflate stream for a 10 KiB payload asks for about 200 KiB (window, match chains, hash
/// heads, pending buffer) and gives it back at once. From malloc that memory came fresh from the
/// kernel nearly every time (glibc trims the heap top once it is freed), so each message paid
/// for page faults and the zeroing of new pages: about a fifth of sealing a compressed message.
///
/// The bytes zlib produces do not depend on what a block held before: `deflateInit2` starts its
/// window's high-water mark at zero and clears every byte of the window it may read beyond the
/// input, and inflate reads only window bytes it wrote. A fresh malloc block is no cleaner.
enum ZlibMemory {
    /// Bytes in front of each block: its size, which `free_func` is not told.
    static let headerBytes = 16
    /// Larger blocks are not kept (deflate asks for at most 64 KiB at once with our settings;
    /// inflate's window is 32 KiB).
    static let largestKept = 256 << 10
    /// At most this much memory waits in the pool: enough for a few streams at a time.
    static let capacityBytes = 4 << 20

    private struct Pool {
        /// Free blocks by size; addresses of the headers, as integers.
        var blocks: [Int: [UInt]] = [:]
        var bytes = 0
    }

    private static let pool = Mutex(Pool())

    /// Blocks and bytes waiting to be reused (for tests).
    static var pooled: (blocks: Int, bytes: Int) {
        pool.withLock { ($0.blocks.values.reduce(0) { $0 + $1.count }, $0.bytes) }
    }

    /// Overwrites every pooled block with `byte` (for tests: what a block held must not matter).
    static func scribble(_ byte: UInt8) {
        pool.withLock { pool in
            for (count, addresses) in pool.blocks {
                for address in addresses {
                    UnsafeMutableRawPointer(bitPattern: address).map { ($0 + headerBytes).initializeMemory(as: UInt8.self, repeating: byte, count: count) }
                }
            }
        }
    }

    /// Points `stream`'s allocator at the pool; call before `deflateInit2` / `inflateInit2`.
    static func install(in stream: UnsafeMutablePointer<z_stream>) {
        stream.pointee.zalloc = allocate
        stream.pointee.zfree = release
        stream.pointee.opaque = nil
    }

    private static let allocate: alloc_func = { _, items, size in
        let (count, overflow) = Int(items).multipliedReportingOverflow(by: Int(size))
        guard !overflow, count <= Int.max - ZlibMemory.headerBytes else { return nil }
        let reused = count <= ZlibMemory.largestKept ? ZlibMemory.pool.withLock { pool -> UInt? in
            guard let address = pool.blocks[count]?.popLast() else { return nil }
            pool.bytes -= count
            return address
        } : nil
        let header: UnsafeMutableRawPointer
        if let reused, let pointer = UnsafeMutableRawPointer(bitPattern: reused) {
            header = pointer
        } else {
            guard let fresh = malloc(count + ZlibMemory.headerBytes) else { return nil }
            fresh.storeBytes(of: count, as: Int.self)
            header = fresh
        }
        return header + ZlibMemory.headerBytes
    }

    private static let release: free_func = { _, block in
        guard let block else { return }
        let header = block - ZlibMemory.headerBytes
        let count = header.load(as: Int.self)
        let kept = count <= ZlibMemory.largestKept && ZlibMemory.pool.withLock { pool -> Bool in
            guard pool.bytes + count <= ZlibMemory.capacityBytes else { return false }
            pool.blocks[count, default: []].append(UInt(bitPattern: header))
            pool.bytes += count
            return true
        }
        if !kept { free(header) }
    }
}

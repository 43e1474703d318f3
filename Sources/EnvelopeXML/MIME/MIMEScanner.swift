#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What a scan runs over: a range of an array already in memory (scanned in place, no copy) or a
/// byte range of a file (scanned through a fixed-size window).
enum ScanSource {
    case memory([UInt8], Range<Int>)
    case file(path: String, offset: UInt64, length: UInt64)

    init(_ body: PartBody) {
        switch body {
        case .bytes(let b): self = .memory(b, 0..<b.count)
        case .file(let path, let offset, let length): self = .file(path: path, offset: offset, length: length)
        }
    }

    var count: UInt64 {
        switch self {
        case .memory(_, let r): return UInt64(r.count)
        case .file(_, _, let length): return length
        }
    }

    /// Positions are relative to the start of this source.
    func sub(_ start: UInt64, _ end: UInt64) -> ScanSource {
        precondition(start <= end && end <= count)
        switch self {
        case .memory(let b, let r): return .memory(b, (r.lowerBound + Int(start))..<(r.lowerBound + Int(end)))
        case .file(let path, let offset, _): return .file(path: path, offset: offset + start, length: end - start)
        }
    }

    /// A part body for `[start, end)`: a copy for memory input, a zero-copy range for file input.
    func body(_ start: UInt64, _ end: UInt64) -> PartBody {
        switch sub(start, end) {
        case .memory(let b, let r): return .bytes(Array(b[r]))
        case .file(let path, let offset, let length): return .file(path: path, offset: offset, length: length)
        }
    }
}

/// Forward search over a `ScanSource` holding at most one window (64 KiB by default) of a file in
/// memory, whatever the input size: a 200 MB header line or a 2 GB attachment costs no more memory
/// than a small one. Positions are absolute within the source.
struct MIMEScanner {
    enum FindResult: Equatable {
        case found(UInt64)
        /// The needle does not occur before the end of the input.
        case endOfInput
        /// The needle does not start within `maxDistance` of the search start.
        case limitReached
    }

    let source: ScanSource
    let count: UInt64
    private let file: ReadOnlyFile?
    private let fileOffset: UInt64
    private var window: [UInt8]
    /// Index in `window` of the byte at `windowStart`.
    private var windowBase: Int
    private var windowStart: UInt64 = 0
    private var windowCount: Int
    private let windowSize: Int

    init(_ source: ScanSource, windowSize: Int = PartBody.scanWindowSize) throws {
        self.source = source
        self.count = source.count
        self.windowSize = windowSize
        switch source {
        case .memory(let b, let r):
            file = nil
            fileOffset = 0
            window = b
            windowBase = r.lowerBound
            windowCount = r.count
        case .file(let path, let offset, let length):
            let f = try ReadOnlyFile(path: path)
            // Check now: a file shorter than the range would otherwise surface as odd parse errors.
            guard try f.size() >= offset + length else {
                throw ByteIOError(operation: "read", path: path, errorNumber: 0)
            }
            file = f
            fileOffset = offset
            window = [UInt8](repeating: 0, count: windowSize)
            windowBase = 0
            windowCount = 0
        }
    }

    /// Finds the first occurrence of `needle` starting in `[from, from + maxDistance]`.
    mutating func find(_ needle: [UInt8], from: UInt64, maxDistance: UInt64 = .max) throws -> FindResult {
        let n = UInt64(needle.count)
        precondition(n > 0 && n <= UInt64(windowSize))
        // End of the bytes a match may touch: its last allowed start plus the needle length.
        let hardEnd = min(count, saturatingAdd(saturatingAdd(from, maxDistance), n))
        var start = from
        while start + n <= hardEnd {
            if start < windowStart || start + n > windowEnd { try load(at: start) }
            let searchEnd = min(windowEnd, hardEnd)
            if let hit = search(needle, start, searchEnd) { return .found(hit) }
            if searchEnd == hardEnd { break }
            start = searchEnd - (n - 1) // keep an overlap so a needle across windows is found
        }
        return hardEnd == count ? .endOfInput : .limitReached
    }

    /// Up to `length` bytes from `position` (fewer at the end of the input). For small reads only.
    mutating func bytes(at position: UInt64, length: Int) throws -> [UInt8] {
        guard position < count else { return [] }
        let n = Int(min(UInt64(length), count - position))
        if position >= windowStart && position + UInt64(n) <= windowEnd {
            let i = windowBase + Int(position - windowStart)
            return Array(window[i..<(i + n)])
        }
        guard let file else { preconditionFailure("memory source is always resident") }
        var out = [UInt8](repeating: 0, count: n)
        try out.withUnsafeMutableBytes { try file.readExactly(into: $0, at: fileOffset + position) }
        return out
    }

    /// True if the input holds `prefix` at `position`.
    mutating func matches(_ prefix: [UInt8], at position: UInt64) throws -> Bool {
        try bytes(at: position, length: prefix.count) == prefix
    }

    private var windowEnd: UInt64 { windowStart + UInt64(windowCount) }

    private mutating func load(at position: UInt64) throws {
        guard let file else { preconditionFailure("memory source is always resident") }
        let n = Int(min(UInt64(windowSize), count - position))
        try window.withUnsafeMutableBytes { w in
            try file.readExactly(into: UnsafeMutableRawBufferPointer(rebasing: w[0..<n]), at: fileOffset + position)
        }
        windowStart = position
        windowCount = n
    }

    /// memchr for the first byte, memcmp for the rest. (glibc's memmem is not exported to Swift
    /// without _GNU_SOURCE; our needles start with LF, which is rare enough in payloads that this
    /// is as fast in practice, and worst case stays linear times the short needle length.)
    private func search(_ needle: [UInt8], _ start: UInt64, _ end: UInt64) -> UInt64? {
        let n = needle.count
        guard end >= start, end - start >= UInt64(n) else { return nil }
        let lo = windowBase + Int(start - windowStart)
        let hi = windowBase + Int(end - windowStart) - n + 1 // candidate starts: [lo, hi)
        return window.withUnsafeBytes { w -> UInt64? in
            needle.withUnsafeBytes { nd -> UInt64? in
                let base = w.baseAddress!
                let first = Int32(nd[0])
                var i = lo
                while i < hi {
                    guard let p = memchr(base + i, first, hi - i) else { return nil }
                    let j = UnsafeRawPointer(p) - base
                    if n == 1 || memcmp(base + j + 1, nd.baseAddress! + 1, n - 1) == 0 {
                        return windowStart + UInt64(j - windowBase)
                    }
                    i = j + 1
                }
                return nil
            }
        }
    }
}

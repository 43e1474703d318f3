import CZlib

/// Bounds on decompression (AS4-WIRE §4: cap size and ratio before writing to disk).
///
/// Defaults: at most 1 GiB of output; past the first 16 MiB of output, at most 250 bytes out per
/// byte in. Deflate cannot exceed ~1032:1, so only a ratio well below that catches a bomb early;
/// real documents (XML, PDF, CSV) stay far below 250:1, while a run of zeros reaches ~1000:1.
/// Small outputs are never refused on ratio: a tiny, very compressible payload harms nobody.
/// The receiving gateway sets no ratio (`InboundProcessor.gzipLimits`): the agreement's size
/// bounds a payload, and genuine ones (a run of zeros) pass 250:1.
public struct GzipLimits: Sendable, Equatable {
    public var maxOutputBytes: UInt64 = 1 << 30
    /// nil: no ratio limit.
    public var maxRatio: UInt64? = 250
    /// The ratio is only enforced once the output exceeds this many bytes.
    public var ratioGraceBytes: UInt64 = 16 << 20

    public init(maxOutputBytes: UInt64 = 1 << 30, maxRatio: UInt64? = 250, ratioGraceBytes: UInt64 = 16 << 20) {
        self.maxOutputBytes = maxOutputBytes
        self.maxRatio = maxRatio
        self.ratioGraceBytes = ratioGraceBytes
    }

    public static let `default` = GzipLimits()
}

/// GZIP (RFC 1952) through zlib, streaming with 64 KiB buffers whatever the size.
/// Decompression failures of any kind (not gzip, corrupt, truncated, trailing bytes, limits
/// exceeded) are `EbmsError(.decompressionFailure)` = EBMS:0303.
public enum Gzip {
    /// `EbmsError.detail` of a refusal for passing `maxOutputBytes` (as opposed to a corrupt
    /// stream or a bomb ratio), so a caller enforcing an agreed size can say so.
    public static let outputLimitDetail = "output-limit"

    /// zlib `windowBits` for a gzip wrapper (15 + 16). Inflate uses the same value, not 47
    /// (auto-detect): AS4 mandates gzip, so a zlib-wrapped stream is refused as "not gzip".
    static let gzipWindowBits: Int32 = 31

    /// Compresses `input` into `sink`; returns the number of bytes written.
    @discardableResult
    public static func compress<S: ByteSink>(_ input: PartBody, to sink: inout S, level: Int32 = 6) throws -> UInt64 {
        try compress(input, to: &sink, level: level, windowBits: deflateWindowBits(inputSize: input.count))
    }

    /// `windowBits` for deflating `inputSize` bytes into gzip: the smallest window that still
    /// reaches from the end of the input back to its start (deflate keeps 262 bytes of
    /// lookahead), at most zlib's 32 KiB. For such an input a smaller window finds exactly the
    /// matches the full one would, while zlib allocates and clears far less (a 10 KiB payload:
    /// 16 KiB instead of 32 KiB of window and of match chains, about half the time to compress).
    static func deflateWindowBits(inputSize: UInt64) -> Int32 {
        var bits: Int32 = 9  // zlib's smallest for deflate
        while bits < 15 && (UInt64(1) << UInt64(bits)) < inputSize + 262 { bits += 1 }
        return bits + 16  // + 16: gzip wrapper
    }

    static func compress<S: ByteSink>(_ input: PartBody, to sink: inout S, level: Int32, windowBits: Int32) throws -> UInt64 {
        let stream = try ZStream(deflateLevel: level, windowBits: windowBits)
        var written: UInt64 = 0
        try input.forEachChunk { chunk in
            written += try stream.deflate(chunk, finish: false, into: &sink)
        }
        written += try stream.deflate(UnsafeRawBufferPointer(start: nil, count: 0), finish: true, into: &sink)
        return written
    }

    /// Decompresses `input` into `sink`, refusing (before writing) any output beyond `limits`.
    /// Concatenated gzip members (RFC 1952 §2.2) are accepted. Returns the bytes written.
    /// On failure the sink holds partial (never over-limit) output, which the caller discards.
    @discardableResult
    public static func decompress<S: ByteSink>(_ input: PartBody, to sink: inout S,
                                               limits: GzipLimits = .default) throws -> UInt64 {
        guard input.count >= 2 else { throw EbmsError(.decompressionFailure, "input is not gzip data (too short)") }
        var magic = [UInt8](repeating: 0, count: 2)
        if case .bytes(let b) = input { magic = Array(b.prefix(2)) } else {
            try input.slice(offset: 0, length: 2).forEachChunk { magic = Array($0) }
        }
        guard magic == [0x1f, 0x8b] else {
            throw EbmsError(.decompressionFailure, "input is not gzip data (no 1f 8b magic)")
        }
        let stream = try ZStream(inflate: ())
        var state = InflateState(limits: limits)
        try input.forEachChunk { chunk in
            try stream.inflate(chunk, state: &state, into: &sink)
        }
        guard state.ended else {
            throw EbmsError(.decompressionFailure, "gzip stream is truncated (no end of stream)")
        }
        return state.produced
    }

    /// In-memory convenience for small data.
    public static func compress(_ bytes: [UInt8], level: Int32 = 6) throws -> [UInt8] {
        var sink = MemorySink()
        try compress(.bytes(bytes), to: &sink, level: level)
        return sink.bytes
    }

    /// In-memory convenience for small data; `limits` still apply.
    public static func decompress(_ bytes: [UInt8], limits: GzipLimits = .default) throws -> [UInt8] {
        var sink = MemorySink()
        try decompress(.bytes(bytes), to: &sink, limits: limits)
        return sink.bytes
    }
}

/// Progress of a decompression, across input chunks and gzip members.
struct InflateState {
    let limits: GzipLimits
    var consumed: UInt64 = 0
    var produced: UInt64 = 0
    /// The current member ended; anything after it must be another member.
    var ended = false
}

/// Owns a heap-allocated `z_stream`: zlib keeps a pointer back to the struct and rejects it if it
/// moves, which a Swift `var` passed `&` does not rule out.
private final class ZStream {
    private let strm: UnsafeMutablePointer<z_stream>
    private let isDeflate: Bool
    private let out = UnsafeMutableRawBufferPointer.allocate(byteCount: PartBody.defaultChunkSize, alignment: 16)
    /// zlib's init succeeded, so its End must run. An init that throws after every stored
    /// property is set still gets `deinit`, which therefore frees the memory in either case.
    private var initialized = false

    init(deflateLevel level: Int32, windowBits: Int32) throws {
        strm = .allocate(capacity: 1)
        strm.initialize(to: z_stream())
        isDeflate = true
        ZlibMemory.install(in: strm)
        guard as4gw_deflateInit2(strm, level, windowBits, 8) == Z_OK else {
            throw EbmsError(.other, "zlib deflateInit2 failed")
        }
        initialized = true
    }

    init(inflate: Void) throws {
        strm = .allocate(capacity: 1)
        strm.initialize(to: z_stream())
        isDeflate = false
        ZlibMemory.install(in: strm)
        guard as4gw_inflateInit2(strm, Gzip.gzipWindowBits) == Z_OK else {
            throw EbmsError(.decompressionFailure, "zlib inflateInit2 failed")
        }
        initialized = true
    }

    deinit {
        if initialized {
            if isDeflate { deflateEnd(strm) } else { inflateEnd(strm) }
        }
        strm.deallocate()
        out.deallocate()
    }

    private func setInput(_ input: UnsafeRawBufferPointer) {
        // zlib's next_in is non-const for historical reasons; it does not write through it.
        strm.pointee.next_in = input.baseAddress.map {
            UnsafeMutablePointer(mutating: $0.assumingMemoryBound(to: Bytef.self))
        }
        strm.pointee.avail_in = uInt(input.count)
    }

    private func setOutput() {
        strm.pointee.next_out = out.baseAddress!.assumingMemoryBound(to: Bytef.self)
        strm.pointee.avail_out = uInt(out.count)
    }

    func deflate<S: ByteSink>(_ input: UnsafeRawBufferPointer, finish: Bool, into sink: inout S) throws -> UInt64 {
        setInput(input)
        var written: UInt64 = 0
        while true {
            setOutput()
            let rc = CZlib.deflate(strm, finish ? Z_FINISH : Z_NO_FLUSH)
            guard rc == Z_OK || rc == Z_STREAM_END || rc == Z_BUF_ERROR else {
                throw EbmsError(.other, "zlib deflate failed (\(rc))")
            }
            let have = out.count - Int(strm.pointee.avail_out)
            if have > 0 {
                try sink.write(UnsafeRawBufferPointer(rebasing: out[0..<have]))
                written += UInt64(have)
            }
            if finish ? rc == Z_STREAM_END : strm.pointee.avail_out != 0 { return written }
        }
    }

    func inflate<S: ByteSink>(_ input: UnsafeRawBufferPointer, state: inout InflateState, into sink: inout S) throws {
        var rest = input
        while !rest.isEmpty {
            if state.ended {
                // Another member must start here (RFC 1952 §2.2); anything else is trailing junk.
                guard rest[0] == 0x1f else {
                    throw EbmsError(.decompressionFailure, "unexpected data after the end of the gzip stream")
                }
                guard inflateReset(strm) == Z_OK else {
                    throw EbmsError(.decompressionFailure, "zlib inflateReset failed")
                }
                state.ended = false
            }
            setInput(rest)
            var rc: Int32
            repeat {
                setOutput()
                let availBefore = UInt64(strm.pointee.avail_in)
                rc = CZlib.inflate(strm, Z_NO_FLUSH)
                state.consumed += availBefore - UInt64(strm.pointee.avail_in)
                switch rc {
                case Z_OK, Z_STREAM_END, Z_BUF_ERROR: break
                case Z_MEM_ERROR: throw EbmsError(.decompressionFailure, "out of memory while decompressing")
                default: throw EbmsError(.decompressionFailure, "corrupt gzip data (\(zlibMessage(rc)))")
                }
                let have = UInt64(out.count - Int(strm.pointee.avail_out))
                try check(state.produced + have, consumed: state.consumed, limits: state.limits)
                if have > 0 {
                    try sink.write(UnsafeRawBufferPointer(rebasing: out[0..<Int(have)]))
                    state.produced += have
                }
            } while rc == Z_OK && strm.pointee.avail_out == 0
            let used = rest.count - Int(strm.pointee.avail_in)
            rest = UnsafeRawBufferPointer(rebasing: rest[used...])
            if rc == Z_STREAM_END { state.ended = true }
            else if rc == Z_BUF_ERROR && used == 0 { break } // needs more input than this chunk holds
        }
    }

    /// Refuses output that would pass the limits, before it is written.
    private func check(_ total: UInt64, consumed: UInt64, limits: GzipLimits) throws {
        if total > limits.maxOutputBytes {
            throw EbmsError(.decompressionFailure,
                            "decompressed size exceeds the limit of \(limits.maxOutputBytes) bytes", detail: Gzip.outputLimitDetail)
        }
        if let ratio = limits.maxRatio, total > limits.ratioGraceBytes,
           total / max(consumed, 1) > ratio {
            throw EbmsError(.decompressionFailure, "compression ratio exceeds \(ratio):1 (possible gzip bomb)")
        }
    }

    private func zlibMessage(_ rc: Int32) -> String {
        if let msg = strm.pointee.msg { return String(cString: msg) }
        return "zlib error \(rc)"
    }
}

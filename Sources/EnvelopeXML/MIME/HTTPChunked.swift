#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// HTTP/1.1 chunked transfer coding (RFC 9112 §7.1), for captured dumps only: a live HTTP server
/// hands us de-chunked bodies. Captures often keep the `Transfer-Encoding: chunked` header over a
/// body that was already de-chunked, so framing is checked before anything is undone.
enum HTTPChunked {
    /// True if the body at `pos` starts with a chunk-size line (hex digits, optional `;ext`,
    /// line break) and, when the input is long enough to tell, the first chunk's data is followed
    /// by a line break. An XML body (`<`) or multipart body (`--`, CRLF) never matches.
    static func looksChunked(_ scanner: inout MIMEScanner, at pos: UInt64) throws -> Bool {
        let head = try scanner.bytes(at: pos, length: 1024)
        guard let (size, dataStart) = parseSizeLine(head[...]) else { return false }
        let after = pos + UInt64(dataStart) + size
        guard after < scanner.count else { return true } // cannot tell; the decoder will judge
        let next = try scanner.bytes(at: after, length: 2)
        return next.first == 0x0a || next == [0x0d, 0x0a]
    }

    /// De-chunks `body` into memory, or into a spool file when a spool directory is given and the
    /// input is a file (the output is never larger than the input, which `limits` bounded).
    static func decode(_ body: ScanSource, limits: MIMELimits, spoolDirectory: String?) throws -> ScanSource {
        var scanner = try MIMEScanner(body)
        if case .file = body, let spoolDirectory {
            let sink = try FileSink.createTemporary(in: spoolDirectory, suffix: ".dechunked")
            var s = sink
            do {
                try copyChunks(&scanner, body, into: &s, limits: limits)
                try sink.close()
            } catch {
                try? sink.close()
                unlink(sink.path)
                throw error
            }
            return ScanSource(sink.body)
        }
        var sink = MemorySink()
        try copyChunks(&scanner, body, into: &sink, limits: limits)
        return ScanSource(.bytes(sink.bytes))
    }

    private static func copyChunks<S: ByteSink>(_ scanner: inout MIMEScanner, _ body: ScanSource,
                                                into sink: inout S, limits: MIMELimits) throws {
        var pos: UInt64 = 0
        while true {
            let head = try scanner.bytes(at: pos, length: 1024)
            guard let (size, dataStart) = parseSizeLine(head[...]) else {
                throw EbmsError(.mimeInconsistency, "invalid HTTP chunked framing: bad chunk-size line")
            }
            pos += UInt64(dataStart)
            if size == 0 { break }
            guard size <= scanner.count - pos else {
                throw EbmsError(.mimeInconsistency, "invalid HTTP chunked framing: chunk runs past the end of input")
            }
            try sink.write(contentsOf: body.body(pos, pos + size))
            pos += size
            let crlf = try scanner.bytes(at: pos, length: 2)
            if crlf == [0x0d, 0x0a] { pos += 2 } else if crlf.first == 0x0a { pos += 1 } else {
                throw EbmsError(.mimeInconsistency, "invalid HTTP chunked framing: no line break after chunk data")
            }
        }
        // Trailer fields, if any, end with an empty line; they carry nothing we use.
        if pos < scanner.count {
            _ = try scanner.readHeaderBlock(at: pos, limits: limits, context: "HTTP chunked trailer")
        }
    }

    /// `1a2b;ext=1\r\n` → (0x1a2b, offset after the line break). At most 15 hex digits, so the size
    /// fits in 60 bits and cannot overflow.
    private static func parseSizeLine(_ b: ArraySlice<UInt8>) -> (UInt64, Int)? {
        var i = b.startIndex
        var size: UInt64 = 0
        while i < b.endIndex, let d = ContentID.hexValue(b[i]) {
            guard i - b.startIndex < 15 else { return nil }
            size = size << 4 | UInt64(d)
            i += 1
        }
        guard i > b.startIndex else { return nil }
        if i < b.endIndex, b[i] == UInt8(ascii: ";") {
            while i < b.endIndex, b[i] != 0x0d, b[i] != 0x0a { i += 1 }
        }
        while i < b.endIndex, b[i] == 0x20 || b[i] == 0x09 { i += 1 }
        if i + 1 < b.endIndex, b[i] == 0x0d, b[i + 1] == 0x0a { return (size, i + 2 - b.startIndex) }
        if i < b.endIndex, b[i] == 0x0a { return (size, i + 1 - b.startIndex) }
        return nil
    }
}

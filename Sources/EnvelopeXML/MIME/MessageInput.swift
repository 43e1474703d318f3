#if canImport(Glibc)
import Glibc
#endif

/// A received (or captured) AS4 message split into its SOAP envelope and attachments, whatever form
/// it arrived in.
public struct RawMessage: Sendable, Equatable {
    /// The Content-Type that applied: given by the caller, found in the input's headers, or, for a
    /// bare multipart body, synthesised from its first line (`multipart/related; boundary=...`).
    /// Nil for bare XML.
    public var contentType: MediaType?
    /// The root part (or the whole body for a non-multipart message), UTF-8 BOM removed.
    public var envelope: [UInt8]
    /// Non-root parts in wire order. For file input they are ranges of the input file (or of spool
    /// files for decoded base64 / de-chunked input), so the file must outlive them.
    public var attachments: [MIMEPart]
    public var isMultipart: Bool
    /// The HTTP or MIME entity headers the input started with; empty for a bare body.
    public var headers: MIMEHeaders
}

/// Loads a message from what travels or gets captured:
/// - an HTTP request or response dump (start line optional; headers up to the first blank line;
///   a claimed `Transfer-Encoding: chunked` is only undone if the body really is chunk-framed,
///   because capture tools often store the de-chunked body under the original headers);
/// - a MIME entity starting with headers (`MIME-Version:`, `Content-Type:`, folded lines allowed);
/// - a bare multipart body starting with `--boundary` (boundary taken from that line);
/// - bare SOAP XML (starting with `<`, possibly after whitespace).
/// A UTF-8 BOM in front of any of these, and in front of the root part's XML, is skipped.
/// With an explicit `contentType` no detection happens: the input (minus a BOM) is the body.
public enum MessageInput {
    public static func load(path: String, contentType: String? = nil, limits: MIMELimits = .default,
                            spoolDirectory: String? = nil) throws -> RawMessage {
        try load(ScanSource(try PartBody.wholeFile(path)), contentType: contentType, limits: limits,
                 spoolDirectory: spoolDirectory)
    }

    public static func load(bytes: [UInt8], contentType: String? = nil, limits: MIMELimits = .default,
                            spoolDirectory: String? = nil) throws -> RawMessage {
        try load(ScanSource(.bytes(bytes)), contentType: contentType, limits: limits, spoolDirectory: spoolDirectory)
    }

    static let bom: [UInt8] = [0xef, 0xbb, 0xbf]

    /// A de-chunked spool file is removed on any error, and on success when no attachment is a
    /// range of it (the envelope is read into memory): the caller only cleans up attachments' files.
    static func load(_ source: ScanSource, contentType: String?, limits: MIMELimits,
                     spoolDirectory: String?) throws -> RawMessage {
        var dechunked: String?
        do {
            let message = try load(source, contentType: contentType, limits: limits, spoolDirectory: spoolDirectory,
                                   dechunked: &dechunked)
            if let dechunked, !message.attachments.contains(where: {
                if case .file(let path, _, _) = $0.body { return path == dechunked }
                return false
            }) {
                unlink(dechunked)
            }
            return message
        } catch {
            if let dechunked { unlink(dechunked) }
            throw error
        }
    }

    private static func load(_ source: ScanSource, contentType: String?, limits: MIMELimits, spoolDirectory: String?,
                             dechunked: inout String?) throws -> RawMessage {
        guard source.count <= limits.maxTotalSize else {
            throw EbmsError(.mimeInconsistency,
                            "message of \(source.count) bytes exceeds the limit of \(limits.maxTotalSize) bytes")
        }
        let windowSize = max(PartBody.scanWindowSize, limits.maxHeaderLineLength + 2)
        var scanner = try MIMEScanner(source, windowSize: windowSize)
        var pos: UInt64 = try scanner.matches(bom, at: 0) ? 3 : 0
        var headers = MIMEHeaders()
        var mediaType: MediaType?

        if let contentType {
            mediaType = try MediaType.parse(contentType)
        } else {
            switch try classify(&scanner, at: pos, limits: limits) {
            case .startLine(let next):
                (headers, pos) = try scanner.readHeaderBlock(at: next, limits: limits, context: "message headers")
            case .headers:
                (headers, pos) = try scanner.readHeaderBlock(at: pos, limits: limits, context: "message headers")
            case .body:
                break
            }
            try MultipartRelated.refuseRepeatedFields(headers, context: "message headers")
            if let ct = headers["Content-Type"] { mediaType = try MediaType.parse(ct) }
            if let ce = headers["Content-Encoding"], ce.trimmingASCIISpace().lowercased() != "identity" {
                throw EbmsError(.mimeInconsistency, "HTTP Content-Encoding \"\(ce)\" is not supported")
            }
        }

        var body = source.sub(pos, source.count)
        if let te = headers["Transfer-Encoding"], te.lowercased().contains("chunked"),
           try HTTPChunked.looksChunked(&scanner, at: pos) {
            let input = body
            body = try HTTPChunked.decode(body, limits: limits, spoolDirectory: spoolDirectory)
            if case .file(let path, _, _) = body, case .file(let inputPath, _, _) = input, path != inputPath { dechunked = path }
        }
        scanner = try MIMEScanner(body, windowSize: windowSize)

        if mediaType == nil {
            mediaType = try sniffMultipart(&scanner, limits: limits)
        }
        if let mt = mediaType, mt.type == "multipart" {
            let mr = try MultipartRelated.parse(body, mediaType: mt, limits: limits, spoolDirectory: spoolDirectory)
            let root = try mr.root.body.readAll(maxBytes: limits.maxRootPartSize)
            return RawMessage(contentType: mt, envelope: stripLeadingSpace(stripBOM(root)), attachments: mr.attachments,
                              isMultipart: true, headers: headers)
        }
        if let mt = mediaType, !["application/soap+xml", "text/xml", "application/xml"].contains(mt.essence) {
            throw EbmsError(.mimeInconsistency,
                            "Content-Type \(mt.essence) is neither multipart/related nor a SOAP envelope")
        }
        guard body.count <= limits.maxRootPartSize else {
            throw EbmsError(.mimeInconsistency,
                            "SOAP envelope of \(body.count) bytes exceeds the limit of \(limits.maxRootPartSize) bytes")
        }
        let xml = stripLeadingSpace(stripBOM(try body.body(0, body.count).readAll()))
        guard mediaType != nil || xml.first == UInt8(ascii: "<") else {
            throw EbmsError(.mimeInconsistency,
                            "unrecognised message format (not HTTP, MIME, multipart or XML)")
        }
        return RawMessage(contentType: mediaType, envelope: xml, attachments: [], isMultipart: false, headers: headers)
    }

    private enum Form { case startLine(next: UInt64), headers, body }

    /// Decides from the first bytes whether the input starts with an HTTP start line, a header
    /// block, or the body itself.
    private static func classify(_ scanner: inout MIMEScanner, at pos: UInt64, limits: MIMELimits) throws -> Form {
        let head = try scanner.bytes(at: pos, length: 512)
        let firstSignificant = head.first { !isSpace($0) }
        if firstSignificant == UInt8(ascii: "<") { return .body }
        if let i = head.firstIndex(where: { !isSpace($0) }), head[i...].starts(with: [0x2d, 0x2d]) { return .body }

        let (line, next) = try firstLine(&scanner, at: pos, limits: limits)
        if isHTTPStartLine(line), let next { return .startLine(next: next) }
        if let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > 0,
           line[..<colon].allSatisfy(MediaType.isTokenByte) {
            return .headers
        }
        throw EbmsError(.mimeInconsistency, "unrecognised message format (not HTTP, MIME, multipart or XML)")
    }

    /// For a body without a Content-Type: a `--boundary` first line (after blank lines) makes it a
    /// multipart/related body with that boundary; anything else is left to the XML check.
    private static func sniffMultipart(_ scanner: inout MIMEScanner, limits: MIMELimits) throws -> MediaType? {
        var pos: UInt64 = try scanner.matches(bom, at: 0) ? 3 : 0
        let head = try scanner.bytes(at: pos, length: 4096)
        guard let i = head.firstIndex(where: { !isSpace($0) }), head[i...].starts(with: [0x2d, 0x2d]) else {
            return nil
        }
        pos += UInt64(i)
        let (line, _) = try firstLine(&scanner, at: pos, limits: limits)
        var b = line.dropFirst(2)
        while let last = b.last, last == 0x20 || last == 0x09 { b = b.dropLast() }
        let boundary = String(decoding: b, as: UTF8.self)
        try MultipartRelated.validateBoundary(boundary)
        return MediaType(type: "multipart", subtype: "related", parameters: ["boundary": boundary])
    }

    /// The line at `pos` without its line break (at most `maxHeaderLineLength` bytes), and the
    /// position after its LF (nil if no LF within the limit).
    private static func firstLine(_ scanner: inout MIMEScanner, at pos: UInt64,
                                  limits: MIMELimits) throws -> ([UInt8], UInt64?) {
        let maxLine = limits.maxHeaderLineLength
        if case .found(let lf) = try scanner.find([0x0a], from: pos, maxDistance: UInt64(maxLine) + 1) {
            var line = try scanner.bytes(at: pos, length: Int(lf - pos))
            if line.last == 0x0d { line.removeLast() }
            return (line, lf + 1)
        }
        return (try scanner.bytes(at: pos, length: maxLine), nil)
    }

    /// `HTTP/1.1 200 OK`, `HTTP/2 202`, or `POST /as4 HTTP/1.1`.
    static func isHTTPStartLine(_ line: [UInt8]) -> Bool {
        let words = line.split(separator: 0x20, maxSplits: 2, omittingEmptySubsequences: false)
        func isVersion<C: Collection<UInt8>>(_ w: C) -> Bool {
            guard w.starts(with: Array("HTTP/".utf8)) else { return false }
            let rest = w.dropFirst(5)
            return !rest.isEmpty && rest.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || $0 == UInt8(ascii: ".") }
        }
        if words.count >= 2, isVersion(words[0]) {
            return words[1].count == 3 && words[1].allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
        }
        return words.count == 3 && !words[0].isEmpty && words[0].allSatisfy { $0 >= 0x41 && $0 <= 0x5a }
            && !words[1].isEmpty && isVersion(words[2])
    }

    static func stripBOM(_ b: [UInt8]) -> [UInt8] { b.starts(with: bom) ? Array(b.dropFirst(3)) : b }

    /// Whitespace before the first `<` (seen in captures) would make an XML declaration illegal.
    private static func stripLeadingSpace(_ b: [UInt8]) -> [UInt8] {
        guard let i = b.firstIndex(where: { !isSpace($0) }), i > 0, b[i] == UInt8(ascii: "<") else { return b }
        return Array(b[i...])
    }

    private static func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0d || b == 0x0a }
}

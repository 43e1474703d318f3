#if canImport(Glibc)
import Glibc
#endif

/// A parsed `multipart/related` message (RFC 2387; SOAP with Attachments, AS4-WIRE §2).
///
/// Parsing streams over the input through a bounded window; for input in a file, part bodies are
/// `.file` ranges of that file (nothing is copied), for input in memory they are `.bytes`.
/// Every structural problem or exceeded limit is an `EbmsError(.mimeInconsistency)` (EBMS:0007)
/// whose reason says exactly what was wrong.
public struct MultipartRelated: Sendable, Equatable {
    /// The multipart Content-Type (with `boundary`, and `type` / `start` when given).
    public var mediaType: MediaType
    /// All parts in wire order, root included.
    public var parts: [MIMEPart]
    /// Index of the root part: the one named by `start`, else the first (RFC 2387 §3.2).
    public var rootIndex: Int

    public var root: MIMEPart { parts[rootIndex] }

    /// Every part except the root, in wire order (which need not match `eb:PartInfo` order).
    public var attachments: [MIMEPart] {
        parts.enumerated().filter { $0.offset != rootIndex }.map(\.element)
    }

    /// The root media types accepted: SOAP 1.2 and SOAP 1.1.
    public static let soapRootTypes: Set<String> = ["application/soap+xml", "text/xml"]

    /// Parses `input` (all of it is the multipart body; a preamble and an epilogue are ignored).
    /// `spoolDirectory` receives decoded `base64` parts too large for memory; the caller owns
    /// (and cleans up) it.
    public static func parse(_ input: PartBody, contentType: String, limits: MIMELimits = .default,
                             spoolDirectory: String? = nil) throws -> MultipartRelated {
        try parse(ScanSource(input), mediaType: try MediaType.parse(contentType), limits: limits,
                  spoolDirectory: spoolDirectory)
    }

    public static func parse(_ input: PartBody, mediaType: MediaType, limits: MIMELimits = .default,
                             spoolDirectory: String? = nil) throws -> MultipartRelated {
        try parse(ScanSource(input), mediaType: mediaType, limits: limits, spoolDirectory: spoolDirectory)
    }

    /// `windowSize` is only overridden by tests, to force delimiters across window refills.
    /// Parses a `multipart/form-data` body (RFC 7578): the same framing, no SOAP root.
    public static func parseFormData(_ input: PartBody, boundary: String, limits: MIMELimits = .default,
                                     spoolDirectory: String? = nil) throws -> [MIMEPart] {
        try parse(ScanSource(input), mediaType: MediaType(type: "multipart", subtype: "form-data", parameters: ["boundary": boundary]),
                  limits: limits, spoolDirectory: spoolDirectory).parts
    }

    /// On any error the spool files of parts decoded so far are removed: nobody else knows them.
    static func parse(_ source: ScanSource, mediaType: MediaType, limits: MIMELimits,
                      spoolDirectory: String?, windowSize: Int? = nil) throws -> MultipartRelated {
        var spooled: [String] = []
        do {
            return try parse(source, mediaType: mediaType, limits: limits, spoolDirectory: spoolDirectory,
                             windowSize: windowSize, spooled: &spooled)
        } catch {
            for path in spooled { unlink(path) }
            throw error
        }
    }

    /// `spooled` receives the path of every spool file made for a decoded part.
    private static func parse(_ source: ScanSource, mediaType: MediaType, limits: MIMELimits, spoolDirectory: String?,
                              windowSize: Int?, spooled: inout [String]) throws -> MultipartRelated {
        let formData = mediaType.hasEssence("multipart/form-data")
        guard mediaType.hasEssence("multipart/related") || formData else {
            throw EbmsError(.mimeInconsistency, "expected multipart/related, got \(mediaType.essence)")
        }
        guard let boundary = mediaType[parameter: "boundary"] else {
            throw EbmsError(.mimeInconsistency, "multipart/related Content-Type has no boundary parameter")
        }
        try validateBoundary(boundary)
        guard source.count <= limits.maxTotalSize else {
            throw EbmsError(.mimeInconsistency,
                            "message of \(source.count) bytes exceeds the limit of \(limits.maxTotalSize) bytes")
        }
        let start = mediaType[parameter: "start"].map(ContentID.normalize)
        if start == "" { throw EbmsError(.mimeInconsistency, "empty start parameter") }

        var scan = DelimiterScan(
            scanner: try MIMEScanner(source, windowSize: windowSize
                                        ?? max(PartBody.scanWindowSize, limits.maxHeaderLineLength + 2)),
            boundary: boundary)
        guard case .part(var headerPos) = try scan.firstDelimiter() else {
            throw EbmsError(.mimeInconsistency, "multipart/related has no body parts")
        }

        var parts: [MIMEPart] = []
        var partForID: [String: Int] = [:]
        var rootIndex: Int?
        while true {
            let number = parts.count + 1
            guard number <= limits.maxParts else {
                throw EbmsError(.mimeInconsistency, "more than \(limits.maxParts) MIME parts")
            }
            let context = "MIME part \(number)"
            let (headers, bodyStart) = try scan.scanner.readHeaderBlock(at: headerPos, limits: limits, context: context)
            try refuseRepeatedFields(headers, context: context)

            let cid = headers["Content-ID"].map(ContentID.normalize)
            if let cid {
                guard !cid.isEmpty else { throw EbmsError(.mimeInconsistency, "\(context): empty Content-ID") }
                if let other = partForID[cid] {
                    throw EbmsError(.mimeInconsistency,
                                    "duplicate Content-ID <\(cid)> in MIME parts \(other + 1) and \(number)")
                }
                partForID[cid] = parts.count
            }
            let encoding = try transferEncoding(headers, context: context)
            let isRoot = start.map { $0 == cid } ?? parts.isEmpty
            if isRoot { rootIndex = parts.count }

            let (bodyEnd, next) = try scan.bodyEnd(from: bodyStart, maxLength: isRoot ? limits.maxRootPartSize : nil,
                                                   context: context)
            var body = source.body(bodyStart, bodyEnd)
            if encoding == .base64 {
                body = try MIMEBase64Decoder.decodePart(
                    body, inMemory: isRoot || body.count <= limits.maxInMemoryDecodedSize,
                    spoolDirectory: spoolDirectory, context: context)
                if case .file(let path, _, _) = body { spooled.append(path) }
            }
            parts.append(MIMEPart(headers: headers, body: body))
            guard case .part(let p) = next else { break }
            headerPos = p
        }

        if let start, rootIndex == nil {
            throw EbmsError(.mimeInconsistency, "start parameter <\(start)> names no MIME part")
        }
        let result = MultipartRelated(mediaType: mediaType, parts: parts, rootIndex: rootIndex ?? 0)
        if !formData { try result.checkRootType() }
        return result
    }

    private func checkRootType() throws {
        guard let raw = root.headers["Content-Type"] else {
            throw EbmsError(.mimeInconsistency, "root MIME part has no Content-Type")
        }
        let rootType = try MediaType.parse(raw)
        if let declared = mediaType[parameter: "type"] {
            guard rootType.hasEssence(declared.trimmingASCIISpace()) else {
                throw EbmsError(.mimeInconsistency,
                                "root MIME part is \(rootType.essence) but the type parameter says \(declared)")
            }
        }
        guard Self.soapRootTypes.contains(rootType.essence) else {
            throw EbmsError(.mimeInconsistency,
                            "root MIME part is \(rootType.essence), not a SOAP envelope (application/soap+xml or text/xml)")
        }
    }

    /// The part fields RFC 2045 allows once each: a part with two of one is refused, since two
    /// readers (a scanner in front of us, the backend) could each take another one and see other
    /// content, another type or another identity than the one we verified.
    static let singleFields = ["Content-Type", "Content-Transfer-Encoding", "Content-ID"]

    static func refuseRepeatedFields(_ headers: MIMEHeaders, context: String) throws {
        for name in singleFields where headers.values(for: name).count > 1 {
            throw EbmsError(.mimeInconsistency, "\(context): the \(name) header appears \(headers.values(for: name).count) times (RFC 2045 allows it once)")
        }
    }

    private enum TransferEncoding { case identity, base64 }

    private static func transferEncoding(_ headers: MIMEHeaders, context: String) throws -> TransferEncoding {
        guard let raw = headers["Content-Transfer-Encoding"] else { return .identity }
        switch raw.trimmingASCIISpace().lowercased() {
        case "binary", "8bit", "7bit": return .identity
        case "base64": return .base64
        default:
            throw EbmsError(.mimeInconsistency, "\(context): unsupported Content-Transfer-Encoding \"\(raw)\"")
        }
    }

    /// RFC 2046 §5.1.1: 1 to 70 characters, no trailing space. Any printable ASCII is accepted
    /// (stricter than the RFC's bchars list, which some senders overstep harmlessly).
    static func validateBoundary(_ boundary: String) throws {
        let b = Array(boundary.utf8)
        guard !b.isEmpty, b.count <= 70 else {
            throw EbmsError(.mimeInconsistency, "boundary parameter is \(b.count) characters (RFC 2046 allows 1 to 70)")
        }
        guard b.allSatisfy({ $0 >= 0x20 && $0 < 0x7f }), b.last != 0x20 else {
            throw EbmsError(.mimeInconsistency, "boundary parameter contains characters not allowed by RFC 2046")
        }
    }
}

/// Finds the `--boundary` delimiter lines of one multipart body. A delimiter is `--boundary` at
/// the very start or after a line break, followed by `--` (the close delimiter) or by optional
/// blanks and a CRLF or bare LF. An occurrence followed by anything else is content, not a
/// delimiter (RFC 2046 §5.1.1).
struct DelimiterScan {
    enum Tail: Equatable {
        /// A part follows; its headers start at this position.
        case part(UInt64)
        case close
    }

    var scanner: MIMEScanner
    let boundary: String
    private let dashBoundary: [UInt8]
    /// LF + `--boundary`: the CR of a CRLF before the delimiter is removed from the body separately.
    private let lineDelimiter: [UInt8]

    init(scanner: MIMEScanner, boundary: String) {
        self.scanner = scanner
        self.boundary = boundary
        dashBoundary = Array("--\(boundary)".utf8)
        lineDelimiter = [0x0a] + dashBoundary
    }

    mutating func firstDelimiter() throws -> Tail {
        if try scanner.matches(dashBoundary, at: 0), let t = try tail(at: UInt64(dashBoundary.count)) { return t }
        var from: UInt64 = 0
        while true {
            guard case .found(let p) = try scanner.find(lineDelimiter, from: from) else {
                throw EbmsError(.mimeInconsistency,
                                "boundary delimiter \"--\(boundary)\" not found (wrong boundary or not a multipart body)")
            }
            if let t = try tail(at: p + UInt64(lineDelimiter.count)) { return t }
            from = p + 1
        }
    }

    /// Finds the end of a body starting at `bodyStart` (just after the header block's LF) and what
    /// follows it. `maxLength` bounds the body (checked while scanning, not afterwards).
    mutating func bodyEnd(from bodyStart: UInt64, maxLength: UInt64?, context: String) throws -> (UInt64, Tail) {
        // Searching from the header block's final LF finds a delimiter right after the headers
        // (an empty body), where that LF doubles as the delimiter's line break.
        var from = bodyStart - 1
        // Latest delimiter start for a body of maxLength bytes plus a CR.
        let lastStart = maxLength.map { saturatingAdd(saturatingAdd(bodyStart, $0), 1) }
        while true {
            let distance = lastStart.map { $0 >= from ? $0 - from : 0 } ?? .max
            switch try scanner.find(lineDelimiter, from: from, maxDistance: distance) {
            case .found(let p):
                guard let t = try tail(at: p + UInt64(lineDelimiter.count)) else {
                    from = p + 1
                    continue
                }
                var end = max(p, bodyStart)
                if end > bodyStart, try scanner.bytes(at: end - 1, length: 1) == [0x0d] { end -= 1 }
                if let maxLength, end - bodyStart > maxLength { throw tooLarge(context, maxLength) }
                return (end, t)
            case .endOfInput:
                throw EbmsError(.mimeInconsistency,
                                "\(context): no closing delimiter \"--\(boundary)--\" (message truncated)")
            case .limitReached:
                throw tooLarge(context, maxLength ?? 0)
            }
        }
    }

    private func tooLarge(_ context: String, _ max: UInt64) -> EbmsError {
        EbmsError(.mimeInconsistency, "\(context): root part exceeds \(max) bytes")
    }

    /// Classifies what follows `--boundary` at `position`; nil if it is not a delimiter line.
    private mutating func tail(at position: UInt64) throws -> Tail? {
        // Transport padding (blanks before the line break) is legal; 256 bytes of it is generous.
        let look = try scanner.bytes(at: position, length: 258)
        if look.starts(with: [0x2d, 0x2d]) { return .close }
        var i = 0
        while i < look.count, look[i] == 0x20 || look[i] == 0x09 { i += 1 }
        if i < look.count, look[i] == 0x0a { return .part(position + UInt64(i) + 1) }
        if i + 1 < look.count, look[i] == 0x0d, look[i + 1] == 0x0a { return .part(position + UInt64(i) + 2) }
        return nil
    }
}

func saturatingAdd(_ a: UInt64, _ b: UInt64) -> UInt64 {
    let (sum, overflow) = a.addingReportingOverflow(b)
    return overflow ? .max : sum
}

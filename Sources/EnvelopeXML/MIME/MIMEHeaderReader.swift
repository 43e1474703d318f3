/// Reads an RFC 822-style header block (MIME part headers, a MIME entity's or an HTTP message's
/// headers) through a `MIMEScanner`, with every line and the line count bounded by `MIMELimits`.
/// CRLF and bare LF line ends are both accepted: real captures contain both.
extension MIMEScanner {
    /// Reads header lines from `position` up to and including the empty line that ends them.
    /// Returns the headers and the position just after that empty line.
    /// `context` names the block in error reasons (e.g. "part 2", "message headers").
    mutating func readHeaderBlock(at position: UInt64, limits: MIMELimits,
                                  context: String) throws -> (MIMEHeaders, UInt64) {
        var headers = MIMEHeaders()
        var pos = position
        var lines = 0
        let maxLine = limits.maxHeaderLineLength
        while true {
            // +1: the LF may sit right after a CR that follows a maximal line.
            let lf: UInt64
            switch try find([0x0a], from: pos, maxDistance: UInt64(maxLine) + 1) {
            case .found(let p): lf = p
            case .endOfInput:
                throw EbmsError(.mimeInconsistency, "\(context): header section truncated (no empty line before end of input)")
            case .limitReached:
                throw EbmsError(.mimeInconsistency, "\(context): header line longer than \(maxLine) bytes")
            }
            var line = try bytes(at: pos, length: Int(lf - pos))
            if line.last == 0x0d { line.removeLast() }
            pos = lf + 1
            if line.isEmpty { return (headers, pos) }
            guard line.count <= maxLine else {
                throw EbmsError(.mimeInconsistency, "\(context): header line longer than \(maxLine) bytes")
            }
            lines += 1
            guard lines <= limits.maxHeadersPerPart else {
                throw EbmsError(.mimeInconsistency, "\(context): more than \(limits.maxHeadersPerPart) header lines")
            }
            // Control characters have no business in headers and are a smuggling vector.
            guard !line.contains(where: { ($0 < 0x20 && $0 != 0x09) || $0 == 0x7f }) else {
                throw EbmsError(.mimeInconsistency, "\(context): control character in header line \(lines)")
            }
            if line[0] == 0x20 || line[0] == 0x09 {
                // Folded continuation of the previous field (RFC 5322 §2.2.3).
                guard var last = headers.fields.last else {
                    throw EbmsError(.mimeInconsistency, "\(context): continuation line without a preceding header")
                }
                let more = String(decoding: line, as: UTF8.self).trimmingASCIISpace()
                last.value = last.value.isEmpty ? more : last.value + " " + more
                headers.replaceLast(with: last)
                continue
            }
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > 0,
                  line[..<colon].allSatisfy(MediaType.isTokenByte) else {
                throw EbmsError(.mimeInconsistency, "\(context): malformed header line \(lines) (expected name: value)")
            }
            headers.append(String(decoding: line[..<colon], as: UTF8.self),
                           String(decoding: line[(colon + 1)...], as: UTF8.self).trimmingASCIISpace())
        }
    }
}

extension MIMEHeaders {
    mutating func replaceLast(with field: Field) {
        fields[fields.count - 1] = field
    }
}

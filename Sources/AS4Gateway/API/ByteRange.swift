import Foundation

/// What a download's `Range` header (RFC 9110 §14.2) asks of a file of `size` bytes: the whole
/// file, one byte range, or a range the file cannot satisfy.
///
/// A DMS fetching a large file over an unreliable line resumes where the connection broke
/// (`Range: bytes=<received>-`), as uploads resume by chunk. Only one range is served: a server
/// may ignore a Range it does not support (§14.2), so several ranges, another unit, a syntax
/// error or an `If-Range` that does not name this file's ETag give the whole file (200), which a
/// client always understands, never a multipart/byteranges body.
enum ByteRange: Equatable {
    case whole
    case part(offset: UInt64, length: UInt64)
    case unsatisfiable

    /// The strong validator of a stored file: its SHA-256, which names its bytes (`If-Range`).
    static func etag(sha256 hex: String) -> String { "\"sha256-\(hex)\"" }

    static func parse(_ header: String?, ifRange: String?, etag: String, size: UInt64) -> ByteRange {
        guard let header else { return .whole }
        // If-Range holds an ETag or a date; files here have no Last-Modified, so only this
        // file's own ETag (compared strongly) lets the range stand.
        if let ifRange, ifRange.trimmingCharacters(in: .whitespaces) != etag { return .whole }
        let text = header.trimmingCharacters(in: .whitespaces)
        guard let equals = text.firstIndex(of: "="), text[..<equals].trimmingCharacters(in: .whitespaces).lowercased() == "bytes" else { return .whole }
        let spec = text[text.index(after: equals)...].trimmingCharacters(in: .whitespaces)
        guard !spec.contains(","), let dash = spec.firstIndex(of: "-") else { return .whole }
        let first = spec[..<dash], last = spec[spec.index(after: dash)...]
        guard first.allSatisfy(\.isASCIIDigit), last.allSatisfy(\.isASCIIDigit), !(first.isEmpty && last.isEmpty) else { return .whole }
        if first.isEmpty {
            // A suffix: the last n bytes (all of them when the file is shorter).
            guard let n = UInt64(last) else { return .whole }
            guard n > 0, size > 0 else { return .unsatisfiable }
            let length = min(n, size)
            return .part(offset: size - length, length: length)
        }
        // Digits too many for UInt64 name a position past any file.
        guard let start = UInt64(first) else { return .unsatisfiable }
        var end = size == 0 ? 0 : size - 1
        if !last.isEmpty {
            guard let e = UInt64(last) else { return start < size ? .part(offset: start, length: size - start) : .unsatisfiable }
            // first > last is not a valid range-spec: the header is ignored.
            guard e >= start else { return .whole }
            end = min(end, e)
        }
        guard start < size else { return .unsatisfiable }
        return .part(offset: start, length: end - start + 1)
    }
}

private extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}

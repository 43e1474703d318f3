import CCurl
#if canImport(Glibc)
import Glibc
#endif

/// Everything one `curl_easy_perform` reads and writes through the callbacks. It reaches
/// them as the `void *` of `CURLOPT_WRITEDATA`/`HEADERDATA`/`READDATA`/`SEEKDATA`
/// (`Unmanaged.passUnretained`); the caller keeps it alive across the perform.
/// Touched only by the thread running the perform.
final class TransferState {
    /// The header section is bounded separately; curl already bounds a single line (100 KiB).
    static let maxHeaderBytes = 256 << 10

    let maxBodyBytes: Int
    let requestBody: RequestBodyReader?
    private(set) var body: [UInt8] = []
    private(set) var headers: [(String, String)] = []
    private var headerBytes = 0
    /// With `keepsLines`, the last `keptLines` raw header lines, each cut to `keptLineBytes`:
    /// SMTP's replies reach the header callback as such lines, and the one that refused a mail
    /// is named in its error. HTTP transfers keep none.
    let keepsLines: Bool
    private(set) var recentLines: [String] = []
    static let keptLines = 16, keptLineBytes = 512
    private(set) var failure: TransferFailure?

    init(maxBodyBytes: Int, requestBody: RequestBodyReader?, keepsLines: Bool = false) {
        self.maxBodyBytes = maxBodyBytes
        self.requestBody = requestBody
        self.keepsLines = keepsLines
    }

    var context: UnsafeMutableRawPointer { Unmanaged.passUnretained(self).toOpaque() }

    static func from(_ context: UnsafeMutableRawPointer?) -> TransferState? {
        context.map { Unmanaged<TransferState>.fromOpaque($0).takeUnretainedValue() }
    }

    /// Appends a piece of the response body; `false` means the limit is exceeded.
    func appendBody(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard bytes.count <= maxBodyBytes - body.count else {
            failure = .responseTooLarge
            return false
        }
        body.append(contentsOf: bytes)
        return true
    }

    /// Takes one raw header line (status line, field, or the blank end line); `false` aborts.
    func appendHeaderLine(_ line: UnsafeRawBufferPointer) -> Bool {
        headerBytes += line.count
        guard headerBytes <= Self.maxHeaderBytes else {
            failure = .responseTooLarge
            return false
        }
        var text = String(decoding: line, as: UTF8.self).trimmingTrailingNewlines()
        if keepsLines {
            if recentLines.count == Self.keptLines { recentLines.removeFirst() }
            recentLines.append(String(decoding: line.prefix(Self.keptLineBytes), as: UTF8.self).trimmingTrailingNewlines())
        }
        if text.hasPrefix("HTTP/") {
            // A new status line: headers of an interim response (100 Continue) are discarded.
            headers.removeAll()
            return true
        }
        if let first = text.first, first == " " || first == "\t" {
            // Obsolete line folding (RFC 9112 §5.2): a continuation of the previous field's value.
            if let (name, value) = headers.popLast() {
                headers.append((name, value + " " + text.trimmingOptionalWhitespace()))
            }
            return true
        }
        guard let colon = text.firstIndex(of: ":") else { return true }  // blank end line
        let name = String(text[..<colon])
        text = String(text[text.index(after: colon)...])
        headers.append((name, text.trimmingOptionalWhitespace()))
        return true
    }

    /// Fills curl's upload buffer; `nil` means abort (the reason is in `failure`).
    func readRequestBody(into buffer: UnsafeMutableRawPointer, capacity: Int) -> Int? {
        guard let requestBody else { return 0 }
        guard let count = requestBody.read(into: buffer, capacity: capacity) else {
            failure = .requestBody(path: requestBody.path, reason: requestBody.failure ?? "read failed")
            return nil
        }
        return count
    }
}

extension String {
    /// Without leading and trailing spaces and tabs (a header field's optional whitespace).
    func trimmingOptionalWhitespace() -> String {
        let isOWS: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let first = firstIndex(where: { !isOWS($0) }), let last = lastIndex(where: { !isOWS($0) }) else { return "" }
        return String(self[first...last])
    }
}

// MARK: C callbacks (capture-free global closures, PLATFORM-NOTES G3)

let curlWriteCallback: curl_write_callback = { data, size, count, context in
    let total = size * count
    guard let state = TransferState.from(context) else { return 0 }
    guard total > 0, let data else { return total }
    return state.appendBody(UnsafeRawBufferPointer(start: data, count: total)) ? total : 0
}

let curlHeaderCallback: curl_write_callback = { data, size, count, context in
    let total = size * count
    guard let state = TransferState.from(context) else { return 0 }
    guard total > 0, let data else { return total }
    return state.appendHeaderLine(UnsafeRawBufferPointer(start: data, count: total)) ? total : 0
}

let curlReadCallback: curl_read_callback = { buffer, size, count, context in
    guard let state = TransferState.from(context), let buffer else { return Int(CURL_READFUNC_ABORT) }
    return state.readRequestBody(into: buffer, capacity: size * count) ?? Int(CURL_READFUNC_ABORT)
}

let curlSeekCallback: curl_seek_callback = { context, offset, origin in
    guard origin == SEEK_SET, let body = TransferState.from(context)?.requestBody else { return CURL_SEEKFUNC_CANTSEEK }
    return body.seek(to: Int64(offset)) ? CURL_SEEKFUNC_OK : CURL_SEEKFUNC_FAIL
}

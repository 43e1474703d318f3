#if canImport(Glibc)
import Glibc
#endif
import EnvelopeXML

/// Shared conventions of every verb: exit 0 success, 1 a refused message (with the ebMS error
/// code and reason), 2 usage or I/O errors; diagnostics on stderr, results on stdout.
enum CLI {
    static func printError(_ s: String) {
        var line = s
        if !line.hasSuffix("\n") { line += "\n" }
        // Glibc's `stderr` is a mutable C global that Swift 6 refuses; write(2) on fd 2 is enough.
        var bytes = Array(line.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress! + offset, $0.count - offset) }
            if n <= 0 { break }
            offset += n
        }
    }

    static func usageError(_ message: String, help: String) -> Int32 {
        printError("as4gw: \(message)\n\n\(help)")
        return 2
    }

    static func ioError(_ message: String) -> Int32 {
        printError("as4gw: \(message)")
        return 2
    }

    /// The login name of the real user id, or `uid N` without a passwd entry: who ran an
    /// operator's command that the store records (from the system, not $USER, which the caller sets).
    static func operatorAccount() -> String {
        let uid = getuid()
        guard let entry = getpwuid(uid), let name = entry.pointee.pw_name else { return "uid \(uid)" }
        return String(cString: name)
    }

    static func reportEbmsError(_ error: Error, pretty: Bool) -> Int32 {
        let e = (error as? EbmsError) ?? EbmsError(.other, "\(error)")
        let json = JSON.object([
            ("wellFormed", .bool(false)),
            ("error", .string(e.code.rawValue)),
            ("shortDescription", .string(e.code.shortDescription)),
            ("reason", .string(e.reason)),
            ("detail", .string(e.detail)),
        ])
        print(json.serialized(pretty: pretty))
        printError("as4gw: \(e.code.rawValue) \(e.code.shortDescription): \(e.reason)")
        return 1
    }
}

/// Binary output on standard output (Swift's `print` is for text).
struct StandardOutputSink: ByteSink {
    struct WriteError: Error {}

    mutating func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard var p = bytes.baseAddress else { return }
        var left = bytes.count
        while left > 0 {
            let n = Glibc.write(1, p, left)
            if n < 0 {
                if errno == EINTR { continue }
                throw WriteError()
            }
            p += n
            left -= n
        }
    }
}

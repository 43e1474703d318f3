#if canImport(Glibc)
import Glibc
#endif

/// What a POST sends. Both kinds are handed to curl through its read callback; a file is read
/// piecewise with `pread` while curl sends it, so its size does not matter for memory.
public enum HTTPRequestBodySource: Sendable {
    case bytes([UInt8])
    /// The file is opened when the request starts; its size then is the `Content-Length`.
    case file(path: String)
}

/// The request body of one transfer, positioned by curl's read and seek callbacks.
/// Seeking matters: curl rewinds the body when it re-sends a request on a fresh connection
/// after a kept-alive one turned out to be closed by the server.
final class RequestBodyReader {
    private enum Storage {
        case bytes([UInt8])
        case file(descriptor: Int32, path: String)
    }

    private let storage: Storage
    let length: Int64
    private(set) var position: Int64 = 0
    /// Set when a read failed; the transfer is then aborted and this reason reported.
    private(set) var failure: String?

    /// The file read from; "request body" for bytes in memory (whose reads cannot fail).
    var path: String {
        if case .file(_, let path) = storage { return path }
        return "request body"
    }

    init(_ source: HTTPRequestBodySource) throws(HTTPClientError) {
        switch source {
        case .bytes(let bytes):
            storage = .bytes(bytes)
            length = Int64(bytes.count)
        case .file(let path):
            let descriptor = open(path, O_RDONLY | O_CLOEXEC)
            guard descriptor >= 0 else {
                throw .requestBodyUnreadable(path: path, reason: "cannot open it: \(String(cString: strerror(errno)))")
            }
            var info = stat()
            guard fstat(descriptor, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
                close(descriptor)
                throw .requestBodyUnreadable(path: path, reason: "not a regular file")
            }
            storage = .file(descriptor: descriptor, path: path)
            length = Int64(info.st_size)
        }
    }

    deinit {
        if case .file(let descriptor, _) = storage { close(descriptor) }
    }

    /// Copies up to `capacity` bytes at the current position into `buffer`.
    /// Returns the count (0 at the end) or `nil` after recording a failure.
    func read(into buffer: UnsafeMutableRawPointer, capacity: Int) -> Int? {
        let wanted = Int(min(Int64(capacity), length - position))
        guard wanted > 0 else { return 0 }
        switch storage {
        case .bytes(let bytes):
            bytes.withUnsafeBytes { source in
                buffer.copyMemory(from: source.baseAddress! + Int(position), byteCount: wanted)
            }
            position += Int64(wanted)
            return wanted
        case .file(let descriptor, let path):
            while true {
                let count = pread(descriptor, buffer, wanted, off_t(position))
                if count > 0 {
                    position += Int64(count)
                    return count
                }
                if count < 0 && errno == EINTR { continue }
                // Ending early would leave the declared Content-Length unmet: fail instead.
                failure = count == 0 ? "shrank to \(position) of \(length) bytes while being sent"
                                     : String(cString: strerror(errno))
                return nil
            }
        }
    }

    /// Moves to `offset` (curl only asks for absolute positions when rewinding).
    func seek(to offset: Int64) -> Bool {
        guard offset >= 0, offset <= length else { return false }
        position = offset
        return true
    }
}

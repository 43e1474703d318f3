import CMicroHTTPD
import Foundation

/// Turns an ``HTTPResponse`` into a libmicrohttpd response and queues it on a connection.
enum ResponseQueue {
    /// Header fields libmicrohttpd computes itself; a handler's values would contradict the framing.
    private static let framingHeaders = ["Content-Length", "Transfer-Encoding"]

    /// Queues `response` on `connection` (only from its access handler). With `closeConnection` the
    /// connection is closed after the response (graceful stop). Problems with the response itself
    /// (unreadable body file, bad status) are answered with 500 and reported through `failed`, every
    /// one of them: the client learns nothing but "internal server error", so the log is the only
    /// place that says what went wrong. `log` takes the lesser diagnostics.
    static func queue(_ response: HTTPResponse, on connection: OpaquePointer, closeConnection: Bool,
                      log: (String) -> Void, failed: (String) -> Void) -> MHD_Result {
        guard (200...599).contains(response.status) else {
            failed("handler returned status \(response.status); answered 500")
            return Self.queue(.text(500, "internal server error\n"), on: connection, closeConnection: closeConnection, log: log, failed: failed)
        }
        let created: OpaquePointer?
        switch response.body {
        case .bytes(let bytes):
            created = bytes.withUnsafeBytes { buffer in
                MHD_create_response_from_buffer(buffer.count, UnsafeMutableRawPointer(mutating: buffer.baseAddress),
                                                MHD_ResponseMemoryMode.RESPMEM_MUST_COPY)
            }
        case .file(let path), .fileRange(let path, _, _):
            var range: (offset: UInt64, length: UInt64)?
            if case .fileRange(_, let offset, let length) = response.body { range = (offset, length) }
            switch Self.fileResponse(path: path, range: range) {
            case .success(let fileResponse):
                created = fileResponse
            case .failure(let error):
                failed("response body unavailable: \(error.text); answered 500")
                return Self.queue(.text(500, "internal server error\n"), on: connection, closeConnection: closeConnection, log: log, failed: failed)
            }
        }
        guard let mhdResponse = created else {
            failed("libmicrohttpd could not create a response; connection closed unanswered")
            return MHD_Result.NO
        }
        defer { MHD_destroy_response(mhdResponse) }
        for (name, value) in response.headers where !Self.framingHeaders.contains(where: { HTTPHeaders.sameName($0, name) }) {
            if MHD_add_response_header(mhdResponse, name, value) != MHD_Result.YES {
                log("response header \(name) refused by libmicrohttpd (invalid characters?)")
            }
        }
        if closeConnection {
            _ = MHD_add_response_header(mhdResponse, "Connection", "close")
        }
        return MHD_queue_response(connection, UInt32(response.status), mhdResponse)
    }

    private struct FileError: Error {
        let text: String
    }

    /// A response reading a regular file (or `range` of it); MHD owns (and closes) the descriptor
    /// from then on.
    private static func fileResponse(path: String, range: (offset: UInt64, length: UInt64)?) -> Result<OpaquePointer, FileError> {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            return .failure(FileError(text: "open \(path): \(String(cString: strerror(errno)))"))
        }
        var status = stat()
        guard fstat(descriptor, &status) == 0, (status.st_mode & S_IFMT) == S_IFREG else {
            close(descriptor)
            return .failure(FileError(text: "\(path) is not a regular file"))
        }
        let size = UInt64(status.st_size)
        if let range, range.offset > size || range.length > size - range.offset {
            close(descriptor)
            return .failure(FileError(text: "\(path) has \(size) bytes, fewer than the range \(range.offset)+\(range.length) answered"))
        }
        let created = range.map { MHD_create_response_from_fd_at_offset64($0.length, descriptor, $0.offset) }
            ?? MHD_create_response_from_fd64(size, descriptor)
        guard let response = created else {
            close(descriptor)
            return .failure(FileError(text: "libmicrohttpd refused a file response for \(path)"))
        }
        return .success(response)
    }
}

/// The application side of an ``HTTPServer``.
///
/// Both methods run on libmicrohttpd pool threads, possibly several at once; implementations must
/// be thread-safe. ``handle(_:)`` occupies its pool thread until it returns.
public protocol HTTPHandler: Sendable {
    /// Called once the head is known, before any body byte is read: return a response to refuse
    /// early (404, 405, 403, 413 for a declared `Content-Length` over an application limit, ...),
    /// or nil to accept the request and let the server read the body.
    func admit(_ head: HTTPRequestHead) -> HTTPResponse?

    /// Called with the complete request; may block (writing to disk, signing).
    func handle(_ request: HTTPRequest) -> HTTPResponse

    /// The answer to a request the server itself refuses (403 for a client certificate, 413 for a
    /// body over `maxBodyBytes`, 503 while stopping, 507 for a body that could not be spooled
    /// because the disk is full), so the application can log it and answer in its own format.
    /// `reason` is one sentence for a person. The server logs none of these itself.
    func refused(_ head: HTTPRequestHead, status: Int, reason: String) -> HTTPResponse
}

extension HTTPHandler {
    /// Accepts every request.
    public func admit(_ head: HTTPRequestHead) -> HTTPResponse? { nil }

    /// Plain text.
    public func refused(_ head: HTTPRequestHead, status: Int, reason: String) -> HTTPResponse { .text(status, reason + "\n") }
}

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
}

extension HTTPHandler {
    /// Accepts every request.
    public func admit(_ head: HTTPRequestHead) -> HTTPResponse? { nil }
}

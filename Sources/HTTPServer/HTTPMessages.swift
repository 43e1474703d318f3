import AS4Crypto

/// What is known about a request once its header has arrived, before any body byte is read.
public struct HTTPRequestHead: Sendable {
    /// The request method as sent (`GET`, `POST`, ...).
    public var method: String
    /// The request path without the query, percent-decoded.
    public var path: String
    /// The request path as sent, escapes kept: a route that finds identifiers in it splits this
    /// at `/` and decodes each segment (`PercentEncoding.decode`), so an encoded `/` stays data.
    public var rawPath: String
    /// Query arguments, decoded; when a name repeats, the last value wins.
    public var query: [String: String]
    /// Request header fields in the order received.
    public var headers: HTTPHeaders
    /// The declared `Content-Length`, or nil (no body, or a chunked upload).
    public var contentLength: UInt64?
    /// The TLS client certificate, present only when it was sent *and* validated
    /// (see ``HTTPServerConfiguration/TLS/ClientAuthentication``).
    public var clientCertificate: Certificate?
    /// The peer's IP address (`127.0.0.1`, `::1`, ...).
    public var remoteAddress: String

    /// `rawPath` defaults to `path`, for heads built by hand.
    public init(method: String, path: String, rawPath: String? = nil, query: [String: String] = [:], headers: HTTPHeaders = HTTPHeaders(),
                contentLength: UInt64? = nil, clientCertificate: Certificate? = nil, remoteAddress: String = "") {
        self.method = method
        self.path = path
        self.rawPath = rawPath ?? path
        self.query = query
        self.headers = headers
        self.contentLength = contentLength
        self.clientCertificate = clientCertificate
        self.remoteAddress = remoteAddress
    }
}

/// A complete request body.
public enum HTTPRequestBody: Sendable, Equatable {
    /// No body bytes were sent.
    case empty
    /// A body that fit in ``HTTPServerConfiguration/inMemoryBodyLimit``.
    case bytes([UInt8])
    /// A larger body, spooled to a file (mode 0600) in ``HTTPServerConfiguration/spoolDirectory``.
    /// The server deletes the file once the response is queued; a handler that wants to keep it
    /// renames it away first.
    case file(path: String, length: UInt64)

    /// The body length in bytes.
    public var length: UInt64 {
        switch self {
        case .empty: return 0
        case .bytes(let bytes): return UInt64(bytes.count)
        case .file(_, let length): return length
        }
    }
}

/// A complete request, as handed to ``HTTPHandler/handle(_:)``.
public struct HTTPRequest: Sendable {
    public var head: HTTPRequestHead
    public var body: HTTPRequestBody

    public init(head: HTTPRequestHead, body: HTTPRequestBody) {
        self.head = head
        self.body = body
    }
}

/// A response to queue. `Content-Length` is computed by the server; a handler-supplied one is ignored.
public struct HTTPResponse: Sendable {
    /// Where the response body comes from.
    public enum Body: Sendable, Equatable {
        /// Bytes copied into the response.
        case bytes([UInt8])
        /// The contents of a file, opened when the response is queued and streamed from disk.
        case file(path: String)
        /// `length` bytes of a file from `offset` (a 206 answer to a `Range` request), streamed
        /// from disk; a file now shorter than that is answered 500, never with a short body.
        case fileRange(path: String, offset: UInt64, length: UInt64)
    }

    /// The status code (100...599; anything else is answered with 500).
    public var status: Int
    public var headers: HTTPHeaders
    public var body: Body

    public init(status: Int, headers: HTTPHeaders = HTTPHeaders(), body: Body = .bytes([])) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A `text/plain; charset=utf-8` response.
    public static func text(_ status: Int, _ text: String) -> HTTPResponse {
        HTTPResponse(status: status, headers: ["Content-Type": "text/plain; charset=utf-8"], body: .bytes(Array(text.utf8)))
    }

    /// A response with the given bytes and `Content-Type`.
    public static func bytes(_ status: Int, contentType: String, _ bytes: [UInt8]) -> HTTPResponse {
        HTTPResponse(status: status, headers: ["Content-Type": contentType], body: .bytes(bytes))
    }

    /// A response streamed from the file at `path`, with the given `Content-Type`.
    public static func file(_ status: Int, contentType: String, path: String) -> HTTPResponse {
        HTTPResponse(status: status, headers: ["Content-Type": contentType], body: .file(path: path))
    }

    /// A response without a body (e.g. 202 Accepted, 204 No Content).
    public static func empty(_ status: Int) -> HTTPResponse {
        HTTPResponse(status: status)
    }
}

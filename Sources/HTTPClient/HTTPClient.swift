import CCurl
#if canImport(Glibc)
import Glibc
#endif

/// The gateway's outbound HTTP(S) transport: owns one libcurl easy handle.
///
/// Not `Sendable`: use one client per worker thread. Requests block the calling thread (keep
/// them off the Swift concurrency pool). The handle keeps its connections open between
/// requests, so consecutive requests to the same origin reuse one TCP/TLS connection.
///
/// Every request sets the method, URL, headers, body and callback contexts afresh, so nothing
/// from one request carries into the next; the configuration is applied once, in `init`.
///
/// When a reused connection turns out to be dead and not a byte of response arrived, curl sends
/// the request once more on a new connection (rewinding the body). The server may have
/// processed the first copy, so a receiver can see a POST twice: AS4 receivers detect
/// duplicates by MessageId.
public final class HTTPClient {
    public let configuration: HTTPClientConfiguration
    private let handle: UnsafeMutableRawPointer
    /// `CURLOPT_ERRORBUFFER`: curl writes into it during perform, so it lives as long as the handle.
    private let errorBuffer: UnsafeMutablePointer<CChar>

    public init(configuration: HTTPClientConfiguration) throws(HTTPClientError) {
        try ensureCurlGlobalInit()
        try Self.validate(configuration)
        guard let handle = curl_easy_init() else { throw .other("curl_easy_init failed") }
        self.configuration = configuration
        self.handle = handle
        errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE))
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE))
        try configure()  // on failure deinit releases the handle and the buffer
    }

    deinit {
        curl_easy_cleanup(handle)
        errorBuffer.deallocate()
    }

    /// `pinnedPublicKeys`: when not empty, the server's certificate must carry one of these keys
    /// (libcurl's `sha256//BASE64` of the SubjectPublicKeyInfo, see `PublicKeyPin`), besides
    /// chaining to the trusted CAs.
    public func post(url: String, headers: [(String, String)] = [],
                     body: HTTPRequestBodySource, pinnedPublicKeys: [String] = []) throws(HTTPClientError) -> HTTPClientResponse {
        try perform(url: url, headers: headers, body: RequestBodyReader(body), pins: pinnedPublicKeys)
    }

    public func get(url: String, headers: [(String, String)] = []) throws(HTTPClientError) -> HTTPClientResponse {
        try perform(url: url, headers: headers, body: nil, pins: [])
    }

    // MARK: Configuration (once per handle)

    private static func validate(_ configuration: HTTPClientConfiguration) throws(HTTPClientError) {
        guard configuration.connectTimeout > 0, configuration.totalTimeout > 0 else {
            throw .other("timeouts must be positive")
        }
        guard configuration.maxResponseBytes >= 0 else { throw .other("maxResponseBytes must not be negative") }
        if configuration.clientKeyFile != nil && configuration.clientCertificateFile == nil {
            throw .other("clientKeyFile is set without clientCertificateFile")
        }
        let files = [("trustedCAFile", configuration.trustedCAFile), ("clientCertificateFile", configuration.clientCertificateFile),
                     ("clientKeyFile", configuration.clientKeyFile)]
        for case let (name, path?) in files where access(path, R_OK) != 0 {
            throw .tls("\(name) \(path) is not readable: \(String(cString: strerror(errno)))")
        }
    }

    private func configure() throws(HTTPClientError) {
        let options = CurlOptions(handle: handle)
        let config = configuration
        try options.set(CURLOPT_ERRORBUFFER, pointer: UnsafeMutableRawPointer(errorBuffer))
        try options.installCallbacks()
        try options.set(CURLOPT_NOSIGNAL, 1)  // no SIGALRM for timeouts in a threaded daemon
        try options.set(CURLOPT_NOPROGRESS, 1)
        try options.set(CURLOPT_HTTP_VERSION, Int(CURL_HTTP_VERSION_1_1))
        try options.set(CURLOPT_PROTOCOLS_STR, "http,https")
        try options.set(CURLOPT_FOLLOWLOCATION, 0)
        try options.set(CURLOPT_TCP_KEEPALIVE, 1)
        try options.set(CURLOPT_CONNECTTIMEOUT_MS, Self.milliseconds(config.connectTimeout))
        try options.set(CURLOPT_TIMEOUT_MS, Self.milliseconds(config.totalTimeout))
        try options.set(CURLOPT_MAXFILESIZE_LARGE, offset: Int64(config.maxResponseBytes))
        try options.set(CURLOPT_USERAGENT, config.userAgent)
        try options.set(CURLOPT_PROXY, config.proxy ?? "")  // "" disables the *_proxy environment variables

        try options.set(CURLOPT_SSLVERSION, Int(CURL_SSLVERSION_TLSv1_2))  // minimum; 1.3 is negotiated when offered
        try options.set(CURLOPT_SSL_VERIFYPEER, config.verifyPeer ? 1 : 0)
        try options.set(CURLOPT_SSL_VERIFYHOST, config.verifyPeer ? 2 : 0)
        if let caFile = config.trustedCAFile {
            try options.set(CURLOPT_CAINFO, caFile)
            try options.set(CURLOPT_CAPATH, nil as String?)  // only the given bundle, not the system directory
        }
        if let certificateFile = config.clientCertificateFile {
            try options.set(CURLOPT_SSLCERT, certificateFile)
            try options.set(CURLOPT_SSLCERTTYPE, "PEM")
            try options.set(CURLOPT_SSLKEY, config.clientKeyFile ?? certificateFile)
            try options.set(CURLOPT_SSLKEYTYPE, "PEM")
        }
    }

    private static func milliseconds(_ seconds: Double) -> Int {
        Int(min(seconds * 1000, Double(Int32.max)).rounded(.up))
    }

    // MARK: One request

    private func perform(url: String, headers: [(String, String)],
                         body: RequestBodyReader?, pins: [String]) throws(HTTPClientError) -> HTTPClientResponse {
        let options = CurlOptions(handle: handle)
        let headerList = try Self.makeHeaderList(headers, hasBody: body != nil)
        defer { curl_slist_free_all(headerList) }
        let state = TransferState(maxBodyBytes: configuration.maxResponseBytes, requestBody: body)

        // Detach everything request-scoped afterwards, so the handle never holds a dangling pointer.
        defer {
            _ = try? options.set(CURLOPT_HTTPHEADER, list: nil)
            for option in [CURLOPT_WRITEDATA, CURLOPT_HEADERDATA, CURLOPT_READDATA, CURLOPT_SEEKDATA] {
                _ = try? options.set(option, pointer: nil)
            }
        }
        try options.set(CURLOPT_URL, url)
        // Set on every request (nil clears it): the handle is reused for other endpoints.
        try options.set(CURLOPT_PINNEDPUBLICKEY, pins.isEmpty ? nil : pins.joined(separator: ";"))
        try options.set(CURLOPT_HTTPHEADER, list: headerList)
        try options.set(CURLOPT_WRITEDATA, pointer: state.context)
        try options.set(CURLOPT_HEADERDATA, pointer: state.context)
        if let body {
            try options.set(CURLOPT_POST, 1)  // body from the read callback (POSTFIELDS is never used)
            try options.set(CURLOPT_POSTFIELDSIZE_LARGE, offset: body.length)
            try options.set(CURLOPT_READDATA, pointer: state.context)
            try options.set(CURLOPT_SEEKDATA, pointer: state.context)
        } else {
            try options.set(CURLOPT_HTTPGET, 1)  // also turns POST/upload off
            try options.set(CURLOPT_POSTFIELDSIZE_LARGE, offset: -1)
        }

        errorBuffer[0] = 0
        let code = withExtendedLifetime((state, headerList)) { curl_easy_perform(handle) }
        guard code == CURLE_OK else {
            throw HTTPClientError(code: code, detail: String(cString: errorBuffer), localFailure: state.failure)
        }
        return HTTPClientResponse(status: options.long(CURLINFO_RESPONSE_CODE), headers: state.headers, body: state.body,
                                  elapsed: options.double(CURLINFO_TOTAL_TIME),
                                  newConnections: options.long(CURLINFO_NUM_CONNECTS))
    }

    /// Builds the `curl_slist` of request headers. Field names must be tokens and values must not
    /// contain CR, LF or NUL (no header injection). `Content-Length`/`Transfer-Encoding` belong to
    /// the client. For bodies an empty `Expect:` stops curl from waiting for `100 Continue`.
    private static func makeHeaderList(_ headers: [(String, String)],
                                       hasBody: Bool) throws(HTTPClientError) -> UnsafeMutablePointer<curl_slist>? {
        var lines: [String] = []
        for (name, value) in headers {
            guard !name.isEmpty, name.utf8.allSatisfy(isTokenByte) else { throw .other("invalid header name \"\(name)\"") }
            guard !value.utf8.contains(where: { $0 == 0x0D || $0 == 0x0A || $0 == 0 }) else {
                throw .other("invalid value for header \(name)")
            }
            if name.caseInsensitiveEquals("Content-Length") || name.caseInsensitiveEquals("Transfer-Encoding") {
                throw .other("header \(name) is set by the client")
            }
            // "Name;" is curl's syntax for a header with an empty value ("Name:" would remove it).
            lines.append(value.isEmpty ? "\(name);" : "\(name): \(value)")
        }
        if hasBody && !headers.contains(where: { $0.0.caseInsensitiveEquals("Expect") }) {
            lines.append("Expect:")
        }
        var list: UnsafeMutablePointer<curl_slist>?
        for line in lines {
            guard let extended = curl_slist_append(list, line) else {
                curl_slist_free_all(list)
                throw .other("curl_slist_append failed")
            }
            list = extended
        }
        return list
    }
}

@available(*, unavailable, message: "HTTPClient owns a curl easy handle: use one per thread")
extension HTTPClient: Sendable {}

/// RFC 9110 `tchar`.
private func isTokenByte(_ byte: UInt8) -> Bool {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"):
        return true
    default:
        return "!#$%&'*+-.^_`|~".utf8.contains(byte)
    }
}

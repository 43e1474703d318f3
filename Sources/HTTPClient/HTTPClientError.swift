import CCurl

/// Why a request produced no HTTP response. Each case carries curl's message
/// (`curl_easy_strerror` plus the `CURLOPT_ERRORBUFFER` detail) for the log.
public enum HTTPClientError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No connection (refused, unreachable, name not resolved), or the connection broke
    /// before a complete response arrived (reset, closed without a reply, body cut short).
    case connectionFailed(String)
    /// `connectTimeout` or `totalTimeout` elapsed.
    case timedOut(String)
    /// TLS failed: the server's certificate was not trusted or did not match the host name,
    /// the handshake failed, the server refused our client certificate (or its absence),
    /// or a local certificate/key/CA file could not be used.
    case tls(String)
    /// The response (body or header section) exceeded the configured limit.
    case responseTooLarge
    /// The request body's file could not be opened or read to the end (missing, not a regular
    /// file, an I/O error or truncation while it was sent): a fault of this machine's storage,
    /// not of the server, which callers must not count against the server.
    case requestBodyUnreadable(path: String, reason: String)
    /// Anything else: bad URL or header, curl internals.
    case other(String)

    public var description: String {
        switch self {
        case .connectionFailed(let detail): return "connection failed: \(detail)"
        case .timedOut(let detail): return "timed out: \(detail)"
        case .tls(let detail): return "TLS: \(detail)"
        case .responseTooLarge: return "response too large"
        case let .requestBodyUnreadable(path, reason): return "request body file \(path): \(reason)"
        case .other(let detail): return detail
        }
    }

    /// Maps a failed `curl_easy_perform` result. `detail` is the error buffer text (may be empty);
    /// `localFailure` is a reason recorded by our own callbacks, which takes precedence.
    init(code: CURLcode, detail: String, localFailure: TransferFailure?) {
        switch localFailure {
        case .responseTooLarge?:
            self = .responseTooLarge
            return
        case let .requestBody(path, reason)?:
            self = .requestBodyUnreadable(path: path, reason: reason)
            return
        case nil:
            break
        }
        let message = Self.message(code: code, detail: detail)
        switch code {
        case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY, CURLE_COULDNT_CONNECT,
             CURLE_GOT_NOTHING, CURLE_PARTIAL_FILE:
            self = .connectionFailed(message)
        case CURLE_SEND_ERROR, CURLE_RECV_ERROR:
            // A TLS alert that arrives after the client considers the handshake done surfaces here:
            // under TLS 1.3 a server rejecting a missing or untrusted client certificate says so
            // only then ("SSL_read: … SSL routines::tlsv13 alert certificate required").
            self = Self.isTLSLayerMessage(detail) ? .tls(message) : .connectionFailed(message)
        case CURLE_OPERATION_TIMEDOUT:
            self = .timedOut(message)
        case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CERTPROBLEM, CURLE_SSL_CIPHER,
             CURLE_SSL_CACERT_BADFILE, CURLE_SSL_CRL_BADFILE, CURLE_SSL_ISSUER_ERROR, CURLE_SSL_SHUTDOWN_FAILED,
             CURLE_SSL_PINNEDPUBKEYNOTMATCH, CURLE_SSL_INVALIDCERTSTATUS, CURLE_SSL_CLIENTCERT,
             CURLE_SSL_ENGINE_NOTFOUND, CURLE_SSL_ENGINE_SETFAILED, CURLE_SSL_ENGINE_INITFAILED, CURLE_USE_SSL_FAILED:
            self = .tls(message)
        case CURLE_FILESIZE_EXCEEDED:
            // CURLOPT_MAXFILESIZE_LARGE refused a declared Content-Length before the body was read.
            self = .responseTooLarge
        default:
            self = .other(message)
        }
    }

    /// "curl 7 (Couldn't connect to server): Failed to connect to 127.0.0.1 port 9 …"
    static func message(code: CURLcode, detail: String) -> String {
        let summary = String(cString: curl_easy_strerror(code))
        let trimmed = detail.trimmingTrailingNewlines()
        return trimmed.isEmpty ? "curl \(code.rawValue) (\(summary))" : "curl \(code.rawValue) (\(summary)): \(trimmed)"
    }

    /// OpenSSL's own errors (including received alerts) read `error:0A000…:SSL routines::…`;
    /// a plain reset reads `… errno 104` without it.
    static func isTLSLayerMessage(_ detail: String) -> Bool {
        detail.contains("SSL routines")
    }
}

/// A reason recorded by the transfer callbacks before they abort `curl_easy_perform`.
enum TransferFailure: Equatable {
    case responseTooLarge
    case requestBody(path: String, reason: String)
}

extension String {
    func trimmingTrailingNewlines() -> String {
        var text = Substring(self)
        while let last = text.last, last.isNewline { text = text.dropLast() }  // "\r\n" is one Character
        return String(text)
    }
}

/// Why an ``HTTPServer`` could not be created, started or used.
public enum HTTPServerError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A configuration value is unusable (address, TLS material, priority string, limits, spool directory).
    case invalidConfiguration(String)
    /// libmicrohttpd refused to start (port in use, TLS material rejected, ...).
    case startFailed(String)
    /// The call does not fit the server's state (started twice, started after stop).
    case invalidState(String)

    public var description: String {
        switch self {
        case .invalidConfiguration(let text): return "invalid HTTP server configuration: \(text)"
        case .startFailed(let text): return "HTTP server failed to start: \(text)"
        case .invalidState(let text): return "HTTP server: \(text)"
        }
    }
}

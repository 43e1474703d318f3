import AS4Crypto
import Foundation

/// How an ``HTTPServer`` listens and how much it accepts.
public struct HTTPServerConfiguration: Sendable {
    /// TLS settings (GnuTLS through libmicrohttpd).
    public struct TLS: Sendable {
        /// Whether and how TLS client certificates are checked.
        ///
        /// libmicrohttpd only *requests* a certificate; the handshake succeeds without one or with
        /// any certificate. The server therefore validates the presented chain itself, with OpenSSL,
        /// at the start of every request (chain to the validator's anchors, validity now, and the
        /// leaf against the trust store's CRLs when it has any), before any body byte is read.
        public enum ClientAuthentication: Sendable {
            /// No certificate is requested.
            case none
            /// A certificate is requested. Without one the request proceeds with
            /// ``HTTPRequestHead/clientCertificate`` nil; a certificate that is presented but
            /// does not validate is refused with 403.
            case optional(CertificateValidator)
            /// A valid certificate is required; otherwise 403 with the reason as text.
            case required(CertificateValidator)

            var validator: CertificateValidator? {
                switch self {
                case .none: return nil
                case .optional(let validator), .required(let validator): return validator
                }
            }
        }

        /// TLS 1.2 and 1.3 only, ciphers of at least 128-bit strength, secure renegotiation.
        public static let defaultPriorities =
            "SECURE256:+SECURE128:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:%SAFE_RENEGOTIATION"

        /// The server certificate, then any intermediates, PEM.
        public var certificateChainPEM: String
        /// The server's private key, unencrypted PEM (PKCS#8 or traditional).
        public var privateKeyPEM: String
        public var clientAuthentication: ClientAuthentication
        /// A GnuTLS priority string; checked with `gnutls_priority_init` when the server is created.
        public var priorities: String

        public init(certificateChainPEM: String, privateKeyPEM: String, clientAuthentication: ClientAuthentication = .none,
                    priorities: String = TLS.defaultPriorities) {
            self.certificateChainPEM = certificateChainPEM
            self.privateKeyPEM = privateKeyPEM
            self.clientAuthentication = clientAuthentication
            self.priorities = priorities
        }
    }

    /// The IPv4 or IPv6 address to listen on; nothing else is bound.
    public var bindAddress: String
    /// The TCP port; 0 picks a free one (read it from ``HTTPServer/port`` after ``HTTPServer/start()``).
    public var port: UInt16
    /// nil serves plain HTTP.
    public var tls: TLS?
    /// The largest request body accepted. A larger declared `Content-Length` is refused with 413
    /// before reading; a chunked upload that grows past it is cut off with 413. A chunk's declared
    /// size is not seen (libmicrohttpd parses it and hands over only the data), so a chunk declared
    /// over the limit counts as its bytes arrive.
    public var maxBodyBytes: UInt64
    /// Where bodies larger than ``inMemoryBodyLimit`` are written while they arrive.
    public var spoolDirectory: String
    /// Bodies up to this size stay in memory; larger ones go to a spool file.
    public var inMemoryBodyLimit: UInt64
    /// The number of libmicrohttpd pool threads, i.e. of requests handled at once.
    public var threads: Int
    /// Seconds of inactivity (nothing received or sent) after which a connection is closed (0: never).
    /// libmicrohttpd 0.9.75 does not count the time a handler takes (tested).
    public var connectionTimeout: UInt32
    /// The most concurrent connections; further ones are closed at once (and reported, see
    /// ``refusalLogInterval``). libmicrohttpd shares this out among the pool threads.
    public var maxConnections: Int
    /// The most concurrent connections from one client IP address (0: no per-client limit), so that
    /// one client cannot take every slot. Behind a reverse proxy every client has the proxy's
    /// address: raise it to ``maxConnections`` (or 0) there and limit clients at the proxy.
    public var maxConnectionsPerClient: Int
    /// Seconds a connection may take from being accepted (TLS handshake included) until its
    /// request head is complete; then it is closed (0: no deadline). A kept-alive connection may
    /// idle between requests until ``connectionTimeout`` closes it, and has this long beyond that
    /// for its next head. The inactivity timeout alone does not stop a client that drips a byte
    /// at a time.
    public var requestHeadTimeout: Double
    /// The floor under a body's arrival rate, in bytes per second (0: none). From the moment a
    /// request's head is accepted until its body has ended, at `t` seconds at least
    /// `minimumBodyBytesPerSecond × (t − bodyGracePeriod)` bytes must have arrived; a connection
    /// behind that is closed (no answer: libmicrohttpd takes none while a body is arriving), its
    /// spool file removed, and reported like a refusal. The inactivity timeout alone does not stop
    /// a client that sends a byte now and then, up to ``maxBodyBytes``.
    public var minimumBodyBytesPerSecond: UInt64
    /// Seconds at the start of a body that the floor does not count (a slow start, a client
    /// waiting for `100 Continue`).
    public var bodyGracePeriod: Double
    /// Refused and cut-off connections are reported through ``warningLogger`` at most once per
    /// reason in this many seconds, with a count, never once per connection.
    public var refusalLogInterval: Double
    /// Receives libmicrohttpd's diagnostic messages; nil discards them (nothing goes to stderr).
    public var logger: (@Sendable (String) -> Void)?
    /// Receives the rate-limited reports of refused connections; nil sends them to ``logger``.
    public var warningLogger: (@Sendable (String) -> Void)?
    /// Receives one report for every request the server itself answers with 500 (a response file
    /// that cannot be opened, a status out of range, a body that could not be kept), so that no
    /// such answer goes without a line in the log at a level operators watch; nil sends them to
    /// ``logger``.
    public var errorLogger: (@Sendable (String) -> Void)?

    public init(bindAddress: String = "127.0.0.1", port: UInt16 = 0, tls: TLS? = nil,
                maxBodyBytes: UInt64 = 512 << 20, spoolDirectory: String = NSTemporaryDirectory(),
                inMemoryBodyLimit: UInt64 = 1 << 20, threads: Int = 4, connectionTimeout: UInt32 = 30,
                maxConnections: Int = 1024, maxConnectionsPerClient: Int = 64, requestHeadTimeout: Double = 15,
                minimumBodyBytesPerSecond: UInt64 = 1024, bodyGracePeriod: Double = 30,
                refusalLogInterval: Double = 10, logger: (@Sendable (String) -> Void)? = nil,
                warningLogger: (@Sendable (String) -> Void)? = nil, errorLogger: (@Sendable (String) -> Void)? = nil) {
        self.bindAddress = bindAddress
        self.port = port
        self.tls = tls
        self.maxBodyBytes = maxBodyBytes
        self.spoolDirectory = spoolDirectory
        self.inMemoryBodyLimit = inMemoryBodyLimit
        self.threads = threads
        self.connectionTimeout = connectionTimeout
        self.maxConnections = maxConnections
        self.maxConnectionsPerClient = maxConnectionsPerClient
        self.requestHeadTimeout = requestHeadTimeout
        self.minimumBodyBytesPerSecond = minimumBodyBytesPerSecond
        self.bodyGracePeriod = bodyGracePeriod
        self.refusalLogInterval = refusalLogInterval
        self.logger = logger
        self.warningLogger = warningLogger
        self.errorLogger = errorLogger
    }
}

/// Settings fixed for the lifetime of one ``HTTPClient`` (applied once to its curl easy handle).
public struct HTTPClientConfiguration: Sendable {
    /// Seconds allowed for the TCP connect plus the TLS handshake.
    public var connectTimeout: Double = 10
    /// Seconds allowed for a whole request, connect and response body included.
    public var totalTimeout: Double = 300
    /// PEM bundle of the CAs that may issue the server's certificate; `nil` uses the system store.
    public var trustedCAFile: String?
    /// Verify the server's certificate chain and host name. Never `false` outside tests.
    public var verifyPeer: Bool = true
    /// Client certificate (PEM, optionally followed by its chain) for mutual TLS.
    public var clientCertificateFile: String?
    /// Private key (PEM, unencrypted) of the client certificate; `nil` means it is in `clientCertificateFile`.
    public var clientKeyFile: String?
    /// Largest response body accepted; a bigger one fails with ``HTTPClientError/responseTooLarge``.
    public var maxResponseBytes: Int = 64 << 20
    public var userAgent: String = "as4gw"
    /// Proxy URL (e.g. `http://proxy.example:3128`). `nil` means a direct connection: the
    /// `http_proxy`/`https_proxy` environment variables are deliberately ignored.
    public var proxy: String?

    public init() {}

    public init(trustedCAFile: String?, clientCertificateFile: String? = nil, clientKeyFile: String? = nil) {
        self.trustedCAFile = trustedCAFile
        self.clientCertificateFile = clientCertificateFile
        self.clientKeyFile = clientKeyFile
    }
}

import AS4Crypto
import CMicroHTTPD
import Foundation

/// The flags and `MHD_OptionItem` array for `MHD_start_daemon`, and the C memory they point to.
///
/// libmicrohttpd keeps pointers to the TLS strings, so this object must outlive the daemon
/// (released only after `MHD_stop_daemon`, PLATFORM-NOTES G11).
final class DaemonOptions {
    let flags: UInt32
    private(set) var items: [MHD_OptionItem] = []
    private var allocations: [UnsafeMutableRawPointer] = []

    /// - Parameter context: passed unretained to every callback; the caller keeps it alive.
    init(configuration: HTTPServerConfiguration, context: ServerContext) throws {
        let (address, isIPv6) = try Self.socketAddress(configuration.bindAddress, port: configuration.port)

        var flags = MHD_USE_INTERNAL_POLLING_THREAD.rawValue | MHD_USE_EPOLL.rawValue
            | MHD_USE_ITC.rawValue           // required by MHD_quiesce_daemon in thread-pool mode
            | MHD_USE_ERROR_LOG.rawValue     // messages go to logCallback, never to stderr
        if isIPv6 { flags |= MHD_USE_IPv6.rawValue }
        if configuration.tls != nil { flags |= MHD_USE_TLS.rawValue }
        self.flags = flags

        let contextPointer = Unmanaged.passUnretained(context).toOpaque()
        // The logger first, so that complaints about later options are routed too.
        self.items.append(Self.item(.EXTERNAL_LOGGER, value: unsafeBitCast(logCallback, to: Int.self), pointer: contextPointer))
        self.items.append(Self.item(.NOTIFY_COMPLETED, value: unsafeBitCast(requestCompletedCallback, to: Int.self),
                                    pointer: contextPointer))
        self.allocations.append(address)
        self.items.append(Self.item(.SOCK_ADDR, pointer: address))
        self.items.append(Self.item(.THREAD_POOL_SIZE, value: configuration.threads))
        self.items.append(Self.item(.CONNECTION_TIMEOUT, value: Int(configuration.connectionTimeout)))
        self.items.append(Self.item(.CONNECTION_LIMIT, value: configuration.maxConnections))
        // 0 is MHD's "no per-IP limit" as well.
        self.items.append(Self.item(.PER_IP_CONNECTION_LIMIT, value: configuration.maxConnectionsPerClient))
        self.items.append(Self.item(.NOTIFY_CONNECTION, value: unsafeBitCast(connectionNotifyCallback, to: Int.self),
                                    pointer: contextPointer))
        self.items.append(Self.item(.UNESCAPE_CALLBACK, value: unsafeBitCast(keepEscapesCallback, to: Int.self)))
        if let tls = configuration.tls {
            self.items.append(Self.item(.HTTPS_MEM_CERT, pointer: self.cString(tls.certificateChainPEM)))
            self.items.append(Self.item(.HTTPS_MEM_KEY, pointer: self.cString(tls.privateKeyPEM)))
            self.items.append(Self.item(.HTTPS_PRIORITIES, pointer: self.cString(tls.priorities)))
            if let validator = tls.clientAuthentication.validator {
                // Only makes MHD *request* a certificate (and name these CAs); the check is ours.
                let anchors = try validator.trustStore.anchors.map { try $0.pemEncoded() }.joined()
                self.items.append(Self.item(.HTTPS_MEM_TRUST, pointer: self.cString(anchors)))
            }
        }
        self.items.append(Self.item(.END))
    }

    deinit {
        for allocation in self.allocations {
            free(allocation)
        }
    }

    private static func item(_ option: MHD_OPTION, value: Int = 0, pointer: UnsafeMutableRawPointer? = nil) -> MHD_OptionItem {
        MHD_OptionItem(option: option, value: value, ptr_value: pointer)
    }

    /// A C copy of `text` owned by this object.
    private func cString(_ text: String) -> UnsafeMutableRawPointer {
        let copy = UnsafeMutableRawPointer(strdup(text)!)
        self.allocations.append(copy)
        return copy
    }

    /// A `malloc`ed `sockaddr_in`/`sockaddr_in6` for `address:port`; throws unless `address` is a
    /// numeric IPv4 or IPv6 address.
    static func socketAddress(_ address: String, port: UInt16) throws -> (UnsafeMutableRawPointer, isIPv6: Bool) {
        var ipv4 = in_addr()
        if inet_pton(AF_INET, address, &ipv4) == 1 {
            let storage = calloc(1, MemoryLayout<sockaddr_in>.size)!
            let socketAddress = storage.bindMemory(to: sockaddr_in.self, capacity: 1)
            socketAddress.pointee.sin_family = sa_family_t(AF_INET)
            socketAddress.pointee.sin_port = port.bigEndian
            socketAddress.pointee.sin_addr = ipv4
            return (storage, false)
        }
        var ipv6 = in6_addr()
        if inet_pton(AF_INET6, address, &ipv6) == 1 {
            let storage = calloc(1, MemoryLayout<sockaddr_in6>.size)!
            let socketAddress = storage.bindMemory(to: sockaddr_in6.self, capacity: 1)
            socketAddress.pointee.sin6_family = sa_family_t(AF_INET6)
            socketAddress.pointee.sin6_port = port.bigEndian
            socketAddress.pointee.sin6_addr = ipv6
            return (storage, true)
        }
        throw HTTPServerError.invalidConfiguration("bind address \"\(address)\" is not a numeric IPv4 or IPv6 address")
    }
}

extension DaemonOptions {
    /// Runs `body` with the option array (terminated by `MHD_OPTION_END`).
    func withItems<Result>(_ body: (UnsafeMutablePointer<MHD_OptionItem>) -> Result) -> Result {
        var copy = self.items
        return copy.withUnsafeMutableBufferPointer { body($0.baseAddress!) }
    }
}

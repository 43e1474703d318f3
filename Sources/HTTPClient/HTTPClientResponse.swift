/// A complete HTTP response. Any status (including 4xx/5xx) is a response, not an error.
public struct HTTPClientResponse: Sendable {
    public var status: Int
    /// Header fields of the final response in arrival order (interim `100 Continue` headers dropped).
    public var headers: [(String, String)]
    public var body: [UInt8]
    /// Seconds from the start of the request to the end of the response.
    public var elapsed: Double
    /// New connections opened for this request: 0 when a kept-alive connection was reused.
    public var newConnections: Int

    public init(status: Int, headers: [(String, String)], body: [UInt8], elapsed: Double, newConnections: Int) {
        self.status = status
        self.headers = headers
        self.body = body
        self.elapsed = elapsed
        self.newConnections = newConnections
    }

    /// The first value of the header field `name` (case-insensitive).
    public func header(_ name: String) -> String? {
        headers.first { $0.0.caseInsensitiveEquals(name) }?.1
    }

    /// All values of the header field `name` (case-insensitive), in arrival order.
    public func headers(named name: String) -> [String] {
        headers.filter { $0.0.caseInsensitiveEquals(name) }.map(\.1)
    }
}

extension String {
    /// ASCII case-insensitive comparison, as header field names are compared.
    func caseInsensitiveEquals(_ other: String) -> Bool {
        let a = utf8, b = other.utf8
        guard a.count == b.count else { return false }
        return zip(a, b).allSatisfy { Self.lowerASCII($0) == Self.lowerASCII($1) }
    }

    private static func lowerASCII(_ byte: UInt8) -> UInt8 {
        (byte >= 0x41 && byte <= 0x5A) ? byte | 0x20 : byte
    }
}

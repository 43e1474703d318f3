import CGnuTLS

/// Checks GnuTLS priority strings before libmicrohttpd sees them (MHD would only report a failed start).
enum TLSPriorities {
    /// Throws ``HTTPServerError/invalidConfiguration(_:)`` naming the offending part when GnuTLS
    /// cannot parse `priorities`.
    static func validate(_ priorities: String) throws {
        let (result, errorOffset) = priorities.withCString { text -> (Int32, Int?) in
            var cache: gnutls_priority_t?
            var errorPosition: UnsafePointer<CChar>?
            let result = gnutls_priority_init(&cache, text, &errorPosition)
            if let cache {
                gnutls_priority_deinit(cache)
            }
            // The error position points into `text`: turn it into an offset while `text` is alive.
            return (result, errorPosition.map { text.distance(to: $0) })
        }
        guard result != GNUTLS_E_SUCCESS else { return }
        var message = "GnuTLS cannot parse the priority string: \(Self.errorText(result))"
        if let errorOffset, errorOffset >= 0 {
            message += " (near \"\(String(decoding: priorities.utf8.dropFirst(errorOffset), as: UTF8.self))\")"
        }
        throw HTTPServerError.invalidConfiguration(message)
    }

    static func errorText(_ code: Int32) -> String {
        gnutls_strerror(code).map { String(cString: $0) } ?? "error \(code)"
    }
}

import CCurl

/// `curl_global_init` exactly once per process, before the first easy handle. A global `let`
/// is initialised lazily under `swift_once`, so concurrent first uses are safe.
private let curlGlobalInitResult: Int32 = Int32(bitPattern: curl_global_init(Int(CURL_GLOBAL_DEFAULT)).rawValue)

func ensureCurlGlobalInit() throws(HTTPClientError) {
    guard curlGlobalInitResult == 0 else { throw .other("curl_global_init failed with code \(curlGlobalInitResult)") }
}

/// Typed setters over the shim's `curl_easy_setopt` wrappers (PLATFORM-NOTES G6); a failure
/// names the option so a misconfiguration is reported rather than silently ignored.
struct CurlOptions {
    let handle: UnsafeMutableRawPointer

    func set(_ option: CURLoption, _ value: Int) throws(HTTPClientError) {
        try check(as4gw_curl_setopt_long(handle, option, value), option)
    }

    func set(_ option: CURLoption, offset value: Int64) throws(HTTPClientError) {
        try check(as4gw_curl_setopt_off(handle, option, curl_off_t(value)), option)
    }

    /// libcurl copies string options, so the C string need only live for the call.
    func set(_ option: CURLoption, _ value: String?) throws(HTTPClientError) {
        let code: CURLcode
        if let value { code = value.withCString { as4gw_curl_setopt_string(handle, option, $0) } }
        else { code = as4gw_curl_setopt_string(handle, option, nil) }
        try check(code, option)
    }

    /// The pointee is *not* copied: it must outlive every perform that uses it.
    func set(_ option: CURLoption, pointer: UnsafeMutableRawPointer?) throws(HTTPClientError) {
        try check(as4gw_curl_setopt_pointer(handle, option, pointer), option)
    }

    /// The list is *not* copied: it must outlive the perform, then be detached before it is freed.
    func set(_ option: CURLoption, list: UnsafeMutablePointer<curl_slist>?) throws(HTTPClientError) {
        try check(as4gw_curl_setopt_slist(handle, option, list), option)
    }

    func installCallbacks() throws(HTTPClientError) {
        try check(as4gw_curl_setopt_write(handle, curlWriteCallback), CURLOPT_WRITEFUNCTION)
        try check(as4gw_curl_setopt_header(handle, curlHeaderCallback), CURLOPT_HEADERFUNCTION)
        try check(as4gw_curl_setopt_read(handle, curlReadCallback), CURLOPT_READFUNCTION)
        try check(as4gw_curl_setopt_seek(handle, curlSeekCallback), CURLOPT_SEEKFUNCTION)
    }

    func long(_ info: CURLINFO) -> Int {
        var value = 0
        return as4gw_curl_getinfo_long(handle, info, &value) == CURLE_OK ? value : 0
    }

    func double(_ info: CURLINFO) -> Double {
        var value = 0.0
        return as4gw_curl_getinfo_double(handle, info, &value) == CURLE_OK ? value : 0
    }

    private func check(_ code: CURLcode, _ option: CURLoption) throws(HTTPClientError) {
        guard code == CURLE_OK else {
            throw .other("curl_easy_setopt(\(option.rawValue)): \(String(cString: curl_easy_strerror(code)))")
        }
    }
}

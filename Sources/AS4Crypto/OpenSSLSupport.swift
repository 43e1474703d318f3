import COpenSSL
import Foundation

// Internal plumbing shared by the wrappers: memory BIOs, DER export, time conversion.
// Nothing here is public; every OpenSSL pointer that escapes this file is owned by a wrapper class.

/// An owned memory `BIO`, freed in `deinit`.
final class MemoryBIO {
    let pointer: OpaquePointer

    /// An empty, writable memory BIO.
    init() throws {
        guard let bio = BIO_new(BIO_s_mem()) else { throw CryptoError.openSSL("BIO_new") }
        pointer = bio
    }

    deinit { BIO_free(pointer) }

    /// Everything written to the BIO so far.
    var bytes: [UInt8] {
        var data: UnsafeMutablePointer<CChar>?
        let length = as4gw_BIO_get_mem_data(pointer, &data)
        guard length > 0, let data else { return [] }
        return data.withMemoryRebound(to: UInt8.self, capacity: length) {
            Array(UnsafeBufferPointer(start: $0, count: length))
        }
    }

    var string: String { String(decoding: bytes, as: UTF8.self) }

    /// Runs `body` with a read-only BIO over `bytes`. The BIO must not outlive the call.
    static func withReadOnly<R>(_ bytes: some ContiguousBytes, _ body: (OpaquePointer) throws -> R) throws -> R {
        func run(_ raw: UnsafeRawBufferPointer) throws -> R {
            let length = try int32Length(raw.count, "input")
            guard let bio = BIO_new_mem_buf(raw.baseAddress, length) else {
                throw CryptoError.openSSL("BIO_new_mem_buf")
            }
            defer { BIO_free(bio) }
            return try body(bio)
        }
        return try bytes.withUnsafeBytes { raw in
            // BIO_new_mem_buf needs a non-NULL pointer even for empty input.
            if raw.baseAddress == nil { return try [UInt8(0)].withUnsafeBytes { try run(UnsafeRawBufferPointer(rebasing: $0[0..<0])) } }
            return try run(raw)
        }
    }
}

/// Reads every PEM object of one kind from `pem` (`read` is e.g. `PEM_read_bio_X509`), wrapping each.
/// Throws when a block is corrupt or when there is none; the normal end of input is not an error.
func readAllPEM<T>(_ pem: String, what: String, read: (OpaquePointer) -> OpaquePointer?,
                   wrap: (OpaquePointer) throws -> T) throws -> [T] {
    OpenSSLErrorQueue.clear()  // the end of the loop is judged from the queue, so start from a clean one
    let objects = try MemoryBIO.withReadOnly(Array(pem.utf8)) { bio -> [T] in
        var result: [T] = []
        while let object = read(bio) {
            result.append(try wrap(object))
        }
        return result
    }
    // The loop ends with a "no start line" error at end of input; anything else is a corrupt block.
    if let failure = OpenSSLErrorQueue.drainAfterPEMLoop() {
        throw CryptoError.decodingFailed(what: "PEM \(what) \(objects.count + 1)", openSSLError: failure)
    }
    guard !objects.isEmpty else { throw CryptoError.decodingFailed(what: "PEM \(what)", openSSLError: "none found") }
    return objects
}

/// Loads a file that holds either PEM text (any number of objects) or one DER object.
func loadPEMOrDER<T>(path: String, pem: (String) throws -> [T], der: (Data) throws -> T) throws -> [T] {
    let data = try Data(contentsOf: URL(fileURLWithPath: path))
    if data.range(of: Data("-----BEGIN".utf8)) != nil {
        return try pem(String(decoding: data, as: UTF8.self))
    }
    return [try der(data)]
}

/// Calls an `i2d_*` style function twice (length, then bytes) and returns the DER.
func derEncode(_ what: String, _ encode: (UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>?) -> Int32) throws -> [UInt8] {
    let length = encode(nil)
    guard length > 0 else { throw CryptoError.openSSL("DER encoding of \(what)") }
    var out = [UInt8](repeating: 0, count: Int(length))
    let written = out.withUnsafeMutableBufferPointer { buffer -> Int32 in
        var cursor: UnsafeMutablePointer<UInt8>? = buffer.baseAddress
        return encode(&cursor)
    }
    guard written == length else { throw CryptoError.openSSL("DER encoding of \(what)") }
    return out
}

/// Calls a `d2i_*` style function over `bytes`, requiring that the whole input is consumed.
/// `free` releases the decoded object when it must be rejected for trailing bytes.
func derDecode(_ what: String, _ bytes: some ContiguousBytes,
               _ decode: (UnsafeMutablePointer<UnsafePointer<UInt8>?>, Int) -> OpaquePointer?,
               free: (OpaquePointer) -> Void) throws -> OpaquePointer {
    try bytes.withUnsafeBytes { raw -> OpaquePointer in
        guard let base = raw.baseAddress, raw.count > 0 else {
            throw CryptoError.decodingFailed(what: what, openSSLError: "empty input")
        }
        let start = base.assumingMemoryBound(to: UInt8.self)
        var cursor: UnsafePointer<UInt8>? = UnsafePointer(start)
        guard let object = decode(&cursor, raw.count) else { throw CryptoError.decoding(what) }
        if let cursor, cursor != UnsafePointer(start) + raw.count {
            free(object)
            // Trailing garbage after a DER object is rejected rather than silently ignored.
            throw CryptoError.decodingFailed(what: what, openSSLError: "trailing bytes after DER object")
        }
        return object
    }
}

/// Converts an OpenSSL `ASN1_TIME` to a `Date`.
func date(from time: UnsafePointer<ASN1_TIME>?) throws -> Date {
    guard let time else { throw CryptoError.invalidArgument("missing ASN1_TIME") }
    var broken = tm()
    guard ASN1_TIME_to_tm(time, &broken) == 1 else { throw CryptoError.decoding("ASN.1 time") }
    return Date(timeIntervalSince1970: TimeInterval(timegm(&broken)))
}

/// A newly allocated `ASN1_TIME` for `date` (whole seconds); free it with `ASN1_TIME_free`.
func makeASN1Time(_ date: Date) throws -> UnsafeMutablePointer<ASN1_TIME> {
    guard let time = ASN1_TIME_set(nil, time_t(date.timeIntervalSince1970.rounded(.down))) else {
        throw CryptoError.openSSL("ASN1_TIME_set")
    }
    return time
}

/// Converts a byte count to `Int32` for OpenSSL APIs that take `int` lengths.
func int32Length(_ count: Int, _ what: String) throws -> Int32 {
    guard let value = Int32(exactly: count) else { throw CryptoError.invalidArgument("\(what) is too large") }
    return value
}

extension ContiguousBytes {
    /// The bytes as a Swift array.
    var byteArray: [UInt8] { withUnsafeBytes { Array($0) } }
}

/// Builds an `OSSL_PARAM` array whose keys and values stay valid until the builder is released.
///
/// `OSSL_PARAM` stores raw pointers, so Swift string/array temporaries (valid only during one call)
/// cannot be used. Every key and value is copied into malloc'd memory here; values are wiped
/// (`OPENSSL_cleanse`) before being freed because they are often secrets (HKDF input keying material).
final class OSSLParameters {
    private var allocations: [(UnsafeMutableRawPointer, Int)] = []
    private var parameters: [OSSL_PARAM] = []

    init() {}

    deinit {
        for (pointer, size) in allocations {
            OPENSSL_cleanse(pointer, size)
            free(pointer)
        }
    }

    private func copy(_ bytes: UnsafeRawBufferPointer, nulTerminated: Bool) -> UnsafeMutableRawPointer {
        let size = bytes.count + (nulTerminated ? 1 : 0)
        let pointer = malloc(max(size, 1))!
        if let base = bytes.baseAddress, bytes.count > 0 { pointer.copyMemory(from: base, byteCount: bytes.count) }
        if nulTerminated { pointer.storeBytes(of: 0, toByteOffset: bytes.count, as: UInt8.self) }
        allocations.append((pointer, max(size, 1)))
        return pointer
    }

    private func key(_ name: String) -> UnsafePointer<CChar> {
        let pointer = Array(name.utf8).withUnsafeBytes { copy($0, nulTerminated: true) }
        return UnsafePointer(pointer.assumingMemoryBound(to: CChar.self))
    }

    func addUTF8String(_ name: String, _ value: String) {
        let k = key(name)
        let v = Array(value.utf8).withUnsafeBytes { copy($0, nulTerminated: true) }
        parameters.append(OSSL_PARAM_construct_utf8_string(k, v.assumingMemoryBound(to: CChar.self), 0))
    }

    func addOctetString(_ name: String, _ value: some ContiguousBytes) {
        let k = key(name)
        let (v, count) = value.withUnsafeBytes { (copy($0, nulTerminated: false), $0.count) }
        parameters.append(OSSL_PARAM_construct_octet_string(k, v, count))
    }

    /// Runs `body` with the parameters followed by the terminating `OSSL_PARAM_END`.
    func withParameters<R>(_ body: (UnsafeMutablePointer<OSSL_PARAM>) throws -> R) rethrows -> R {
        var terminated = parameters
        terminated.append(as4gw_OSSL_PARAM_END())
        return try terminated.withUnsafeMutableBufferPointer { try body($0.baseAddress!) }
    }
}

import COpenSSL
import Foundation

/// Message digest algorithms, with the URIs XML Signature / XML Encryption use for them.
public enum DigestAlgorithm: String, Sendable, CaseIterable {
    /// SHA-1: only for verifying legacy material and for certificate thumbprints. Never for new signatures.
    case sha1
    case sha256
    case sha384
    case sha512

    /// The `ds:DigestMethod/@Algorithm` URI (also used as the OAEP digest in `xenc:EncryptionMethod`).
    public var xmlURI: String {
        switch self {
        case .sha1: return "http://www.w3.org/2000/09/xmldsig#sha1"
        case .sha256: return "http://www.w3.org/2001/04/xmlenc#sha256"
        case .sha384: return "http://www.w3.org/2001/04/xmldsig-more#sha384"
        case .sha512: return "http://www.w3.org/2001/04/xmlenc#sha512"
        }
    }

    /// Recognises a `ds:DigestMethod` URI. Unknown URIs give `nil` (the caller's policy decides what to do).
    public init?(xmlURI: String) {
        guard let match = Self.allCases.first(where: { $0.xmlURI == xmlURI }) else { return nil }
        self = match
    }

    /// Digest length in bytes.
    public var outputByteCount: Int {
        switch self {
        case .sha1: return 20
        case .sha256: return 32
        case .sha384: return 48
        case .sha512: return 64
        }
    }

    /// The OpenSSL `EVP_MD` (a static object owned by OpenSSL; never freed).
    var evpMD: OpaquePointer {
        switch self {
        case .sha1: return EVP_sha1()
        case .sha256: return EVP_sha256()
        case .sha384: return EVP_sha384()
        case .sha512: return EVP_sha512()
        }
    }
}

/// One-shot digests and constant-time comparison.
public enum Digest {
    /// Digest of `data` with `algorithm`.
    public static func hash(_ data: some ContiguousBytes, algorithm: DigestAlgorithm) throws -> [UInt8] {
        let context = try DigestContext(algorithm: algorithm)
        try context.update(data)
        return try context.finalize()
    }

    /// SHA-256 of `data`.
    public static func sha256(_ data: some ContiguousBytes) throws -> [UInt8] {
        try hash(data, algorithm: .sha256)
    }

    /// Digest of a file's contents, read in 1 MiB chunks (for attachments of hundreds of MB).
    public static func hash(contentsOf url: URL, algorithm: DigestAlgorithm) throws -> [UInt8] {
        let handle = try FileHandle(forReadingFrom: url)
        defer { try? handle.close() }
        let context = try DigestContext(algorithm: algorithm)
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty {
            try context.update(chunk)
        }
        return try context.finalize()
    }

    /// Compares two byte strings in time that depends only on their lengths (`CRYPTO_memcmp`).
    /// Use it for digest values and MACs taken from a message.
    public static func constantTimeEquals(_ lhs: some ContiguousBytes, _ rhs: some ContiguousBytes) -> Bool {
        lhs.withUnsafeBytes { a in
            rhs.withUnsafeBytes { b in
                guard a.count == b.count else { return false }
                guard a.count > 0 else { return true }
                return CRYPTO_memcmp(a.baseAddress, b.baseAddress, a.count) == 0
            }
        }
    }
}

/// A streaming digest (`EVP_MD_CTX`): feed chunks with ``update(_:)``, then ``finalize()`` once.
///
/// Not `Sendable`: it holds mutable hashing state. Use one context per task or thread.
public final class DigestContext {
    public let algorithm: DigestAlgorithm
    private let context: OpaquePointer
    private var finalized = false

    public init(algorithm: DigestAlgorithm) throws {
        guard let context = EVP_MD_CTX_new() else { throw CryptoError.openSSL("EVP_MD_CTX_new") }
        guard EVP_DigestInit_ex(context, algorithm.evpMD, nil) == 1 else {
            EVP_MD_CTX_free(context)
            throw CryptoError.openSSL("EVP_DigestInit_ex")
        }
        self.algorithm = algorithm
        self.context = context
    }

    deinit { EVP_MD_CTX_free(context) }

    /// Adds `data` to the digest.
    public func update(_ data: some ContiguousBytes) throws {
        guard !finalized else { throw CryptoError.invalidArgument("digest context already finalized") }
        try data.withUnsafeBytes { raw in
            guard raw.count > 0 else { return }
            guard EVP_DigestUpdate(context, raw.baseAddress, raw.count) == 1 else {
                throw CryptoError.openSSL("EVP_DigestUpdate")
            }
        }
    }

    /// Finishes and returns the digest. The context cannot be used afterwards.
    public func finalize() throws -> [UInt8] {
        guard !finalized else { throw CryptoError.invalidArgument("digest context already finalized") }
        finalized = true
        var output = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        guard EVP_DigestFinal_ex(context, &output, &length) == 1 else {
            throw CryptoError.openSSL("EVP_DigestFinal_ex")
        }
        return Array(output.prefix(Int(length)))
    }
}

import COpenSSL
import Foundation

/// The contents of a PKCS#12 (`.p12`/`.pfx`) keystore: private key, its certificate, and the other certificates.
public struct PKCS12Bundle: Sendable {
    public let privateKey: PrivateKey?
    /// The certificate belonging to `privateKey` (OpenSSL matches them by localKeyID / public key).
    public let certificate: Certificate?
    /// The remaining certificates (CA chain, other trusted entries), in file order.
    public let chain: [Certificate]

    /// Parses a DER PKCS#12 file with `password`.
    ///
    /// Keystores written by older Java and .NET versions encrypt certificates with
    /// pbeWithSHA1And40BitRC2-CBC, which OpenSSL 3 keeps in its "legacy" provider. When the first
    /// attempt fails for that reason, parsing is retried inside a private library context that has
    /// the legacy provider loaded, and the results are re-imported into the default context. The
    /// process-wide default context is never changed, so legacy algorithms stay unavailable elsewhere.
    public init(derEncoded der: some ContiguousBytes, password: String) throws {
        let bytes = der.byteArray
        do {
            self = try Self.parse(bytes, password: password)
        } catch let CryptoError.decodingFailed(_, detail) where detail.contains("unsupported") {
            guard let legacy = LegacyProviderContext.shared.context else {
                throw CryptoError.decodingFailed(what: "PKCS#12", openSSLError: "needs the OpenSSL legacy provider, which is not available: \(detail)")
            }
            // OSSL_LIB_CTX_set0_default switches the default context of the calling thread only.
            let parsed = try {
                let previous = OSSL_LIB_CTX_set0_default(legacy)
                defer { OSSL_LIB_CTX_set0_default(previous) }
                return try Self.parse(bytes, password: password)
            }()
            self = try parsed.reimported()
        }
    }

    /// Reads and parses a PKCS#12 file.
    public init(contentsOfFile path: String, password: String) throws {
        try self.init(derEncoded: try Data(contentsOf: URL(fileURLWithPath: path)), password: password)
    }

    private init(privateKey: PrivateKey?, certificate: Certificate?, chain: [Certificate]) {
        self.privateKey = privateKey
        self.certificate = certificate
        self.chain = chain
    }

    private static func parse(_ der: [UInt8], password: String) throws -> PKCS12Bundle {
        let p12 = try derDecode("PKCS#12", der, { cursor, length in d2i_PKCS12(nil, cursor, length) }, free: PKCS12_free)
        defer { PKCS12_free(p12) }
        var pkey: OpaquePointer?
        var x509: OpaquePointer?
        var stack: OpaquePointer?
        guard PKCS12_parse(p12, password, &pkey, &x509, &stack) == 1 else {
            throw CryptoError.decoding("PKCS#12")
        }
        // Take ownership of everything PKCS12_parse returned before anything can throw.
        defer { if let stack { as4gw_sk_X509_pop_free(stack) } }
        let privateKey: PrivateKey?
        do {
            privateKey = try pkey.map { try PrivateKey(owning: $0) }  // frees pkey itself on failure
        } catch {
            if let x509 { X509_free(x509) }
            throw error
        }
        let certificate = try x509.map { try Certificate(owning: $0) }
        var chain: [Certificate] = []
        if let stack {
            for index in 0..<as4gw_sk_X509_num(stack) {
                if let element = as4gw_sk_X509_value(stack, index) {
                    chain.append(try Certificate(retaining: element))
                }
            }
        }
        return PKCS12Bundle(privateKey: privateKey, certificate: certificate, chain: chain)
    }

    /// The same objects rebuilt from their encodings in the default library context.
    private func reimported() throws -> PKCS12Bundle {
        var keyDER = try privateKey?.pkcs8DER()
        defer { if keyDER != nil { keyDER!.withUnsafeMutableBytes { OPENSSL_cleanse($0.baseAddress, $0.count) } } }
        return PKCS12Bundle(
            privateKey: try keyDER.map { try PrivateKey(derEncoded: $0) },
            certificate: try certificate.map { try Certificate(derEncoded: $0.derBytes) },
            chain: try chain.map { try Certificate(derEncoded: $0.derBytes) })
    }
}

/// A private OpenSSL library context with the "default" and "legacy" providers, created on first
/// use and kept for the life of the process. Only PKCS#12 parsing uses it.
///
/// Why the unchecked `Sendable` conformance is safe: the pointer is written once in `init` (run under Swift's thread-safe lazy
/// global initialisation) and never changed; `OSSL_LIB_CTX` is safe for concurrent use.
final class LegacyProviderContext: @unchecked Sendable {
    static let shared = LegacyProviderContext()
    let context: OpaquePointer?

    private init() {
        guard let context = OSSL_LIB_CTX_new() else {
            self.context = nil
            return
        }
        guard OSSL_PROVIDER_load(context, "default") != nil, OSSL_PROVIDER_load(context, "legacy") != nil else {
            OpenSSLErrorQueue.clear()
            OSSL_LIB_CTX_free(context)
            self.context = nil
            return
        }
        self.context = context
    }
}

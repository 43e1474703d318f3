import COpenSSL
import Foundation

/// Trust anchors, optional untrusted intermediates, and optional CRLs (owns an `X509_STORE *`).
///
/// Anchors go into the `X509_STORE`; intermediates do not (they are offered to chain building as
/// untrusted certificates, so they never become anchors themselves). Any anchor is trusted as-is,
/// including a partner's self-signed end-entity certificate and a non-self-signed certificate
/// pinned directly (``CertificateValidator`` sets `X509_V_FLAG_PARTIAL_CHAIN`).
///
/// Why the unchecked `Sendable` conformance is safe: the store is filled in `init` and never changed afterwards. An
/// `X509_STORE` is designed to be shared by concurrent verifications (it has its own lock, as for
/// an `SSL_CTX` shared across connections); each validation uses its own `X509_STORE_CTX`.
public final class TrustStore: @unchecked Sendable {
    let store: OpaquePointer
    public let anchors: [Certificate]
    public let intermediates: [Certificate]
    public let crls: [CertificateRevocationList]
    /// Valid results of earlier validations against this store (see ``ValidationCache``).
    let validations = ValidationCache()

    public init(anchors: [Certificate], intermediates: [Certificate] = [], crls: [CertificateRevocationList] = []) throws {
        guard !anchors.isEmpty else { throw CryptoError.invalidArgument("a trust store needs at least one anchor") }
        guard let store = X509_STORE_new() else { throw CryptoError.openSSL("X509_STORE_new") }
        self.store = store
        self.anchors = anchors
        self.intermediates = intermediates
        self.crls = crls
        for anchor in Set(anchors) where X509_STORE_add_cert(store, anchor.pointer) != 1 {
            throw CryptoError.openSSL("X509_STORE_add_cert")
        }
        for crl in crls where X509_STORE_add_crl(store, crl.pointer) != 1 {
            throw CryptoError.openSSL("X509_STORE_add_crl")
        }
    }

    deinit { X509_STORE_free(store) }

    /// Loads anchors, intermediates and CRLs from files or directories.
    ///
    /// A file named explicitly must parse. In a directory, regular non-hidden files are read by
    /// extension (`.crt .cer .der` certificates, `.crl .der` CRLs) and `.pem` files by their content
    /// (`BEGIN CERTIFICATE` / `BEGIN X509 CRL`), so certificates and CRLs may share a directory.
    public convenience init(anchorPaths: [String], intermediatePaths: [String] = [], crlPaths: [String] = []) throws {
        let anchors = try Self.files(anchorPaths, extensions: ["crt", "cer", "der"], pemLabel: "CERTIFICATE")
            .flatMap(Certificate.certificates(fromFile:))
        let intermediates = try Self.files(intermediatePaths, extensions: ["crt", "cer", "der"], pemLabel: "CERTIFICATE")
            .flatMap(Certificate.certificates(fromFile:))
        let crls = try Self.files(crlPaths, extensions: ["crl", "der"], pemLabel: "X509 CRL")
            .flatMap(CertificateRevocationList.crls(fromFile:))
        try self.init(anchors: anchors, intermediates: intermediates, crls: crls)
    }

    /// Whether `certificate` is one of the anchors.
    public func isAnchor(_ certificate: Certificate) -> Bool { anchors.contains(certificate) }

    private static func files(_ paths: [String], extensions: Set<String>, pemLabel: String) throws -> [String] {
        let manager = FileManager.default
        return try paths.flatMap { path -> [String] in
            var isDirectory: ObjCBool = false
            guard manager.fileExists(atPath: path, isDirectory: &isDirectory) else {
                throw CryptoError.invalidArgument("no such file or directory: \(path)")
            }
            guard isDirectory.boolValue else { return [path] }
            return try manager.contentsOfDirectory(atPath: path).sorted().compactMap { name -> String? in
                let full = (path as NSString).appendingPathComponent(name)
                var childIsDirectory: ObjCBool = false
                guard !name.hasPrefix("."), manager.fileExists(atPath: full, isDirectory: &childIsDirectory),
                      !childIsDirectory.boolValue else { return nil }
                let fileExtension = (name as NSString).pathExtension.lowercased()
                if extensions.contains(fileExtension) { return full }
                guard fileExtension == "pem" else { return nil }
                let content = try Data(contentsOf: URL(fileURLWithPath: full))
                return content.range(of: Data("-----BEGIN \(pemLabel)-----".utf8)) != nil ? full : nil
            }
        }
    }
}

import AS4Crypto
import Foundation

/// A certificate a remote access point signs with: the certificate itself (PEM), or only its
/// SHA-256 fingerprint when the certificate travels in the message (a BinarySecurityToken) and
/// only has to be recognised.
public enum CertificatePin: Sendable, Equatable {
    case certificate(Certificate)
    /// 64 lowercase hex digits: SHA-256 of the DER certificate.
    case fingerprint(String)

    /// SHA-256 of the DER certificate, 64 lowercase hex digits, for either case.
    public var sha256Fingerprint: String {
        switch self {
        case .fingerprint(let hex): return hex
        case .certificate(let certificate):
            return ((try? Digest.sha256(certificate.derBytes)) ?? []).map { String($0, radix: 16).leftPadded(2) }.joined()
        }
    }

    /// Whether `certificate` is the pinned one.
    public func matches(_ certificate: Certificate) -> Bool {
        switch self {
        case .certificate(let pinned): return pinned == certificate
        case .fingerprint: return CertificatePin.certificate(certificate).sha256Fingerprint == sha256Fingerprint
        }
    }

    /// The text form used in files: `sha256:<hex>`, or the PEM block.
    public var text: String {
        switch self {
        case .fingerprint(let hex): return "sha256:" + hex
        case .certificate(let certificate):
            return (try? certificate.pemEncoded())?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        }
    }

    static let pemBegin = "-----BEGIN CERTIFICATE-----"
    static let pemEnd = "-----END CERTIFICATE-----"

    /// One pin from its text form: `sha256:` and 64 hex digits (either case, colons between
    /// bytes allowed, as `openssl x509 -fingerprint` prints them), or one PEM certificate.
    public init(text: String) throws(CertificatePinError) {
        if text.hasPrefix(Self.pemBegin) {
            guard text.hasSuffix(Self.pemEnd), text.components(separatedBy: Self.pemBegin).count == 2 else {
                throw CertificatePinError(reason: "a PEM certificate ends with \(Self.pemEnd) and holds one certificate")
            }
            do {
                self = .certificate(try Certificate(pemEncoded: text))
            } catch {
                throw CertificatePinError(reason: "the PEM block is not a certificate (\(error))")
            }
            return
        }
        guard text.lowercased().hasPrefix("sha256:") else {
            throw CertificatePinError(reason: "a certificate is a PEM block (\(Self.pemBegin)…) or sha256:<64 hex digits>, not \"\(text.prefix(40))\"")
        }
        var hex = String(text.dropFirst("sha256:".count)).lowercased()
        if hex.contains(":") {
            let pairs = hex.split(separator: ":", omittingEmptySubsequences: false)
            guard pairs.allSatisfy({ $0.count == 2 }) else {
                throw CertificatePinError(reason: "a colon-separated fingerprint has two hex digits between colons")
            }
            hex = pairs.joined()
        }
        guard hex.count == 64, hex.unicodeScalars.allSatisfy({ ("0"..."9").contains($0) || ("a"..."f").contains($0) }) else {
            throw CertificatePinError(reason: "a SHA-256 fingerprint is 64 hex digits, not \(hex.count) characters \"\(hex.prefix(70))\"")
        }
        self = .fingerprint(hex)
    }

    /// The text forms of several pins in one text (a CSV cell): PEM blocks and fingerprints
    /// separated by whitespace, in any mix. Each is checked by `init(text:)` afterwards.
    public static func items(in text: String) throws(CertificatePinError) -> [String] {
        var pins: [String] = []
        var rest = Substring(text)
        while true {
            rest = rest.drop(while: \.isWhitespace)
            if rest.isEmpty { return pins }
            let item: Substring
            if rest.hasPrefix(pemBegin) {
                guard let end = rest.range(of: pemEnd) else {
                    throw CertificatePinError(reason: "PEM certificate \(pins.count + 1) has no \(pemEnd) line")
                }
                item = rest[..<end.upperBound]
            } else {
                item = rest.prefix(while: { !$0.isWhitespace })
            }
            pins.append(String(item))
            rest = rest[item.endIndex...]
        }
    }
}

public struct CertificatePinError: Error, Sendable, Equatable, CustomStringConvertible {
    public var reason: String
    public var description: String { reason }
}

extension String {
    func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}

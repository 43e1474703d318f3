import COpenSSL
import Foundation

/// Named elliptic curves used by eDelivery AS4 2.0 (ECDSA signatures, ECDH-ES key agreement).
public enum ECCurve: String, Sendable, CaseIterable {
    case p256 = "P-256"
    case p384 = "P-384"
    case p521 = "P-521"
    case brainpoolP256r1

    /// The curve OID in dotted form.
    public var oid: String {
        switch self {
        case .p256: return "1.2.840.10045.3.1.7"
        case .p384: return "1.3.132.0.34"
        case .p521: return "1.3.132.0.35"
        case .brainpoolP256r1: return "1.3.36.3.3.2.8.1.1.7"
        }
    }

    /// The `dsig11:NamedCurve/@URI` form, `urn:oid:<oid>`.
    public var urn: String { "urn:oid:" + oid }

    /// Recognises `urn:oid:1.2.840.10045.3.1.7` (and the bare dotted OID).
    public init?(urn: String) {
        let oid = urn.hasPrefix("urn:oid:") ? String(urn.dropFirst("urn:oid:".count)) : urn
        guard let match = Self.allCases.first(where: { $0.oid == oid }) else { return nil }
        self = match
    }

    /// Length in bytes of one field element / coordinate (and of each half of an XMLDSig ECDSA `r||s`).
    public var coordinateByteCount: Int {
        switch self {
        case .p256, .brainpoolP256r1: return 32
        case .p384: return 48
        case .p521: return 66
        }
    }

    /// The group name OpenSSL 3 understands for key generation and `EVP_PKEY_fromdata`.
    var openSSLGroupName: String {
        switch self {
        case .p256: return "prime256v1"
        case .p384: return "secp384r1"
        case .p521: return "secp521r1"
        case .brainpoolP256r1: return "brainpoolP256r1"
        }
    }

    /// Recognises an OpenSSL group name (OpenSSL reports NIST curves by their SECG/X9.62 names).
    init?(openSSLGroupName name: String) {
        switch name {
        case "prime256v1", "P-256", "secp256r1": self = .p256
        case "secp384r1", "P-384": self = .p384
        case "secp521r1", "P-521": self = .p521
        case "brainpoolP256r1": self = .brainpoolP256r1
        default: return nil
        }
    }
}

/// The kind of an asymmetric key.
public enum KeyType: Hashable, Sendable, CustomStringConvertible {
    case rsa
    case ec(ECCurve)
    case ed25519
    case x25519
    /// Anything else OpenSSL can load (DSA, Ed448, EC on an unlisted curve, ...), with OpenSSL's name for it.
    case other(String)

    public var description: String {
        switch self {
        case .rsa: return "RSA"
        case let .ec(curve): return "EC \(curve.rawValue)"
        case .ed25519: return "Ed25519"
        case .x25519: return "X25519"
        case let .other(name): return name
        }
    }

    /// The OpenSSL NID for the raw-key types (Ed25519/X25519), nil otherwise.
    var rawKeyNID: Int32? {
        switch self {
        case .ed25519: return EVP_PKEY_ED25519
        case .x25519: return EVP_PKEY_X25519
        default: return nil
        }
    }

    /// Determines the type of an `EVP_PKEY`.
    init(of pkey: OpaquePointer) {
        if EVP_PKEY_is_a(pkey, "RSA") == 1 {
            self = .rsa
        } else if EVP_PKEY_is_a(pkey, "ED25519") == 1 {
            self = .ed25519
        } else if EVP_PKEY_is_a(pkey, "X25519") == 1 {
            self = .x25519
        } else if EVP_PKEY_is_a(pkey, "EC") == 1 {
            var buffer = [CChar](repeating: 0, count: 80)
            var length = 0
            let group = EVP_PKEY_get_utf8_string_param(pkey, "group", &buffer, buffer.count, &length) == 1
                ? string(fromNulTerminated: buffer) : "unknown"
            OpenSSLErrorQueue.clear()
            self = ECCurve(openSSLGroupName: group).map(KeyType.ec) ?? .other("EC \(group)")
        } else {
            self = .other(EVP_PKEY_get0_type_name(pkey).map { String(cString: $0) } ?? "unknown")
        }
    }
}

/// The algorithm URIs a P-Mode may name in `security.algorithms` (AS4-WIRE §0): the ones as4gw's
/// WS-Security layer implements, by category. Deliberately weak ones are listed apart so the
/// loader can say why it refuses them instead of calling them unknown.
enum AlgorithmCatalog {
    enum Category: String, CaseIterable {
        case signature, digest, keyEncryption, dataEncryption
    }

    static func supported(_ category: Category) -> [String] {
        switch category {
        case .signature:
            return ["http://www.w3.org/2001/04/xmldsig-more#rsa-sha256", "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384",
                    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512", "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
                    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384", "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512",
                    "http://www.w3.org/2021/04/xmldsig-more#eddsa-ed25519"]
        case .digest:
            return ["http://www.w3.org/2001/04/xmlenc#sha256", "http://www.w3.org/2001/04/xmldsig-more#sha384",
                    "http://www.w3.org/2001/04/xmlenc#sha512"]
        case .keyEncryption:
            return ["http://www.w3.org/2009/xmlenc11#rsa-oaep", "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p",
                    "http://www.w3.org/2021/04/xmldsig-more#x25519", "http://www.w3.org/2009/xmlenc11#ECDH-ES"]
        case .dataEncryption:
            return ["http://www.w3.org/2009/xmlenc11#aes128-gcm", "http://www.w3.org/2009/xmlenc11#aes256-gcm"]
        }
    }

    /// SHA-1 signatures and digests, RSA PKCS#1 v1.5 key transport, CBC modes: never accepted.
    static let weak: Set<String> = [
        "http://www.w3.org/2000/09/xmldsig#rsa-sha1", "http://www.w3.org/2000/09/xmldsig#dsa-sha1",
        "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha1", "http://www.w3.org/2000/09/xmldsig#sha1",
        "http://www.w3.org/2000/09/xmldsig#hmac-sha1", "http://www.w3.org/2001/04/xmlenc#rsa-1_5",
        "http://www.w3.org/2001/04/xmlenc#aes128-cbc", "http://www.w3.org/2001/04/xmlenc#aes192-cbc",
        "http://www.w3.org/2001/04/xmlenc#aes256-cbc", "http://www.w3.org/2001/04/xmlenc#tripledes-cbc",
    ]
}

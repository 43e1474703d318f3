import COpenSSL
import Foundation

/// HMAC (RFC 2104) through OpenSSL 3's one-shot `EVP_Q_mac`: webhook signatures.
public enum HMAC {
    public static func sha256(key: some ContiguousBytes, data: some ContiguousBytes) throws -> [UInt8] {
        let keyBytes = key.byteArray
        let dataBytes = data.byteArray
        guard !keyBytes.isEmpty else { throw CryptoError.invalidArgument("HMAC key is empty") }
        var output = [UInt8](repeating: 0, count: 32)
        var length = 0
        let result = keyBytes.withUnsafeBytes { k in
            dataBytes.withUnsafeBufferPointer { d in
                EVP_Q_mac(nil, "HMAC", nil, "SHA256", nil, k.baseAddress, k.count, d.baseAddress, d.count, &output, output.count, &length)
            }
        }
        guard result != nil, length == 32 else { throw CryptoError.openSSL("EVP_Q_mac(HMAC-SHA256)") }
        return output
    }
}

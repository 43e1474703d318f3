import AS4Crypto
import Foundation

/// Loading keys and certificates named on the command line, with errors that say which file.
enum KeyMaterial {
    struct LoadError: Error, CustomStringConvertible {
        var description: String
    }

    static func certificates(_ path: String) throws -> [Certificate] {
        do {
            let certs = try Certificate.certificates(fromFile: path)
            guard !certs.isEmpty else { throw LoadError(description: "\(path) holds no certificate") }
            return certs
        } catch let e as LoadError {
            throw e
        } catch {
            throw LoadError(description: "cannot read certificate \(path): \(error)")
        }
    }

    static func certificate(_ path: String) throws -> Certificate { try certificates(path)[0] }

    /// Every certificate file (`.pem`, `.crt`, `.cer`, `.der`) in a directory.
    static func certificateDirectory(_ path: String) throws -> [Certificate] {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { throw LoadError(description: "\(path) does not exist") }
        guard isDir.boolValue else { return try certificates(path) }
        let names = try FileManager.default.contentsOfDirectory(atPath: path).sorted()
        return names.filter { [".pem", ".crt", ".cer", ".der"].contains(where: $0.hasSuffix) }
            .flatMap { (try? Certificate.certificates(fromFile: path + "/" + $0)) ?? [] }
    }

    static func privateKey(_ path: String) throws -> PrivateKey {
        do {
            return try PrivateKey(pemEncoded: try String(contentsOfFile: path, encoding: .utf8))
        } catch {
            throw LoadError(description: "cannot read private key \(path): \(error)")
        }
    }

    static func crls(_ paths: [String]) throws -> [CertificateRevocationList] {
        try paths.flatMap { path in
            do { return try CertificateRevocationList.crls(fromFile: path) } catch {
                throw LoadError(description: "cannot read CRL \(path): \(error)")
            }
        }
    }
}

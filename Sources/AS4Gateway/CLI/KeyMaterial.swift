import AS4Crypto
import Foundation

/// Loading keys and certificates named on the command line, with errors that say which file.
enum KeyMaterial {
    struct LoadError: Error, CustomStringConvertible {
        var description: String
    }

    /// Why a file cannot be read, in words (Foundation's own error is an NSCocoaErrorDomain dump);
    /// nil when it is a readable file.
    static func fileProblem(_ path: String) -> String? {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { return "\(path) does not exist" }
        if isDir.boolValue { return "\(path) is a folder, not a file" }
        return FileManager.default.isReadableFile(atPath: path) ? nil : "\(path) is not readable by this user"
    }

    static func certificates(_ path: String) throws -> [Certificate] {
        if let problem = fileProblem(path) { throw LoadError(description: "cannot read certificate: \(problem)") }
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
        if let problem = fileProblem(path) { throw LoadError(description: "cannot read private key: \(problem)") }
        do {
            return try PrivateKey(pemEncoded: try String(contentsOfFile: path, encoding: .utf8))
        } catch {
            throw LoadError(description: "cannot read private key \(path): \(error)")
        }
    }

    static func crls(_ paths: [String]) throws -> [CertificateRevocationList] {
        try paths.flatMap { path in
            if let problem = fileProblem(path) { throw LoadError(description: "cannot read CRL: \(problem)") }
            do { return try CertificateRevocationList.crls(fromFile: path) } catch {
                throw LoadError(description: "cannot read CRL \(path): \(error)")
            }
        }
    }
}

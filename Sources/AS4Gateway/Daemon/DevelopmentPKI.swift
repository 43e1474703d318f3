import AS4Crypto
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A development PKI: a CA and, for every party of the P-Mode set, signing, encryption and TLS
/// certificates with their keys, written where parties.json expects them. Created on first
/// start when the certificate files are missing, so a newcomer's two local gateways trust each
/// other out of the box. Never for production: the keys of all parties sit side by side.
enum DevelopmentPKI {
    struct Generated {
        var caCertificate: String
        var files: [String]
    }

    /// Creates whatever is missing under `pmodeDirectory` for the given parties; returns the
    /// CA path and the files written (empty when everything existed).
    static func ensure(pmodeDirectory: String, parties: [String: [String: String]]) throws -> Generated {
        let fm = FileManager.default
        let certs = pmodeDirectory + "/certs"
        try fm.createDirectory(atPath: certs, withIntermediateDirectories: true)
        let caCertPath = certs + "/dev-ca.pem"
        let caKeyPath = certs + "/dev-ca.key"
        let complete = fm.fileExists(atPath: caCertPath) && fm.fileExists(atPath: caKeyPath) && parties.values.allSatisfy { roles in
            roles.values.allSatisfy { fm.fileExists(atPath: $0) && fm.fileExists(atPath: keyPathFor(certificate: $0)) }
        }
        if complete { return Generated(caCertificate: caCertPath, files: []) }
        // Two gateways started at once on one P-Mode directory (the demo, a compose file) would
        // each find a file missing and write their own: one of them would then pin a TLS key
        // the other no longer serves. One at a time, the second finds everything written.
        let lock = open(certs + "/.dev-pki.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard lock >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        defer { close(lock) }
        guard flock(lock, LOCK_EX) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        var written: [String] = []
        let now = Date()
        let ca: CertificateAuthority
        if fm.fileExists(atPath: caCertPath), fm.fileExists(atPath: caKeyPath) {
            ca = try CertificateAuthority(key: try PrivateKey(pemEncoded: try String(contentsOfFile: caKeyPath, encoding: .utf8)),
                                          certificate: try Certificate(pemEncoded: try String(contentsOfFile: caCertPath, encoding: .utf8)))
        } else {
            ca = try .createSelfSigned(subject: .init(commonName: "as4gw development CA", organization: "as4gw (development only)"),
                                       key: try .generateRSA(bits: 2048), validFrom: now - 3600, validUntil: now + 5 * 365 * 86400)
            try write(try ca.key.pemEncoded(), to: caKeyPath, mode: 0o600)
            try write(try ca.certificate.pemEncoded(), to: caCertPath, mode: 0o644)
            written += [caCertPath, caKeyPath]
        }
        for (party, roles) in parties.sorted(by: { $0.key < $1.key }) {
            for (role, certPath) in roles.sorted(by: { $0.key < $1.key }) {
                let keyPath = keyPathFor(certificate: certPath)
                guard !fm.fileExists(atPath: certPath) || !fm.fileExists(atPath: keyPath) else { continue }
                let key = try PrivateKey.generateRSA(bits: 2048)
                let usage: KeyUsage = role == "encryption" ? [.keyEncipherment] : (role == "tls" ? [.digitalSignature, .keyEncipherment] : [.digitalSignature, .nonRepudiation])
                let cert = try ca.issueCertificate(for: key.publicKey, subject: .init(commonName: "\(party) \(role)", organization: "as4gw (development only)"),
                                                   validFrom: now - 3600, validUntil: now + 2 * 365 * 86400, keyUsage: usage,
                                                   subjectAlternativeNames: role == "tls" ? tlsNames(party: party) : [])
                try fm.createDirectory(atPath: (certPath as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                try write(try key.pemEncoded(), to: keyPath, mode: 0o600)
                try write(try cert.pemEncoded(), to: certPath, mode: 0o644)
                written += [certPath, keyPath]
            }
        }
        return Generated(caCertificate: caCertPath, files: written)
    }

    /// Loopback, plus the party's name when it is a DNS label: containers reach each other by
    /// service name, so a compose file naming its services after the parties gets working TLS.
    static func tlsNames(party: String) -> [String] {
        let label = party.lowercased()
        let isLabel = (1...63).contains(label.count) && !label.hasPrefix("-") && !label.hasSuffix("-")
            && label.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }
        return ["IP:127.0.0.1", "DNS:localhost"] + (isLabel && label != "localhost" ? ["DNS:\(label)"] : [])
    }

    /// `certs/gw-a.signing.pem` → `certs/gw-a.signing.key`
    static func keyPathFor(certificate path: String) -> String {
        (path.hasSuffix(".pem") ? String(path.dropLast(4)) : path) + ".key"
    }

    /// Created with its final permissions (keys 0600 from the first byte), then renamed in place.
    private static func write(_ text: String, to path: String, mode: Int) throws {
        let temporary = path + ".partial"
        unlink(temporary)
        guard FileManager.default.createFile(atPath: temporary, contents: Data(text.utf8), attributes: [.posixPermissions: mode]) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path])
        }
        guard rename(temporary, path) == 0 else { throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path]) }
    }
}

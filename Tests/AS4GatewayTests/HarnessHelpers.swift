import AS4Crypto
import Foundation
import XCTest

extension GatewayHarness {
    /// A configuration file that starts `node` with another signing key and certificate (its
    /// development-PKI encryption and TLS files otherwise); returns its path.
    func configWithSigningKey(_ node: String, key: String, certificate: String, file: String) throws -> String {
        let certs = pmodeDirectory + "/certs"
        let path = root.appendingPathComponent(file).path
        try """
        {"developmentPKI": true,
         "keys": {"signingKey": "\(key)", "signingCertificate": "\(certificate)",
                  "encryptionKey": "\(certs)/\(node).encryption.key", "encryptionCertificate": "\(certs)/\(node).encryption.pem",
                  "tlsClientCertificate": "\(certs)/\(node).tls.pem", "tlsClientKey": "\(certs)/\(node).tls.key"},
         "as4Listener": {"address": "127.0.0.1", "port": 0, "path": "/as4",
                         "tls": {"certificate": "\(certs)/\(node).tls.pem", "key": "\(certs)/\(node).tls.key"}}}
        """.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Starts a helper server (a Python peer or proxy) with its output in `log`, and returns once
    /// it prints "listening on" (failing if it exits first).
    func startHelper(_ executable: String, _ arguments: [String], log: String, what: String) throws -> Process {
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        p.standardOutput = handle
        p.standardError = handle
        try p.run()
        func text() -> String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }
        try waitUntil(timeout: 20, "\(what) to listen (log: \(log))") {
            guard p.isRunning else { throw HarnessTimeout(description: "\(what) exited: \(text())") }
            return text().contains("listening on")
        }
        return p
    }

    /// Tests/interop/answer_proxy.py in `mode` in front of `node`'s AS4 endpoint, serving `node`'s
    /// TLS certificate; parties.json then names the proxy as `node`'s endpoint, for every node
    /// started after this (those started before keep the direct one).
    func startAnswerProxy(inFrontOf node: String, mode: String, extra: [String], log: String) throws -> Process {
        let port = GatewayHarness.freePort()
        let certs = pmodeDirectory + "/certs"
        let proxy = try startHelper("/usr/bin/env", ["python3", GatewayProcess.projectRoot.appendingPathComponent("Tests/interop/answer_proxy.py").path,
                                                     "--port", String(port), "--cert", certs + "/\(node).tls.pem", "--key", certs + "/\(node).tls.key",
                                                     "--target", nodes[node]!.as4URL, "--cacert", certs + "/dev-ca.pem", "--mode", mode] + extra,
                                    log: log, what: "the proxy")
        let parties = pmodeDirectory + "/parties.json"
        let text = try String(contentsOfFile: parties, encoding: .utf8)
        let direct = "\"endpoint\": \"https://127.0.0.1:\(nodes[node]!.as4Port)/as4\""
        XCTAssertTrue(text.contains(direct))
        try text.replacingOccurrences(of: direct, with: "\"endpoint\": \"https://127.0.0.1:\(port)/as4\"")
            .write(toFile: parties, atomically: true, encoding: .utf8)
        return proxy
    }

    /// The development CA, made by the test before the first start (which then adds the
    /// certificates it finds missing), so that the test can issue certificates of its own.
    func makeDevelopmentCA(validFrom: Date = Date() - 60, validUntil: Date = Date() + 86400) throws -> CertificateAuthority {
        let certs = pmodeDirectory + "/certs"
        try FileManager.default.createDirectory(atPath: certs, withIntermediateDirectories: true)
        let key = try PrivateKey.generateRSA(bits: 2048)
        let ca = try CertificateAuthority.createSelfSigned(subject: .init(commonName: "test CA"), key: key, validFrom: validFrom, validUntil: validUntil)
        try Data(try ca.certificate.pemEncoded().utf8).write(to: URL(fileURLWithPath: certs + "/dev-ca.pem"))
        try Data(try key.pemEncoded().utf8).write(to: URL(fileURLWithPath: certs + "/dev-ca.key"))
        return ca
    }

    /// `key` and a certificate `ca` issues for it, written as certs/NAME.pem and certs/NAME.key.
    func issue(_ key: PrivateKey, by ca: CertificateAuthority, as name: String, commonName: String, keyUsage: KeyUsage,
               validFrom: Date = Date() - 60, validUntil: Date = Date() + 86400) throws {
        let cert = try ca.issueCertificate(for: key.publicKey, subject: .init(commonName: commonName), validFrom: validFrom,
                                           validUntil: validUntil, keyUsage: keyUsage)
        try Data(try cert.pemEncoded().utf8).write(to: URL(fileURLWithPath: pmodeDirectory + "/certs/\(name).pem"))
        try Data(try key.pemEncoded().utf8).write(to: URL(fileURLWithPath: pmodeDirectory + "/certs/\(name).key"))
    }

    /// An Ed25519 signing and an X25519 encryption certificate from `ca` for each of `parties`
    /// (certs/NAME.signing20 and NAME.encryption20), listed in parties.json after the RSA ones:
    /// with the development PKI each party then also signs and decrypts under profile 2.0
    /// (`keys.additional`). `configure` first; the first start adds the certificates still missing.
    /// `signingKey`: the 2.0 signing key (the alternative EC option signs with an EC key).
    func addProfile20Identities(_ parties: [String], by ca: CertificateAuthority,
                                signingKey: () throws -> PrivateKey = { try PrivateKey.generateEd25519() }) throws {
        let file = pmodeDirectory + "/parties.json"
        var text = try String(contentsOfFile: file, encoding: .utf8)
        for party in parties {
            for (role, key) in [("signing", try signingKey()), ("encryption", try PrivateKey.generateX25519())] {
                try issue(key, by: ca, as: "\(party).\(role)20", commonName: "\(party) \(role) 2.0",
                          keyUsage: role == "signing" ? [.digitalSignature] : [.keyAgreement])
                text = text.replacingOccurrences(of: "\"\(role)\": [\"certs/\(party).\(role).pem\"]",
                                                 with: "\"\(role)\": [\"certs/\(party).\(role).pem\", \"certs/\(party).\(role)20.pem\"]")
            }
        }
        try text.write(toFile: file, atomically: true, encoding: .utf8)
    }

    /// `node` starts with `listener` (as4Listener or apiListener) over TLS with its development
    /// TLS certificate and `clientAuthentication`; the PKI must exist (a first start made it).
    func useTLSListener(_ node: String, _ listener: String, clientAuthentication: String) throws {
        let certs = pmodeDirectory + "/certs"
        let path = listener == "as4Listener" ? "/as4" : "/submit"
        let config = root.appendingPathComponent("\(node)-\(listener)-tls.json").path
        try """
        {"\(listener)": {"address": "127.0.0.1", "port": 0, "path": "\(path)",
          "tls": {"certificate": "\(certs)/\(node).tls.pem", "key": "\(certs)/\(node).tls.key", "clientAuthentication": "\(clientAuthentication)"}}}
        """.write(toFile: config, atomically: true, encoding: .utf8)
        nodes[node]!.extraArguments = ["--config", config]
    }
}

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
}

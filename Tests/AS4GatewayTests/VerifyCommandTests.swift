import XCTest

/// `as4gw verify` gives every signed or encrypted vector the verdict EXPECTED.tsv states:
/// signature, attachments after decryption, certificate validity at message time and now.
final class VerifyCommandTests: XCTestCase {
    func rows() throws -> [[String: String]] {
        let table = try String(contentsOfFile: GatewayProcess.vector("EXPECTED.tsv"), encoding: .utf8)
        var lines = table.split(separator: "\n").map { $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init) }
        let header = lines.removeFirst()
        return lines.map { Dictionary(uniqueKeysWithValues: zip(header, $0)) }
    }

    func testEverySignedVectorThroughTheCLI() throws {
        var checked = 0
        for row in try rows() where row["signed"] == "yes" && row["parse"] != "fail" {
            let path = row["path"]!
            let source = String(path.prefix { $0 != "/" })
            let trust = row["trust"].flatMap { $0.hasSuffix(".pem") ? GatewayProcess.vector($0) : nil }
            var args = ["verify", GatewayProcess.vector(path), "--compact", "--at", "message",
                        "--trust", trust ?? GatewayProcess.vector("\(source)/keys"), "--certs", GatewayProcess.vector("\(source)/keys")]
            if let key = row["decrypt_key"], key != "-" { args += ["--decrypt-key", GatewayProcess.vector(key)] }
            let r = try GatewayProcess.run(args)
            let json = try XCTUnwrap(r.json, "\(path): \(r.stdout) \(r.stderr)")
            let refs = json["references"] as? [[String: Any]] ?? []
            if row["signature"] == "valid" {
                XCTAssertEqual(json["cryptographicallyValid"] as? Bool, true, "\(path): \(json["reason"] ?? "")")
                XCTAssertEqual(json["signatureValue"] as? Bool, true, path)
                if row["attachments_verifiable"] == "yes" {
                    XCTAssertTrue(refs.allSatisfy { $0["ok"] as? Bool == true }, "\(path): \(refs)")
                }
            } else {
                XCTAssertEqual(r.status, 1, path)
                XCTAssertEqual(json["valid"] as? Bool, false, path)
                XCTAssertEqual(json["cryptographicallyValid"] as? Bool, false, path)
                // Envelope-only captures with a decryption key fail at decryption first (the part is absent).
                let allowed = row["decrypt_key"].map { $0 != "-" } == true ? ["EBMS:0101", "EBMS:0102", "EBMS:0103"] : ["EBMS:0101", "EBMS:0103"]
                XCTAssertTrue(allowed.contains(json["error"] as? String ?? ""), "\(path): \(json)")
            }
            if let signer = json["signer"] as? [String: Any], let expected = row["cert_valid_at_message_time"], expected != "-" {
                XCTAssertEqual(signer["validAt"] as? Bool, expected == "yes", "validity at message time: \(path)")
            }
            // A fully valid, trusted vector passes outright at message time and names expiry today.
            if row["signature"] == "valid", trust != nil, row["attachments_verifiable"] != "no", row["parse"] == "ok" {
                XCTAssertEqual(r.status, 0, "\(path): \(json["reason"] ?? "")")
                if row["cert_valid_now_2026_11_27"] == "no" {
                    let now = try GatewayProcess.run(args.filter { $0 != "message" && $0 != "--at" } + ["--at", "2026-11-27T12:00:00Z"])
                    XCTAssertEqual(now.status, 1, path)
                    XCTAssertTrue((now.json?["reason"] as? String ?? "").contains("expired"), "\(path): \(now.stdout)")
                }
            }
            checked += 1
        }
        XCTAssertGreaterThanOrEqual(checked, 20)
    }

    func testDecryptionVectors() throws {
        // Signed and encrypted by AS4.NET for AccessPointB: decrypts, verifies, decompresses.
        let v = GatewayProcess.vector
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("as4gw-verify-out-\(getpid())")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: out) }
        let ok = try GatewayProcess.run(["verify", v("as4net/signed-encrypted-mime/as4-encrypted-signed-issuerserial.as4"),
                                         "--trust", v("as4net/keys/AccessPointA.cert.pem"), "--decrypt-key", v("as4net/keys/AccessPointB.key.pem"),
                                         "--expect-signer", v("as4net/keys/AccessPointA.cert.pem"), "--out", out.path])
        XCTAssertEqual(ok.status, 0, ok.stdout + ok.stderr)
        let parts = ok.json?["parts"] as? [[String: Any]] ?? []
        XCTAssertEqual(parts.count, 2)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: out.path).count, 2)
        // Without the key: encrypted parts cannot be checked, so the message is not valid.
        let noKey = try GatewayProcess.run(["verify", v("as4net/signed-encrypted-mime/as4-encrypted-signed-issuerserial.as4"),
                                            "--trust", v("as4net/keys/AccessPointA.cert.pem")])
        XCTAssertEqual(noKey.status, 1)
        XCTAssertEqual(noKey.json?["error"] as? String, "EBMS:0102")
        // Ciphertext altered: GCM refuses, one generic EBMS:0102.
        let tampered = try GatewayProcess.run(["verify", v("as4net/tampered/as4-soap-wrong-encrypted-message"),
                                               "--trust", v("as4net/keys/holodeck-partya.cert.pem"),
                                               "--decrypt-key", v("as4net/keys/holodeck-partya.key.pem")])
        XCTAssertEqual(tampered.status, 1)
        XCTAssertEqual(tampered.json?["error"] as? String, "EBMS:0102")
        // A narrowed policy refuses the legacy key transport AS4.NET used.
        let strict = try GatewayProcess.run(["verify", v("as4net/signed-encrypted-mime/as4-encrypted-signed-issuerserial.as4"),
                                             "--trust", v("as4net/keys/AccessPointA.cert.pem"),
                                             "--decrypt-key", v("as4net/keys/AccessPointB.key.pem"), "--profile", "1.15"])
        XCTAssertEqual(strict.json?["error"] as? String, "EBMS:0103")
    }

    func testSealThenVerifyAndUsageErrors() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("as4gw-sv-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let v = GatewayProcess.vector
        let payload = dir.appendingPathComponent("invoice.xml")
        let invoice = Data("<Invoice xmlns=\"urn:oasis:names:specification:ubl:schema:xsd:Invoice-2\"/>".utf8)
        try invoice.write(to: payload)
        let msg = dir.appendingPathComponent("m.mime").path
        let sealArgs = ["seal", "--from", "urn:a", "--to", "urn:b", "--service", "urn:s", "--action", "A",
                        "--sign-key", v("as4net/keys/AccessPointA.key.pem"), "--sign-cert", v("as4net/keys/AccessPointA.cert.pem"),
                        "--encrypt-cert", v("as4net/keys/AccessPointB.cert.pem"), "--compress", "--out", msg, payload.path]
        XCTAssertEqual(try GatewayProcess.run(sealArgs).status, 0)
        let verified = try GatewayProcess.run(["verify", msg, "--trust", v("as4net/keys/AccessPointA.cert.pem"),
                                               "--decrypt-key", v("as4net/keys/AccessPointB.key.pem"),
                                               "--decrypt-cert", v("as4net/keys/AccessPointB.cert.pem"), "--profile", "1.15"])
        XCTAssertEqual(verified.status, 0, verified.stdout)
        XCTAssertEqual((verified.json?["parts"] as? [[String: Any]])?.first?["size"] as? Int, invoice.count)
        // Wrong decryption key.
        let wrong = try GatewayProcess.run(["verify", msg, "--trust", v("as4net/keys/AccessPointA.cert.pem"),
                                            "--decrypt-key", v("as4net/keys/AccessPointA.key.pem"),
                                            "--decrypt-cert", v("as4net/keys/AccessPointA.cert.pem")])
        XCTAssertEqual(wrong.status, 1)
        XCTAssertEqual(wrong.json?["error"] as? String, "EBMS:0102")
        // Usage errors: missing options, a 2.0 profile with an RSA key, unreadable files.
        XCTAssertEqual(try GatewayProcess.run(["seal", "--from", "a"]).status, 2)
        XCTAssertEqual(try GatewayProcess.run(sealArgs + ["--profile", "2.0"]).status, 2)
        XCTAssertEqual(try GatewayProcess.run(["verify", msg]).status, 2)
        XCTAssertEqual(try GatewayProcess.run(["verify", msg, "--trust", "/nonexistent.pem"]).status, 2)
        XCTAssertEqual(try GatewayProcess.run(["seal", "--help"]).status, 0)
        XCTAssertEqual(try GatewayProcess.run(["verify", "--help"]).status, 0)
    }
}

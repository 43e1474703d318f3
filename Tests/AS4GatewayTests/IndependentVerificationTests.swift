import XCTest
import AS4Crypto
import Foundation

/// Messages sealed by `as4gw seal` are verified, decrypted and decompressed by an independent
/// implementation (Tests/interop/as4verify.py: lxml, xmlsec and pyca/cryptography), for each
/// algorithm suite, with and without encryption and compression, with 0 to 5 attachments.
final class IndependentVerificationTests: XCTestCase {
    struct Suite {
        var name: String
        var profile: String
        var signer: (key: PrivateKey, cert: Certificate)
        var recipient: (key: PrivateKey, cert: Certificate)
        var keyReference: String
    }

    var dir: URL!
    var caPath = ""

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("as4gw-xcheck-\(getpid())-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: dir)
    }

    func write(_ text: String, _ name: String) throws -> String {
        let path = dir.appendingPathComponent(name).path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func makeSuites() throws -> [Suite] {
        let now = Date()
        let ca = try CertificateAuthority.createSelfSigned(subject: .init(commonName: "xcheck CA"), key: try .generateEC(curve: .p256),
                                                           validFrom: now - 3600, validUntil: now + 86400)
        caPath = try write(try ca.certificate.pemEncoded(), "ca.pem")
        func issue(_ key: PrivateKey, _ cn: String, usage: KeyUsage = [.digitalSignature, .nonRepudiation, .keyEncipherment]) throws -> (PrivateKey, Certificate) {
            (key, try ca.issueCertificate(for: key.publicKey, subject: .init(commonName: cn), validFrom: now - 3600,
                                          validUntil: now + 86400, keyUsage: usage))
        }
        return [
            Suite(name: "1.15-rsa", profile: "1.15", signer: try issue(try .generateRSA(bits: 2048), "sender-rsa"),
                  recipient: try issue(try .generateRSA(bits: 2048), "receiver-rsa"), keyReference: "bst"),
            Suite(name: "2.0-ed25519-x25519", profile: "2.0", signer: try issue(try .generateEd25519(), "sender-ed25519"),
                  recipient: try issue(try .generateX25519(), "receiver-x25519", usage: [.keyAgreement]), keyReference: "ski"),
            Suite(name: "2.0-ecdsa-ecdh", profile: "2.0", signer: try issue(try .generateEC(curve: .p256), "sender-p256"),
                  recipient: try issue(try .generateEC(curve: .p256), "receiver-p256", usage: [.keyAgreement]), keyReference: "issuer-serial"),
        ]
    }

    func payloads(_ n: Int) throws -> [(path: String, bytes: [UInt8])] {
        try (0..<n).map { i in
            let bytes: [UInt8]
            let name: String
            switch i % 3 {
            case 0: name = "doc\(i).xml"; bytes = Array("<?xml version=\"1.0\"?>\n<doc xmlns=\"urn:x\" n=\"\(i)\">\r\n  <a b='1'/>\n</doc>\n".utf8)
            case 1: name = "note\(i).txt"; bytes = Array("line one\nline two\r\nlast".utf8)
            default: name = "scan\(i).pdf"; bytes = (0..<20_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ i) }
            }
            let path = dir.appendingPathComponent(name).path
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            return (path, bytes)
        }
    }

    func sha256Hex(_ bytes: [UInt8]) throws -> String {
        try Digest.sha256(bytes).map { String(format: "%02x", $0) }.joined()
    }

    func runPython(_ args: [String]) throws -> (Int32, [String: Any]) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        let script = GatewayProcess.projectRoot.appendingPathComponent("Tests/interop/as4verify.py").path
        p.arguments = ["python3", script] + args
        let out = Pipe()
        p.standardOutput = out
        p.standardError = Pipe()
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:])
    }

    func testIndependentImplementationAcceptsWhatWeSeal() throws {
        var runs = 0
        for suite in try makeSuites() {
            let signKey = try write(try suite.signer.key.pemEncoded(), "\(suite.name)-sign.key")
            let signCert = try write(try suite.signer.cert.pemEncoded(), "\(suite.name)-sign.pem")
            let encKey = try write(try suite.recipient.key.pemEncoded(), "\(suite.name)-enc.key")
            let encCert = try write(try suite.recipient.cert.pemEncoded(), "\(suite.name)-enc.pem")
            var cases: [(Int, Bool, Bool)] = [(0, false, false)]
            for n in [1, 5] { for enc in [false, true] { for comp in [false, true] { cases.append((n, enc, comp)) } } }
            for (n, encrypt, compress) in cases {
                let docs = try payloads(n)
                let out = dir.appendingPathComponent("\(suite.name)-\(n)-\(encrypt)-\(compress).mime").path
                var args = ["seal", "--from", "party-a", "--from-type", "urn:oasis:names:tc:ebcore:partyid-type:unregistered",
                            "--to", "party-b", "--to-type", "urn:oasis:names:tc:ebcore:partyid-type:unregistered",
                            "--service", "urn:as4gw:xcheck", "--action", "Deliver", "--profile", suite.profile,
                            "--sign-key", signKey, "--sign-cert", signCert, "--key-reference", suite.keyReference,
                            "--property", "originalSender=_DEFAULT@40003000001", "--out", out]
                if encrypt { args += ["--encrypt-cert", encCert] }
                if compress { args.append("--compress") }
                let sealed = try GatewayProcess.run(args + docs.map(\.path))
                XCTAssertEqual(sealed.status, 0, "\(suite.name) \(n) \(encrypt) \(compress): \(sealed.stderr)")
                var verifyArgs = [out, "--trust", caPath, "--cert", signCert]
                if encrypt { verifyArgs += ["--decrypt-key", encKey] }
                let (status, json) = try runPython(verifyArgs)
                let label = "\(suite.name) attachments=\(n) encrypt=\(encrypt) compress=\(compress)"
                XCTAssertEqual(status, 0, "\(label): \(json)")
                XCTAssertEqual(json["valid"] as? Bool, true, "\(label): \(json["reason"] ?? "")")
                let refs = json["references"] as? [[String: Any]] ?? []
                XCTAssertEqual(refs.count, n + 2, label)
                XCTAssertTrue(refs.allSatisfy { $0["ok"] as? Bool == true }, "\(label): \(refs)")
                let parts = json["parts"] as? [[String: Any]] ?? []
                XCTAssertEqual(parts.count, n, label)
                let expected = Set(try docs.map { try sha256Hex($0.bytes) })
                XCTAssertEqual(Set(parts.compactMap { $0["sha256"] as? String }), expected, "\(label): payloads differ after decrypt/decompress")
                XCTAssertTrue(parts.allSatisfy { ($0["decrypted"] as? Bool) == encrypt && ($0["compressed"] as? Bool) == compress }, label)
                runs += 1
            }
        }
        XCTAssertEqual(runs, 27)
    }

    /// An XML document whose namespace URI holds `&` is signed over the canonical form both
    /// implementations compute (`xmlns="…&amp;…"`, as Canonical XML writes a namespace node),
    /// and our own verifier accepts it as well.
    func testANamespaceURIWithAmpersandsVerifiesInBoth() throws {
        let suite = try makeSuites()[0]
        let signKey = try write(try suite.signer.key.pemEncoded(), "s.key")
        let signCert = try write(try suite.signer.cert.pemEncoded(), "s.pem")
        let invoice = try write("<?xml version=\"1.0\"?>\n<Invoice xmlns=\"urn:x?a=1&amp;b=2&amp;c=3\"><ID>7</ID></Invoice>\n", "invoice.xml")
        let out = dir.appendingPathComponent("ns.mime").path
        let sealed = try GatewayProcess.run(["seal", "--from", "urn:a", "--to", "urn:b", "--service", "urn:s", "--action", "A",
                                             "--sign-key", signKey, "--sign-cert", signCert, "--out", out, invoice])
        XCTAssertEqual(sealed.status, 0, sealed.stderr)
        let (status, json) = try runPython([out, "--trust", caPath, "--cert", signCert])
        XCTAssertEqual(status, 0, "\(json)")
        XCTAssertEqual(json["valid"] as? Bool, true, "\(json["reason"] ?? "")")
        XCTAssertEqual((json["references"] as? [[String: Any]])?.count, 3)
        let ours = try GatewayProcess.run(["verify", out, "--trust", caPath, "--compact"])
        XCTAssertEqual(ours.status, 0, ours.stdout + ours.stderr)
    }

    /// The other way round: what the independent checker refuses, our verifier refuses too.
    func testATamperedSealedMessageIsRefusedByBoth() throws {
        let suite = try makeSuites()[0]
        let signKey = try write(try suite.signer.key.pemEncoded(), "s.key")
        let signCert = try write(try suite.signer.cert.pemEncoded(), "s.pem")
        let docs = try payloads(3)
        let out = dir.appendingPathComponent("t.mime").path
        XCTAssertEqual(try GatewayProcess.run(["seal", "--from", "urn:a", "--to", "urn:b", "--service", "urn:s", "--action", "A",
                                               "--sign-key", signKey, "--sign-cert", signCert, "--out", out] + docs.map(\.path)).status, 0)
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: out)))
        // Flip one byte near the end of the last (binary) attachment.
        let index = bytes.count - 200
        bytes[index] ^= 0x01
        try Data(bytes).write(to: URL(fileURLWithPath: out))
        let (status, json) = try runPython([out, "--trust", caPath])
        XCTAssertEqual(status, 1)
        XCTAssertEqual(json["valid"] as? Bool, false)
        let ours = try GatewayProcess.run(["verify", out, "--trust", caPath, "--compact"])
        XCTAssertEqual(ours.status, 1)
        XCTAssertEqual(ours.json?["error"] as? String, "EBMS:0101")
    }
}

import XCTest
@testable import Routing

/// Every kind of problem the loader reports, each with its exact `file:line:col`.
final class ValidationErrorTests: XCTestCase {
    let insecure = PModeLoader.Options(requireCertificates: false, allowInsecureEndpoints: true)

    func testReportsAllProblemsOfAllFilesWithPositions() throws {
        let dir = try ScratchDirectory()
        try dir.write("parties.json", """
        {
          "parties": [
            { "name": "a", "partyIds": [{ "value": "id-a", "type": "t" }], "endpoint": "http://a.example/as4" },
            { "name": "b", "partyIds": [{ "value": "id-b", "type": "t" }], "endpoint": "https://b.example/as4" }
          ]
        }
        """)
        try dir.write("acme.pmode.json", """
        {
          "id": "acme",
          "initiator": { "party": "a", "role": "urn:r:i" },
          "responder": { "party": "b", "role": "urn:r:r" },
          "legs": [
            {
              "service": { "value": "urn:svc:acme" },
              "action": "Order",
              "payload": {
                "compress": "yes"
              },
              "security": {
                "sign": true,
                "profile": "2.1",
                "sgin": false
              }
            }
          ]
        }
        """)
        try dir.write("broken.pmode.json", "{\n  \"id\": \"x\",\n  \"legs\": [}\n")
        XCTAssertEqual(diagnostics(dir.path), [
            "acme.pmode.json:10:9: legs[0].payload.compress must be true or false, not a string",
            "acme.pmode.json:14:9: legs[0].security.profile must be \"1.15\" or \"2.0\"",
            "acme.pmode.json:15:9: legs[0].security.sgin is not a known key (did you mean \"sign\"?)",
            "broken.pmode.json:3:12: JSON: unexpected '}', expected a value",
            "parties.json:3:68: parties[0].endpoint must be an https URL (http only when the loader allows insecure endpoints, for tests)",
        ])
    }

    func testRequiredMembersAreReportedAtTheirObject() throws {
        let dir = try ScratchDirectory()
        try dir.write("parties.json", twoParties)
        try dir.write("p.pmode.json", """
        {
          "initiator": { "party": "a" },
          "responder": { "party": "b", "role": "urn:r" },
          "legs": [ { "service": { "type": "t" } } ]
        }
        """)
        XCTAssertEqual(diagnostics(dir.path), [
            "p.pmode.json:1:1: id is required",
            "p.pmode.json:2:16: initiator.role is required",
            "p.pmode.json:4:13: legs[0].action is required",
            "p.pmode.json:4:26: legs[0].service.value is required",
        ])
    }

    func testTypesAndRanges() throws {
        let dir = try ScratchDirectory()
        try dir.write("parties.json", twoParties)
        try dir.write("p.pmode.json", """
        {
          "id": 7,
          "mep": "oneway",
          "initiator": { "party": "a", "role": "urn:r:i" },
          "responder": { "party": "b", "role": " urn:r:r" },
          "legs": [ {
            "service": { "value": "svc" },
            "action": "",
            "mpc": "not a uri",
            "payload": { "maxMessageBytes": 0 },
            "receptionAwareness": { "retries": 2.5, "backoffFactor": 0.5, "jitterFraction": 1, "initialIntervalSeconds": "60" },
            "errorHandling": { "reportAsResponse": false },
            "security": { "keyReference": "thumbprint", "algorithms": { "digest": ["http://www.w3.org/2000/09/xmldsig#sha1"],
                          "signature": ["urn:made-up"] }, "encryptionKeyReference": "x509" }
          } ]
        }
        """)
        XCTAssertEqual(diagnostics(dir.path), [
            "p.pmode.json:2:3: id must be a string, not a number",
            "p.pmode.json:3:3: mep must be \"oneWay\" or \"twoWay\"",
            "p.pmode.json:5:32: responder.role must not start or end with whitespace",
            "p.pmode.json:7:18: legs[0].service.value \"svc\" has no type, so it must be an absolute URI (ebMS 3.0 §5.2.2.8)",
            "p.pmode.json:8:5: legs[0].action must not be empty",
            "p.pmode.json:9:5: legs[0].mpc must be an absolute URI, not \"not a uri\"",
            "p.pmode.json:10:18: legs[0].payload.maxMessageBytes must be at least 1",
            "p.pmode.json:11:29: legs[0].receptionAwareness.retries must be a whole number",
            "p.pmode.json:11:45: legs[0].receptionAwareness.backoffFactor must be between 1 and 10",
            "p.pmode.json:11:67: legs[0].receptionAwareness.jitterFraction must be at least 0 and less than 1",
            "p.pmode.json:11:88: legs[0].receptionAwareness.initialIntervalSeconds must be a number, not a string",
            "p.pmode.json:12:24: legs[0].errorHandling.reportAsResponse must be true: eDelivery forbids asynchronous error reporting",
            "p.pmode.json:13:19: legs[0].security.keyReference must be \"bst\", \"ski\" or \"issuer-serial\"",
            "p.pmode.json:13:76: legs[0].security.algorithms.digest[0] http://www.w3.org/2000/09/xmldsig#sha1 is a weak algorithm as4gw never accepts (SHA-1, RSA 1.5, CBC)",
            "p.pmode.json:14:33: legs[0].security.algorithms.signature[0] urn:made-up is not a signature algorithm as4gw supports",
            "p.pmode.json:14:51: legs[0].security.encryptionKeyReference must be \"bst\", \"ski\" or \"issuer-serial\"",
        ])
    }

    /// Encryption without a signature would have the receiver decrypt what nobody authenticated
    /// (the signer is judged before any decryption), and eDelivery's AS4 profiles always sign:
    /// refused at the `sign` that says false. Signing alone, and neither (tests), still load.
    func testALegThatEncryptsWithoutSigningIsRefused() throws {
        let dir = try ScratchDirectory()
        try dir.write("parties.json", twoParties)
        func pmode(_ id: String, _ security: String) -> String {
            """
            {
              "id": "\(id)",
              "initiator": { "party": "a", "role": "urn:r:i" },
              "responder": { "party": "b", "role": "urn:r:r" },
              "legs": [ { "service": { "value": "urn:svc" }, "action": "\(id)",
                "security": \(security) } ]
            }
            """
        }
        try dir.write("a.pmode.json", pmode("a", #"{ "sign": false, "encrypt": true }"#))
        try dir.write("b.pmode.json", pmode("b", #"{ "profile": "2.0",  "sign": false }"#))
        try dir.write("c.pmode.json", pmode("c", #"{ "sign": true, "encrypt": false }"#))
        try dir.write("d.pmode.json", pmode("d", #"{ "sign": false, "encrypt": false }"#))
        let why = " is false while encrypt is true, which as4gw refuses: a receiver would decrypt messages nobody is authenticated for "
            + "(the signer is judged before any decryption), and the eDelivery AS4 profiles always sign. Sign as well, or turn encryption off too"
        XCTAssertEqual(diagnostics(dir.path), ["a.pmode.json:6:19: legs[0].security.sign" + why, "b.pmode.json:6:38: legs[0].security.sign" + why])
        try FileManager.default.removeItem(atPath: dir.path + "/a.pmode.json")
        try FileManager.default.removeItem(atPath: dir.path + "/b.pmode.json")
        let set = try loadOrFail(dir.path)
        XCTAssertEqual(set.pmode(id: "c")?.legs[0].security.sign, true)
        XCTAssertEqual(set.pmode(id: "d")?.legs[0].security.encrypt, false)
    }

    func testLegCountMustFitTheMEPAndBindingTheMEP() throws {
        let dir = try ScratchDirectory()
        try dir.write("parties.json", twoParties)
        try dir.write("two.pmode.json", """
        {
          "id": "two",
          "mep": "twoWay",
          "initiator": { "party": "a", "role": "urn:r:i" },
          "responder": { "party": "b", "role": "urn:r:r" },
          "legs": [ { "service": { "value": "urn:s" }, "action": "A" } ]
        }
        """)
        try dir.write("pull.pmode.json", """
        {
          "id": "pull",
          "mep": "twoWay",
          "binding": "pull",
          "initiator": { "party": "a", "role": "urn:r:i" },
          "responder": { "party": "b", "role": "urn:r:r" },
          "legs": [ { "service": { "value": "urn:s" }, "action": "B" }, { "service": { "value": "urn:s" }, "action": "C" } ]
        }
        """)
        XCTAssertEqual(diagnostics(dir.path), [
            "pull.pmode.json:4:3: binding must be \"push\" or \"pushAndPush\" for mep \"twoWay\", not \"pull\"",
            "two.pmode.json:6:3: legs must have 2 legs for mep \"twoWay\", not 1",
        ])
    }

    func testDuplicateIdsAcrossFilesAndUnknownParties() throws {
        let dir = try ScratchDirectory()
        try dir.write("parties.json", twoParties)
        try dir.write("a.pmode.json", onePMode(id: "same", action: "One"))
        try dir.write("b.pmode.json", """
        {
          "pmodes": [
            {
              "id": "same",
              "initiator": { "party": "a", "role": "urn:r:i" },
              "responder": { "party": "c", "role": "urn:r:r" },
              "legs": [ { "service": { "value": "urn:s" }, "action": "Two" } ]
            }
          ]
        }
        """)
        XCTAssertEqual(diagnostics(dir.path), [
            "b.pmode.json:4:7: pmodes[0].id \"same\" is already the id of the P-Mode at a.pmode.json:2:3",
            "b.pmode.json:6:22: pmodes[0].responder.party \"c\" is not a party in parties.json",
        ])
    }

    func testPartyProblems() throws {
        let dir = try ScratchDirectory()
        try dir.write("parties.json", """
        {
          "parties": [
            { "name": "a", "partyIds": [{ "value": "id-a", "type": "t" }], "endpoint": "https://user:pw@a.example/as4" },
            { "name": "a", "partyIds": [{ "value": "id-x", "type": "t" }] },
            { "name": "b", "partyIds": [{ "value": "id-a", "type": "t" }, { "value": "plain" }], "endpoint": "ftp://b.example" },
            { "name": "c", "partyIds": [], "endpoint": "not a url", "mpcs": ["urn:ok", "bad"] },
            { "name": "d", "partyIds": [{ "value": "id-d", "type": "t" }], "certificates": { "signing": [], "signng": [] } }
          ]
        }
        """)
        try dir.write("p.pmode.json", onePMode())
        XCTAssertEqual(diagnostics(dir.path, options: PModeLoader.Options(requireCertificates: false)), [
            "parties.json:3:68: parties[0].endpoint must not carry a user name or password",
            "parties.json:4:7: parties[1].name \"a\" is already the name of parties[0] (line 3)",
            "parties.json:5:69: parties[2].partyIds[1].value \"plain\" has no type, so it must be an absolute URI (ebMS 3.0 §5.2.2.4)",
            "parties.json:5:90: parties[2].endpoint must be an https URL, not \"ftp://b.example\"",
            "parties.json:6:20: parties[3].partyIds must not be empty",
            "parties.json:6:36: parties[3].endpoint must be an https URL, not \"not a url\"",
            "parties.json:6:80: parties[3].mpcs[1] must be an absolute URI, not \"bad\"",
            "parties.json:7:101: parties[4].certificates.signng is not a known key (did you mean \"signing\"?)",
        ])
    }

    func testDuplicatePartyIdsAreRefused() throws {
        let dir = try ScratchDirectory()
        try dir.write("parties.json", """
        {
          "parties": [
            { "name": "a", "partyIds": [{ "value": "id-a", "type": "t" }] },
            { "name": "b", "partyIds": [{ "value": "id-a", "type": "t" }] }
          ]
        }
        """)
        try dir.write("p.pmode.json", onePMode())
        XCTAssertEqual(diagnostics(dir.path), [
            "p.pmode.json:5:13: legs[0] needs an endpoint for party \"b\" (the responder, which receives it by push), but parties.json gives it none",
            "parties.json:4:7: parties[1] has party id t::id-a that parties[0] (\"a\") also has; party ids must identify one party",
        ])
    }

    func testInsecureEndpointsOnlyWithTheFlag() throws {
        let dir = try ScratchDirectory()
        try dir.write("parties.json", twoParties.replacingOccurrences(of: "https://", with: "http://"))
        try dir.write("p.pmode.json", onePMode())
        XCTAssertEqual(diagnostics(dir.path).count, 2)
        let set = try loadOrFail(dir.path, options: insecure)
        XCTAssertEqual(set.party(named: "a")?.endpoint?.scheme, "http")
    }

    func testCertificateFilesMissingOrUnparseable() throws {
        let dir = try ScratchDirectory()
        try dir.write("parties.json", """
        {
          "parties": [
            { "name": "a", "partyIds": [{ "value": "id-a", "type": "t" }], "endpoint": "https://a.example/as4",
              "certificates": { "signing": ["certs/missing.pem", "certs/garbage.pem"], "tls": ["certs"] } },
            { "name": "b", "partyIds": [{ "value": "id-b", "type": "t" }], "endpoint": "https://b.example/as4" }
          ]
        }
        """)
        try dir.write("certs/garbage.pem", "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n")
        try dir.write("p.pmode.json", onePMode())
        let errors = diagnostics(dir.path)
        XCTAssertEqual(errors.count, 3, errors.joined(separator: "\n"))
        XCTAssertEqual(errors[0], "parties.json:4:37: parties[0].certificates.signing[0]: certificate file certs/missing.pem does not exist")
        XCTAssertTrue(errors[1].hasPrefix("parties.json:4:58: parties[0].certificates.signing[1]: certificate file certs/garbage.pem is not a PEM or DER certificate"), errors[1])
        XCTAssertEqual(errors[2], "parties.json:4:88: parties[0].certificates.tls[0]: certificate file certs is a directory")

        // Without requireCertificates only the missing file is forgiven.
        let relaxed = diagnostics(dir.path, options: PModeLoader.Options(requireCertificates: false))
        XCTAssertEqual(relaxed.count, 2)
        XCTAssertTrue(relaxed.allSatisfy { !$0.contains("missing.pem") })
    }

    func testLegsAReceiverCouldNotTellApartAreRefused() throws {
        let dir = try ScratchDirectory()
        try dir.write("parties.json", twoParties)
        try dir.write("a.pmode.json", onePMode(id: "first"))
        try dir.write("b.pmode.json", onePMode(id: "second"))
        try dir.write("c.pmode.json", onePMode(id: "third", agreement: "urn:agreement:other"))
        XCTAssertEqual(diagnostics(dir.path), [
            "b.pmode.json:5:13: legs[0] has the same parties, roles, service, action and agreement as legs[0] of P-Mode \"first\" (a.pmode.json:5:13): a received message could not be told apart",
        ])
    }

    func testPullAuthorizationChecks() throws {
        let dir = try ScratchDirectory()
        try dir.write("parties.json", twoParties)
        try dir.write("push.pmode.json", """
        {
          "id": "push",
          "initiator": { "party": "a", "role": "urn:r:i" },
          "responder": { "party": "b", "role": "urn:r:r" },
          "legs": [ { "service": { "value": "urn:s" }, "action": "A", "pullAuthorization": { "parties": ["a"] } } ]
        }
        """)
        try dir.write("pull.pmode.json", """
        {
          "id": "pull",
          "binding": "pull",
          "initiator": { "party": "a", "role": "urn:r:i" },
          "responder": { "party": "b", "role": "urn:r:r" },
          "legs": [ { "service": { "value": "urn:s" }, "action": "B", "pullAuthorization": { "parties": ["a", "zed"] } } ]
        }
        """)
        XCTAssertEqual(diagnostics(dir.path), [
            "pull.pmode.json:6:103: legs[0].pullAuthorization names \"zed\", which is not a party in parties.json",
            "push.pmode.json:5:63: legs[0].pullAuthorization is only for binding \"pull\"",
        ])
    }

    func testDirectoryLevelProblems() throws {
        let dir = try ScratchDirectory()
        try dir.write("acme.pmod.json", "{}")
        XCTAssertEqual(diagnostics(dir.path), [
            "\(dir.path) has no *.pmode.json file",
            "acme.pmod.json: is neither parties.json nor a *.pmode.json file (misnamed P-Mode file?)",
            "parties.json: missing: a P-Mode directory needs parties.json",
        ])
        XCTAssertEqual(diagnostics(dir.path + "/nonexistent"), ["cannot read the P-Mode directory \(dir.path)/nonexistent"])
    }

    func testTopLevelMustBeAnObject() throws {
        let dir = try ScratchDirectory()
        try dir.write("parties.json", "[]")
        try dir.write("p.pmode.json", "\"text\"")
        XCTAssertEqual(diagnostics(dir.path), [
            "p.pmode.json:1:1: the top level must be an object, not a string",
            "parties.json:1:1: the top level must be an object, not an array",
        ])
    }
}

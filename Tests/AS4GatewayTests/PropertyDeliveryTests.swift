@testable import AS4Gateway
import EnvelopeXML
import Foundation
import MessageStore
import XCTest

/// eb:MessageProperties and eb:PartProperties reach the consumer of the receiving gateway
/// (eDelivery AS4 1.15 §1.5.1 four-corner, BusinessInfo.Properties, PartInfo rules): sent by one
/// gateway, kept by the other, shown by `as4gw messages show`.
final class PropertyDeliveryTests: XCTestCase {
    var harness: GatewayHarness!

    override func setUpWithError() throws {
        harness = try GatewayHarness()
    }

    override func tearDown() {
        harness = nil
    }

    func testMessageAndPartPropertiesReachTheReceiversMessagesShow() throws {
        try harness.configure(["gw-a", "gw-b"])
        try harness.start("gw-a")
        try harness.start("gw-b")
        let doc = try harness.file("note.txt", Array("Sveiki, pasaule!".utf8))
        let custom = "ünïcødé \"quoted\" value"
        let sent = try GatewayProcess.run([
            "send", "--to", "gw-b", "--service", "urn:eadrese:services:delivery", "--action", "DeliverDocument",
            "--property", "originalSender=urn:oasis:names:tc:ebcore:partyid-type:unregistered:C1",
            "--property", "finalRecipient=urn:oasis:names:tc:ebcore:partyid-type:unregistered:C4",
            "--property", "trackingIdentifier=track-7", "--property", "x-agreement=\(custom)",
            "--property-type", "x-agreement=urn:as4gw:test:free-text",
            "--mime-type", "text/plain", "--character-set", "utf-8", "--part-property", "x-part=section-2",
            "--token-file", harness.nodes["gw-a"]!.submitTokenFile, "--submit", harness.nodes["gw-a"]!.submitURL, doc,
        ])
        XCTAssertEqual(sent.status, 0, sent.stderr)
        let id = sent.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        _ = try harness.waitFor("gw-a", id, .outbound, .delivered)

        let expected: [[String: String]] = [
            ["name": "finalRecipient", "value": "urn:oasis:names:tc:ebcore:partyid-type:unregistered:C4"],
            ["name": "originalSender", "value": "urn:oasis:names:tc:ebcore:partyid-type:unregistered:C1"],
            ["name": "trackingIdentifier", "value": "track-7"],
            ["name": "x-agreement", "value": custom],
        ]
        let shown = try GatewayProcess.run(["messages", "show", id, "--direction", "in", "--data", harness.nodes["gw-b"]!.data, "--json"])
        XCTAssertEqual(shown.status, 0, shown.stderr)
        let json = try XCTUnwrap(shown.json, shown.stdout)
        XCTAssertEqual(Self.pairs(json["properties"]), expected, shown.stdout)
        // The type given to one property travelled with it; the others have none.
        XCTAssertEqual((json["properties"] as? [[String: Any]])?.map { $0["type"] as? String }, [nil, nil, nil, "urn:as4gw:test:free-text"],
                       shown.stdout)
        let parts = try XCTUnwrap(json["parts"] as? [[String: Any]])
        XCTAssertEqual(parts.count, 1)
        XCTAssertEqual(parts[0]["mimeType"] as? String, "text/plain")
        // The payload travelled compressed (the agreement compresses): MimeType is the part's
        // mimeType, and CompressionType is not the consumer's business.
        XCTAssertEqual(Self.pairs(parts[0]["properties"]), [["name": "CharacterSet", "value": "utf-8"],
                                                            ["name": "x-part", "value": "section-2"]], shown.stdout)

        let text = try GatewayProcess.run(["messages", "show", id, "--direction", "in", "--data", harness.nodes["gw-b"]!.data])
        XCTAssertTrue(text.stdout.contains("Properties (4):"), text.stdout)
        XCTAssertTrue(text.stdout.contains("  originalSender=urn:oasis:names:tc:ebcore:partyid-type:unregistered:C1\n"), text.stdout)
        XCTAssertTrue(text.stdout.contains("    CharacterSet=utf-8\n"), text.stdout)
        let listed = try GatewayProcess.run(["messages", "list", "--direction", "in", "--data", harness.nodes["gw-b"]!.data, "--json"])
        let listedMessage = (listed.json?["messages"] as? [[String: Any]])?.first
        XCTAssertEqual(Self.pairs(listedMessage?["properties"]), expected)

        // The sender's own row keeps what it sent, alike.
        let out = try GatewayProcess.run(["messages", "show", id, "--direction", "out", "--data", harness.nodes["gw-a"]!.data, "--json"])
        XCTAssertEqual(Self.pairs(out.json?["properties"]), expected, out.stdout)

        // More properties than a receiver keeps: refused at submission, nothing queued.
        var args = ["send", "--to", "gw-b", "--service", "urn:eadrese:services:delivery", "--action", "DeliverDocument",
                    "--message-id", "too-many@props", "--token-file", harness.nodes["gw-a"]!.submitTokenFile, "--submit", harness.nodes["gw-a"]!.submitURL]
        for n in 0...PropertyLimits.maxCount { args += ["--property", "p\(n)=v"] }
        let refused = try GatewayProcess.run(args + [doc])
        XCTAssertEqual(refused.status, 1, refused.stdout)
        XCTAssertTrue(refused.stderr.contains("HTTP 422") && refused.stderr.contains("at most \(PropertyLimits.maxCount)"), refused.stderr)
        XCTAssertNil(try harness.message("gw-a", "too-many@props", .outbound))
    }

    /// The receiving side's own bound: a peer's message beyond `PropertyLimits` is refused
    /// (EBMS:0003) before anything is stored or receipted, never kept cut short.
    func testTheReceiverRefusesPropertiesItCannotKeepWhole() {
        func user(_ properties: [Property], part: [Property] = []) -> UserMessage {
            UserMessage(messageInfo: MessageInfo(messageId: "m@x"), from: Party(ids: [PartyId("a")], role: "r"),
                        to: Party(ids: [PartyId("b")], role: "r"),
                        collaboration: CollaborationInfo(service: Service("urn:s"), action: "A", conversationId: "c"),
                        properties: properties,
                        payloads: [PartInfo(href: "cid:p1", properties: [Property("MimeType", "text/plain"),
                                                                          Property("CompressionType", "application/gzip")] + part)])
        }
        XCTAssertNil(InboundProcessor.propertyViolation(user([Property("originalSender", "C1", type: "urn:t")])))
        XCTAssertEqual(InboundProcessor.partProperties(user([], part: [Property("CharacterSet", "utf-8")]).payloads[0]),
                       [MessageProperty("CharacterSet", "utf-8")], "MimeType and CompressionType are not repeated")
        let many = (0...PropertyLimits.maxCount).map { Property("p\($0)", "v") }
        XCTAssertEqual(InboundProcessor.propertyViolation(user(many)), "eb:MessageProperties has 65 properties; at most 64 are kept")
        let long = Property("finalRecipient", String(repeating: "x", count: PropertyLimits.maxValueBytes + 1))
        XCTAssertEqual(InboundProcessor.propertyViolation(user([long])),
                       "eb:MessageProperties: the value of property finalRecipient exceeds 4096 bytes")
        XCTAssertEqual(InboundProcessor.propertyViolation(user([], part: [long])),
                       "eb:PartProperties of cid:p1: the value of property finalRecipient exceeds 4096 bytes")
    }

    /// Name/value pairs of a JSON properties array, in order (a type, when present, must be a string).
    static func pairs(_ value: Any?) -> [[String: String]] {
        (value as? [[String: Any]] ?? []).map { p in
            var out: [String: String] = [:]
            for key in ["name", "value"] { out[key] = p[key] as? String }
            return out
        }
    }
}

/// A peer's signed message whose properties exceed what gw-b keeps: refused with EBMS:0003 before
/// any receipt and nothing stored; one exactly at the limits is kept whole.
final class PeerPropertyLimitTests: SealingTestCase {
    func testAPeersPropertiesBeyondTheLimitsAreRefusedAndAtTheLimitsKeptWhole() throws {
        let tooMany = (0...PropertyLimits.maxCount).flatMap { ["--property", "p\($0)=v"] }
        let (status, error) = try post(try seal(id: "too-many@test", extra: tooMany))
        XCTAssertEqual(status, 500, lastReply)
        XCTAssertEqual(error, "EBMS:0003", lastReply)
        XCTAssertTrue(lastReply.contains("at most \(PropertyLimits.maxCount)"), lastReply)
        try assertNothingStored("too-many@test")

        let long = ["--property", "finalRecipient=" + String(repeating: "x", count: PropertyLimits.maxValueBytes + 1)]
        XCTAssertEqual(try post(try seal(id: "too-long@test", extra: long)).1, "EBMS:0003", lastReply)
        try assertNothingStored("too-long@test")

        let value = String(repeating: "v", count: PropertyLimits.maxValueBytes)
        let full = (0..<PropertyLimits.maxCount).flatMap { ["--property", String(format: "p%02d=", $0) + value] }
        XCTAssertEqual(try post(try seal(id: "full@test", extra: full)).0, 200, lastReply)
        let store = try harness.store("gw-b")
        defer { store.close() }
        let kept = try XCTUnwrap(store.findMessage(id: "full@test", direction: .inbound))
        XCTAssertEqual(kept.metadata.properties, (0..<PropertyLimits.maxCount).map { MessageProperty(String(format: "p%02d", $0), value) })
    }
}

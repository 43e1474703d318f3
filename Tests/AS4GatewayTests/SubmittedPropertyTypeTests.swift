@testable import AS4Gateway
import EnvelopeXML
import Foundation
import HTTPServer
import MessageStore
import XCTest

/// A submission gives a property an `@type` (`{"value", "type"}` in the operators' `/submit`,
/// `--property-type` of `as4gw send`), which travels in eb:MessageProperties (and
/// eb:PartProperties): Peppol's `originalSender` and `finalRecipient` are typed
/// `iso6523-actorid-upis`. A property given as a string stays untyped whatever its text.
final class SubmittedPropertyTypeTests: XCTestCase {
    var harness: GatewayHarness!
    var a: InProcessNode!

    override func setUpWithError() throws {
        harness = try GatewayHarness()
        try harness.configure(["gw-a", "gw-b"])
        a = try InProcessNode(harness, party: "gw-a")
    }

    override func tearDown() {
        a = nil
        harness = nil
    }

    func submit(id: String, properties: String, partProperties: String = "{}") throws -> HTTPResponse {
        let file = harness.root.appendingPathComponent("\(UUID().uuidString).xml").path
        try Data("<doc>typed</doc>".utf8).write(to: URL(fileURLWithPath: file))
        let body = """
            {"to": "gw-b", "messageId": "\(id)", "service": "urn:eadrese:services:delivery", "action": "DeliverDocument",
             "properties": \(properties), "payloads": [{"path": "\(file)", "mimeType": "application/xml", "properties": \(partProperties)}]}
            """
        return a.post(APIHandler(context: a.context), path: "/submit", contentType: "application/json", body: Array(body.utf8),
                      headers: [("Authorization", "Bearer " + a.context.submitToken)])
    }

    func testTypesTravelInTheMessageAndPartProperties() throws {
        let upis = "iso6523-actorid-upis"
        let response = try submit(id: "typed-1@gw-a", properties: """
            {"originalSender": {"value": "0088:5400000000001", "type": "\(upis)"},
             "finalRecipient": {"value": "0088:5400000000002", "type": "\(upis)"},
             "trackingIdentifier": "t-1", "x-looks-typed": "{\\"value\\": \\"v\\", \\"type\\": \\"t\\"}", "x-null-type": {"value": "n", "type": null}}
            """, partProperties: #"{"x-part": {"value": "section-2", "type": "urn:as4gw:sections"}}"#)
        XCTAssertEqual(response.status, 202, response.bodyText)

        let job = try a.claim()
        let sent = try job.messageBytes.map { [UInt8]($0) } ?? [UInt8](Data(contentsOf: URL(fileURLWithPath: job.messagePath)))
        let user = try XCTUnwrap(try AS4Message.read(try MessageInput.load(bytes: sent, contentType: job.contentType)).messaging.userMessage)
        XCTAssertEqual(user.properties, [
            Property("finalRecipient", "0088:5400000000002", type: upis),
            Property("originalSender", "0088:5400000000001", type: upis),
            Property("trackingIdentifier", "t-1"),
            Property("x-looks-typed", #"{"value": "v", "type": "t"}"#),
            Property("x-null-type", "n"),
        ])
        XCTAssertTrue(user.payloads.first?.properties.contains(Property("x-part", "section-2", type: "urn:as4gw:sections")) ?? false,
                      "\(String(describing: user.payloads.first?.properties))")
        // The sender's own row keeps the types as a received message's row does.
        let stored = try XCTUnwrap(try a.store.findMessage(id: "typed-1@gw-a", direction: .outbound))
        XCTAssertEqual(stored.metadata.properties.first { $0.name == "originalSender" }, MessageProperty("originalSender", "0088:5400000000001", type: upis))
    }

    /// Each shape the rule does not allow is refused with the member's path and what to write
    /// instead, and nothing is queued.
    func testOtherShapesAreRefusedByTheirPath() throws {
        let cases: [(properties: String, status: Int, says: String)] = [
            (#"{"originalSender": {"value": "x", "type": ""}}"#, 422,
             "the message properties: property originalSender has an empty type; leave the type out for an untyped property"),
            (#"{"originalSender": {"type": "t"}}"#, 400, "the submission: properties.originalSender.value: missing; a property is a string, or"),
            (#"{"originalSender": {"value": "x", "Type": "t"}}"#, 400,
             "the submission: properties.originalSender.Type: unknown member (did you mean type?); a property is a string, or"),
            (#"{"originalSender": 7}"#, 400, "the submission: properties.originalSender: a property is a string, or {\"value\""),
            (#"{"originalSender": {"value": "x", "type": 5}}"#, 400, "the submission: properties.originalSender.type: must be a string"),
            (#"{"originalSender": {"value": ["x"]}}"#, 400, "the submission: properties.originalSender.value: must be a string"),
        ]
        for (n, c) in cases.enumerated() {
            let id = "refused-\(n)@gw-a"
            let response = try submit(id: id, properties: c.properties)
            XCTAssertEqual(response.status, c.status, "\(c.properties): \(response.bodyText)")
            let detail = (try? JSONSerialization.jsonObject(with: Data(response.bodyBytes)) as? [String: Any])?["detail"] as? String ?? ""
            XCTAssertTrue(detail.hasPrefix(c.says), "\(c.properties): \(detail)")
            XCTAssertNil(try a.store.findMessage(id: id, direction: .outbound), c.properties)
        }
        // A character XML cannot carry, in a name, value or type: refused, not replaced by
        // U+FFFD on the way out (the receiver would get a value nobody sent).
        let uncarriable: [(properties: String, says: String)] = [
            (#"{"note": "a\u0001b"}"#, "the message properties: the value of property note contains a character XML cannot carry"),
            (#"{"note": {"value": "v", "type": "t\u001b"}}"#, "the message properties: the type of property note contains a character XML cannot carry"),
            (#"{"no\u0000te": "v"}"#, "the message properties: the name of property no\\u{0}te contains a character XML cannot carry"),
            (#"{"note": "\uFFFF"}"#, "the message properties: the value of property note contains a character XML cannot carry"),
        ]
        for (n, c) in uncarriable.enumerated() {
            let id = "uncarriable-\(n)@gw-a"
            let response = try submit(id: id, properties: c.properties)
            XCTAssertEqual(response.status, 422, "\(c.properties): \(response.bodyText)")
            let detail = (try? JSONSerialization.jsonObject(with: Data(response.bodyBytes)) as? [String: Any])?["detail"] as? String ?? ""
            XCTAssertTrue(detail.hasPrefix(c.says), "\(c.properties): \(detail)")
            XCTAssertNil(try a.store.findMessage(id: id, direction: .outbound), c.properties)
        }
        // Tab, line feed and carriage return are XML characters: kept as given.
        XCTAssertEqual(try submit(id: "carriable@gw-a", properties: #"{"note": "a\tb\nc\rd"}"#).status, 202)
        // A part's properties follow the same rule, named by the payload's path.
        let part = try submit(id: "refused-part@gw-a", properties: "{}", partProperties: #"{"x-part": {"value": "v", "type": ""}}"#)
        XCTAssertEqual(part.status, 422, part.bodyText)
        XCTAssertTrue(part.bodyText.contains("the part properties of ") && part.bodyText.contains("property x-part has an empty type"), part.bodyText)
        let partControl = try submit(id: "refused-part-control@gw-a", properties: "{}", partProperties: #"{"x-part": "\u0007"}"#)
        XCTAssertEqual(partControl.status, 422, partControl.bodyText)
        XCTAssertTrue(partControl.bodyText.contains("the value of property x-part contains a character XML cannot carry"), partControl.bodyText)
        XCTAssertNil(try a.store.findMessage(id: "refused-part-control@gw-a", direction: .outbound))
        // The rest of the body is worded by member path alike (it was Foundation's "isn't in the correct format").
        let noTo = a.post(APIHandler(context: a.context), path: "/submit", contentType: "application/json",
                          body: Array(#"{"service": "urn:s", "action": "A", "payloads": []}"#.utf8),
                          headers: [("Authorization", "Bearer " + a.context.submitToken)])
        XCTAssertEqual(noTo.status, 400)
        XCTAssertTrue(noTo.bodyText.contains(#""detail":"the submission: to: missing (required)""#), noTo.bodyText)
    }

    /// Text the ebMS3 schema requires to be non-empty (eb:Property's value, and the MimeType and
    /// CharacterSet part properties made from a payload's `mimeType` and `characterSet`) is
    /// refused when empty: phase4 validates the header against that schema and refuses such a
    /// message (EBMS:0009) after it went out, every time it is sent.
    func testEmptyTextTheSchemaForbidsIsRefused() throws {
        let file = harness.root.appendingPathComponent("\(UUID().uuidString).xml").path
        try Data("<doc>empty</doc>".utf8).write(to: URL(fileURLWithPath: file))
        let cases: [(properties: String, payload: String, says: String)] = [
            (#"{"note": ""}"#, "{}", "the message properties: property note has an empty value"),
            (#"{"note": {"value": "", "type": "t"}}"#, "{}", "the message properties: property note has an empty value"),
            ("{}", #""properties": {"x-part": ""}"#, "the part properties of \(file): property x-part has an empty value"),
            ("{}", #""mimeType": """#, "payload \(file) has an empty mimeType"),
            ("{}", #""characterSet": """#, "payload \(file) has an empty characterSet"),
        ]
        for (n, c) in cases.enumerated() {
            let id = "empty-\(n)@gw-a"
            let extra = c.payload == "{}" ? "" : ", " + c.payload
            let body = """
                {"to": "gw-b", "messageId": "\(id)", "service": "urn:eadrese:services:delivery", "action": "DeliverDocument",
                 "properties": \(c.properties), "payloads": [{"path": "\(file)"\(extra)}]}
                """
            let response = a.post(APIHandler(context: a.context), path: "/submit", contentType: "application/json", body: Array(body.utf8),
                                  headers: [("Authorization", "Bearer " + a.context.submitToken)])
            XCTAssertEqual(response.status, 422, "\(c): \(response.bodyText)")
            let detail = (try? JSONSerialization.jsonObject(with: Data(response.bodyBytes)) as? [String: Any])?["detail"] as? String ?? ""
            XCTAssertTrue(detail.hasPrefix(c.says), "\(c): \(detail)")
            XCTAssertNil(try a.store.findMessage(id: id, direction: .outbound), "\(c)")
        }
        // A value of white space only is text: kept as given.
        XCTAssertEqual(try submit(id: "blank@gw-a", properties: #"{"note": " "}"#).status, 202)
        // eb:ConversationId is an xsd:token, so white space alone is empty too, and receivers that
        // hold it to ebMS3 strictly (Holodeck's strict mode) refuse an empty one, and left out it starts a new conversation.
        for (n, given) in ["", "  "].enumerated() {
            let id = "empty-conversation-\(n)@gw-a"
            let body = """
                {"to": "gw-b", "messageId": "\(id)", "service": "urn:eadrese:services:delivery", "action": "DeliverDocument",
                 "conversationId": "\(given)", "payloads": [{"path": "\(file)"}]}
                """
            let response = a.post(APIHandler(context: a.context), path: "/submit", contentType: "application/json", body: Array(body.utf8),
                                  headers: [("Authorization", "Bearer " + a.context.submitToken)])
            XCTAssertEqual(response.status, 422, "\(given): \(response.bodyText)")
            XCTAssertTrue(response.bodyText.contains("the conversationId is empty"), response.bodyText)
            XCTAssertNil(try a.store.findMessage(id: id, direction: .outbound))
        }
    }

    /// MimeType, CharacterSet and CompressionType are the gateway's to write: a part property
    /// of that name, in any case, would be a second one, which receivers refuse (EBMS:0009).
    func testAPartPropertyTheGatewayWritesIsRefused() throws {
        let file = harness.root.appendingPathComponent("\(UUID().uuidString).xml").path
        try Data("<doc/>".utf8).write(to: URL(fileURLWithPath: file))
        for (n, name) in ["MimeType", "mimetype", "CharacterSet", "compressionType"].enumerated() {
            let id = "reserved-\(n)@gw-a"
            let body = """
                {"to": "gw-b", "messageId": "\(id)", "service": "urn:eadrese:services:delivery", "action": "DeliverDocument",
                 "payloads": [{"path": "\(file)", "properties": {"\(name)": "x"}}]}
                """
            let response = a.post(APIHandler(context: a.context), path: "/submit", contentType: "application/json", body: Array(body.utf8),
                                  headers: [("Authorization", "Bearer " + a.context.submitToken)])
            XCTAssertEqual(response.status, 422, "\(name): \(response.bodyText)")
            XCTAssertTrue(response.bodyText.contains("part property \\\"\(name)\\\" is the gateway's to write"), "\(name): \(response.bodyText)")
            XCTAssertNil(try a.store.findMessage(id: id, direction: .outbound), name)
        }
    }

    /// A payload's `characterSet` (the part's CharacterSet property) is a charset name as the
    /// backend API takes one; anything else is refused now (422, nothing queued), not by a peer
    /// that cannot resolve it (phase4 answers EBMS:0003, Oxalis EBMS:0009) after every retry.
    func testACharacterSetMustBeACharsetName() throws {
        func submit(_ id: String, _ characterSet: String) throws -> HTTPResponse {
            let file = harness.root.appendingPathComponent("\(UUID().uuidString).txt").path
            try Data("teksts".utf8).write(to: URL(fileURLWithPath: file))
            let body: [String: Any] = ["to": "gw-b", "messageId": id, "service": "urn:eadrese:services:delivery", "action": "DeliverDocument",
                                       "payloads": [["path": file, "mimeType": "text/plain", "characterSet": characterSet]]]
            return a.post(APIHandler(context: a.context), path: "/submit", contentType: "application/json",
                          body: [UInt8](try JSONSerialization.data(withJSONObject: body)), headers: [("Authorization", "Bearer " + a.context.submitToken)])
        }
        XCTAssertEqual(try submit("cs-ok@gw-a", "windows-1257").status, 202)
        let job = try a.claim()
        let sent = try job.messageBytes.map { [UInt8]($0) } ?? [UInt8](Data(contentsOf: URL(fileURLWithPath: job.messagePath)))
        let user = try XCTUnwrap(try AS4Message.read(try MessageInput.load(bytes: sent, contentType: job.contentType)).messaging.userMessage)
        XCTAssertEqual(user.payloads.first?.properties[EbmsConstants.characterSet], "windows-1257")
        for (n, bad) in ["utf 8", "utf-8\r\nX: y", "\"utf-8\"", "utf-8;", String(repeating: "a", count: 41), "utf.8", "ütf-8"].enumerated() {
            let response = try submit("cs-bad-\(n)@gw-a", bad)
            XCTAssertEqual(response.status, 422, "\(bad.debugDescription): \(response.bodyText)")
            XCTAssertTrue(response.bodyText.contains(": characterSet ") && response.bodyText.contains("is refused: charset must be a charset name"),
                          "\(bad.debugDescription): \(response.bodyText)")
            XCTAssertNil(try a.store.findMessage(id: "cs-bad-\(n)@gw-a", direction: .outbound), bad.debugDescription)
        }
    }

    /// `as4gw send`: `--property-type K=T` types the `--property K=…` of that name; the value is
    /// never parsed for a type.
    func testSendBuildsTypedPropertiesFromItsOwnOption() throws {
        let json = try SendCommand.messageProperties(["originalSender=0088:1", "note=a=b[type]", "finalRecipient=0088:2"],
                                                     types: ["originalSender=iso6523-actorid-upis", "finalRecipient=iso6523-actorid-upis"])
        XCTAssertEqual(json.serialized(pretty: false),
                       #"{"finalRecipient":{"value":"0088:2","type":"iso6523-actorid-upis"},"note":"a=b[type]","#
                       + #""originalSender":{"value":"0088:1","type":"iso6523-actorid-upis"}}"#)
        let refusals: [([String], [String], String)] = [
            (["a=1"], ["b=t"], "--property-type b names no --property b=…"),
            (["a=1"], ["a="], "--property-type a= gives an empty type; leave it out for an untyped property"),
            (["a=1"], ["a=t", "a=u"], "--property-type a is given twice"),
            (["a=1"], ["=t"], "--property-type takes K=T, not =t"),
            (["a"], [], "--property takes K=V, not a"),
        ]
        for (given, types, says) in refusals {
            XCTAssertThrowsError(try SendCommand.messageProperties(given, types: types), "\(given) \(types)") { error in
                XCTAssertEqual("\(error)", says)
            }
        }
    }
}

@testable import AS4Gateway
import EnvelopeXML
import Foundation
import MessageStore
import XCTest

/// A SOAP 1.1 envelope gets what SOAP 1.2 Part 1 Appendix A has a SOAP 1.2 node answer.
final class SOAPVersionMismatchTests: InProcessReceiverTestCase {
    /// SOAP 1.2 Part 1 Appendix A: a VersionMismatch fault in the sender's SOAP 1.1, with the
    /// Upgrade header block naming the SOAP 1.2 envelope, and the eb:Error an ebMS sender reads.
    func testASOAP11EnvelopeGetsAVersionMismatchFaultInSOAP11() throws {
        var message = CraftedMessage()
        message.soapVersion = .soap11
        let answer = try b.receive(message, signedBy: try b.signer())
        XCTAssertEqual(answer.status, 500)
        XCTAssertEqual(answer.headers["Content-Type"], "text/xml; charset=utf-8")
        try assertVersionMismatch(answer.bodyBytes, refTo: message.id)
        XCTAssertNil(try stored(message.id))

        // An envelope whose header cannot be read is answered alike.
        let unreadable = Array("<S:Envelope xmlns:S=\"\(NS.soap11)\"><S:Header/><S:Body/></S:Envelope>".utf8)
        let refused = b.post(InboundProcessor(context: b.context), path: "/as4", contentType: "text/xml; charset=utf-8", body: unreadable)
        XCTAssertEqual(refused.status, 500)
        try assertVersionMismatch(refused.bodyBytes, refTo: nil)
    }

    func assertVersionMismatch(_ bytes: [UInt8], refTo: String?, file: StaticString = #filePath, line: UInt = #line) throws {
        let text = String(decoding: bytes, as: UTF8.self)
        let root = try XCTUnwrap(try XMLDocument(parsing: bytes).root, text, file: file, line: line)
        XCTAssertTrue(root.isElement("Envelope", NS.soap11), text, file: file, line: line)
        let fault = try XCTUnwrap(root.firstChild("Body", NS.soap11)?.firstChild("Fault", NS.soap11), text, file: file, line: line)
        let code = try XCTUnwrap(fault.firstChild("faultcode", nil)?.trimmedText, file: file, line: line)
        let parts = code.split(separator: ":").map(String.init)
        XCTAssertEqual(parts.last, "VersionMismatch", file: file, line: line)
        XCTAssertEqual(fault.namespaceURI(forPrefix: parts.count == 2 ? parts[0] : nil), NS.soap11, file: file, line: line)
        let header = try XCTUnwrap(root.firstChild("Header", NS.soap11), file: file, line: line)
        let supported = try XCTUnwrap(header.firstChild("Upgrade", NS.soap12)?.firstChild("SupportedEnvelope", NS.soap12), text, file: file, line: line)
        let qname = try XCTUnwrap(supported.attribute("qname")).split(separator: ":").map(String.init)
        XCTAssertEqual(qname.last, "Envelope", file: file, line: line)
        XCTAssertEqual(supported.namespaceURI(forPrefix: qname.count == 2 ? qname[0] : nil), NS.soap12, file: file, line: line)
        XCTAssertNotNil(header.firstChild("Messaging", NS.eb), text, file: file, line: line)
        XCTAssertTrue(text.contains("errorCode=\"EBMS:0010\""), text, file: file, line: line)
        if let refTo { XCTAssertTrue(text.contains("refToMessageInError=\"\(refTo)\""), text, file: file, line: line) }
        XCTAssertEqual(SOAPFault.read(envelope: bytes)?.code, .versionMismatch, file: file, line: line)
    }
}

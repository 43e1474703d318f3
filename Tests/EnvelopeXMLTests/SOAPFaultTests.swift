import XCTest
@testable import EnvelopeXML

/// Bare SOAP Faults as peers answer them (1.2 and 1.1), envelopes that hold none, and the
/// env:NotUnderstood header blocks of the MustUnderstand faults we write.
final class SOAPFaultTests: XCTestCase {
    func testReadsSOAP12AndSOAP11FaultsAndNothingElse() {
        let soap12 = """
            <e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body><e:Fault><e:Code><e:Value>e:Sender</e:Value></e:Code>
            <e:Reason><e:Text xml:lang="en"> Invalid message </e:Text></e:Reason></e:Fault></e:Body></e:Envelope>
            """
        XCTAssertEqual(SOAPFault.read(envelope: Array(soap12.utf8)), SOAPFault(code: .sender, reason: "e:Sender Invalid message"))
        let soap11 = """
            <s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault><faultcode>s:Server</faultcode>
            <faultstring>down</faultstring></s:Fault></s:Body></s:Envelope>
            """
        XCTAssertEqual(SOAPFault.read(envelope: Array(soap11.utf8)), SOAPFault(code: .receiver, reason: "s:Server down"))
        let empty = "<e:Envelope xmlns:e=\"http://www.w3.org/2003/05/soap-envelope\"><e:Body/></e:Envelope>"
        XCTAssertNil(SOAPFault.read(envelope: Array(empty.utf8)))
        XCTAssertNil(SOAPFault.read(envelope: Array("<html>502 Bad Gateway</html>".utf8)))
        XCTAssertNil(SOAPFault.read(envelope: Array("not xml".utf8)))
        let long = "<e:Envelope xmlns:e=\"http://www.w3.org/2003/05/soap-envelope\"><e:Body><e:Fault><e:Reason><e:Text>"
            + String(repeating: "x", count: 2000) + "</e:Text></e:Reason></e:Fault></e:Body></e:Envelope>"
        XCTAssertEqual(SOAPFault.read(envelope: Array(long.utf8))?.reason.count, 500)
    }

    /// SOAP 1.2 Part 1 §5.4.7: a VersionMismatch fault carries an Upgrade block naming the SOAP
    /// 1.2 Envelope, here in a SOAP 1.1 envelope (Appendix A); it reads back as what it is.
    func testVersionMismatchFaultInSOAP11WithTheUpgradeBlock() throws {
        let signal = SignalMessage(messageInfo: MessageInfo(messageId: "err@x", refToMessageId: "m@x"),
                                   kind: .errors([ErrorDetail(EbmsError(.processingModeMismatch, "SOAP 1.2 only"))]))
        let bytes = EnvelopeBuilder.envelope(Messaging(signal), soapVersion: .soap11, fault: SOAPFault(code: .versionMismatch, reason: "Version Mismatch"))
        let root = try XCTUnwrap(try XMLDocument(parsing: bytes).root)
        XCTAssertTrue(root.isElement("Envelope", NS.soap11))
        let supported = try XCTUnwrap(root.firstChild("Header", NS.soap11)?.firstChild("Upgrade", NS.soap12)?.firstChild("SupportedEnvelope", NS.soap12))
        let qname = try XCTUnwrap(supported.attribute("qname")).split(separator: ":").map(String.init)
        XCTAssertEqual(qname.last, "Envelope")
        XCTAssertEqual(supported.namespaceURI(forPrefix: qname.first), NS.soap12)
        let fault = try XCTUnwrap(root.firstChild("Body", NS.soap11)?.firstChild("Fault", NS.soap11))
        XCTAssertEqual(fault.firstChild("faultcode", nil)?.trimmedText, "S11:VersionMismatch")
        XCTAssertEqual(SOAPFault.read(envelope: bytes), SOAPFault(code: .versionMismatch, reason: "S11:VersionMismatch Version Mismatch"))
        // Parsed again as an ebMS message: eb:Messaging is marked as SOAP 1.1 has it.
        XCTAssertEqual(try EnvelopeParser.parse(bytes).messaging.signals.count, 1)
    }

    /// Each qname resolves, on its own element, to the block's namespace and local name, whatever
    /// prefix the sender used: its own, none (default namespace), ours, a reserved one, or none at all.
    func testMustUnderstandFaultNamesEachBlockInANotUnderstoodHeader() throws {
        let blocks = [
            HeaderBlockName(namespaceURI: "urn:x", localName: "Extension", prefix: "abc"),
            HeaderBlockName(namespaceURI: "urn:y", localName: "Routing"),
            HeaderBlockName(namespaceURI: "urn:z", localName: "Clash", prefix: "env"),
            HeaderBlockName(namespaceURI: "urn:w", localName: "Reserved", prefix: "xmlfoo"),
            HeaderBlockName(namespaceURI: "urn:a\"<b>", localName: "Escaped", prefix: "q"),
            HeaderBlockName(namespaceURI: nil, localName: "Unqualified"),
        ]
        let signal = SignalMessage(messageInfo: MessageInfo(messageId: "err@x", refToMessageId: "m@x"),
                                   kind: .errors([ErrorDetail(EbmsError(.invalidHeader, "not understood"))]))
        let fault = SOAPFault(code: .mustUnderstand, reason: "EBMS:0009 InvalidHeader", notUnderstood: blocks)
        let built = EnvelopeBuilder.build(Messaging(signal, id: "_m"), bodyId: "_b", fault: fault)
        let root = try XCTUnwrap(try XMLDocument(parsing: built.bytes).root)
        let header = try XCTUnwrap(root.firstChild("Header", NS.soap12))
        let named = header.children("NotUnderstood", NS.soap12)
        guard named.count == blocks.count else {
            return XCTFail("\(named.count) NotUnderstood blocks for \(blocks.count): \(String(decoding: built.bytes, as: UTF8.self))")
        }
        for (element, block) in zip(named, blocks) {
            let qname = try XCTUnwrap(element.attribute("qname"))
            let parts = qname.split(separator: ":", maxSplits: 1).map(String.init)
            let prefix = parts.count == 2 ? parts[0] : nil
            XCTAssertEqual(parts.last, block.localName, qname)
            XCTAssertEqual(element.namespaceURI(forPrefix: prefix), block.namespaceURI, "\(qname) resolves to the block's namespace")
            XCTAssertNil(element.attribute("mustUnderstand", NS.soap12))
        }
        XCTAssertEqual(named[0].attribute("qname"), "abc:Extension", "the sender's own prefix where it is safe")
        XCTAssertNotEqual(named[2].attribute("qname"), "env:Clash", "never a redeclared env prefix")
        XCTAssertEqual(header.children("Messaging", NS.eb).count, 1)
        XCTAssertEqual(Array(built.bytes[built.messagingRange]).starts(with: Array("<eb:Messaging".utf8)), true,
                       "eb:Messaging keeps its signed range")
        XCTAssertEqual(SOAPFault.read(envelope: built.bytes)?.code, .mustUnderstand)

        let other = EnvelopeBuilder.build(Messaging(signal), fault: SOAPFault(code: .sender, reason: "EBMS:0003"))
        XCTAssertFalse(String(decoding: other.bytes, as: UTF8.self).contains("NotUnderstood"))
    }

    /// A peer that refuses with a bare Fault may put the ebMS error in the Fault's Detail (SOAP
    /// 1.2 env:Detail, SOAP 1.1 unqualified detail): it is read with its code and words; an
    /// eb:Error that cannot be read is left out, and the Fault still reads.
    func testAnEbMSErrorInTheFaultDetailIsRead() throws {
        let eb = "http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/"
        let soap12 = """
            <e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body><e:Fault><e:Code><e:Value>e:Sender</e:Value></e:Code>
            <e:Reason><e:Text xml:lang="en">Internal error</e:Text></e:Reason><e:Detail>
            <eb:Error xmlns:eb="\(eb)" errorCode="EBMS:0103" severity="failure" origin="security" category="Processing"
             shortDescription="PolicyNoncompliance" refToMessageInError="m@x"><eb:Description xml:lang="en">no signature</eb:Description>
            <eb:ErrorDetail>wsse:Security missing</eb:ErrorDetail></eb:Error>
            <eb:Error xmlns:eb="\(eb)" severity="failure"/></e:Detail></e:Fault></e:Body></e:Envelope>
            """
        let fault = try XCTUnwrap(SOAPFault.read(envelope: Array(soap12.utf8)))
        XCTAssertEqual(fault.reason, "e:Sender Internal error")
        XCTAssertEqual(fault.errors, [ErrorDetail(errorCode: "EBMS:0103", severity: "failure", origin: "security", category: "Processing",
                                                  refToMessageInError: "m@x", shortDescription: "PolicyNoncompliance",
                                                  description: PartDescription("no signature", lang: "en"), detail: "wsse:Security missing")])
        let soap11 = """
            <s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault><faultcode>s:Server</faultcode>
            <faultstring>down</faultstring><detail><eb:Error xmlns:eb="\(eb)" errorCode="EBMS:0004" severity="warning"/></detail></s:Fault></s:Body></s:Envelope>
            """
        XCTAssertEqual(SOAPFault.read(envelope: Array(soap11.utf8))?.errors.map(\.errorCode), ["EBMS:0004"])
        let unreadable = soap12.replacingOccurrences(of: "errorCode=\"EBMS:0103\" severity=\"failure\"", with: "errorCode=\"EBMS:0103\" severity=\"fatal\"")
        XCTAssertEqual(SOAPFault.read(envelope: Array(unreadable.utf8))?.errors, [])
    }
}

import XCTest
@testable import EnvelopeXML

/// Bare SOAP Faults as peers answer them (1.2 and 1.1), and envelopes that hold none.
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
}

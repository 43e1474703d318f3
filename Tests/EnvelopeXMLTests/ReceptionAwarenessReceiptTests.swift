@testable import EnvelopeXML
import Foundation
import XCTest

/// The receipt for a message received without a signature (an agreement without signing): its
/// one element must be readable as the eb:UserMessage it acknowledges by a reader that binds it
/// by type, not by name (Domibus' reliability check without non-repudiation unmarshals the
/// receipt's element as a UserMessage and compares it with the message it sent), while staying
/// in a foreign namespace, which the eb:Receipt schema requires and phase4 validates.
final class ReceptionAwarenessReceiptTests: XCTestCase {
    let user = UserMessage(
        mpc: "urn:example:mpc:orders",
        messageInfo: MessageInfo(timestamp: Timestamp(lexical: "2026-11-28T10:15:30.123Z")!, messageId: "m-1@peer.example"),
        from: Party(PartyId("peer", type: "urn:oasis:names:tc:ebcore:partyid-type:unregistered"), role: EbmsConstants.defaultRole),
        to: Party(PartyId("us", type: "urn:oasis:names:tc:ebcore:partyid-type:unregistered"), role: EbmsConstants.defaultRole),
        collaboration: CollaborationInfo(agreementRef: AgreementRef("urn:example:agreement"), service: Service("urn:example:service"),
                                         action: "Deliver", conversationId: "c-1"),
        properties: [Property("originalSender", "urn:example:sender", type: "urn:example:type")],
        payloads: [PartInfo(href: "cid:p-1@peer.example", properties: [Property("MimeType", "application/xml")])])

    func testTheCopyIsAForeignElementWithTheUserMessagesContent() throws {
        let copy = EnvelopeBuilder.userMessageCopy(user)
        let root = try XCTUnwrap(try XMLDocument(parsing: copy).root)
        XCTAssertNotEqual(root.namespaceURI, NS.eb, "eb:Receipt admits elements of other namespaces only")
        // Read as Domibus' JAXB reads it: the element's attributes and children as a UserMessage.
        var findings: [ProfileFinding] = []
        let read = try EnvelopeParser.readUser(root, findings: &findings)
        XCTAssertEqual(read, user)
        XCTAssertTrue(findings.isEmpty, "\(findings)")
    }

    /// The receipt carrying it is read back like any other: one foreign element in eb:Receipt.
    func testAReceiptWithTheCopyParses() throws {
        let signal = SignalMessage(messageInfo: MessageInfo(messageId: "r-1@us.example", refToMessageId: user.messageInfo.messageId),
                                   kind: .receipt(Receipt(content: [EnvelopeBuilder.userMessageCopy(user)])))
        let parsed = try EnvelopeParser.parse(EnvelopeBuilder.envelope(Messaging(signal)))
        guard case .receipt(let receipt) = parsed.messaging.signals.first?.kind else { return XCTFail("no receipt") }
        XCTAssertEqual(receipt.content.count, 1)
        XCTAssertTrue(receipt.content[0].contains("<eb:MessageId>m-1@peer.example</eb:MessageId>"), receipt.content[0])
    }
}

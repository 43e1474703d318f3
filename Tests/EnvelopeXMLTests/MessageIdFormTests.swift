import EnvelopeXML
import XCTest

/// The eb:MessageId form we send: `left@right`, both RFC 5322 dot-atoms, the one form Oxalis
/// receives (it answers any other with EBMS:0009).
final class MessageIdFormTests: XCTestCase {
    func testDotAtomIdsAndOthers() {
        for id in ["2f1c0a4e-1b7d-4c1e-9a63-0e0b6d3d7f10@gw-a", "invoice-7.2026@erp.example", "a@b", "x+y/z=1!#$%&'*^_`{|}~@h-1.h2"] {
            XCTAssertTrue(MessageIdForm.isDotAtom(id), id)
        }
        for id in ["invoice-2026-001", "@gw-a", "m@", "a@b@c", ".a@b", "a.@b", "a..b@c", "a@b..c", "a@.b", "a@b.",
                   "a b@c", "\"quoted\"@c", "a@[192.0.2.1]", "a:b@c", "a@b,c", "dossier-é@gw-a", "a@gw-ä", "a@b\u{0}"] {
            XCTAssertFalse(MessageIdForm.isDotAtom(id), id)
        }
    }

    /// Every party name gives a domain that makes a dot-atom id, within the bound.
    func testTheDomainOfAPartyName() {
        let cases: [(String, String)] = [("gw-a", "gw-a"), ("Ministère des Finances", "MinistredesFinances"), ("acme corp.", "acmecorp"),
                                          ("..a..b..", "a.b"), ("_", "as4gw"), ("ä", "as4gw"), ("ap.example.eu", "ap.example.eu")]
        for (name, domain) in cases {
            XCTAssertEqual(MessageIdForm.domain(from: name, maxLength: 40), domain, name)
            XCTAssertTrue(MessageIdForm.isDotAtom(Identifier.messageId(domain: MessageIdForm.domain(from: name, maxLength: 40))), name)
        }
        // Cut at the bound, and a cut that ends in a dot loses the dot.
        XCTAssertEqual(MessageIdForm.domain(from: "abcd.efgh", maxLength: 5), "abcd")
        XCTAssertEqual(MessageIdForm.domain(from: String(repeating: "x", count: 300), maxLength: 218).utf8.count, 218)
    }
}

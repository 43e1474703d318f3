import Foundation
import XCTest
@testable import Routing

/// Who may write to whom: the law's default, each extension's switch and the recipient's opt-in,
/// and the order in which the delivery rules give their one reason.
final class MessagingPolicyTests: XCTestCase {
    let law = MessagingPolicy()
    let everything = MessagingPolicy(companyToPerson: true, personToCompany: true, personToPerson: true, companyToCompany: true)
    let both = MessagingPolicy.OptIn(fromCompanies: true, fromPersons: true)

    func testTheLawAllowsTheStateBothWaysAndNothingBetweenPrivateParties() {
        let kinds = OwnerKind.allCases
        for s in kinds {
            for r in kinds {
                let decision = law.decide(from: s, to: r, recipientOptIn: both)
                if s == .institution || r == .institution {
                    XCTAssertEqual(decision, .allowed, "\(s) → \(r)")
                } else if case .forbidden(let rule, let reason) = decision {
                    XCTAssertTrue(reason.contains("messagingPolicy.\(rule) is off"), reason)
                } else {
                    XCTFail("\(s) → \(r) is outside the law, yet allowed")
                }
            }
        }
    }

    func testEachSwitchOpensOnlyItsDirectionAndOnlyForRecipientsWhoOptedIn() {
        let cases: [(OwnerKind, OwnerKind, String, MessagingPolicy.OptIn)] = [
            (.company, .naturalPerson, "companyToPerson", .init(fromCompanies: true)),
            (.naturalPerson, .company, "personToCompany", .init(fromPersons: true)),
            (.naturalPerson, .naturalPerson, "personToPerson", .init(fromPersons: true)),
            (.company, .company, "companyToCompany", .init(fromCompanies: true)),
        ]
        for (s, r, rule, optIn) in cases {
            var one = MessagingPolicy()
            switch rule {
            case "companyToPerson": one.companyToPerson = true
            case "personToCompany": one.personToCompany = true
            case "personToPerson": one.personToPerson = true
            default: one.companyToCompany = true
            }
            XCTAssertEqual(one.decide(from: s, to: r, recipientOptIn: optIn), .allowed, rule)
            // Switched on, but the recipient consented only to the other kind of sender.
            let wrongOptIn = MessagingPolicy.OptIn(fromCompanies: !optIn.fromCompanies, fromPersons: !optIn.fromPersons)
            guard case .forbidden(rule, let reason) = one.decide(from: s, to: r, recipientOptIn: wrongOptIn) else {
                return XCTFail("\(rule) without the recipient's opt-in is allowed")
            }
            XCTAssertTrue(reason.contains("has not opted in"), reason)
            // The other three directions stay closed under this one switch.
            for (s2, r2, rule2, optIn2) in cases where rule2 != rule {
                guard case .forbidden(rule2, _) = one.decide(from: s2, to: r2, recipientOptIn: optIn2) else {
                    return XCTFail("\(rule) also opened \(rule2)")
                }
            }
        }
    }

    func testOwnerKindsComeFromTheEntryElseFromTheAddress() throws {
        XCTAssertEqual(MessagingPolicy.kind(of: try EAddress("_PRIVATE@16117519997"), entry: nil), .naturalPerson)
        XCTAssertEqual(MessagingPolicy.kind(of: try EAddress("DVS@90000048472"), entry: nil), .institution)
        XCTAssertEqual(MessagingPolicy.kind(of: try EAddress("_DEFAULT@40003032949"), entry: nil), .company)
        XCTAssertEqual(MessagingPolicy.kind(of: try EAddress("iso6523-actorid-upis::0190:abc"), entry: nil), .company)
        let a = try EAddress("_DEFAULT@40003032949")
        XCTAssertEqual(MessagingPolicy.kind(of: a, entry: DirectoryEntry(address: a, owner: .init(id: "40003032949", kind: .institution))), .institution)
    }

    func testDeliveryRulesRevealTheNonDigitalRegisterOnlyToSendersAllowedToWriteToPersons() throws {
        let person = try EAddress("_PRIVATE@16117519997"), company = try EAddress("_DEFAULT@40003032949"), state = try EAddress("DVS@90000048472")
        let rules = DeliveryRules(policy: everything)
        // A liquidated sender and a sender the policy refuses learn nothing of the register.
        let first = rules.check(sender: DeliveryParty(address: company, kind: .company, company: .liquidated(status: "L", on: nil)),
                                recipient: DeliveryParty(address: person, kind: .naturalPerson), recipientOptIn: .none, recipientNonDigital: true)
        XCTAssertEqual(first?.outcome, "CompanyLiquidated")
        let unasked = DeliveryRules(policy: law).check(sender: DeliveryParty(address: company, kind: .company),
                                                       recipient: DeliveryParty(address: person, kind: .naturalPerson), recipientOptIn: both,
                                                       recipientNonDigital: true)
        XCTAssertEqual(unasked?.outcome, "PolicyForbidden")
        XCTAssertNotNil(rules.checkBeforeRegister(sender: DeliveryParty(address: company, kind: .company), recipient: DeliveryParty(address: person, kind: .naturalPerson),
                                                  recipientOptIn: .none), "no opt-in: refused before the register is read")
        // A sender allowed to write to the person learns that it receives no e-address mail, and no more.
        XCTAssertNil(rules.checkBeforeRegister(sender: DeliveryParty(address: state, kind: .institution), recipient: DeliveryParty(address: person, kind: .naturalPerson),
                                               recipientOptIn: .none))
        let paper = rules.check(sender: DeliveryParty(address: state, kind: .institution), recipient: DeliveryParty(address: person, kind: .naturalPerson),
                                recipientOptIn: .none, recipientNonDigital: true)
        XCTAssertEqual(paper, DeliveryRules.nonDigitalRefusal(DeliveryParty(address: person, kind: .naturalPerson)))
        XCTAssertEqual(paper?.outcome, "RecipientNonDigital")
        XCTAssertEqual(paper?.reason, "_PRIVATE@16117519997 belongs to a person who receives no e-address mail (non-digital persons register); send it on paper")
        // A liquidated company sender, even to the state.
        let liquidated = rules.check(sender: DeliveryParty(address: company, kind: .company, company: .liquidated(status: "L", on: Date(timeIntervalSince1970: 0))),
                                     recipient: DeliveryParty(address: state, kind: .institution), recipientOptIn: .none, recipientNonDigital: false)
        XCTAssertEqual(liquidated?.outcome, "CompanyLiquidated")
        XCTAssertTrue(liquidated?.reason.contains("the sender _DEFAULT@40003032949") ?? false, liquidated?.reason ?? "")
        let unregistered = rules.check(sender: DeliveryParty(address: state, kind: .institution),
                                       recipient: DeliveryParty(address: company, kind: .company, company: .notRegistered), recipientOptIn: .none, recipientNonDigital: false)
        XCTAssertEqual(unregistered?.outcome, "CompanyNotRegistered")
        // No register: nothing to check against.
        XCTAssertNil(rules.check(sender: DeliveryParty(address: state, kind: .institution), recipient: DeliveryParty(address: company, kind: .company),
                                 recipientOptIn: .none, recipientNonDigital: false))
        // Then the policy.
        let forbidden = DeliveryRules(policy: law).check(sender: DeliveryParty(address: person, kind: .naturalPerson),
                                                         recipient: DeliveryParty(address: try EAddress("_PRIVATE@32123456789"), kind: .naturalPerson),
                                                         recipientOptIn: both, recipientNonDigital: false)
        XCTAssertEqual(forbidden?.outcome, "PolicyForbidden")
        XCTAssertTrue(forbidden?.reason.contains("personToPerson") ?? false)
        // One owner's addresses write to each other under the law alone; another company's do not.
        let department = try EAddress("SALES@40003032949")
        XCTAssertNil(DeliveryRules(policy: law).check(sender: DeliveryParty(address: department, kind: .company), recipient: DeliveryParty(address: company, kind: .company),
                                                      recipientOptIn: .none, recipientNonDigital: false))
        XCTAssertEqual(DeliveryRules(policy: law).check(sender: DeliveryParty(address: try EAddress("_DEFAULT@40003000001"), kind: .company),
                                                        recipient: DeliveryParty(address: company, kind: .company), recipientOptIn: .none,
                                                        recipientNonDigital: false)?.outcome, "PolicyForbidden")
        // …but a liquidated company stays refused, even to itself.
        XCTAssertEqual(DeliveryRules(policy: law).check(sender: DeliveryParty(address: department, kind: .company, company: .liquidated(status: "L", on: nil)),
                                                        recipient: DeliveryParty(address: company, kind: .company, company: .liquidated(status: "L", on: nil)),
                                                        recipientOptIn: .none, recipientNonDigital: false)?.outcome, "CompanyLiquidated")
    }

    func testChannelAnswersFollowTheRegisterThenTheRoutersAvailability() throws {
        let t = Date(timeIntervalSince1970: 1_780_000_000)
        let a = try EAddress("_PRIVATE@16117519997")
        let active = DirectoryEntry(address: a, owner: .init(id: "16117519997", kind: .naturalPerson))
        XCTAssertEqual(ChannelAnswer.decide(personalCode: "16117519997", nonDigital: nil, entry: active, at: t), .eAddress(a))
        let status = NonDigitalStatus(reason: "no internet access", validFrom: t, validUntil: nil)
        XCTAssertEqual(ChannelAnswer.decide(personalCode: "16117519997", nonDigital: status, entry: active, at: t), .paperNonDigital(status))
        var blocked = active
        blocked.availability.blockedFrom = t
        guard case .paperNoActiveAddress(let why) = ChannelAnswer.decide(personalCode: "16117519997", nonDigital: nil, entry: blocked, at: t) else {
            return XCTFail("a blocked address is no channel")
        }
        XCTAssertTrue(why.contains("blocked"), why)
        XCTAssertEqual(ChannelAnswer.decide(personalCode: "16117519997", nonDigital: nil, entry: nil, at: t),
                       .paperNoActiveAddress("_PRIVATE@16117519997 is not in the e-address directory"))
        XCTAssertEqual(try ChannelAnswer.personalCode("161175-19997").get(), "16117519997")
        guard case .failure(let e) = ChannelAnswer.personalCode("16117519990") else { return XCTFail("a wrong check digit passed") }
        XCTAssertTrue(e.reason.contains("check digit"), e.reason)
    }
}

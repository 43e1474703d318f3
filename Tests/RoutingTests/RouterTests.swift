import Foundation
import XCTest
@testable import Routing

/// Route decisions: one distinct outcome per case, with the bounds of every date exact (a start
/// is inclusive, an end exclusive).
final class RouterTests: XCTestCase {
    private let t = Date(timeIntervalSince1970: 1_780_000_000)
    private let sender = try! EAddress("_DEFAULT@90000048472")

    private func entry(_ address: String, kind: OwnerKind = .company, limits: DirectoryEntry.Limits = .init(),
                       availability: DirectoryEntry.Availability = .init(),
                       accessPoint: DirectoryEntry.AccessPoint = .localMailbox) throws -> DirectoryEntry {
        let a = try EAddress(address)
        return DirectoryEntry(address: a, owner: .init(id: a.latvianIdentifier ?? "owner-1", kind: kind), limits: limits,
                              availability: availability, accessPoint: accessPoint)
    }

    private func router(_ entries: [DirectoryEntry]) throws -> Router {
        Router(directory: try AddressDirectory(entries))
    }

    func testLocalMailboxAndUnknownAddress() throws {
        let local = try entry("_DEFAULT@40003032949")
        let r = try router([local])
        let decision = try r.route(to: try EAddress("_default@40003032949"), from: sender, size: 10, at: t)
        XCTAssertEqual(decision, .localMailbox(local), "found under another spelling")
        XCTAssertTrue(decision.isDeliverable)
        XCTAssertEqual(decision.outcome, "localMailbox")
        XCTAssertEqual(decision.reason, "_DEFAULT@40003032949 is served by this gateway's mailbox")

        let unknown = try r.route(to: try EAddress("OTHER@40003032949"), from: sender, size: 10, at: t)
        XCTAssertEqual(unknown, .unknownAddress(try EAddress("OTHER@40003032949")))
        XCTAssertFalse(unknown.isDeliverable)
        XCTAssertEqual(unknown.reason, "OTHER@40003032949 is not in the e-address directory")
    }

    func testRemoteAccessPointCarriesFourCornerProperties() throws {
        let ap = RemoteAccessPoint(partyId: "ap-b", partyIdType: "urn:oasis:names:tc:ebcore:partyid-type:unregistered",
                                   endpoint: URL(string: "https://ap-b.example/as4")!, certificates: [.fingerprint(String(repeating: "ab", count: 32))])
        let remote = try entry("_PRIVATE@16117519997", kind: .naturalPerson, accessPoint: .remote(ap))
        let decision = try router([remote]).route(to: try EAddress("_PRIVATE@161175-19997"), from: sender, size: nil, at: t)
        guard case .remoteAccessPoint(let route) = decision else { return XCTFail("\(decision)") }
        XCTAssertEqual(route.accessPoint, ap)
        XCTAssertEqual(route.originalSender, sender)
        XCTAssertEqual(route.finalRecipient.canonical, "_PRIVATE@16117519997")
        XCTAssertEqual(decision.outcome, "remoteAccessPoint")
        XCTAssertTrue(decision.isDeliverable)
        XCTAssertEqual(decision.reason, "_PRIVATE@16117519997 is served by access point ap-b at https://ap-b.example/as4")
        // An operator's lookup has no sender; the route is the same.
        let lookup = Router.decide(remote, from: nil, size: nil, at: t)
        guard case .remoteAccessPoint(let anonymous) = lookup else { return XCTFail("\(lookup)") }
        XCTAssertNil(anonymous.originalSender)
    }

    func testActivationBoundary() throws {
        let e = try entry("_DEFAULT@40003032949", availability: .init(activeFrom: t))
        XCTAssertEqual(Router.decide(e, from: sender, size: 1, at: t - 0.001), .notYetActive(e.address, activeFrom: t))
        XCTAssertEqual(Router.decide(e, from: sender, size: 1, at: t), .localMailbox(e), "active from its first instant")
        XCTAssertEqual(Router.decide(e, from: sender, size: 1, at: t - 1).reason,
                       "_DEFAULT@40003032949 becomes active on \(RFC3339.format(t)) and receives nothing before")
    }

    func testSuspensionBoundaries() throws {
        let until = t + 86_400
        let e = try entry("_DEFAULT@40003032949", availability: .init(suspendedFrom: t, suspendedUntil: until))
        XCTAssertEqual(Router.decide(e, from: sender, size: 1, at: t - 0.001), .localMailbox(e))
        XCTAssertEqual(Router.decide(e, from: sender, size: 1, at: t), .suspended(e.address, from: t, until: until))
        XCTAssertEqual(Router.decide(e, from: sender, size: 1, at: until - 0.001), .suspended(e.address, from: t, until: until))
        XCTAssertEqual(Router.decide(e, from: sender, size: 1, at: until), .localMailbox(e), "the end is exclusive")
        XCTAssertTrue(Router.decide(e, from: sender, size: 1, at: t).reason.hasSuffix("until \(RFC3339.format(until))"))

        let open = try entry("_DEFAULT@40003032949", availability: .init(suspendedFrom: t))
        XCTAssertEqual(Router.decide(open, from: sender, size: 1, at: t + 10 * 365 * 86_400), .suspended(open.address, from: t, until: nil))
        XCTAssertTrue(Router.decide(open, from: sender, size: 1, at: t).reason.hasSuffix("until further notice"))
    }

    func testBlockBoundaryAndPrecedence() throws {
        let e = try entry("_DEFAULT@40003032949", limits: .init(maxMessageBytes: 10),
                          availability: .init(activeFrom: t + 100, suspendedFrom: t - 100, blockedFrom: t))
        XCTAssertEqual(Router.decide(e, from: sender, size: 1, at: t - 0.001), .notYetActive(e.address, activeFrom: t + 100))
        XCTAssertEqual(Router.decide(e, from: sender, size: 999, at: t), .blocked(e.address, since: t), "blocked beats everything")
        XCTAssertEqual(Router.decide(e, from: sender, size: 1, at: t + 1000).reason, "_DEFAULT@40003032949 is blocked since \(RFC3339.format(t))")

        let suspendedAndLarge = try entry("_DEFAULT@40003032949", limits: .init(maxMessageBytes: 10), availability: .init(suspendedFrom: t))
        XCTAssertEqual(Router.decide(suspendedAndLarge, from: sender, size: 11, at: t), .suspended(suspendedAndLarge.address, from: t, until: nil))
    }

    func testSizeLimitBoundary() throws {
        let e = try entry("_DEFAULT@40003032949", limits: .init(maxMessageBytes: 1000, mailboxBytes: 10, retentionDays: 30))
        XCTAssertEqual(Router.decide(e, from: sender, size: 1000, at: t), .localMailbox(e), "exactly the limit is allowed")
        let over = Router.decide(e, from: sender, size: 1001, at: t)
        XCTAssertEqual(over, .tooLarge(e.address, size: 1001, limit: 1000))
        XCTAssertEqual(over.outcome, "tooLarge")
        XCTAssertEqual(over.reason, "the message is 1001 bytes; _DEFAULT@40003032949 accepts at most 1000 bytes")
        XCTAssertEqual(Router.decide(e, from: sender, size: nil, at: t), .localMailbox(e), "size not known yet: no verdict on it")
        let unlimited = try entry("_DEFAULT@40003032949")
        XCTAssertEqual(Router.decide(unlimited, from: sender, size: Int.max, at: t), .localMailbox(unlimited))
    }

    func testEveryOutcomeHasItsOwnName() throws {
        let e = try entry("_DEFAULT@40003032949")
        let outcomes: [RouteDecision] = [
            .localMailbox(e), .remoteAccessPoint(.init(entry: e, accessPoint: RemoteAccessPoint(partyId: "p", endpoint: URL(string: "https://x")!, certificates: []),
                                                       originalSender: nil, finalRecipient: e.address)),
            .unknownAddress(e.address), .notYetActive(e.address, activeFrom: t), .suspended(e.address, from: t, until: nil),
            .blocked(e.address, since: t), .tooLarge(e.address, size: 2, limit: 1),
        ]
        XCTAssertEqual(Set(outcomes.map(\.outcome)).count, outcomes.count)
        XCTAssertEqual(outcomes.filter(\.isDeliverable).count, 2)
        XCTAssertEqual(Set(outcomes.map(\.reason)).count, outcomes.count)
    }

    func testLookupFailuresPropagate() throws {
        struct Broken: AddressLookup {
            struct Down: Error {}
            func entry(for address: EAddress) throws -> DirectoryEntry? { throw Down() }
        }
        XCTAssertThrowsError(try Router(directory: Broken()).route(to: sender, from: nil, size: 1, at: t)) { XCTAssertTrue($0 is Broken.Down) }
    }
}

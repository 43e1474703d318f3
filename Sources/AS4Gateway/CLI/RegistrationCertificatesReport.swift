import Foundation
import MessageStore

/// `as4gw certs --registrations`: the self-service registrations' certificates that end soon,
/// from the store (the same list as `GET /api/v1/registrations/expiring`).
enum RegistrationCertificatesReport {
    static func run(_ a: Arguments, days: Int, help: String) -> Int32 {
        if a.value("pmode") != nil { return CLI.usageError("--registrations reads the store: give --data DIR or --config FILE, not --pmode", help: help) }
        if a.value("data") != nil && a.value("config") != nil { return CLI.usageError("give --data or --config, not both", help: help) }
        let store: any RegistrationStore
        do {
            if let data = a.value("data") {
                store = try SQLiteRegistrationStore(dataDirectory: data)
            } else {
                store = try GatewayConfiguration.load(path: a.value("config")).storeLocation().openRegistrations(schema: .existing)
            }
        } catch {
            CLI.printError("as4gw: cannot open the store: \(error)")
            return 1
        }
        defer { store.close() }
        let entries: [SelfService.Expiring]
        do {
            entries = try SelfService.expiring(within: days, store: store)
        } catch {
            CLI.printError("as4gw: cannot read the registrations: \(error)")
            return 1
        }
        if a.has("json") {
            print(JSON.object([("days", .int(days)), ("certificates", .array(entries.map(SelfService.json)))]).serialized())
        } else {
            for e in entries {
                print([e.expired ? "EXPIRED" : "EXPIRING", e.registration.id, e.registration.registrationNumber, e.certificate.sha256,
                       e.certificate.subject, SelfService.timestamp(e.certificate.usableUntil), "\(e.daysLeft) day(s) left"].joined(separator: "  "))
            }
        }
        return entries.contains { $0.expired } ? 1 : 0
    }
}

import AS4Crypto
import Foundation
import MessageStore
import Routing

/// `as4gw connections add|list|revoke`: the backend connections of the REST API in the node's store.
enum ConnectionsCommand {
    static let help = """
    Usage: as4gw connections add NAME --address A [--address B …] [--shared] [--role R …] [--certificate PEM]
                                 [--webhook URL] [--data DIR | --config FILE]
           as4gw connections list [--data DIR | --config FILE]
           as4gw connections revoke NAME [--data DIR | --config FILE]

    add     Creates a connection that may send from and read the given e-addresses. Without
            --certificate it prints a new API token once (only its SHA-256 is stored: keep the
            token, it cannot be shown again); with --certificate the connection authenticates
            by that TLS client certificate (its SHA-256 fingerprint is stored). --webhook URL
            pushes the connection's notifications there, signed with HMAC-SHA256 under a
            webhook secret printed once (docs/API.md). --role grants more: `operator`
            (registers, approvals, legal holds, limits) or `lookup` (the channel lookup of
            state and municipal systems); a connection with a role needs no --address.
            An address another active connection holds is refused: whoever holds an address
            reads its mailbox, its notifications and the documents sent from it. --shared
            gives it to this connection as well, on purpose (one organisation's two systems).
    list    Prints every connection as JSON lines: name, credential kind, addresses, revoked.
    revoke  Ends a connection at once; its credentials are refused from the next request on.

    The store: SQLite in --data DIR, or that of the configuration --config FILE (SQLite or
    PostgreSQL; on PostgreSQL every node sharing it serves the connection).
    """

    static func run(_ args: [String]) -> Int32 {
        var rest = args[...]
        let verb = rest.popFirst()
        let a: Arguments
        do {
            a = try Arguments(Array(rest), valued: ["address", "role", "certificate", "webhook", "data", "config"], flags: ["shared"])
        } catch {
            return CLI.usageError("\(error)", help: help)
        }
        let store: any MailboxStore
        do {
            if let data = a.value("data") {
                store = try SQLiteMailboxStore(dataDirectory: data)
            } else {
                store = try GatewayConfiguration.load(path: a.value("config")).storeLocation().openMailbox(schema: .existing)
            }
        } catch {
            return CLI.ioError("cannot open the store: \(error)")
        }
        defer { store.close() }
        do {
            switch verb {
            case "add":
                guard a.positionals.count == 1, let name = a.positionals.first, !name.isEmpty else { return CLI.usageError("add takes one NAME", help: help) }
                let addresses = a.values("address")
                var roles: Set<ConnectionRole> = []
                for text in a.values("role") {
                    guard let role = ConnectionRole(rawValue: text) else {
                        return CLI.usageError("--role \(text): not one of \(ConnectionRole.allCases.map(\.rawValue).joined(separator: ", "))", help: help)
                    }
                    roles.insert(role)
                }
                guard !addresses.isEmpty || !roles.isEmpty else { return CLI.usageError("add needs at least one --address or --role", help: help) }
                var canonical: [String] = []
                for text in addresses {
                    do { canonical.append(try EAddress(text).canonical) } catch { return CLI.usageError("--address \(text): \(error)", help: help) }
                }
                var token: String?
                var tokenHash: String?
                var fingerprint: String?
                if let pem = a.value("certificate") {
                    guard let cert = try Certificate.certificates(fromPEM: String(contentsOfFile: pem, encoding: .utf8)).first else {
                        return CLI.ioError("\(pem) holds no certificate")
                    }
                    fingerprint = try APICredentials.fingerprint(cert)
                } else {
                    let t = try APICredentials.newToken()
                    token = t.token
                    tokenHash = t.sha256
                }
                var webhookSecret: String?
                if let url = a.value("webhook") {
                    guard let parsed = URL(string: url), ["http", "https"].contains(parsed.scheme ?? ""), parsed.host != nil else {
                        return CLI.usageError("--webhook \(url) is not an http(s) URL", help: help)
                    }
                    webhookSecret = APICredentials.hex(try SecureRandom.bytes(32))
                }
                let holders = try AddressHolders.others(of: canonical, except: name, store: store).map(\.description)
                if !holders.isEmpty {
                    guard a.has("shared") else {
                        CLI.printError("as4gw: refused: \(holders.joined(separator: ", ")); a second connection holding an address reads its "
                                       + "mailbox, its notifications and the documents sent from it. Nothing was stored. Give --shared to share "
                                       + "\(holders.count == 1 ? "it" : "them") on purpose.")
                        return 1
                    }
                    CLI.printError("as4gw: shared on purpose (--shared): \(holders.joined(separator: ", "))")
                }
                try store.addConnection(BackendConnection(name: name, tokenSHA256: tokenHash, certificateSHA256: fingerprint,
                                                          addresses: canonical, createdAt: Date(), webhookURL: a.value("webhook"),
                                                          webhookSecret: webhookSecret, roles: roles))
                print(JSON.object([("name", .string(name)), ("token", .string(token)), ("certificateSHA256", .string(fingerprint)),
                                   ("addresses", .array(canonical.map(JSON.string))),
                                   ("roles", .array(roles.sorted().map { .string($0.rawValue) })), ("webhook", .string(a.value("webhook"))),
                                   ("webhookSecret", .string(webhookSecret))]).serialized(pretty: false))
                return 0
            case "list":
                for c in try store.connections() {
                    print(JSON.object([("name", .string(c.name)), ("credential", .string(c.tokenSHA256 != nil ? "token" : "certificate")),
                                       ("addresses", .array(c.addresses.map(JSON.string))),
                                       ("roles", .array(c.roles.sorted().map { .string($0.rawValue) })), ("revoked", .bool(c.revokedAt != nil))]).serialized(pretty: false))
                }
                return 0
            case "revoke":
                guard a.positionals.count == 1 else { return CLI.usageError("revoke takes one NAME", help: help) }
                guard try store.revokeConnection(name: a.positionals[0], at: Date()) else {
                    CLI.printError("as4gw: no active connection named \(a.positionals[0])")
                    return 1
                }
                return 0
            case "--help", "-h", "help": print(help); return 0
            default: return CLI.usageError("connections needs add, list or revoke", help: help)
            }
        } catch {
            return CLI.ioError("\(error)")
        }
    }
}

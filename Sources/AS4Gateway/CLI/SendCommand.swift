import Foundation
import HTTPClient

/// `as4gw send`: hands a message to the running daemon's local submission endpoint.
enum SendCommand {
    static let help = """
    Usage: as4gw send --to PARTY --service S --action A [--service-type T] [--property K=V ...]
                      [--property-type K=T ...] [--conversation-id ID] [--message-id ID]
                      [--ref-to ID] [--mime-type TYPE] [--character-set CS] [--part-property K=V ...]
                      [--config FILE] [--submit URL] [--token-file PATH] FILE...

    Queues a message for delivery by the running gateway (default submission endpoint
    http://127.0.0.1:8080/submit, or the apiListener of --config) and prints its message id.
    The endpoint wants the token the daemon keeps in its data directory (submit.token, readable
    by the daemon's user only): read from --token-file, else from the data directory of --config,
    else from ./data/submit.token. The gateway seals it per the
    P-Mode agreed with PARTY and delivers it with retries; `as4gw serve` logs the outcome.
    --ref-to names the message this one answers (eb:RefToMessageId; the reply leg of a Two-Way
    P-Mode); without --conversation-id the reply joins that message's conversation.
    --message-id and --ref-to take what a receiver accepts: at most 255 characters, no angle
    brackets around it, no white space, control or format characters.
    --property sets an eb:MessageProperties entry (e.g. originalSender, finalRecipient);
    --property-type K=T gives the property K of a --property its type attribute T (e.g.
    --property-type originalSender=iso6523-actorid-upis for Peppol); the value stays as given.
    --character-set and --part-property set eb:PartProperties (CharacterSet, agreement-specific
    ones) of every FILE.
    Exit status: 0 queued; 1 refused by the gateway (reason printed); 2 usage or connection error.
    """

    static func run(_ args: [String]) -> Int32 {
        let a: Arguments
        do {
            a = try Arguments(args, valued: ["to", "service", "service-type", "action", "property", "conversation-id", "message-id",
                                             "ref-to", "mime-type", "character-set", "part-property", "submit", "config",
                                             "token-file", "property-type"], flags: [])
        } catch {
            return CLI.usageError("\(error)", help: help)
        }
        if a.has("help") { print(help); return 0 }
        for r in ["to", "service", "action"] where a.value(r) == nil { return CLI.usageError("send needs --\(r)", help: help) }
        let properties: JSON
        do {
            properties = try messageProperties(a.values("property"), types: a.values("property-type"))
        } catch {
            return CLI.usageError("\(error)", help: help)
        }
        var partProperties: [String: String] = [:]
        for p in a.values("part-property") {
            guard let eq = p.firstIndex(of: "="), eq != p.startIndex else { return CLI.usageError("--part-property takes K=V", help: help) }
            partProperties[String(p[..<eq])] = String(p[p.index(after: eq)...])
        }
        var payloads: [JSON] = []
        for path in a.positionals {
            let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
            guard FileManager.default.isReadableFile(atPath: absolute) else { return CLI.ioError("cannot read \(path)") }
            payloads.append(.object([("path", .string(absolute)), ("mimeType", .string(a.value("mime-type"))),
                                     ("characterSet", .string(a.value("character-set"))),
                                     ("properties", .object(partProperties.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) }))]))
        }
        let body = JSON.object([
            ("to", .string(a.value("to"))), ("service", .string(a.value("service"))), ("serviceType", .string(a.value("service-type"))),
            ("action", .string(a.value("action"))), ("conversationId", .string(a.value("conversation-id"))),
            ("messageId", .string(a.value("message-id"))), ("refToMessageId", .string(a.value("ref-to"))),
            ("properties", properties),
            ("payloads", .array(payloads)),
        ]).serialized(pretty: false)
        let endpoint: (url: String, tokenFile: String)
        do {
            endpoint = try Self.endpoint(config: a.value("config"), submit: a.value("submit"), tokenFile: a.value("token-file"))
        } catch {
            return CLI.usageError("\(error)", help: help)
        }
        guard let token = SubmitToken.read(path: endpoint.tokenFile) else {
            return CLI.ioError("cannot read the submission token \(endpoint.tokenFile): the daemon writes it at start; "
                               + "run as the daemon's user, or name it with --token-file or the daemon's --config")
        }
        do {
            let client = try HTTPClient(configuration: HTTPClientConfiguration())
            let response = try client.post(url: endpoint.url,
                                           headers: [("Content-Type", "application/json"), ("Authorization", "Bearer " + token)],
                                           body: .bytes(Array(body.utf8)))
            let json = (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any]
            if response.status == 202, let id = json?["messageId"] as? String {
                print(id)
                return 0
            }
            CLI.printError("as4gw: the gateway refused the message (HTTP \(response.status)): \(json?["detail"] as? String ?? String(decoding: response.body, as: UTF8.self))")
            return 1
        } catch {
            return CLI.ioError("cannot reach the gateway: \(error)")
        }
    }

    /// The submission's `properties` from `--property K=V` and `--property-type K=T`: a string
    /// for an untyped property, `{"value", "type"}` for a typed one. A type is given apart from
    /// the value, so no value is ever read as one; it must name a property given, once, non-empty.
    static func messageProperties(_ given: [String], types: [String]) throws(Arguments.UsageError) -> JSON {
        func split(_ option: String, _ text: String, _ what: String) throws(Arguments.UsageError) -> (String, String) {
            guard let eq = text.firstIndex(of: "="), eq != text.startIndex else {
                throw Arguments.UsageError(description: "--\(option) takes \(what), not \(text)")
            }
            return (String(text[..<eq]), String(text[text.index(after: eq)...]))
        }
        var values: [String: String] = [:]
        for p in given {
            let (name, value) = try split("property", p, "K=V")
            values[name] = value
        }
        var typed: [String: String] = [:]
        for t in types {
            let (name, type) = try split("property-type", t, "K=T")
            guard values[name] != nil else {
                throw Arguments.UsageError(description: "--property-type \(name) names no --property \(name)=…")
            }
            guard !type.isEmpty else {
                throw Arguments.UsageError(description: "--property-type \(name)= gives an empty type; leave it out for an untyped property")
            }
            guard typed[name] == nil else { throw Arguments.UsageError(description: "--property-type \(name) is given twice") }
            typed[name] = type
        }
        return .object(values.sorted { $0.key < $1.key }.map { name, value in
            (name, typed[name].map { .object([("value", .string(value)), ("type", .string($0))]) } ?? .string(value))
        })
    }

    /// The submission URL and token file: explicit options first, then the daemon's configuration.
    static func endpoint(config path: String?, submit: String?, tokenFile: String?) throws -> (url: String, tokenFile: String) {
        guard let path else {
            return (submit ?? "http://127.0.0.1:8080/submit", tokenFile ?? "./data/" + SubmitToken.fileName)
        }
        let config = try GatewayConfiguration.load(path: path)
        let listener = config.apiListener
        guard submit != nil || listener.tls == nil else {
            throw Arguments.UsageError(description: "the apiListener of \(path) uses TLS: name the submission URL with --submit")
        }
        let host = ["0.0.0.0", "::", ""].contains(listener.address) ? "127.0.0.1"
            : listener.address.contains(":") ? "[\(listener.address)]" : listener.address
        return (submit ?? "http://\(host):\(listener.port)\(listener.path)",
                tokenFile ?? config.dataDirectory + "/" + SubmitToken.fileName)
    }
}

import Foundation
import HTTPClient

/// `as4gw ping`: has the running daemon send a partner a test message and prints how it went.
enum PingCommand {
    static let help = """
    Usage: as4gw ping PARTY [--json] [--config FILE] [--submit URL] [--token-file PATH]

    Has the running gateway send PARTY (a party name or party id value from parties.json) a test
    message of the ebMS3 test service, which the partner never delivers to its backend, and
    prints whether a valid receipt came back: signed by PARTY, acknowledging what was signed,
    checked as a delivery's receipt is. The message goes once, now, under the test-service
    P-Mode to PARTY or else the agreement messages to PARTY go under (docs/PMODES.md); nothing
    is queued or stored, and the gateway logs one event=ping-sent line. The endpoint and token
    are found as `as4gw send` finds them. --json prints the gateway's answer as it came.
    Exit status: 0 a valid receipt; 1 none (the answer, or why nothing was sent, printed);
    2 usage or connection error.
    """

    static func run(_ args: [String]) -> Int32 {
        let a: Arguments
        do {
            a = try Arguments(args, valued: ["submit", "config", "token-file"], flags: ["json"])
        } catch {
            return CLI.usageError("\(error)", help: help)
        }
        if a.has("help") { print(help); return 0 }
        guard a.positionals.count == 1, let party = a.positionals.first else { return CLI.usageError("ping needs one PARTY", help: help) }
        let endpoint: (url: String, tokenFile: String)
        do {
            endpoint = try SendCommand.endpoint(config: a.value("config"), submit: a.value("submit"), tokenFile: a.value("token-file"))
        } catch {
            return CLI.usageError("\(error)", help: help)
        }
        guard let token = SubmitToken.read(path: endpoint.tokenFile) else {
            return CLI.ioError("cannot read the submission token \(endpoint.tokenFile): run as the daemon's user, or name it with --token-file or the daemon's --config")
        }
        let response: HTTPClientResponse
        do {
            var configuration = HTTPClientConfiguration()
            // The gateway waits for the partner as long as its requestTimeoutSeconds allows.
            configuration.totalTimeout = 86_400 + 60
            response = try HTTPClient(configuration: configuration).post(
                url: endpoint.url, headers: [("Content-Type", "application/json"), ("Authorization", "Bearer " + token)],
                body: .bytes(Array(JSON.object([("ping", .string(party))]).serialized(pretty: false).utf8)))
        } catch {
            return CLI.ioError("cannot reach the gateway: \(error)")
        }
        guard [200, 422].contains(response.status), let answer = try? JSONDecoder().decode(Answer.self, from: Data(response.body)) else {
            CLI.printError("as4gw: the gateway refused the ping (HTTP \(response.status)): \(String(decoding: response.body, as: UTF8.self))")
            return 2
        }
        if a.has("json") { print(String(decoding: response.body, as: UTF8.self), terminator: "") }
        let name = answer.party ?? party
        let elapsed = answer.elapsedMs.map { " in \($0) ms" } ?? ""
        let about = [answer.messageId.map { "test message \($0)" }, answer.pmode.map { "P-Mode \($0)" },
                     answer.httpStatus.map { "HTTP \($0)" }].compactMap { $0 }.joined(separator: ", ")
        if answer.receipt {
            if !a.has("json") { print("\(name): valid receipt\(elapsed) (\(about))") }
            return 0
        }
        let why = [answer.errorCode, answer.reason].compactMap { $0 }.joined(separator: ": ")
        let line = answer.sent ? "\(name): no valid receipt\(elapsed): \(why) (\(about))" : "\(name): not sent: \(why)"
        if a.has("json") { CLI.printError("as4gw: \(line)") } else { print(line) }
        return 1
    }

    /// What the gateway answers a ping request (`SubmissionHandler`).
    struct Answer: Decodable {
        var messageId: String?
        var party: String?
        var pmode: String?
        var receipt: Bool
        var sent: Bool
        var httpStatus: Int?
        var errorCode: String?
        var reason: String?
        var elapsedMs: Int?
    }
}

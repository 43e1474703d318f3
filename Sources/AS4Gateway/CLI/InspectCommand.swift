import EnvelopeXML

/// `as4gw inspect FILE [--content-type VALUE]`: read one message as it travels and summarise it.
enum InspectCommand {
    static let help = """
    Usage: as4gw inspect FILE [--content-type VALUE] [--compact]

    Reads one AS4 message as it travels and prints a JSON summary: message kind, ids,
    timestamp, parties and roles, service, action, conversation id, properties, each part
    (content id, MIME type, size, compressed, encrypted), whether it is signed or carries
    encrypted parts, and where it departs from the eDelivery AS4 profile.

    FILE may be an HTTP body, a whole HTTP request or response dump (headers first), a MIME
    entity with its headers, a bare multipart/related body, or SOAP 1.2 / 1.1 XML; a UTF-8
    byte-order mark is skipped. --content-type gives the Content-Type of a bare HTTP body.

    Exit status: 0 the message is well formed; 1 it is not (the ebMS error code and reason are
    printed); 2 usage or I/O error.
    """

    static func run(_ args: [String]) -> Int32 {
        let parsed: Arguments
        do {
            parsed = try Arguments(args, valued: ["content-type"], flags: ["compact"])
        } catch {
            return CLI.usageError("\(error)", help: help)
        }
        if parsed.has("help") { print(help); return 0 }
        guard parsed.positionals.count == 1 else { return CLI.usageError("inspect takes exactly one FILE", help: help) }
        let path = parsed.positionals[0]
        let pretty = !parsed.has("compact")

        let raw: RawMessage
        do {
            raw = try MessageInput.load(path: path, contentType: parsed.value("content-type"))
        } catch let error as EbmsError {
            return CLI.reportEbmsError(error, pretty: pretty)
        } catch {
            return CLI.ioError("cannot read \(path): \(error)")
        }
        do {
            let message = try AS4Message.read(raw)
            try message.verifyCompressedParts()
            print(MessageSummary.json(of: message).serialized(pretty: pretty))
            return 0
        } catch {
            return CLI.reportEbmsError(error, pretty: pretty)
        }
    }
}

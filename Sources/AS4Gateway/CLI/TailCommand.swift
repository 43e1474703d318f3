import Foundation
import MessageStore
#if canImport(Glibc)
import Glibc
#endif

/// `as4gw tail`: follows the store's event table, the history every status change appends.
enum TailCommand {
    static let help = """
    Usage: as4gw tail [--message ID] [--level debug|info|warn|error] [--from-start]
                      [--data DIR | --store URL | --config FILE]

    Follows the message store's event history (every status change, retry, receipt, duplicate and
    operator retry of every message, in both directions) and prints each new event as a logfmt
    line: time, level, event=message-event, message_id, direction, status, code, detail. It
    polls the store every 0.5 s, so it works beside a running gateway and shows what that
    gateway committed, not its log (startup, refused requests and other events that touch no
    stored message appear only in `as4gw serve`'s own log). Starts at the end of the history
    unless --from-start. Stops on SIGINT or SIGTERM.

    --message ID  only the events of messages with this id
    --level L     only events at L or above. Levels derive from the event: error = the message
                  Failed; warn = a retry scheduled or a lease expired/released (Submitted with a
                  code other than retry-requested), a duplicate received, a message withdrawn
                  in flight or a receipt recorded late; info = the rest.

    Exit status: 0 stopped by a signal; 2 usage or I/O error.
    """

    static func run(_ args: [String]) -> Int32 {
        let a: Arguments
        do {
            a = try Arguments(args, valued: ["message", "level", "data", "store", "config"], flags: ["from-start"])
        } catch {
            return CLI.usageError("\(error)", help: help)
        }
        if a.has("help") { print(help); return 0 }
        guard a.positionals.isEmpty else { return CLI.usageError("tail takes no arguments", help: help) }
        var minimum = EventLog.Level.debug
        if let s = a.value("level") {
            guard let level = EventLog.Level(name: s) else { return CLI.usageError("--level is debug, info, warn or error", help: help) }
            minimum = level
        }
        let store: any MessageStore
        switch MessagesCommand.openStore(a) {
        case .failure(let code): return code
        case .success(let s): store = s
        }
        defer { store.close() }

        for s in [SIGTERM, SIGINT] { signal(s, SIG_IGN) }
        let done = DispatchSemaphore(value: 0)
        let queue = DispatchQueue(label: "as4gw.tail.signals")
        var sources: [DispatchSourceSignal] = []
        for s in [SIGTERM, SIGINT] {
            let source = DispatchSource.makeSignalSource(signal: s, queue: queue)
            source.setEventHandler { done.signal() }
            source.resume()
            sources.append(source)
        }
        defer { withExtendedLifetime(sources) {} }

        var last: Int64
        do {
            last = a.has("from-start") ? 0 : try store.latestEventId()
        } catch {
            return CLI.ioError("cannot read the message store: \(error)")
        }
        var out = StandardOutputSink()
        repeat {
            do {
                while true {
                    let batch = try store.events(after: last, limit: 500)
                    for (messageId, event) in batch {
                        last = event.id
                        if let only = a.value("message"), only != messageId { continue }
                        let level = self.level(of: event)
                        guard level >= minimum else { continue }
                        let line = logfmt(messageId: messageId, event: event, level: level) + "\n"
                        try Array(line.utf8).withUnsafeBytes { try out.write($0) }
                    }
                    if batch.count < 500 { break }
                }
            } catch is StandardOutputSink.WriteError {
                return 0 // the reader went away (e.g. `| head`)
            } catch {
                return CLI.ioError("cannot read the message store: \(error)")
            }
        } while done.wait(timeout: .now() + 0.5) == .timedOut
        return 0
    }

    static func level(of event: MessageEvent) -> EventLog.Level {
        if event.status == .failed { return .error }
        // A duplicate, a withdrawal, a receipt or an error after the queue had given up (an
        // error after a receipt leaves the message Delivered): worth a look.
        if ["duplicate", "withdrawn", "late-receipt", "late-error"].contains(event.code) { return .warning }
        if event.status == .submitted, let code = event.code, code != "retry-requested" { return .warning }
        return .info
    }

    static func logfmt(messageId: String, event: MessageEvent, level: EventLog.Level) -> String {
        var pairs: [(String, String)] = [("time", MessagesCommand.timestamp(event.at)), ("level", level.name),
                                         ("event", "message-event"), ("message_id", messageId),
                                         ("direction", event.direction.rawValue), ("status", event.status.rawValue)]
        if let code = event.code { pairs.append(("code", code)) }
        if let detail = event.detail { pairs.append(("detail", detail)) }
        return EventLog.logfmt(pairs)
    }
}

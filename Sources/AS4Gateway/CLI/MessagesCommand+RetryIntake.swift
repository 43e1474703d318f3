import Foundation
import MessageStore

/// `as4gw messages retry-intake ID|--all`: an inbound message whose intake failed after its
/// receipt is the sender's document, held here and proven delivered by our receipt; once the
/// operator fixed what failed it, this has it taken in again (`MessageStore.retryIntake`). The
/// command only changes the store: the daemon's mailbox worker, which follows the store's
/// history, runs the intake, so it works beside a running gateway and on any node of a shared
/// PostgreSQL store, and the intake runs once whichever node asked. A message the worker passed
/// over (`IntakePassedOver`: still Received, its Failed mark refused) is asked for the same way
/// (`MessageStore.retryPassedOverIntake`).
extension MessagesCommand {
    static func retryIntake(_ args: [String]) -> Int32 {
        let a: Arguments
        do {
            a = try Arguments(args, valued: ["from", "data", "store", "config"], flags: ["all"])
        } catch {
            return CLI.usageError("\(error)", help: help)
        }
        if a.has("help") { print(help); return 0 }
        guard a.positionals.count == (a.has("all") ? 0 : 1) else {
            return CLI.usageError("messages retry-intake takes exactly one message ID, or --all", help: help)
        }
        let store: any MessageStore
        switch openStore(a) {
        case .failure(let code): return code
        case .success(let s): store = s
        }
        defer { store.close() }
        let requestedBy = "cli:" + CLI.operatorAccount()
        let location: StoreLocation
        switch storeLocation(a) {
        case .failure(let code): return code
        case .success(let l): location = l
        }
        if a.has("all") { return retryAllIntakes(store, at: location, requestedBy: requestedBy) }
        let id = a.positionals[0]
        do {
            let row: StoredMessage?
            switch try inboundRow(id, from: a.value("from"), in: store) {
            case .success(let r): row = r
            case .failure(let code): return code
            }
            guard let row else { throw StoreError.notFound(messageId: id, direction: .inbound) }
            if row.status == .received {
                // The store's check knows no services: one the intake does not take in (a ping)
                // stays Received by design, and a request for it would be one nothing acts on.
                guard IntakePassedOver.isTakenIn(row) else {
                    CLI.printError("as4gw: message \(id) is inbound Received and not an e-address document or status message, "
                                   + "which the intake does not take in: there is nothing to take in again")
                    return 1
                }
                try store.retryPassedOverIntake(rowId: row.rowId, passedBy: try IntakePassedOver.cursor(at: location),
                                                requestedBy: requestedBy, at: Date())
                print("\(id): passed over by the intake (the store refused to mark it Failed), asked for again; "
                      + "the running gateway takes it in again and logs event=intake-retried")
                return 0
            }
            try store.retryIntake(rowId: row.rowId, requestedBy: requestedBy, at: Date())
            let failed = row.intakeError
            print("\(id): back to Received\(failed.map { " (its intake had failed with \($0.code))" } ?? ""); "
                  + "the running gateway takes it in again and logs event=intake-retried")
            return 0
        } catch StoreError.notFound {
            let outbound = (try? store.findMessage(id: id, direction: .outbound)) != nil
            CLI.printError(outbound ? "as4gw: message \(id) is outbound: only a received message is taken in; `messages retry` queues an outbound one again"
                                    : "as4gw: no inbound message with id \(id)")
            return 1
        } catch StoreError.illegalTransition(_, .received, _) {
            CLI.printError("as4gw: message \(id) is inbound Received and waits for its intake (or was asked for already): "
                           + "only an inbound message whose intake failed, or that the intake passed over, is taken in again")
            return 1
        } catch let StoreError.illegalTransition(_, from, _) {
            CLI.printError("as4gw: message \(id) is inbound \(from.rawValue), not Failed: only an inbound message whose intake failed is taken in again")
            return 1
        } catch {
            return CLI.ioError("cannot update the message store: \(error)")
        }
    }

    /// Every inbound Failed message and every one the intake passed over, each in its own
    /// transaction. One that changed since the listing (another operator, another node) is named
    /// and left to that request; it is no failure of this command, which asked for no particular message.
    static func retryAllIntakes(_ store: any MessageStore, at location: StoreLocation, requestedBy: String) -> Int32 {
        let failed: [StoredMessage]
        let cursor: Int64
        do {
            cursor = try IntakePassedOver.cursor(at: location)
            failed = try store.listMessages(status: .failed, since: nil, direction: .inbound, limit: Int(Int32.max))
                + IntakePassedOver.messages(in: store, cursor: cursor)
        } catch {
            return CLI.ioError("cannot read the message store: \(error)")
        }
        var requested = 0
        for m in failed {
            let id = m.metadata.messageId
            do {
                // By row: another party's message may have the same id.
                if m.status == .received {
                    try store.retryPassedOverIntake(rowId: m.rowId, passedBy: cursor, requestedBy: requestedBy, at: Date())
                    print("\(id): passed over by the intake, asked for again")
                } else {
                    try store.retryIntake(rowId: m.rowId, requestedBy: requestedBy, at: Date())
                    print("\(id): back to Received\(m.intakeError.map { " (its intake had failed with \($0.code))" } ?? "")")
                }
                requested += 1
            } catch let StoreError.illegalTransition(_, from, _) {
                print("\(id): \(from.rawValue)\(m.status == .received ? " and asked for" : "") since it was listed, left as it is")
            } catch {
                return CLI.ioError("cannot update the message store at \(id) (\(requested) of \(failed.count) asked for already): \(error)")
            }
        }
        print(failed.isEmpty ? "no inbound message's intake has failed or was passed over"
                             : "\(requested) message(s) asked for again; the running gateway takes them in again and logs event=intake-retried")
        return 0
    }
}

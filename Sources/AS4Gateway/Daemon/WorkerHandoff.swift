import Dispatch
import MessageStore
import Synchronization

/// How a queued message reaches a delivery worker without waiting for the worker's next poll.
///
/// An idle worker parks here. A submission that finds one parked queues its message already
/// leased to that worker, in the same commit (`MessageStore.enqueueOutbound(_:leasingTo:…)`),
/// and hands the job over: the worker skips its claim, one write transaction less per message.
/// When nobody is parked the message is queued as before and the wake-up is remembered, so a
/// worker about to park looks at the queue again instead. The workers' poll stays the fallback
/// (retries falling due, messages queued by another process sharing the store).
final class WorkerHandoff: Sendable {
    /// One worker's parking place.
    final class Slot: Sendable {
        let owner: String
        fileprivate let semaphore = DispatchSemaphore(value: 0)
        fileprivate let handed = Mutex<OutboundJob?>(nil)

        init(owner: String) { self.owner = owner }
    }

    /// Why a parked worker goes on.
    enum Wake: Sendable {
        case handed(OutboundJob)
        /// Something may be queued: claim from the store.
        case lookAtQueue
        case timedOut
    }

    private struct State {
        var parked: [Slot] = []
        /// Wake-ups that found nobody parked, up to a few (each costs a claim when consumed).
        var missed = 0
    }

    private let state = Mutex(State())
    static let maxMissed = 8

    /// Parks until a submission hands the worker a job, something else is queued, or `timeout`.
    func park(_ slot: Slot, timeout: Double) -> Wake {
        let parked = state.withLock { s -> Bool in
            if s.missed > 0 {
                s.missed -= 1
                return false
            }
            s.parked.append(slot)
            return true
        }
        guard parked else { return .lookAtQueue }
        if slot.semaphore.wait(timeout: .now() + timeout) == .timedOut {
            let stillParked = state.withLock { s -> Bool in
                guard let index = s.parked.firstIndex(where: { $0 === slot }) else { return false }
                s.parked.remove(at: index)
                return true
            }
            if stillParked { return .timedOut }
            // Taken at the last moment: whoever took the slot signals it exactly once.
            slot.semaphore.wait()
        }
        let job = slot.handed.withLock { job -> OutboundJob? in
            defer { job = nil }
            return job
        }
        return job.map(Wake.handed) ?? .lookAtQueue
    }

    /// A parked worker, unparked, for a submission to lease its message to; the caller must then
    /// `hand` it the job (or nil, when queueing failed) exactly once. The most recently parked
    /// first: its thread and connection are the warmest.
    func takeParked() -> Slot? {
        state.withLock { $0.parked.popLast() }
    }

    func hand(_ job: OutboundJob?, to slot: Slot) {
        slot.handed.withLock { $0 = job }
        slot.semaphore.signal()
    }

    /// Something was queued for whoever is free: one parked worker goes to the queue.
    func wakeOne() {
        let slot = state.withLock { s -> Slot? in
            if let slot = s.parked.popLast() { return slot }
            s.missed = min(s.missed + 1, Self.maxMissed)
            return nil
        }
        if let slot { hand(nil, to: slot) }
    }

    /// Workers parked now (tests).
    var parkedCount: Int { state.withLock { $0.parked.count } }

    /// Every parked worker goes on (stopping).
    func wakeAll() {
        let slots = state.withLock { s -> [Slot] in
            defer { s.parked.removeAll() }
            return s.parked
        }
        for slot in slots { hand(nil, to: slot) }
    }
}

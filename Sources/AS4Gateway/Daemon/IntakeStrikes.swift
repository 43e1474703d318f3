import Foundation
import MessageStore

/// Which received message's intake keeps failing the same way, and when the mailbox worker sets
/// it aside. The worker takes messages in the order of the store's history and a failed intake
/// fails the whole round, so that nothing is skipped while the store cannot answer; a message
/// the store refuses for its own values (`StoreError.refusesValues`: a constraint, a value out
/// of range) would fail every round and hold every later message behind it for ever. Once the
/// same refusal of the same message has lasted `holdFor` seconds, met in at least `rounds`
/// rounds, that message is set aside (`MailboxWorker`: Failed with the refusal, its origin told)
/// and the others go on.
///
/// A length of time, not a count of rounds, because what operators bound is how long every
/// later message waits, and rounds come at different paces: one a second on SQLite, but on a
/// shared PostgreSQL store the nodes take the job in turns and each counts only the rounds it
/// ran, so a count of rounds would hold the queue about as many times longer as there are nodes.
/// The time is this node's (from the first refusal it met), which the turns of the others do
/// not stretch. At least two rounds, so that one refusal alone, however old the count, is never
/// enough. (The node does not stand aside for such rounds either: `counts` is no fault of its own.)
///
/// Only a refusal counts: an outage or a full disk (`StoreError.isTransient`) passes and must
/// hold everything, in order, however long it lasts; an I/O error, a closed store or an error
/// outside the store says nothing about one message and would set every message aside in turn,
/// so it holds everything too (logged, and `/readyz` fails after its bound). A failure of
/// another kind in between neither counts nor clears the count. One per loop thread: with several
/// nodes on one store each counts the rounds it ran itself.
///
/// A refusal that meets message after message is the store's, not theirs (a constraint a faulty
/// upgrade got wrong, say): after `inARowLimit` messages set aside with no message taken in
/// between, nothing more is set aside and everything is held again, as for an outage, until a
/// message is taken in. Holding loses nothing; failing every message would tell every origin so.
struct IntakeStrikes {
    static let holdFor: TimeInterval = 5
    static let minimumRounds = 2
    static let inARowLimit = 3

    let holdFor: TimeInterval
    let minimumRounds: Int
    /// Messages set aside since one was last taken in.
    private(set) var setAsideInARow = 0
    /// The message (its row) and the failure counted, and in how many rounds in a row.
    private(set) var row: Int64?
    private var key: String?
    /// The history event whose intake failed: the same in every round that a message holds.
    private var event: Int64?
    private(set) var rounds = 0
    /// When this node first met the refusal counted.
    private(set) var since: Date?
    /// Messages set aside since the cursor last moved: their other Received events (the
    /// receipt's) in the batch, read again should a later message fail the round, are passed by.
    private var setAsideRows: Set<Int64> = []

    init(holdFor: TimeInterval = Self.holdFor, minimumRounds: Int = Self.minimumRounds) {
        self.holdFor = holdFor
        self.minimumRounds = minimumRounds
    }

    /// Whether `error` is a refusal of one message's values, which the count is about.
    static func counts(_ error: any Error) -> Bool {
        guard let e = error as? StoreError else { return false }
        return e.refusesValues && !e.isTransient
    }

    /// The intake of the message in `row` failed with `error` in this round, at `now`, on the
    /// history's `event` (its id). Returns true when the message is to be set aside now.
    ///
    /// Another event of the same message is another hold: on a shared store another node may have
    /// set the message aside (or taken it in) since this one counted, and an operator's retry of
    /// it is a new event; counting on from this node's old count would set it aside at the first
    /// refusal of the retry.
    mutating func failed(row: Int64, event: Int64? = nil, with error: any Error, at now: Date) -> Bool {
        guard Self.counts(error), setAsideInARow < Self.inARowLimit else { return false }
        let key = FailureKey.of(error)
        if row == self.row, event == self.event, key == self.key, let since, now >= since {
            rounds += 1
        } else {
            // Another message, event or refusal, or a clock set back past the first: counted afresh.
            self.row = row
            self.event = event
            self.key = key
            rounds = 1
            since = now
        }
        return rounds >= minimumRounds && now.timeIntervalSince(since ?? now) >= holdFor
    }

    /// How long the refusal counted has lasted at `now`, in whole seconds (for the log).
    func lasted(at now: Date) -> Int { Int(now.timeIntervalSince(since ?? now)) }

    /// The message in `row` was taken in (an operator's retry of one set aside included): its
    /// count ends, and so does the run of messages set aside.
    mutating func settled(row: Int64) {
        endCount(row: row)
        setAsideInARow = 0
    }

    /// The message in `row` was set aside: its count ends, and its other events in the batch are passed by.
    mutating func setAside(row: Int64) {
        endCount(row: row)
        setAsideRows.insert(row)
        setAsideInARow += 1
    }

    private mutating func endCount(row: Int64) {
        setAsideRows.remove(row)
        guard row == self.row else { return }
        self.row = nil
        event = nil
        key = nil
        rounds = 0
        since = nil
    }

    func wasSetAside(row: Int64) -> Bool { setAsideRows.contains(row) }

    /// The cursor moved past the batch: no event of a message set aside is read again.
    mutating func passed() {
        setAsideRows.removeAll()
    }
}

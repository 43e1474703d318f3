import Foundation

/// Holds the P-Mode set in force and swaps it on reload. A reload that finds any problem keeps
/// the old set and returns the problems, so a typo in a file never takes the gateway down.
///
/// Unchecked Sendable: the only mutable state, `set` and `generation`, is read and written
/// under `lock`; `PModeSet` itself is an immutable Sendable value, so readers get a consistent
/// snapshot and keep using it even while a reload replaces it.
public final class PModeRegistry: @unchecked Sendable {
    private let lock = NSLock()
    private var set: PModeSet
    private var generationCount = 0
    public let options: PModeLoader.Options

    public init(_ initial: PModeSet = .empty, options: PModeLoader.Options = PModeLoader.Options()) {
        self.set = initial
        self.options = options
    }

    /// Loads `directory`; throws its problems when it has any.
    public convenience init(directory: String, options: PModeLoader.Options = PModeLoader.Options()) throws(PModeLoadErrors) {
        self.init(try PModeLoader.load(directory: directory, options: options), options: options)
        generationCount = 1
    }

    /// The set in force: a snapshot, unaffected by later reloads.
    public var current: PModeSet {
        lock.lock()
        defer { lock.unlock() }
        return set
    }

    /// Successful loads: the load of `init(directory:)` and every successful reload (0 = still the
    /// set handed to `init(_:options:)`).
    public var generation: Int {
        lock.lock()
        defer { lock.unlock() }
        return generationCount
    }

    /// Loads `directory` (default: where the current set came from) and installs it when it has no
    /// problem and defines every party in `requiredParties` (our own: a set without it would leave
    /// the node unable to send or receive). Returns the problems; empty means the new set is in force.
    @discardableResult
    public func reload(from directory: String? = nil, requiredParties: [String] = []) -> [PModeDiagnostic] {
        guard let directory = directory ?? current.directory else {
            return [PModeDiagnostic(file: "", line: 0, column: 0, message: "no P-Mode directory to reload from")]
        }
        // Load outside the lock: reading files and certificates must not stall message processing.
        let loaded: PModeSet
        do {
            loaded = try PModeLoader.load(directory: directory, options: options)
        } catch {
            return error.diagnostics
        }
        let missing = requiredParties.filter { loaded.party(named: $0) == nil }
        guard missing.isEmpty else {
            return missing.map { PModeDiagnostic(file: directory + "/parties.json", line: 0, column: 0,
                                                 message: "party \($0) (this gateway) is not defined") }
        }
        lock.lock()
        set = loaded
        generationCount += 1
        lock.unlock()
        return []
    }
}

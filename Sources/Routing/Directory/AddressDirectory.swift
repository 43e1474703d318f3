/// An e-address directory held in memory: what an import file decodes to, and a lookup for
/// tests and small deployments. Entries are unique by canonical address.
public struct AddressDirectory: AddressLookup, Sendable, Equatable {
    private var byAddress: [EAddress: DirectoryEntry]

    public init() {
        byAddress = [:]
    }

    /// Fails on the first address given twice (files report every duplicate with its line
    /// before they get here).
    public init(_ entries: [DirectoryEntry]) throws(DuplicateAddress) {
        byAddress = [:]
        byAddress.reserveCapacity(entries.count)
        for entry in entries {
            guard byAddress.updateValue(entry, forKey: entry.address) == nil else { throw DuplicateAddress(address: entry.address) }
        }
    }

    public func entry(for address: EAddress) throws -> DirectoryEntry? { byAddress[address] }

    public var count: Int { byAddress.count }

    /// Every entry, ordered by canonical address (the export order).
    public var entries: [DirectoryEntry] { byAddress.values.sorted { $0.address < $1.address } }

    /// Adds or overwrites the given entries; with `replace`, also drops every entry not among them.
    @discardableResult
    public mutating func apply(_ entries: [DirectoryEntry], replace: Bool) -> ImportCounts {
        var counts = ImportCounts()
        var kept: Set<EAddress> = []
        for entry in entries {
            kept.insert(entry.address)
            switch byAddress.updateValue(entry, forKey: entry.address) {
            case nil: counts.added += 1
            case let old? where old == entry: counts.unchanged += 1
            default: counts.changed += 1
            }
        }
        if replace {
            for address in byAddress.keys where !kept.contains(address) {
                byAddress[address] = nil
                counts.removed += 1
            }
        }
        return counts
    }
}

public struct DuplicateAddress: Error, Sendable, Equatable, CustomStringConvertible {
    public var address: EAddress
    public var description: String { "\(address) is given twice" }
}

/// What an import did: new addresses, addresses whose entry differs, identical ones, and those
/// dropped by a replacing import.
public struct ImportCounts: Sendable, Equatable, CustomStringConvertible {
    public var added = 0
    public var changed = 0
    public var unchanged = 0
    public var removed = 0

    public init(added: Int = 0, changed: Int = 0, unchanged: Int = 0, removed: Int = 0) {
        self.added = added
        self.changed = changed
        self.unchanged = unchanged
        self.removed = removed
    }

    public var description: String { "\(added) added, \(changed) changed, \(unchanged) unchanged, \(removed) removed" }
}

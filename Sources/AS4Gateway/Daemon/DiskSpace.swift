import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Room left where the daemon writes. A full disk is answered as temporary (`DiskFull`), but the
/// store's read-only query keeps answering meanwhile, so readiness and the metrics look at the
/// file systems themselves: below `reserve` (`adminListener.minimumFreeBytes`, by default the
/// room uploads leave free) or out of inodes, a directory makes the node not ready, and
/// `/metrics` shows each one's free bytes.
struct DiskSpace: Sendable {
    /// What the gateway keeps free for the store, receipts and the ends of uploads (`UploadRoutes`).
    static let reserve: UInt64 = 1 << 30

    /// A directory the daemon writes to, by what it holds.
    struct Place: Sendable, Equatable {
        /// `data` (keys, spool, and the SQLite store by default), `store` (a SQLite store elsewhere)
        /// or `payloads`.
        var name: String
        var path: String
    }

    /// Free room on a place's file system for an unprivileged writer.
    struct Room: Sendable, Equatable {
        var bytes: UInt64
        var inodes: UInt64
    }

    let places: [Place]
    let reserve: UInt64

    init(places: [Place], reserve: UInt64 = DiskSpace.reserve) {
        self.places = places
        self.reserve = reserve
    }

    /// The data directory, the SQLite store's directory when it is elsewhere, and the payload
    /// directory (the one every node mounts with PostgreSQL); each path once.
    init(config: GatewayConfiguration) {
        let reserve = config.adminListener?.minimumFreeBytes ?? Self.reserve
        var places = [Place(name: "data", path: config.dataDirectory)]
        if case .sqlite(let directory)? = try? config.storeLocation() { places.append(Place(name: "store", path: directory)) }
        places.append(Place(name: "payloads", path: config.payloadDirectoryPath))
        var seen = Set<String>()
        self.init(places: places.filter { seen.insert(URL(fileURLWithPath: $0.path).standardizedFileURL.path).inserted }, reserve: reserve)
    }

    /// The room on `path`'s file system, or the error number of asking.
    static func measure(_ path: String) -> Result<Room, POSIXError> {
        var s = statvfs()
        guard statvfs(path, &s) == 0 else { return .failure(POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)) }
        // Some file systems report no inode figures at all (0 of 0): only a real count is judged.
        return .success(Room(bytes: UInt64(s.f_bavail) * UInt64(s.f_frsize), inodes: s.f_files > 0 ? UInt64(s.f_favail) : .max))
    }

    static func freeBytes(_ path: String) -> UInt64? { try? measure(path).get().bytes }

    /// Each place with its room now (nil: its file system cannot be asked, e.g. the folder is gone).
    func rooms() -> [(place: Place, room: Room?)] {
        places.map { ($0, try? Self.measure($0.path).get()) }
    }

    /// Why the node should take no new work, one phrase per place short of room; empty when none is.
    func shortages() -> [String] {
        guard reserve > 0 else { return [] }
        return places.compactMap { place in
            switch Self.measure(place.path) {
            case .failure(let error):
                return "\(place.name) (\(place.path)): its free space cannot be read: \(String(cString: strerror(error.code.rawValue)))"
            case .success(let room) where room.bytes < reserve:
                return "\(place.name) (\(place.path)): \(Self.text(room.bytes)) free, less than the \(Self.text(reserve)) reserve"
            case .success(let room) where room.inodes == 0:
                return "\(place.name) (\(place.path)): no free inodes"
            case .success:
                return nil
            }
        }
    }

    /// One warning line per place short of the reserve, for the start: `/readyz` says so too,
    /// but only to whoever asks it, and a node that starts on a nearly full disk refuses work
    /// soon. (No periodic check runs, so nothing repeats it while the daemon runs.)
    func warnIfShort(_ log: EventLog) {
        guard reserve > 0 else { return }
        for (place, room) in rooms() {
            guard let room, room.bytes < reserve else { continue }
            log.log(.warning, "disk-low", ["place": place.name, "directory": place.path, "free_bytes": String(room.bytes),
                                           "minimum_free_bytes": String(reserve),
                                           "reason": "\(Self.text(room.bytes)) free in \(place.path), less than adminListener.minimumFreeBytes "
                                               + "(\(Self.text(reserve))): /readyz answers 503 until space is freed"])
        }
    }

    /// Bytes as operators read them: MiB below 1 GiB, else GiB, one decimal.
    static func text(_ bytes: UInt64) -> String {
        bytes >= 1 << 30 ? String(format: "%.1f GiB", Double(bytes) / Double(1 << 30)) : String(format: "%.1f MiB", Double(bytes) / Double(1 << 20))
    }
}

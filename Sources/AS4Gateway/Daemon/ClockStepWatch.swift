import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Within one running process, tells a step of the wall clock from time passing: between two
/// looks, the wall clock should move as far as the boot-time clock (`CLOCK_BOOTTIME`, which
/// nobody sets and which keeps counting while the machine is suspended, so a suspend is not
/// taken for a step). NTP slews by at most 0.5 ms a second, far below `tolerance`; a difference
/// beyond it is somebody or something setting the clock. The retention purge defers on a
/// forward step (`RetentionPurge`), since that is the direction that would purge early.
struct ClockStepWatch {
    static let tolerance: TimeInterval = 300
    private var last: (wall: Date, boot: TimeInterval)?

    init() {}

    /// Seconds since boot, suspend included.
    static func bootSeconds() -> TimeInterval {
        var t = timespec()
        clock_gettime(CLOCK_BOOTTIME, &t)
        return TimeInterval(t.tv_sec) + TimeInterval(t.tv_nsec) / 1e9
    }

    /// How much further the wall clock moved than the boot-time clock since the last look
    /// (negative: it was set back); nil at the first look. Each look is the next one's start.
    mutating func step(wall: Date = Date(), boot: TimeInterval = ClockStepWatch.bootSeconds()) -> TimeInterval? {
        defer { last = (wall, boot) }
        guard let last else { return nil }
        return wall.timeIntervalSince(last.wall) - (boot - last.boot)
    }
}

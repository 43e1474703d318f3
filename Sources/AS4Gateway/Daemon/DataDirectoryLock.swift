import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One `serve` per data directory: an exclusive `flock` on `serve.lock` in it, held until the
/// process ends (the kernel drops it on exit, also after a crash or SIGKILL). A second `serve`
/// started on the same directory (a mistake, an overlapping restart) refuses to start instead of
/// sweeping the first one's spool files and sharing its node id, leases and store.
final class DataDirectoryLock {
    private let descriptor: Int32

    struct Taken: Error, CustomStringConvertible {
        var directory: String
        var description: String { "another as4gw serve is running with the data directory \(directory) (it holds \(directory)/serve.lock)" }
    }

    init(directory: String) throws {
        let path = directory + "/serve.lock"
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: path]) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            throw Taken(directory: directory)
        }
        descriptor = fd
    }

    deinit { close(descriptor) }
}

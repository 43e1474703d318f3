import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A node's own name, kept in its data directory (`node-id`, made on first start): lease owners
/// carry it, so a restarting node releases exactly the leases it held. Host name and data
/// directory are not enough: two containers may share both (a fixed `hostname:`, the same mount
/// path), and a restart of one would then release the other's live leases.
enum NodeIdentity {
    static func load(dataDirectory: String) throws -> String {
        let path = dataDirectory + "/node-id"
        if let text = try? String(contentsOfFile: path, encoding: .utf8) {
            let id = text.trimmingCharacters(in: .whitespacesAndNewlines)
            if id.count >= 8, id.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }) { return id }
        }
        let id = UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(16)
        let temporary = path + ".tmp"
        try Data((id + "\n").utf8).write(to: URL(fileURLWithPath: temporary))
        let fd = open(temporary, O_RDONLY | O_CLOEXEC)
        if fd >= 0 { _ = fsync(fd); close(fd) }
        guard rename(temporary, path) == 0 else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path])
        }
        let folder = open(dataDirectory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if folder >= 0 { _ = fsync(folder); close(folder) }
        return String(id)
    }
}

import AS4Crypto
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A random 32-byte secret kept as hex in a file of the data directory (mode 0600, made on first
/// start, written to a temporary file, fsync'd and renamed so a crash never leaves half a key).
/// Only the daemon's user can read it: that is what makes it a credential.
enum DataDirectorySecret {
    /// The secret in `dataDirectory/fileName`, made if missing or unreadable as 64 hex digits.
    static func load(_ fileName: String, dataDirectory: String) throws -> [UInt8] {
        let path = dataDirectory + "/" + fileName
        if let existing = read(path: path) { return existing }
        let key = try SecureRandom.bytes(32)
        let temporary = path + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: temporary]) }
        let text = Array((APICredentials.hex(key) + "\n").utf8)
        let written = text.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        let synced = fsync(fd) == 0
        close(fd)
        guard written == text.count, synced, rename(temporary, path) == 0 else {
            unlink(temporary)
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path])
        }
        let folder = open(dataDirectory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if folder >= 0 { _ = fsync(folder); close(folder) }
        return key
    }

    /// The secret in the file at `path`, or nil when it cannot be read as 64 hex digits.
    static func read(path: String) -> [UInt8]? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        let hex = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard hex.count == 64 else { return nil }
        return APICredentials.bytes(hex: hex)
    }
}

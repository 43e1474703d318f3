import AS4Crypto
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The key of the pseudonyms the log writes for personal codes (`EventLog`), kept in the data
/// directory (`log-pseudonym.key`, mode 0600, made on first start) so that one person has the
/// same pseudonym across restarts. It is a secret: personal codes are few enough to be guessed
/// by trying them all against a known key. Each node has its own.
enum LogPseudonymKey {
    static let fileName = "log-pseudonym.key"

    static func load(dataDirectory: String) throws -> [UInt8] {
        let path = dataDirectory + "/" + fileName
        if let text = try? String(contentsOfFile: path, encoding: .utf8) {
            let hex = text.trimmingCharacters(in: .whitespacesAndNewlines)
            if hex.count == 64, let key = APICredentials.bytes(hex: hex) { return key }
        }
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
}

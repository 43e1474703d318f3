@testable import AS4Gateway
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The development PKI that a harness's first gateway would otherwise generate: seven 2048-bit
/// RSA keys for two parties, about a second of CPU, which was more than most integration tests
/// spent on anything else. One set is made per test run and copied into each harness before its
/// first start. Copied, not linked: some tests rewrite certificate files in place.
///
/// Generating a PKI stays covered by the tests that make their own CA (`makeDevelopmentCA`, which
/// creates certs/ before the first start, so nothing is copied), that use P-Mode folders of their
/// own, or that add a party this cache does not hold (the gateway issues it under the cached CA).
///
/// The cache lives for one run, never longer, so that a change to `DevelopmentPKI` is always
/// what the tests see: in `AS4GW_TEST_PKI_CACHE` when `scripts/test` sets it (one folder shared
/// by the test processes of a parallel run, made once under a lock), else in a folder of this
/// process's own that is removed when it exits.
enum DevelopmentPKICache {
    static let parties = ["gw-a", "gw-b", "gw-c"]
    static let roles = ["signing", "encryption", "tls"]

    /// Copies the cached CA, and the cached files of those of `parties` it holds, into
    /// `pmodeDirectory`/certs, unless that folder exists already.
    static func seed(pmodeDirectory: String, parties wanted: [String]) throws {
        let fm = FileManager.default
        let target = pmodeDirectory + "/certs"
        guard !fm.fileExists(atPath: target) else { return }
        let source = try cached.get()
        try fm.createDirectory(atPath: target, withIntermediateDirectories: true)
        var files = ["dev-ca.pem", "dev-ca.key"]
        for party in wanted where parties.contains(party) {
            for role in roles { files += ["\(party).\(role).pem", "\(party).\(role).key"] }
        }
        for file in files { try copy(source + "/" + file, to: target + "/" + file) }
    }

    /// The folder holding the cached files (made on first use).
    private static let cached: Result<String, Error> = Result {
        if let shared = ProcessInfo.processInfo.environment["AS4GW_TEST_PKI_CACHE"], !shared.isEmpty {
            return try made(in: shared)
        }
        let own = FileManager.default.temporaryDirectory.appendingPathComponent("as4gw-test-pki-\(getpid())").path
        atexit { try? FileManager.default.removeItem(at: FileManager.default.temporaryDirectory.appendingPathComponent("as4gw-test-pki-\(getpid())")) }
        return try made(in: own)
    }

    /// `folder`/pki, generated unless another process did; the lock makes the others wait for
    /// the first rather than each generate one, and the rename means a process killed halfway
    /// leaves no partial PKI behind.
    private static func made(in folder: String) throws -> String {
        let fm = FileManager.default
        try fm.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let lock = open(folder + "/lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard lock >= 0 else { throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: folder + "/lock"]) }
        defer { close(lock) }
        guard flock(lock, LOCK_EX) == 0 else { throw CocoaError(.fileLocking, userInfo: [NSFilePathErrorKey: folder + "/lock"]) }
        let done = folder + "/pki"
        if fm.fileExists(atPath: done) { return done }
        let partial = folder + "/pki-\(getpid())"
        try? fm.removeItem(atPath: partial)
        var wanted: [String: [String: String]] = [:]
        for party in parties {
            for role in roles { wanted[party, default: [:]][role] = "\(partial)/certs/\(party).\(role).pem" }
        }
        _ = try DevelopmentPKI.ensure(pmodeDirectory: partial, parties: wanted)
        guard rename(partial + "/certs", done) == 0 else { throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: done]) }
        try? fm.removeItem(atPath: partial)
        return done
    }

    /// The bytes and the permissions (keys are 0600).
    private static func copy(_ source: String, to target: String) throws {
        let fm = FileManager.default
        let mode = try fm.attributesOfItem(atPath: source)[.posixPermissions] as? Int ?? 0o600
        guard fm.createFile(atPath: target, contents: try Data(contentsOf: URL(fileURLWithPath: source)), attributes: [.posixPermissions: mode]) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: target])
        }
    }
}

extension GatewayHarness {
    /// Before a first start: the cached development PKI for this harness's parties.
    func seedDevelopmentPKI() throws {
        try DevelopmentPKICache.seed(pmodeDirectory: pmodeDirectory, parties: Array(nodes.keys))
    }
}

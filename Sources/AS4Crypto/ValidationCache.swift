import Foundation
import Synchronization

/// Successful path validations of one ``TrustStore``, each with the time window in which it holds.
///
/// Why this is exact, not a shortcut: a trust store never changes after it is built, so the
/// outcome of validating the same leaf with the same untrusted certificates depends on the
/// evaluation time only through the validity periods of the certificates in the path (and of
/// the store's CRLs when revocation is checked). Inside the intersection of those periods a
/// path that was valid once is valid again. Failures are never cached: they are rare and their
/// report should be fresh. Bounded like ``CertificateCache``.
final class ValidationCache: Sendable {
    struct Key: Hashable {
        var leaf: [UInt8]
        var intermediates: [[UInt8]]
        var checkRevocation: Bool
    }

    private struct Entry {
        var result: ValidationResult
        var from: Date
        var until: Date
    }

    static let capacity = 256
    private let entries = Mutex<[Key: Entry]>([:])

    func result(for key: Key, at time: Date) -> ValidationResult? {
        guard let entry = entries.withLock({ $0[key] }), entry.from <= time, time <= entry.until else { return nil }
        return entry.result
    }

    /// Keeps a valid `result`; `crls` are the store's, counted only when revocation was checked.
    func remember(_ result: ValidationResult, for key: Key, crls: [CertificateRevocationList]) {
        guard result.isValid, !result.chain.isEmpty else { return }
        var from = result.chain.map(\.notBefore).max()!
        var until = result.chain.map(\.notAfter).min()!
        if key.checkRevocation {
            for crl in crls {
                from = max(from, crl.thisUpdate)
                until = min(until, crl.nextUpdate ?? until)
            }
        }
        guard from <= until else { return }
        entries.withLock { table in
            if table.count >= Self.capacity { table.removeAll(keepingCapacity: true) }
            table[key] = Entry(result: result, from: from, until: until)
        }
    }
}

import Foundation
@testable import MessageStore
import XCTest

/// An idempotency key is kept with the fingerprint of the submission it was used for, which
/// nothing changes afterwards; a document stored before fingerprints were kept keeps its key
/// without one (and gets none later), on either backend.
class IdempotencyFingerprintTests: StoreTestCase {
    let sender = "DVS@90000048472", company = "_DEFAULT@40003032949"

    func document(_ id: String, key: String?, fingerprint: String?) -> NewDocument {
        var d = NewDocument(messageId: id, connection: "dms", idempotencyKey: key, sender: sender, metadata: "{\"subject\":\"s\"}", files: [],
                            recipients: [.init(address: company, route: .mailbox, status: .accepted)])
        d.idempotencyFingerprint = fingerprint
        return d
    }

    func testTheFingerprintIsKeptWithItsKeyAndNeverChanged() throws {
        let store = try openMailboxStore()
        defer { store.close() }
        let fingerprint = String(repeating: "a1", count: 32)
        XCTAssertEqual(try store.insertDocument(document("m1", key: "k", fingerprint: fingerprint), notifications: [], at: t0), .stored)
        XCTAssertEqual(try store.insertDocument(document("m2", key: nil, fingerprint: nil), notifications: [], at: t0), .stored)
        // Another store object (another process or node) reads it alike.
        let other = try openMailboxStore()
        defer { other.close() }
        XCTAssertEqual(try other.document(messageId: "m1")?.idempotencyFingerprint, fingerprint)
        XCTAssertNil(try other.document(messageId: "m2")?.idempotencyFingerprint)
        // The key's second use stores nothing, whatever it fingerprints: the caller compares.
        XCTAssertEqual(try other.insertDocument(document("m3", key: "k", fingerprint: String(repeating: "b2", count: 32)), notifications: [], at: t0),
                       .existing(messageId: "m1"))
        XCTAssertEqual(try other.document(messageId: "m1")?.idempotencyFingerprint, fingerprint)
        // Part of what the document is: changed or set afterwards by nobody.
        XCTAssertThrowsError(try rawSQL("UPDATE documents SET idempotency_fingerprint = 'other' WHERE message_id = 'm1'"))
        XCTAssertThrowsError(try rawSQL("UPDATE documents SET idempotency_fingerprint = 'late' WHERE message_id = 'm2'"))
        XCTAssertEqual(try other.document(messageId: "m1")?.idempotencyFingerprint, fingerprint)
        XCTAssertNil(try other.document(messageId: "m2")?.idempotencyFingerprint)
    }

    /// A database written before the migration: its keyed document keeps the key, has no
    /// fingerprint and cannot be given one; new documents get theirs.
    func testAKeyStoredBeforeFingerprintsUpgradesWithoutOne() throws {
        let added = try XCTUnwrap((Self.backend == .sqlite ? Schema.migrations : PostgresSchema.migrations)
            .first { $0.sql == (Self.backend == .sqlite ? IdempotencyFingerprintSchema.sqlite : IdempotencyFingerprintSchema.postgres) }?.version)
        try createDatabase(before: added)
        try rawSQL("""
            INSERT INTO documents (message_id, connection, idempotency_key, sender, metadata, created_at)
            VALUES ('old', 'dms', 'old-key', '\(sender)', '{}', \(t0.storeMilliseconds))
            """)
        let store = try openMailboxStore()
        defer { store.close() }
        XCTAssertEqual(try store.documentId(connection: "dms", idempotencyKey: "old-key"), "old")
        let old = try XCTUnwrap(try store.document(messageId: "old"))
        XCTAssertEqual(old.idempotencyKey, "old-key")
        XCTAssertNil(old.idempotencyFingerprint)
        XCTAssertThrowsError(try rawSQL("UPDATE documents SET idempotency_fingerprint = 'late' WHERE message_id = 'old'"))
        // The replaced immutability rule still guards the columns it guarded.
        XCTAssertThrowsError(try rawSQL("UPDATE documents SET metadata = '{\"subject\":\"changed\"}' WHERE message_id = 'old'"))
        XCTAssertEqual(try store.insertDocument(document("new", key: "new-key", fingerprint: "f"), notifications: [], at: t0 + 1), .stored)
        XCTAssertEqual(try store.document(messageId: "new")?.idempotencyFingerprint, "f")
        if Self.backend == .sqlite {
            let c = try rawConnection()
            defer { c.close() }
            XCTAssertEqual(try c.pragma("integrity_check"), "ok")
        }
    }
}

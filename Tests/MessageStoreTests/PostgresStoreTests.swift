import Foundation
@testable import MessageStore
import Synchronization
import XCTest

// The backend-independent store tests, run again on PostgreSQL: same bodies, same expectations.
// Linux test discovery lists only methods a class declares itself, hence one override per test;
// `PostgresCoverageTests` fails when a shared test is missing here.
final class PostgresInboundTests: InboundTests {
    override class var backend: StoreBackend { .postgres }
    override func testRecordsMessagePartsAndEventTogether() throws { try super.testRecordsMessagePartsAndEventTogether() }
    override func testAFailedInsertLeavesNothingBehind() throws { try super.testAFailedInsertLeavesNothingBehind() }
    override func testDuplicateInsideTheWindowReturnsTheOriginalAndItsReceipt() throws { try super.testDuplicateInsideTheWindowReturnsTheOriginalAndItsReceipt() }
    override func testReceiptStoredWithTheMessageComesBackOnADuplicate() throws { try super.testReceiptStoredWithTheMessageComesBackOnADuplicate() }
    override func testSameIdOutsideTheWindowIsStoredAnew() throws { try super.testSameIdOutsideTheWindowIsStoredAnew() }
    override func testHandOverThenRetrieve() throws { try super.testHandOverThenRetrieve() }
    override func testListingFiltersAndOrders() throws { try super.testListingFiltersAndOrders() }
}

final class PostgresOutboundQueueTests: OutboundQueueTests {
    override class var backend: StoreBackend { .postgres }
    override func testEnqueueThenClaimLeasesTheDueMessagesInOrder() throws { try super.testEnqueueThenClaimLeasesTheDueMessagesInOrder() }
    override func testDuplicateOutboundIdIsRefused() throws { try super.testDuplicateOutboundIdIsRefused() }
    override func testRetryThenDeliver() throws { try super.testRetryThenDeliver() }
    override func testFailureKeepsTheReason() throws { try super.testFailureKeepsTheReason() }
    override func testRetryBudgetExhaustedFailsTheMessage() throws { try super.testRetryBudgetExhaustedFailsTheMessage() }
    override func testAnExpiredLeaseIsTakenOverByAnotherClaimer() throws { try super.testAnExpiredLeaseIsTakenOverByAnotherClaimer() }
    override func testReclaimExpiredLeases() throws { try super.testReclaimExpiredLeases() }
    override func testReleasedLeasesAreQueuedAgainOrFailWhenTheLastAttemptWasCutOff() throws {
        try super.testReleasedLeasesAreQueuedAgainOrFailWhenTheLastAttemptWasCutOff()
    }
    override func testClaimRejectsBadArguments() throws { try super.testClaimRejectsBadArguments() }
    override func testEnqueueLeasedToAnOwnerIsAlreadyClaimed() throws { try super.testEnqueueLeasedToAnOwnerIsAlreadyClaimed() }
    override func testEnqueueLeasedRefusesPullAndLaterMessages() throws { try super.testEnqueueLeasedRefusesPullAndLaterMessages() }
}

final class PostgresPullTests: PullTests {
    override class var backend: StoreBackend { .postgres }
    override func testPullLeasesTheOldestMessageOnTheMPC() throws { try super.testPullLeasesTheOldestMessageOnTheMPC() }
    override func testAPulledMessageNeverReceiptedComesBackAfterTheLease() throws { try super.testAPulledMessageNeverReceiptedComesBackAfterTheLease() }
    override func testReclaimPutsAnExpiredPullBackInTheQueue() throws { try super.testReclaimPutsAnExpiredPullBackInTheQueue() }
}

final class PostgresTransitionTests: TransitionTests {
    override class var backend: StoreBackend { .postgres }
    override func testTheStoreRefusesIllegalChanges() throws { try super.testTheStoreRefusesIllegalChanges() }
}

final class PostgresOperatorRetryTests: OperatorRetryTests {
    override class var backend: StoreBackend { .postgres }
    override func testAFailedMessageIsQueuedAgainWithAFreshBudget() throws { try super.testAFailedMessageIsQueuedAgainWithAFreshBudget() }
    override func testOnlyFailedOutboundMessagesCanBeRetried() throws { try super.testOnlyFailedOutboundMessagesCanBeRetried() }
}

final class PostgresLocalFaultTests: LocalFaultTests {
    override class var backend: StoreBackend { .postgres }
    override func testTheAttemptIsGivenBackAndTheMessageReleased() throws { try super.testTheAttemptIsGivenBackAndTheMessageReleased() }
    override func testAFileUnreadableBeyondTheBoundFailsTheMessageWithALocalReason() throws {
        try super.testAFileUnreadableBeyondTheBoundFailsTheMessageWithALocalReason()
    }
    override func testAnAttemptThatReadTheFileStartsTheBoundAfresh() throws { try super.testAnAttemptThatReadTheFileStartsTheBoundAfresh() }
    override func testOnlyTheLeaseOwnerReleases() throws { try super.testOnlyTheLeaseOwnerReleases() }
    override func testAWithdrawnMessageWhoseFileIsUnreadableFailsInsteadOfReturning() throws {
        try super.testAWithdrawnMessageWhoseFileIsUnreadableFailsInsteadOfReturning()
    }
    override func testARestartDoesNotStartTheBoundAfresh() throws { try super.testARestartDoesNotStartTheBoundAfresh() }
}

final class PostgresEventFeedTests: EventFeedTests {
    override class var backend: StoreBackend { .postgres }
    override func testEventsAfterAnIdComeInOrderWithTheirMessageIds() throws { try super.testEventsAfterAnIdComeInOrderWithTheirMessageIds() }
}

final class PostgresPayloadTests: PayloadTests {
    override class var backend: StoreBackend { .postgres }
    override func testBytesAreStoredUnderTheDayDirectoryWithSizeAndDigest() throws { try super.testBytesAreStoredUnderTheDayDirectoryWithSizeAndDigest() }
    override func testCopyKeepsTheSourceAndMoveRemovesIt() throws { try super.testCopyKeepsTheSourceAndMoveRemovesIt() }
    override func testMissingSourceIsAnIOError() throws { try super.testMissingSourceIsAnIOError() }
}

/// Two store objects on one database are two nodes sharing the queue.
final class PostgresConcurrentClaimTests: ConcurrentClaimTests {
    override class var backend: StoreBackend { .postgres }
    override func testTwoClaimersNeverGetTheSameMessage() throws { try super.testTwoClaimersNeverGetTheSameMessage() }
    override func testOneStoreSharedByThreads() throws { try super.testOneStoreSharedByThreads() }
}

final class PostgresPropertyTests: PropertyTests {
    override class var backend: StoreBackend { .postgres }
    override func testMessageAndPartPropertiesComeBackAsReceived() throws { try super.testMessageAndPartPropertiesComeBackAsReceived() }
    override func testAnOutboundRowKeepsItsPropertiesThroughTheQueue() throws { try super.testAnOutboundRowKeepsItsPropertiesThroughTheQueue() }
    override func testPropertiesBeyondTheLimitsAreRefusedAndNothingIsStored() throws {
        try super.testPropertiesBeyondTheLimitsAreRefusedAndNothingIsStored()
    }
    override func testADatabaseWrittenBeforePropertiesUpgradesWithItsMessages() throws {
        try super.testADatabaseWrittenBeforePropertiesUpgradesWithItsMessages()
    }
}

final class PostgresTwoWayReplyTests: TwoWayReplyTests {
    override class var backend: StoreBackend { .postgres }
    override func testASecondReplyIsRefusedAndLeavesNothingBehind() throws { try super.testASecondReplyIsRefusedAndLeavesNothingBehind() }
    override func testOtherMessagesNamingTheRequestAndRepliesToOtherRequestsAreStored() throws {
        try super.testOtherMessagesNamingTheRequestAndRepliesToOtherRequestsAreStored()
    }
    override func testRepliesRecordedAtOnceByManyNodesHaveOneWinner() throws { try super.testRepliesRecordedAtOnceByManyNodesHaveOneWinner() }
    override func testADatabaseWrittenBeforeTheLinkUpgradesWithItsReplies() throws {
        try super.testADatabaseWrittenBeforeTheLinkUpgradesWithItsReplies()
    }
}

final class PostgresSeenRequestTests: SeenRequestTests {
    override class var backend: StoreBackend { .postgres }
    override func testARequestIsRecordedOnceAndRefusedAfterThat() throws { try super.testARequestIsRecordedOnceAndRefusedAfterThat() }
    override func testOneOfManyConcurrentRecordersWins() throws { try super.testOneOfManyConcurrentRecordersWins() }
    override func testExpiredRecordsAreRemovedInBatchesOldestFirst() throws { try super.testExpiredRecordsAreRemovedInBatchesOldestFirst() }
}

final class PostgresIntakeFailureTests: IntakeFailureTests {
    override class var backend: StoreBackend { .postgres }
    override func testAMessageNotTakenInEndsFailedWithItsReason() throws { try super.testAMessageNotTakenInEndsFailedWithItsReason() }
    override func testADatabaseWrittenBeforeTheStatusUpgradesAndKeepsItsMessages() throws {
        try super.testADatabaseWrittenBeforeTheStatusUpgradesAndKeepsItsMessages()
    }
}

final class PostgresIntakeRetryTests: IntakeRetryTests {
    override class var backend: StoreBackend { .postgres }
    override func testAFailedIntakeGoesBackToReceivedWithWhoAskedInItsHistory() throws {
        try super.testAFailedIntakeGoesBackToReceivedWithWhoAskedInItsHistory()
    }
    override func testOnlyAnInboundMessageWhoseIntakeFailedIsRetriedAndARefusalChangesNothing() throws {
        try super.testOnlyAnInboundMessageWhoseIntakeFailedIsRetriedAndARefusalChangesNothing()
    }
    override func testRequestsAtOnceFromManyNodesHaveOneWinner() throws { try super.testRequestsAtOnceFromManyNodesHaveOneWinner() }
    override func testAMessageLeftReceivedBehindTheReaderIsAskedForAgainByAnEventAlone() throws {
        try super.testAMessageLeftReceivedBehindTheReaderIsAskedForAgainByAnEventAlone()
    }
}

/// Guards the list above: every test of a shared class has its PostgreSQL twin.
final class PostgresMessageCountTests: MessageCountTests {
    override class var backend: StoreBackend { .postgres }
    override func testCountsFollowEveryStatusChange() throws { try super.testCountsFollowEveryStatusChange() }
    override func testClosedStoreRefusesToCount() throws { try super.testClosedStoreRefusesToCount() }
}

final class PostgresLateOutcomeTests: LateOutcomeTests {
    override class var backend: StoreBackend { .postgres }
    override func testAReceiptAfterTheMessageWasFailedIsRecorded() throws { try super.testAReceiptAfterTheMessageWasFailedIsRecorded() }
    override func testAReceiptAfterTheLeaseWasLostIsRecorded() throws { try super.testAReceiptAfterTheLeaseWasLostIsRecorded() }
    override func testAnErrorAfterTheAttemptWasGivenUpIsRecorded() throws { try super.testAnErrorAfterTheAttemptWasGivenUpIsRecorded() }
    override func testAnErrorForAnAttemptInFlightOrNeverMadeIsRefusedOrFailsItAsUsual() throws {
        try super.testAnErrorForAnAttemptInFlightOrNeverMadeIsRefusedOrFailsItAsUsual()
    }
    override func testAnErrorTheReceiverPushedIsRecordedWhateverTheQueueIsDoing() throws {
        try super.testAnErrorTheReceiverPushedIsRecordedWhateverTheQueueIsDoing()
    }
    override func testWithdrawingAQueuedMessageFailsIt() throws { try super.testWithdrawingAQueuedMessageFailsIt() }
    override func testAnErrorAboutASendBeforeTheAttemptsWereCountedAfreshIsRecorded() throws {
        try super.testAnErrorAboutASendBeforeTheAttemptsWereCountedAfreshIsRecorded()
    }
    override func testAWithdrawnMessageInFlightGetsNoFurtherAttempt() throws { try super.testAWithdrawnMessageInFlightGetsNoFurtherAttempt() }
    override func testTheReceiptOfAWithdrawnMessagesAttemptDeliversIt() throws { try super.testTheReceiptOfAWithdrawnMessagesAttemptDeliversIt() }
    override func testAnOperatorRetryEndsTheWithdrawalAndRenewsTheRestartGrant() throws {
        try super.testAnOperatorRetryEndsTheWithdrawalAndRenewsTheRestartGrant()
    }
}

final class PostgresOwedReportStoreTests: OwedReportStoreTests {
    override class var backend: StoreBackend { .postgres }
    override func testAStepRecordsTheReportItOwesWithItOrNotAtAll() throws { try super.testAStepRecordsTheReportItOwesWithItOrNotAtAll() }
    override func testReportsComeInTheOrderOwedAndAnEarlierOneHoldsBackTheLaterOnes() throws {
        try super.testReportsComeInTheOrderOwedAndAnEarlierOneHoldsBackTheLaterOnes()
    }
    override func testADocumentOwingAReportIsKeptPastItsRetentionUntilTheReportIsQueued() throws {
        try super.testADocumentOwingAReportIsKeptPastItsRetentionUntilTheReportIsQueued()
    }
    override func testTheBacklogCountsWhatIsOwedAndDatesTheOldestStep() throws {
        try super.testTheBacklogCountsWhatIsOwedAndDatesTheOldestStep()
    }
    override func testAnAnswerBuiltBeforeAReadingElsewhereCarriesTheRecordedReadingTime() throws {
        try super.testAnAnswerBuiltBeforeAReadingElsewhereCarriesTheRecordedReadingTime()
    }
}

final class PostgresNoticeStoreTests: NoticeStoreTests {
    override class var backend: StoreBackend { .postgres }
    override func testContactsArrivalsAttemptsAndCounts() throws { try super.testContactsArrivalsAttemptsAndCounts() }
    override func testTheFirstPositionIsTheNewestNotification() throws { try super.testTheFirstPositionIsTheNewestNotification() }
    override func testAPendingNoticeIsWithdrawnOnce() throws { try super.testAPendingNoticeIsWithdrawnOnce() }
    override func testAClaimGivenBackKeepsTheNoticesPlaceAndAttempts() throws { try super.testAClaimGivenBackKeepsTheNoticesPlaceAndAttempts() }
    override func testADatabaseWrittenBeforeWithdrawalsUpgradesAndKeepsItsNotices() throws {
        try super.testADatabaseWrittenBeforeWithdrawalsUpgradesAndKeepsItsNotices()
    }
    override func testAnEmptyFeedStartsAtZero() throws { try super.testAnEmptyFeedStartsAtZero() }
}

final class PostgresCoverageTests: XCTestCase {
    func testEverySharedStoreTestAlsoRunsOnPostgres() throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        let twins = try String(contentsOf: folder.appendingPathComponent("PostgresStoreTests.swift"), encoding: .utf8)
        // Pure functions, no store involved.
        let backendIndependent: Set = ["testStateMachineTable", "testSHA256Vectors"]
        var checked = 0
        for file in ["InboundTests", "OutboundQueueTests", "PullTests", "TransitionTests", "OperatorRetryTests",
                     "PayloadTests", "ConcurrentClaimTests", "MessageCountTests", "MailboxStoreTests", "AddressDirectoryStoreTests",
                     "MailboxConcurrencyTests", "PropertyTests", "TwoWayReplyTests", "SeenRequestTests", "LateOutcomeTests",
                     "IntakeFailureTests", "LocalFaultTests", "IdempotencyFingerprintTests", "OwedReportStoreTests", "NoticeStoreTests"] {
            let text = try String(contentsOf: folder.appendingPathComponent(file + ".swift"), encoding: .utf8)
            for match in text.matches(of: /\nclass (\w+): StoreTestCase/) {
                XCTAssertTrue(twins.contains("class Postgres\(match.1): \(match.1) {"), "\(match.1) has no PostgreSQL twin")
            }
            for match in text.matches(of: /\n    func (test\w+)\(\)/) where !backendIndependent.contains(String(match.1)) {
                XCTAssertTrue(twins.contains("override func \(match.1)() throws"), "\(file): \(match.1) does not run on PostgreSQL")
                checked += 1
            }
        }
        XCTAssertGreaterThan(checked, 40)
    }
}

/// What only the PostgreSQL store has: its migrations, its server-side rules, lost connections.
final class PostgresSchemaTests: StoreTestCase {
    override class var backend: StoreBackend { .postgres }

    func testMigrationsAreAppliedOnceAndReopeningIsIdempotent() throws {
        let store = try openPostgresStore()
        XCTAssertEqual(try store.schemaVersion(), PostgresSchema.latestVersion)
        store.close()
        let reopened = try openPostgresStore(now: t0 + 3600)
        defer { reopened.close() }
        let rows = try reopened.read { c in
            try c.execute("SELECT version, applied_at FROM schema_migrations ORDER BY version").rows.map {
                [$0.int("version"), Int($0.int64("applied_at"))]
            }
        }
        XCTAssertEqual(rows, PostgresSchema.migrations.map { [$0.version, Int(t0.storeMilliseconds)] },
                       "a reopen must not re-apply (or re-record) a migration")
        XCTAssertEqual(PostgresSchema.migrations.map(\.version), Array(1...PostgresSchema.migrations.count))
    }

    /// Nodes starting at the same moment on an empty database: the advisory lock lets one
    /// migrate; the others wait, then find nothing to do.
    func testNodesStartingTogetherMigrateOnce() throws {
        let results = ResultLog()
        let url = postgresURL, payloads = payloadRoot, now = t0
        DispatchQueue.concurrentPerform(iterations: 4) { node in
            do {
                let store = try PostgresMessageStore(url: url, payloadDirectory: payloads, options: .init(poolSize: 1), schema: .migrate, now: now)
                results.add("node \(node): version \(try store.schemaVersion())")
                store.close()
            } catch {
                results.add("node \(node): \(error)")
            }
        }
        XCTAssertEqual(results.sorted, (0..<4).map { "node \($0): version \(PostgresSchema.latestVersion)" })
        let store = try openPostgresStore()
        defer { store.close() }
        let count = try store.read { try $0.execute("SELECT COUNT(*) AS n FROM schema_migrations").first?.int("n") }
        XCTAssertEqual(count, PostgresSchema.latestVersion)
    }

    func testADatabaseFromANewerBuildIsRefused() throws {
        let store = try openPostgresStore()
        try store.read { _ = try $0.execute("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, 'future', 0)",
                                            [PostgresSchema.latestVersion + 1]) }
        store.close()
        assertThrows(.schemaTooNew(found: PostgresSchema.latestVersion + 1, supported: PostgresSchema.latestVersion)) {
            try openPostgresStore()
        }
    }

    func testEventsCannotBeUpdatedDeletedOrTruncated() throws {
        let store = try openPostgresStore()
        defer { store.close() }
        guard case let .stored(rowId) = try store.recordInbound(inbound("m1", at: t0), duplicateWindow: 60) else {
            return XCTFail("not stored")
        }
        for sql in ["UPDATE events SET detail = 'rewritten'", "DELETE FROM events", "TRUNCATE events",
                    "DELETE FROM messages WHERE row_id = \(rowId)"] {
            XCTAssertThrowsError(try store.read { _ = try $0.execute(sql) }, sql) { error in
                guard case let .postgres(sqlState, message, statement) = error as? StoreError else { return XCTFail("\(error)") }
                XCTAssertEqual(statement, sql)
                if sql.contains("messages") {
                    XCTAssertEqual(sqlState, "23503", "a message with history cannot be deleted: \(message)")
                } else {
                    XCTAssertTrue(message.contains("events are append-only"), message)
                }
            }
        }
        XCTAssertEqual(try store.events(for: rowId).map(\.detail), ["from urn:ap:blue, 0 part(s)"], "nothing changed")
    }

    func testConstraintErrorsCarryTheServersMessageAndRollBack() throws {
        let store = try openPostgresStore()
        defer { store.close() }
        var bad = part(1)
        bad.file.sha256 = "short"
        XCTAssertThrowsError(try store.recordInbound(inbound("c1", at: t0, parts: [bad]), duplicateWindow: 60)) { error in
            guard case let .postgres(sqlState, message, sql) = error as? StoreError else { return XCTFail("\(error)") }
            XCTAssertEqual(sqlState, "23514", "check_violation")
            XCTAssertTrue(message.contains("parts_sha256_check"), message)
            XCTAssertTrue(sql?.contains("INSERT INTO parts") ?? false)
        }
        XCTAssertNil(try store.findMessage(id: "c1", direction: .inbound))
        XCTAssertEqual(try store.latestEventId(), 0, "the events of a rolled-back transaction never reach the table")
    }

    /// Two nodes recording replies to one request, the second past its check before the first
    /// commits: the unique index makes its insert wait for that commit and refuses it, and the
    /// refusal names the first reply as the check would have.
    func testAReplyRacingPastTheCheckIsRefusedByTheUniqueIndex() throws {
        let store = try openPostgresStore()
        defer { store.close() }
        let first = try PostgresConnection(url: postgresURL)
        defer { first.close() }
        let ms = t0.storeMilliseconds
        try first.executeScript("BEGIN")
        try first.executeScript("""
            INSERT INTO messages (message_id, direction, status, ref_to_message_id, answers_request, from_party, to_party, service,
                                  action, created_at, updated_at)
            VALUES ('first@blue', 'in', 'Received', 'req@red', 'req@red', 'urn:ap:blue', 'urn:ap:red', 'urn:svc:q', 'Answer', \(ms), \(ms))
            """)
        var second = inbound("second@blue", at: t0)
        second.metadata.refToMessageId = "req@red"
        second.isTwoWayReply = true
        let outcome = ResultLog()
        let recorded = DispatchSemaphore(value: 0)
        let message = second
        Thread {
            do {
                _ = try store.recordInbound(message, duplicateWindow: 60)
                outcome.add("stored")
            } catch {
                outcome.add("\(error)")
            }
            recorded.signal()
        }.start()
        XCTAssertEqual(recorded.wait(timeout: .now() + 1), .timedOut, "the second insert waits on the first's index entry")
        try first.executeScript("COMMIT")
        XCTAssertEqual(recorded.wait(timeout: .now() + 30), .success)
        XCTAssertEqual(outcome.sorted, ["\(StoreError.requestAlreadyAnswered(requestId: "req@red", replyId: "first@blue"))"])
        XCTAssertNil(try store.findMessage(id: "second@blue", direction: .inbound))
        XCTAssertEqual(try store.latestEventId(), 0, "the refused reply wrote no event")
    }

    /// Values that would break a statement built by string concatenation are just data here.
    func testValuesAreBoundNeverSpliced() throws {
        let store = try openPostgresStore()
        defer { store.close() }
        let nasty = "x'); DROP TABLE messages; --\"{},\\"
        var message = inbound(nasty, at: t0, receipt: Data([0, 0x5c, 0x78, 0xff, 0x27]))
        message.metadata.service = "ünïcødé ✓ \u{1F4E8}"
        _ = try store.recordInbound(message, duplicateWindow: 60)
        let stored = try XCTUnwrap(store.findMessage(id: nasty, direction: .inbound))
        XCTAssertEqual(stored.metadata, message.metadata)
        XCTAssertEqual(stored.receipt, message.receipt)
        XCTAssertEqual(try store.events(after: 0, limit: 10).map(\.messageId), [nasty, nasty])
        XCTAssertEqual(try store.listMessages(status: nil, since: nil, direction: nil, limit: 10).count, 1)
    }
}

final class PostgresConnectionTests: StoreTestCase {
    override class var backend: StoreBackend { .postgres }

    /// `pg_ctl restart` drops every pooled connection; the next call reconnects and sees
    /// everything committed before.
    func testARestartedServerIsSurvived() throws {
        let store = try openPostgresStore(poolSize: 3)
        defer { store.close() }
        _ = try store.enqueueOutbound(outbound("before", at: t0))
        // Open every pooled connection, so that all of them are dead after the restart.
        DispatchQueue.concurrentPerform(iterations: 6) { _ in _ = try? store.queueDepth() }
        try PostgresTestCluster.running().restart()

        XCTAssertEqual(try store.queueDepth(), QueueDepth(submitted: 1, sending: 0), "the next call reconnects")
        for i in 0..<6 { _ = try store.enqueueOutbound(outbound("after-\(i)", at: t0)) }
        XCTAssertEqual(try store.claimDue(now: t0, limit: 10, owner: "w", lease: 30).count, 7)
    }

    /// A connection that breaks inside a transaction: the caller gets `connectionLost`, the
    /// server rolls the transaction back, and the store goes on with a new connection.
    func testAConnectionLostMidTransactionChangesNothing() throws {
        let store = try openPostgresStore(poolSize: 1)
        defer { store.close() }
        let cluster = try PostgresTestCluster.running()
        XCTAssertThrowsError(try store.write { t -> Int in
            _ = try t.insertOutbound(outbound("half-done", at: t0))
            let killer = try PostgresConnection(url: cluster.databaseURL)
            defer { killer.close() }
            try killer.execute("SELECT pg_terminate_backend($1::integer)", [Int(t.connection.backendPID)])
            try t.execute("SELECT 1")
            return 0
        }) { error in
            guard case let .connectionLost(message) = error as? StoreError else { return XCTFail("\(error)") }
            XCTAssertTrue(message.contains("SELECT 1"), message)
        }
        XCTAssertNil(try store.findMessage(id: "half-done", direction: .outbound), "rolled back")
        _ = try store.enqueueOutbound(outbound("half-done", at: t0))
        XCTAssertEqual(try store.findMessage(id: "half-done", direction: .outbound)?.status, .submitted)
    }

    /// libpq would cut a text parameter at a NUL: refused, so `PARTNER\0x` never becomes `PARTNER`.
    func testATextWithANulIsRefusedNotCut() throws {
        let notices = try openNoticeStore()
        defer { notices.close() }
        XCTAssertThrowsError(try notices.setContact(NoticeContact(address: "_DEFAULT@40003032949", email: "a@b.lv\u{0}x", updatedAt: t0, updatedBy: "t"))) {
            guard case StoreError.invalidArgument(let why)? = $0 as? StoreError else { return XCTFail("\($0)") }
            XCTAssertTrue(why.contains("NUL"), why)
        }
        XCTAssertNil(try notices.contact(address: "_DEFAULT@40003032949"), "nothing stored")
    }

    func testAnUnreachableServerIsAConnectionError() throws {
        let port = try PostgresTestCluster.running().port
        // Nothing listens on port 1 of the loopback interface.
        XCTAssertThrowsError(try PostgresMessageStore(url: "postgres://as4gw:secret@127.0.0.1:1/as4gw",
                                                      payloadDirectory: payloadRoot, schema: .migrate)) { error in
            guard case let .connectionLost(message) = error as? StoreError else { return XCTFail("\(error)") }
            XCTAssertTrue(message.contains("cannot connect to postgres://as4gw:***@127.0.0.1:1/as4gw"), message)
            XCTAssertFalse(message.contains("secret"), "no password in messages")
        }
        XCTAssertThrowsError(try PostgresMessageStore(url: "postgres://as4gw@127.0.0.1:\(port)/no_such_database",
                                                      payloadDirectory: payloadRoot, schema: .migrate)) { error in
            XCTAssertTrue("\(error)".contains("no_such_database"), "\(error)")
        }
    }

    func testAClosedStoreRefusesCalls() throws {
        let store = try openPostgresStore()
        store.close()
        store.close()
        assertThrows(.closed) { try store.findMessage(id: "x", direction: .inbound) }
        assertThrows(.closed) { try store.enqueueOutbound(outbound("x", at: t0)) }
    }
}

final class StoreLocationTests: XCTestCase {
    func testStoreURLs() throws {
        XCTAssertEqual(try StoreLocation(parsing: "sqlite:/var/lib/as4gw"), .sqlite(directory: "/var/lib/as4gw"))
        XCTAssertEqual(try StoreLocation(parsing: "postgres://gw@db:5432/as4"), .postgres(url: "postgres://gw@db:5432/as4"))
        XCTAssertEqual(try StoreLocation(parsing: "postgresql://gw@db/as4"), .postgres(url: "postgresql://gw@db/as4"))
        XCTAssertEqual(try StoreLocation(parsing: "postgres://gw:pw@db/as4").description, "postgres://gw:***@db/as4")
        for bad in ["sqlite:", "mysql://db/x", "/var/lib/as4gw", ""] {
            XCTAssertThrowsError(try StoreLocation(parsing: bad), bad) { error in
                guard case let .invalidArgument(reason) = error as? StoreError else { return XCTFail("\(error)") }
                XCTAssertTrue(reason.contains("store URL"), reason)
            }
        }
        XCTAssertThrowsError(try StoreLocation(parsing: "redis://u:topsecret@h/0")) { error in
            XCTAssertFalse("\(error)".contains("topsecret"))
        }
    }
}

/// Lines collected from several threads.
private final class ResultLog: Sendable {
    private let lines = Mutex<[String]>([])
    func add(_ line: String) { lines.withLock { $0.append(line) } }
    var sorted: [String] { lines.withLock { $0.sorted() } }
}

final class PostgresMailboxStoreTests: MailboxStoreTests {
    override class var backend: StoreBackend { .postgres }
    override func testConnectionsAddListRevoke() throws { try super.testConnectionsAddListRevoke() }
    override func testConnectionRolesAreKeptAndUnknownNamesDropped() throws { try super.testConnectionRolesAreKeptAndUnknownNamesDropped() }
    override func testAProofOfDeliverySupersedesOurOwnFailureOnly() throws { try super.testAProofOfDeliverySupersedesOurOwnFailureOnly() }
    override func testDocumentStoredWholeWithEventsAndIdempotencyKey() throws { try super.testDocumentStoredWholeWithEventsAndIdempotencyKey() }
    override func testArrivingDocumentAddsRecipientsFromItsOriginOnly() throws { try super.testArrivingDocumentAddsRecipientsFromItsOriginOnly() }
    override func testARecipientWhoseAS4MessageIdCarriesAnotherAlreadyIsAConflict() throws {
        try super.testARecipientWhoseAS4MessageIdCarriesAnotherAlreadyIsAConflict()
    }
    override func testRecipientStateOnlyMovesForwardAndIsDecidedOnce() throws { try super.testRecipientStateOnlyMovesForwardAndIsDecidedOnce() }
    override func testEachRetrysFailureIsToldOnce() throws { try super.testEachRetrysFailureIsToldOnce() }
    override func testNotificationsPerConnectionAddressesAndConfirmedPosition() throws { try super.testNotificationsPerConnectionAddressesAndConfirmedPosition() }
    override func testInboxPagesAndWorkerCursor() throws { try super.testInboxPagesAndWorkerCursor() }
    override func testOverdueAndUnsentRecipients() throws { try super.testOverdueAndUnsentRecipients() }
    override func testTheDeadlineJudgesByTheReadingTime() throws { try super.testTheDeadlineJudgesByTheReadingTime() }
    override func testUploadsChunkInOrderCompleteOnceAndAreTakenByOneDocument() throws { try super.testUploadsChunkInOrderCompleteOnceAndAreTakenByOneDocument() }
}

final class PostgresAddressDirectoryStoreTests: AddressDirectoryStoreTests {
    override class var backend: StoreBackend { .postgres }
    override func testAddressesServedByAPartyId() throws { try super.testAddressesServedByAPartyId() }
    override func testImportThenLookUp() throws { try super.testImportThenLookUp() }
    override func testCountsMergeAndReplace() throws { try super.testCountsMergeAndReplace() }
    override func testModifyRecordChangesOnlyWhatItIsGivenAndLosesNoConcurrentChange() throws {
        try super.testModifyRecordChangesOnlyWhatItIsGivenAndLosesNoConcurrentChange()
    }
    override func testABadImportChangesNothing() throws { try super.testABadImportChangesNothing() }
    override func testClosedDirectoryRefuses() throws { try super.testClosedDirectoryRefuses() }
}

final class PostgresIdempotencyFingerprintTests: IdempotencyFingerprintTests {
    override class var backend: StoreBackend { .postgres }
    override func testTheFingerprintIsKeptWithItsKeyAndNeverChanged() throws { try super.testTheFingerprintIsKeptWithItsKeyAndNeverChanged() }
    override func testAKeyStoredBeforeFingerprintsUpgradesWithoutOne() throws { try super.testAKeyStoredBeforeFingerprintsUpgradesWithoutOne() }
}

final class PostgresMailboxConcurrencyTests: MailboxConcurrencyTests {
    override class var backend: StoreBackend { .postgres }
    override func testOneIdempotencyKeyFromTwoNodesGivesOneDocument() throws { try super.testOneIdempotencyKeyFromTwoNodesGivesOneDocument() }
    override func testOneRecipientStepRecordedByTwoNodesHasOneWinner() throws { try super.testOneRecipientStepRecordedByTwoNodesHasOneWinner() }
    override func testAReaderFollowingNotificationIdsMissesNoneWhileTwoNodesWrite() throws { try super.testAReaderFollowingNotificationIdsMissesNoneWhileTwoNodesWrite() }
}

final class PostgresRecipientRegistersTests: RecipientRegistersTests {
    override class var backend: StoreBackend { .postgres }
    override func testEntriesAreValidInTheirWindowAndEndingKeepsThemWithTheirHistory() throws {
        try super.testEntriesAreValidInTheirWindowAndEndingKeepsThemWithTheirHistory()
    }
    override func testTheLookupLogAnswersWhoAskedAboutWhom() throws { try super.testTheLookupLogAnswersWhoAskedAboutWhom() }
    override func testLookupsLoggedBeforePurposesWereKeptAreChannelLookups() throws {
        try super.testLookupsLoggedBeforePurposesWereKeptAreChannelLookups()
    }
    override func testOptInsAreKeptPerAddress() throws { try super.testOptInsAreKeptPerAddress() }
    override func testACompanyImportReplacesTheRegisterAndReportsTheDifference() throws {
        try super.testACompanyImportReplacesTheRegisterAndReportsTheDifference()
    }
    override func testABatchOfTenThousandCodesIsAnsweredInOneQuery() throws { try super.testABatchOfTenThousandCodesIsAnsweredInOneQuery() }
    override func testTheDirectoryAnswersABatchOfAddressesAtOnce() throws { try super.testTheDirectoryAnswersABatchOfAddressesAtOnce() }
    override func testHistoryAndLookupLogAreAppendOnlyAndEntriesAreNeverDeleted() throws {
        try super.testHistoryAndLookupLogAreAppendOnlyAndEntriesAreNeverDeleted()
    }
}

final class PostgresInboundSenderTests: InboundSenderTests {
    override class var backend: StoreBackend { .postgres }
    override func testTheSameIdFromAnotherPartyIsNoDuplicate() throws { try super.testTheSameIdFromAnotherPartyIsNoDuplicate() }
    override func testInboundTransitionsByRowTouchThatRowOnly() throws { try super.testInboundTransitionsByRowTouchThatRowOnly() }
}

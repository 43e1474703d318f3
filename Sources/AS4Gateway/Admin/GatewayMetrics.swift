import EnvelopeXML
import Foundation
import Synchronization

/// The daemon's own counters and latency histograms: what the store cannot tell afterwards.
/// Message counts, queue depth and certificate expiry are read when `/metrics` is scraped
/// (`MetricsReport`); this type only keeps what must be counted as it happens. Every method is
/// a lock-free atomic add or one short locked update, so the message paths call it freely.
final class GatewayMetrics: Sendable {
    let startedAt = Date()
    /// Delivery attempts that failed and were scheduled again.
    let deliveryRetries = Atomic<Int>(0)
    /// Answers or receipts that did not validate as a receipt for what we sent (EBMS:0302).
    let receiptValidationFailures = Atomic<Int>(0)
    let pmodeReloadsSucceeded = Atomic<Int>(0)
    let pmodeReloadsFailed = Atomic<Int>(0)
    /// E-mail notices of mailbox arrivals: handed to the SMTP server, given up, tried again, and
    /// arrivals whose owner registered no e-mail address, withdrawn before an attempt because the
    /// document was read or purged meanwhile.
    let noticesSent = Atomic<Int>(0)
    let noticesFailed = Atomic<Int>(0)
    let noticeRetries = Atomic<Int>(0)
    let noticesWithoutContact = Atomic<Int>(0)
    let noticesWithdrawn = Atomic<Int>(0)
    /// The notice mailer's SMTP server as this node's mailer last found it: unreachable, or
    /// refusing this gateway (login, sender, TLS), and how many outages met each since start.
    let noticeSMTPUnreachable = Atomic<Bool>(false)
    let noticeSMTPRefused = Atomic<Bool>(false)
    let noticeSMTPOutages = Atomic<Int>(0)
    let noticeSMTPRefusals = Atomic<Int>(0)
    /// E-address messages received and receipted that could not be taken in (inbound `Failed`),
    /// by whether their origin was sent a Failed report.
    let intakeFailuresReported = Atomic<Int>(0)
    let intakeFailuresUnreported = Atomic<Int>(0)
    /// Messages set aside that the store would not mark Failed either: left Received, passed over.
    let intakePassedOver = Atomic<Int>(0)
    /// ebMS errors this gateway answered to messages and signals it received, by error code.
    private let inboundErrors = Mutex<[String: Int]>([:])
    /// PullRequests answered EBMS:0006 (nothing waits): a puller's normal poll, kept out of
    /// `inboundErrors` so that a rise there means something went wrong.
    let emptyPullAnswers = Atomic<Int>(0)

    /// Submission accepted → valid receipt stored (push) or pulled message receipted (pull).
    let endToEndLatency = LatencyHistogram(bounds: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600])
    /// A request on the AS4 endpoint from its arrival to its answer (receipt, error or pulled message).
    let inboundProcessing = LatencyHistogram(bounds: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30])

    func noteInboundError(code: String) {
        if code == EbmsError.Code.emptyMessagePartitionChannel.rawValue {
            emptyPullAnswers.add(1, ordering: .relaxed)
            return
        }
        inboundErrors.withLock { $0[code, default: 0] += 1 }
    }

    /// A failed delivery attempt or pull receipt: counted as a receipt validation failure when
    /// the answer was there but did not prove receipt of what we sent.
    func noteReceiptOutcome(_ error: Error) {
        if (error as? EbmsError)?.code == .invalidReceipt { receiptValidationFailures.add(1, ordering: .relaxed) }
    }

    func noteRetry() { deliveryRetries.add(1, ordering: .relaxed) }

    func notePModeReload(succeeded: Bool) {
        if succeeded { pmodeReloadsSucceeded.add(1, ordering: .relaxed) } else { pmodeReloadsFailed.add(1, ordering: .relaxed) }
    }

    func intakeFailed(reported: Bool) {
        if reported { intakeFailuresReported.add(1, ordering: .relaxed) } else { intakeFailuresUnreported.add(1, ordering: .relaxed) }
    }

    var inboundErrorsByCode: [String: Int] { inboundErrors.withLock { $0 } }
}

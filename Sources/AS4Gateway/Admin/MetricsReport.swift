import Foundation
import MessageStore
import Routing

/// Everything `/metrics` shows, gathered at scrape time: the store's message counts and queue,
/// the daemon's counters and histograms, certificate expiry and build information.
///
/// A store that does not answer does not fail the scrape: `as4gw_store_up` goes to 0 and the
/// store-derived families are left out, so the counters stay visible when they matter most.
struct MetricsReport {
    let metrics: GatewayMetrics
    let store: any MessageStore
    let registry: PModeRegistry
    let certificates: CertificateInventory
    let storeKind: String
    var notices: (any NoticeStore)? = nil
    var mailbox: (any MailboxStore)? = nil
    var disk: DiskSpace? = nil
    var requestFailures: RequestFailureLog? = nil

    func families(now: Date = Date()) -> [MetricFamily] {
        var families: [MetricFamily] = [
            MetricFamily("as4gw_build_info", .gauge, help: "Build of the running as4gw; the value is always 1.",
                         samples: [.init(labels: [("version", BuildInfo.version), ("store", storeKind)], value: 1)]),
            MetricFamily("as4gw_start_time_seconds", .gauge, help: "When the daemon started, in seconds since 1970.",
                         value: metrics.startedAt.timeIntervalSince1970),
        ]
        families += storeFamilies(now: now)
        families += counterFamilies()
        families += pmodeFamilies()
        families += noticeFamilies()
        families += owedReportFamilies(now: now)
        families += diskFamilies()
        families.append(certificateFamily(now: now))
        return families
    }

    func render(now: Date = Date()) throws -> String {
        try PrometheusText.render(families(now: now))
    }

    private func storeFamilies(now: Date) -> [MetricFamily] {
        let counts: [MessageCount], depth: QueueDepth, oldest: TimeInterval?
        do {
            counts = try store.messageCounts()
            depth = try store.queueDepth()
            oldest = try store.oldestQueuedAge(now: now)
        } catch {
            return [MetricFamily("as4gw_store_up", .gauge, help: "1 when the message store answered this scrape's queries, else 0.", value: 0)]
        }
        // Every status of each direction is listed, zeros included, so a rate or an alert on a
        // series works before its first message.
        var samples: [MetricFamily.Sample] = []
        for direction in Direction.allCases {
            for status in MessageStatus.statuses(for: direction) {
                let n = counts.first { $0.direction == direction && $0.status == status }?.count ?? 0
                samples.append(.init(labels: [("direction", direction == .inbound ? "inbound" : "outbound"), ("status", status.rawValue)],
                                     value: Double(n)))
            }
        }
        return [
            MetricFamily("as4gw_store_up", .gauge, help: "1 when the message store answered this scrape's queries, else 0.", value: 1),
            MetricFamily("as4gw_messages", .gauge, help: "Messages in the store by direction and status (the whole history).",
                         samples: samples),
            MetricFamily("as4gw_queue_depth", .gauge, help: "Outbound messages not yet final, by status.",
                         samples: [.init(labels: [("status", MessageStatus.submitted.rawValue)], value: Double(depth.submitted)),
                                   .init(labels: [("status", MessageStatus.sending.rawValue)], value: Double(depth.sending))]),
            MetricFamily("as4gw_queue_oldest_age_seconds", .gauge,
                         help: "Age of the oldest outbound message not yet final; 0 when the queue is empty.", value: oldest ?? 0),
        ]
    }

    private func counterFamilies() -> [MetricFamily] {
        let errors = metrics.inboundErrorsByCode.sorted { $0.key < $1.key }
        return [
            MetricFamily("as4gw_delivery_retries_total", .counter, help: "Failed delivery attempts scheduled to be tried again.",
                         value: Double(metrics.deliveryRetries.load(ordering: .relaxed))),
            MetricFamily("as4gw_receipt_validation_failures_total", .counter,
                         help: "Receipts that did not prove receipt of what was sent (EBMS:0302), pushed or pulled.",
                         value: Double(metrics.receiptValidationFailures.load(ordering: .relaxed))),
            MetricFamily("as4gw_inbound_ebms_errors_total", .counter,
                         help: "ebMS error signals answered to received messages and signals, by error code (EBMS:0006 is counted in as4gw_pull_empty_answers_total).",
                         samples: errors.map { .init(labels: [("code", $0.key)], value: Double($0.value)) }),
            MetricFamily("as4gw_pull_empty_answers_total", .counter,
                         help: "PullRequests answered EBMS:0006: nothing waited on the MPC (a puller's normal poll).",
                         value: Double(metrics.emptyPullAnswers.load(ordering: .relaxed))),
            MetricFamily("as4gw_intake_failures_total", .counter,
                         help: "E-address messages receipted but not taken in (inbound Failed), by whether the origin was sent a Failed report.",
                         samples: [.init(labels: [("reported", "true")], value: Double(metrics.intakeFailuresReported.load(ordering: .relaxed))),
                                   .init(labels: [("reported", "false")], value: Double(metrics.intakeFailuresUnreported.load(ordering: .relaxed)))]),
            MetricFamily("as4gw_intake_passed_over_total", .counter,
                         help: "E-address messages set aside whose Failed mark the store refused too: left Received, passed over (messages list --passed-over).",
                         value: Double(metrics.intakePassedOver.load(ordering: .relaxed))),
            MetricFamily(histogram: "as4gw_end_to_end_latency_seconds",
                         help: "From submission to a valid receipt held (push) or a pulled message receipted.", metrics.endToEndLatency.snapshot),
            MetricFamily(histogram: "as4gw_inbound_processing_seconds",
                         help: "AS4 endpoint requests from arrival to answer.", metrics.inboundProcessing.snapshot),
        ]
    }

    /// E-mail notices: counted as they happen, and the store's notices by status (a failed or
    /// noContact notice stays visible after a restart, when the counters start from zero).
    private func noticeFamilies() -> [MetricFamily] {
        var families = [
            MetricFamily("as4gw_notices_total", .counter, help: "E-mail notices of mailbox arrivals since start, by result.",
                         samples: [("sent", metrics.noticesSent.load(ordering: .relaxed)), ("failed", metrics.noticesFailed.load(ordering: .relaxed)),
                                   ("retried", metrics.noticeRetries.load(ordering: .relaxed)),
                                   ("no_contact", metrics.noticesWithoutContact.load(ordering: .relaxed)),
                                   ("withdrawn", metrics.noticesWithdrawn.load(ordering: .relaxed))].map {
                                       .init(labels: [("result", $0.0)], value: Double($0.1))
                                   }),
            MetricFamily("as4gw_notice_smtp_up", .gauge,
                         help: "0 while the notice mailer can hand no notice to its SMTP server, unreachable (no connection, TLS or greeting) or refusing this gateway (login, sender, TLS); no notice's attempt is spent. Else 1.",
                         value: metrics.noticeSMTPUnreachable.load(ordering: .relaxed) || metrics.noticeSMTPRefused.load(ordering: .relaxed) ? 0 : 1),
            MetricFamily("as4gw_notice_smtp_refused", .gauge,
                         help: "1 while the notice mailer's SMTP server refuses this gateway (its login, sender address or lack of TLS): the settings or the server need fixing. Else 0.",
                         value: metrics.noticeSMTPRefused.load(ordering: .relaxed) ? 1 : 0),
            MetricFamily("as4gw_notice_smtp_outages_total", .counter,
                         help: "Outages of the notice mailer's SMTP server since start, by what they met (one outage counts once for each).",
                         samples: [("unreachable", metrics.noticeSMTPOutages.load(ordering: .relaxed)),
                                   ("refused", metrics.noticeSMTPRefusals.load(ordering: .relaxed))].map {
                                       .init(labels: [("reason", $0.0)], value: Double($0.1))
                                   }),
        ]
        if let counts = try? notices?.noticeCounts() {
            families.append(MetricFamily("as4gw_notices_stored", .gauge, help: "E-mail notices in the store by status (failed and noContact need someone's attention).",
                                         samples: NoticeStatus.allCases.map { .init(labels: [("status", $0.rawValue)], value: Double(counts[$0] ?? 0)) }))
        }
        return families
    }

    /// Status reports owed to other access points (a reading, an answer, a failure not yet in the
    /// outbound queue): a backlog that lasts means a report no agreement lets out, and its
    /// document is kept past retention until it leaves.
    private func owedReportFamilies(now: Date) -> [MetricFamily] {
        guard let backlog = try? mailbox?.owedReportBacklog() else { return [] }
        return [
            MetricFamily("as4gw_status_reports_owed", .gauge, help: "Status reports owed to origin access points and not yet queued.",
                         value: Double(backlog.count)),
            MetricFamily("as4gw_status_reports_owed_oldest_age_seconds", .gauge,
                         help: "Age of the step the oldest owed status report tells of (0 when none is owed).",
                         value: backlog.oldestStep.map { max(0, now.timeIntervalSince($0)) } ?? 0),
        ]
    }

    /// Free room where the daemon writes, and the requests refused because of a full disk or a
    /// store outage: during either the store's own figures may look normal.
    private func diskFamilies() -> [MetricFamily] {
        var families: [MetricFamily] = []
        if let disk {
            families.append(MetricFamily("as4gw_disk_free_bytes", .gauge,
                                         help: "Free bytes for the daemon on the file system of each directory it writes to; /readyz fails below as4gw_disk_reserve_bytes.",
                                         samples: disk.rooms().compactMap { place, room in
                                             room.map { .init(labels: [("directory", place.name)], value: Double($0.bytes)) }
                                         }))
            families.append(MetricFamily("as4gw_disk_reserve_bytes", .gauge, help: "Free bytes each directory keeps; below it the node is not ready.",
                                         value: Double(disk.reserve)))
        }
        if let requestFailures {
            let counts = requestFailures.counts
            var samples: [MetricFamily.Sample] = []
            for listener in ["as4", "api", "submit"] {
                for condition in RequestFailureLog.Condition.allCases {
                    samples.append(.init(labels: [("listener", listener), ("condition", condition.rawValue)],
                                         value: Double(counts[.init(listener: listener, condition: condition)] ?? 0)))
                }
            }
            families.append(MetricFamily("as4gw_requests_refused_temporarily_total", .counter,
                                         help: "Requests answered 507 or 503 (Retry-After) because the disk was full or the store could not answer, by listener.",
                                         samples: samples))
        }
        return families
    }

    private func pmodeFamilies() -> [MetricFamily] {
        [
            MetricFamily("as4gw_pmode_reloads_total", .counter, help: "P-Mode reloads (SIGHUP) by result; a failed one keeps the previous set.",
                         samples: [.init(labels: [("result", "ok")], value: Double(metrics.pmodeReloadsSucceeded.load(ordering: .relaxed))),
                                   .init(labels: [("result", "failed")], value: Double(metrics.pmodeReloadsFailed.load(ordering: .relaxed)))]),
            MetricFamily("as4gw_pmodes_loaded", .gauge, help: "P-Modes in the set in force.", value: Double(registry.current.pmodes.count)),
        ]
    }

    private func certificateFamily(now: Date) -> MetricFamily {
        // The serial tells apart two certificates of one subject (a rotation in progress); the
        // same file listed twice for a party gives one series, not a duplicate the scraper refuses.
        var seen: Set<[String]> = []
        var samples: [MetricFamily.Sample] = []
        for e in certificates.all(pmodes: registry.current) {
            let labels = [("party", e.party), ("role", e.role), ("source", e.source), ("subject", e.certificate.subject),
                          ("serial", e.certificate.serialNumber)]
            guard seen.insert(labels.map(\.1)).inserted else { continue }
            samples.append(.init(labels: labels, value: e.certificate.notAfter.timeIntervalSince(now) / 86_400))
        }
        return MetricFamily("as4gw_certificate_expiry_days", .gauge,
                            help: "Days until the certificate's notAfter (negative once expired): ours and every party's in the P-Modes.",
                            samples: samples)
    }
}

import Foundation
import MessageStore
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// `as4gw bench store`: what the durable store costs per message, without HTTP or crypto.
/// T threads (default 8, like the daemon's submitters and workers) run on one store in DIR:
/// - outbound: enqueue a 14 KiB sealed message (durable), claim it, mark it Delivered with a
///   4 KiB receipt, the three store steps a sent message takes;
/// - outbound handed: the same message queued already leased (as when an idle worker takes it
///   straight from the submission), then Delivered: two steps;
/// - inbound: record a received message with a 10 KiB payload and its receipt (durable).
/// Prints messages/s and this process's CPU time per message for each: the figure that decides
/// how many messages two cores can carry, steadier on a shared machine than the rate.
struct StoreBenchmark {
    struct Failure: Error, CustomStringConvertible { var description: String }

    var messages = 4000
    var threads = 8
    var directory: String

    func run() throws -> [(key: String, value: Double)] {
        let root = directory + "/as4gw-bench-store-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let store = try StoreLocation.sqlite(directory: root).open(payloadDirectory: nil, schema: .migrate)
        defer { store.close() }
        let sealed = Data(repeating: 0x5A, count: 14 * 1024), payload = Data(repeating: 0x3C, count: 10 * 1024)
        let receipt = Data(repeating: 0x52, count: 4 * 1024)
        let references = String(repeating: "x", count: 600)

        let outbound = try measure { i in
            let id = "out-\(i)@bench"
            let message = OutboundMessage(metadata: Self.metadata(id), endpoint: "https://127.0.0.1:1/as4",
                                          contentType: "multipart/related; boundary=x", messagePath: "", sentReferences: references,
                                          maxAttempts: 5, submittedAt: Date(), messageBytes: sealed)
            _ = try store.enqueueOutbound(message)
            let owner = "bench/w\(i % threads)"
            // Another thread may have taken this one; claim whichever is due, as a worker does.
            for job in try store.claimDue(now: Date(), limit: 1, owner: owner, lease: 60) {
                try store.markDelivered(messageId: job.metadata.messageId, owner: owner, receipt: receipt, at: Date())
            }
        }
        // The same with the message handed to an idle worker: queued already leased, no claim.
        let handed = try measure { i in
            let message = OutboundMessage(metadata: Self.metadata("handed-\(i)@bench"), endpoint: "https://127.0.0.1:1/as4",
                                          contentType: "multipart/related; boundary=x", messagePath: "", sentReferences: references,
                                          maxAttempts: 5, submittedAt: Date(), messageBytes: sealed)
            let owner = "bench/w\(i % threads)"
            let job = try store.enqueueOutbound(message, leasingTo: owner, lease: 60, now: Date())
            try store.markDelivered(messageId: job.metadata.messageId, owner: owner, receipt: receipt, at: Date())
        }
        let inbound = try measure { i in
            let digest = String(repeating: "0", count: 64)
            let part = MessagePart(contentId: "p\(i)@bench", mimeType: "application/octet-stream",
                                   file: StoredFile(path: "", size: Int64(payload.count), sha256: digest), bytes: payload)
            _ = try store.recordInbound(InboundMessage(metadata: Self.metadata("in-\(i)@bench"), parts: [part], receivedAt: Date(),
                                                       receipt: receipt), duplicateWindow: 86_400)
        }
        // A claim may have found its message taken by another thread: the rest go now, uncounted.
        while let job = try store.claimDue(now: Date(), limit: 1, owner: "bench/drain", lease: 60).first {
            try store.markDelivered(messageId: job.metadata.messageId, owner: "bench/drain", receipt: receipt, at: Date())
        }
        let counts = try store.messageCounts()
        func count(_ direction: Direction, _ status: MessageStatus) -> Int {
            counts.first { $0.direction == direction && $0.status == status }?.count ?? 0
        }
        guard count(.outbound, .delivered) == 2 * messages, count(.inbound, .received) == messages else {
            throw Failure(description: "the store holds \(counts), not \(2 * messages) delivered and \(messages) received messages")
        }
        return [
            ("messages", Double(messages)),
            ("threads", Double(threads)),
            ("outbound_msgs_per_s", outbound.rate),
            ("outbound_cpu_us_per_msg", outbound.cpuMilliseconds * 1000),
            ("outbound_handed_msgs_per_s", handed.rate),
            ("outbound_handed_cpu_us_per_msg", handed.cpuMilliseconds * 1000),
            ("inbound_msgs_per_s", inbound.rate),
            ("inbound_cpu_us_per_msg", inbound.cpuMilliseconds * 1000),
        ]
    }

    static func metadata(_ id: String) -> MessageMetadata {
        MessageMetadata(messageId: id, conversationId: "conversation-" + id, fromParty: "gw-a", toParty: "gw-b",
                        service: "urn:eadrese:services:delivery", action: "DeliverDocument", pmodeId: "gw-a-to-gw-b",
                        mpc: "http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/defaultMPC")
    }

    /// Runs `step` for message 0..<messages over the threads; messages/s and CPU ms per message.
    private func measure(_ step: @escaping @Sendable (Int) throws -> Void) throws -> (rate: Double, cpuMilliseconds: Double) {
        let next = Atomic<Int>(0)
        let failure = Mutex<String?>(nil)
        let cpuBefore = processCPUSeconds(), started = Date()
        let group = DispatchGroup()
        for _ in 0..<threads {
            group.enter()
            Thread {
                while failure.withLock({ $0 == nil }) {
                    let i = next.wrappingAdd(1, ordering: .relaxed).oldValue
                    guard i < messages else { break }
                    do { try step(i) } catch { failure.withLock { $0 = $0 ?? "\(error)" } }
                }
                group.leave()
            }.start()
        }
        group.wait()
        if let message = failure.withLock({ $0 }) { throw Failure(description: message) }
        let wall = Date().timeIntervalSince(started), cpu = processCPUSeconds() - cpuBefore
        return (Double(messages) / max(wall, 1e-6), cpu * 1000 / Double(messages))
    }
}

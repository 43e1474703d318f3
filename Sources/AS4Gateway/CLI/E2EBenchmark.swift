import AS4Crypto
import Dispatch
import Foundation
import HTTPClient
import MessageStore
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// `as4gw bench e2e`: two real gateways of this very binary on loopback (HTTPS, development PKI,
/// profile 1.15 signed + encrypted + compressed), N messages submitted to gateway A, each timed
/// from the moment its submission POST starts to the `receiptAt` gateway A stored when the
/// signed receipt from B validated (Delivered). Figures:
/// - messages/s: N / (last receiptAt - first submission start);
/// - p50/p99 latency over every delivered message;
/// - peak RSS (VmHWM) of each gateway process, read just before SIGTERM, and the CPU time each
///   used from the first submission on;
/// - the raw RSA-2048 sign rate, measured before the gateways start: each message costs about
///   three RSA private-key operations (A signs, B decrypts the key, B signs the receipt).
/// With `rate`, message i is submitted at start + i/rate and its latency counts from that
/// scheduled time, so a submitter that falls behind cannot hide queueing.
struct E2EBenchmark {
    var messages: Int = 2000
    var size: Int = 10_240
    var concurrency: Int = 8
    var rate: Double?
    var workers: Int = 2 * max(1, ProcessInfo.processInfo.activeProcessorCount)
    var pollInterval: Double?
    /// The AS4 listener's pool threads (`as4Listener.threads`); nil keeps the daemon's default.
    var listenerThreads: Int?
    var directory: String = NSTemporaryDirectory()
    var executable: String = E2EBenchmark.selfExecutable()
    /// Gateway A's store in this PostgreSQL database instead of SQLite in its data directory.
    var postgresStore: String?
    /// The eDelivery AS4 profile of the P-Modes: "1.15" (RSA-2048 keys from the development
    /// PKI) or "2.0" (Ed25519 signing and X25519 key agreement keys, issued here by a CA of the
    /// run before the gateways start; TLS keys stay the development PKI's).
    var profile: String = "1.15"
    /// Gateway A as this many `serve` processes on the one PostgreSQL store (more than one needs
    /// `postgresStore`); submissions go to them in turn.
    var nodes: Int = 1

    struct Failure: Error, CustomStringConvertible { var description: String }

    /// This process's own binary: the gateways run the same build as the bench.
    static func selfExecutable() -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        if n > 0 { return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) }
        return CommandLine.arguments[0]
    }

    func run() throws -> [(key: String, value: Double)] {
        guard messages > 0, size >= 0, concurrency > 0, workers > 0, listenerThreads.map({ $0 > 0 }) ?? true else {
            throw Failure(description: "messages, concurrency, workers and listener threads must be positive")
        }
        if let rate, !(rate > 0) { throw Failure(description: "--rate must be positive") }
        guard nodes >= 1, nodes == 1 || postgresStore != nil else { throw Failure(description: "several nodes need a postgres:// store") }
        guard ["1.15", "2.0"].contains(profile) else { throw Failure(description: "--profile is 1.15 or 2.0") }

        // The bound, measured while nothing else runs.
        let key = try PrivateKey.generateRSA(bits: 2048)
        let signedInfoSized = [UInt8](repeating: 0x61, count: 1200)
        let rawSign = try CodecBenchmark(seconds: 1, largeMB: 0, directory: directory)
            .rate { _ = try Signer.sign(data: signedInfoSized, key: key, algorithm: .rsaSHA256) }

        let root = directory + "/as4gw-bench-e2e-\(getpid())-\(UUID().uuidString.prefix(8))"
        let cleanup = E2ECleanup.shared
        cleanup.begin(directory: root)
        defer { cleanup.finish() }
        try FileManager.default.createDirectory(atPath: root + "/pmode", withIntermediateDirectories: true)

        let a = E2ENode(name: "gw-a", root: root)
        let b = E2ENode(name: "gw-b", root: root)
        // Further nodes of party A: their own data directories, the same store and payload folder.
        let moreA = (1..<nodes).map { E2ENode(name: "gw-a", root: root, instance: $0 + 1) }
        try writePModes(directory: root + "/pmode", nodes: [a, b])
        if profile == "2.0" { try writeProfile20Keys(directory: root + "/pmode/certs", parties: [a.name, b.name]) }
        var config = "{\"outboundWorkers\": \(workers), \"shutdownGraceSeconds\": 5, \"adminListener\": null"
        if let pollInterval { config += ", \"pollIntervalSeconds\": \(pollInterval)" }
        // The port here is replaced by each node's --as4-port.
        if let listenerThreads { config += ", \"as4Listener\": {\"address\": \"127.0.0.1\", \"port\": 0, \"path\": \"/as4\", \"threads\": \(listenerThreads)}" }
        // Only A's store moves to PostgreSQL (B, the receiver, stays on SQLite).
        let storeConfig = postgresStore.map { ", \"store\": \"\($0)\", \"payloadDirectory\": \"\(root)/payloads-gw-a\"" } ?? ""
        try (config + storeConfig + "}\n").write(toFile: root + "/gateway-gw-a.json", atomically: true, encoding: .utf8)
        try (config + "}\n").write(toFile: root + "/gateway-gw-b.json", atomically: true, encoding: .utf8)

        // A database an earlier run used records that run's payload folder, removed since: this
        // run's takes its place, as moved payload files take their marker along.
        if let url = postgresStore { try PayloadDirectoryIdentity.adopt(url: url, directory: root + "/payloads-gw-a") }
        // A first: it generates the development PKI that B then finds.
        try start(a, root: root)
        try start(b, root: root)
        for node in moreA { try start(node, root: root) }

        let payloads = try (0..<min(messages, 16)).map { i -> String in
            let path = root + "/payload-\(i).bin"
            try Data(pseudoRandom(count: size, seed: UInt64(i) &+ 0x9E3779B97F4A7C15)).write(to: URL(fileURLWithPath: path))
            return path
        }

        let store = try (postgresStore.map { StoreLocation.postgres(url: $0) } ?? .sqlite(directory: a.data))
            .open(payloadDirectory: nil, schema: .existing)
        defer { store.close() }

        let cpuBefore = (a.cpuSeconds() + moreA.reduce(0) { $0 + $1.cpuSeconds() }, b.cpuSeconds())  // start-up (PKI generation) is not the run's
        let clientCPUBefore = processCPUSeconds()
        let state = E2ESubmissions(count: messages)
        let benchStart = Date()
        let group = DispatchGroup()
        let plan = SubmissionPlan(endpoints: try ([a] + moreA).map { try $0.submissionEndpoint() }, payloads: payloads, messages: messages,
                                  rate: rate, start: benchStart.addingTimeInterval(0.05))
        for t in 0..<min(concurrency, messages) {
            group.enter()
            let thread = Thread {
                plan.submitLoop(state: state)
                group.leave()
            }
            thread.name = "bench-submit-\(t)"
            thread.start()
        }

        // Wait for the submitters, then for the queue to drain; fail if nothing moves for 120 s.
        var lastDepth = -1
        var lastProgress = Date()
        while true {
            let submittersDone = group.wait(timeout: .now() + 0.1) == .success
            if let error = state.firstError { throw Failure(description: "submission failed: \(error)") }
            for node in [a, b] + moreA where !node.isRunning {
                throw Failure(description: "\(node.name) exited during the run: \(node.logTail)")
            }
            let depth = try store.queueDepth().total
            if submittersDone, depth == 0 { break }
            if depth != lastDepth || !submittersDone { lastDepth = depth; lastProgress = Date() }
            if Date().timeIntervalSince(lastProgress) > 120 {
                throw Failure(description: "no progress for 120 s with \(depth) message(s) queued; A: \(a.logTail)")
            }
            if submittersDone { Thread.sleep(forTimeInterval: 0.1) }
        }

        // Delivered times come from the store, not from when we looked.
        let submitted = state.records
        let rows = try store.listMessages(status: nil, since: benchStart.addingTimeInterval(-1), direction: .outbound, limit: messages + 100)
        var byId: [String: StoredMessage] = [:]
        for row in rows { byId[row.metadata.messageId] = row }
        var latencies: [Double] = []
        var failed = 0
        var lastDelivered = Date.distantPast
        for record in submitted {
            guard let row = byId[record.messageId] else { throw Failure(description: "message \(record.messageId) is missing from A's store") }
            guard row.status == .delivered, let receiptAt = row.receiptAt else { failed += 1; continue }
            latencies.append(receiptAt.timeIntervalSince(record.startedAt) * 1000)
            lastDelivered = max(lastDelivered, receiptAt)
        }
        let firstSubmission = submitted.map(\.startedAt).min() ?? benchStart
        let lastSubmission = submitted.map(\.postedAt).max() ?? benchStart
        latencies.sort()
        let wall = lastDelivered.timeIntervalSince(firstSubmission)

        let clientCPU = processCPUSeconds() - clientCPUBefore
        let rssA = a.peakRSSMegabytes(), rssB = b.peakRSSMegabytes()
        let cpuA = a.cpuSeconds() + moreA.reduce(0) { $0 + $1.cpuSeconds() } - cpuBefore.0, cpuB = b.cpuSeconds() - cpuBefore.1
        a.stop()
        b.stop()
        for node in moreA { node.stop() }

        return [
            ("messages", Double(messages)),
            ("nodes_a", Double(nodes)),
            ("delivered", Double(latencies.count)),
            ("failed", Double(failed)),
            ("payload_bytes", Double(size)),
            ("concurrency", Double(concurrency)),
            ("target_rate_msgs_per_s", rate ?? 0),
            ("outbound_workers", Double(workers)),
            ("cores", Double(ProcessInfo.processInfo.activeProcessorCount)),
            ("submit_msgs_per_s", Double(messages) / max(lastSubmission.timeIntervalSince(firstSubmission), 1e-3)),
            ("msgs_per_s", latencies.isEmpty ? 0 : Double(latencies.count) / max(wall, 1e-3)),
            ("wall_s", wall),
            ("latency_p50_ms", percentile(latencies, 0.50)),
            ("latency_p99_ms", percentile(latencies, 0.99)),
            ("latency_max_ms", latencies.last ?? 0),
            ("peak_rss_a_mb", rssA),
            ("peak_rss_b_mb", rssB),
            ("cpu_s_a", cpuA),
            ("cpu_s_b", cpuB),
            ("cpu_ms_per_msg", (cpuA + cpuB) * 1000 / Double(messages)),
            // The submitters and the queue watcher of this process share the cores with the gateways.
            ("client_cpu_ms_per_msg", clientCPU * 1000 / Double(messages)),
            ("raw_rsa2048_sign_per_s", rawSign),
        ]
    }

    /// Nearest-rank percentile of sorted values.
    func percentile(_ sorted: [Double], _ q: Double) -> Double {
        guard !sorted.isEmpty else { return 0 }
        let rank = Int((q * Double(sorted.count)).rounded(.up))
        return sorted[min(max(rank, 1), sorted.count) - 1]
    }

    func pseudoRandom(count: Int, seed: UInt64) -> [UInt8] {
        var state = seed | 1
        var out = [UInt8](repeating: 0, count: count)
        for i in 0..<count {
            if i % 8 == 0 { state ^= state << 13; state ^= state >> 7; state ^= state << 17 }
            out[i] = UInt8(truncatingIfNeeded: state >> (8 * UInt64(i % 8)))
        }
        return out
    }

    /// Ed25519 signing and X25519 encryption keys for profile 2.0, under a CA of their own that
    /// the development PKI then also uses for the TLS certificates it adds (as `dev-ca`).
    func writeProfile20Keys(directory: String, parties: [String]) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let caKey = try PrivateKey.generateEd25519()
        let ca = try CertificateAuthority.createSelfSigned(subject: .init(commonName: "as4gw bench CA"), key: caKey,
                                                           validFrom: Date() - 3600, validUntil: Date() + 86400)
        try ca.certificate.pemEncoded().write(toFile: directory + "/dev-ca.pem", atomically: true, encoding: .utf8)
        try caKey.pemEncoded().write(toFile: directory + "/dev-ca.key", atomically: true, encoding: .utf8)
        for party in parties {
            for (role, key) in [("signing", try PrivateKey.generateEd25519()), ("encryption", try PrivateKey.generateX25519())] {
                let certificate = try ca.issueCertificate(for: key.publicKey, subject: .init(commonName: "\(party) \(role)"),
                                                          validFrom: Date() - 3600, validUntil: Date() + 86400,
                                                          keyUsage: role == "signing" ? [.digitalSignature, .nonRepudiation] : [.keyAgreement])
                try certificate.pemEncoded().write(toFile: "\(directory)/\(party).\(role).pem", atomically: true, encoding: .utf8)
                try key.pemEncoded().write(toFile: "\(directory)/\(party).\(role).key", atomically: true, encoding: .utf8)
            }
        }
    }

    /// parties.json and one P-Mode per direction: the chosen profile, signed, encrypted, compressed.
    func writePModes(directory: String, nodes: [E2ENode]) throws {
        let parties = nodes.map { n in
            """
            {"name": "\(n.name)", "partyIds": [{"value": "\(n.name)", "type": "urn:oasis:names:tc:ebcore:partyid-type:unregistered"}],
             "endpoint": "https://127.0.0.1:\(n.as4Port)/as4",
             "certificates": {"signing": ["certs/\(n.name).signing.pem"], "encryption": ["certs/\(n.name).encryption.pem"], "tls": ["certs/\(n.name).tls.pem"]}}
            """
        }
        try "{\"parties\": [\(parties.joined(separator: ",\n"))]}\n".write(toFile: directory + "/parties.json", atomically: true, encoding: .utf8)
        var pmodes: [String] = []
        for from in nodes {
            for to in nodes where to !== from {
                pmodes.append("""
                {"id": "\(from.name)-to-\(to.name)", "agreement": {"value": "urn:as4gw:agreements:bench"},
                 "initiator": {"party": "\(from.name)", "role": "urn:as4gw:roles:sender"},
                 "responder": {"party": "\(to.name)", "role": "urn:as4gw:roles:receiver"},
                 "legs": [{"service": {"value": "urn:eadrese:services:delivery"}, "action": "DeliverDocument",
                           "security": {"profile": "\(profile)", "sign": true, "encrypt": true},
                           "payload": {"compress": true, "maxMessageBytes": \(max(size * 2 + (1 << 20), 100 << 20))},
                           "receptionAwareness": {"retries": 5, "initialIntervalSeconds": 2, "backoffFactor": 1,
                                                  "maxIntervalSeconds": 2, "jitterFraction": 0}}]}
                """)
            }
        }
        try "{\"pmodes\": [\(pmodes.joined(separator: ",\n"))]}\n".write(toFile: directory + "/bench.pmode.json", atomically: true, encoding: .utf8)
    }

    func start(_ node: E2ENode, root: String) throws {
        guard FileManager.default.createFile(atPath: node.logPath, contents: nil) else { throw Failure(description: "cannot create \(node.logPath)") }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = ["serve", "--config", root + "/gateway-\(node.name).json", "--party", node.name, "--data", node.data,
                       "--pmode", root + "/pmode", "--as4-port", String(node.as4Port), "--submit-port", String(node.submitPort)]
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: node.logPath))
        p.standardOutput = log
        p.standardError = log
        p.standardInput = FileHandle.nullDevice
        try p.run()
        try? log.close()
        node.process = p
        E2ECleanup.shared.track(p.processIdentifier)
        let deadline = Date().addingTimeInterval(60)
        while !node.log.contains("event=started") {
            guard p.isRunning else { throw Failure(description: "\(node.name) exited at start: \(node.logTail)") }
            guard Date() < deadline else { throw Failure(description: "\(node.name) did not start within 60 s: \(node.logTail)") }
            Thread.sleep(forTimeInterval: 0.05)
        }
    }

    /// A loopback port nothing listens on, for a child gateway. Picked below the kernel's
    /// ephemeral range (32768–60999 by default), where outgoing connections of other processes
    /// never take it between this check and the child's bind, and never twice in one process.
    static func freePort() -> UInt16 {
        for _ in 0..<500 {
            let port = UInt16.random(in: 20_000..<32_000)
            guard portsHandedOut.withLock({ !$0.contains(port) }), canBind(port) else { continue }
            if portsHandedOut.withLock({ $0.insert(port).inserted }) { return port }
        }
        return 0
    }

    private static let portsHandedOut = Mutex<Set<UInt16>>([])

    private static func canBind(_ port: UInt16) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = port.bigEndian
        let len = socklen_t(MemoryLayout<sockaddr_in>.size)
        return withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } } == 0
    }
}

/// One gateway child process of the bench.
final class E2ENode {
    let name: String
    let as4Port = E2EBenchmark.freePort()
    let submitPort = E2EBenchmark.freePort()
    let data: String
    let logPath: String
    var process: Process?

    init(name: String, root: String, instance: Int = 1) {
        self.name = name
        let label = instance == 1 ? name : "\(name)-node\(instance)"
        data = root + "/data-\(label)"
        logPath = root + "/\(label).log"
    }

    /// The node's submission URL and the token it wrote at start.
    func submissionEndpoint() throws -> SubmissionPlan.Endpoint {
        guard let token = SubmitToken.read(path: data + "/" + SubmitToken.fileName) else {
            throw E2EBenchmark.Failure(description: "gateway \(name) wrote no submission token in \(data)")
        }
        return .init(url: "http://127.0.0.1:\(submitPort)/submit", token: token)
    }

    var isRunning: Bool { process?.isRunning ?? false }
    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }
    var logTail: String { String(log.suffix(1500)) }

    /// VmHWM of the child: its peak resident set so far.
    func peakRSSMegabytes() -> Double {
        guard let pid = process?.processIdentifier,
              let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
              let kb = Double(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") else { return 0 }
        return kb / 1024
    }

    /// User + system CPU time the child has used so far (/proc/<pid>/stat fields 14 and 15).
    func cpuSeconds() -> Double {
        guard let pid = process?.processIdentifier,
              let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return 0 }
        // Fields after the command name start at field 3 (state).
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// SIGTERM, then SIGKILL if the graceful stop takes longer than 15 s.
    func stop() {
        guard let p = process else { return }
        if p.isRunning { kill(p.processIdentifier, SIGTERM) }
        let deadline = Date().addingTimeInterval(15)
        while p.isRunning, Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        if p.isRunning { kill(p.processIdentifier, SIGKILL); p.waitUntilExit() }
        E2ECleanup.shared.untrack(p.processIdentifier)
        process = nil
    }
}

/// What the submitter threads share: immutable plan, atomically claimed indices, results under a lock.
struct SubmissionPlan: Sendable {
    struct Endpoint: Sendable {
        var url: String
        var token: String
    }

    /// Submission endpoints, used in turn (one per node of gateway A).
    var endpoints: [Endpoint]
    var payloads: [String]
    var messages: Int
    var rate: Double?
    var start: Date

    func submitLoop(state: E2ESubmissions) {
        let client: HTTPClient
        do { client = try HTTPClient(configuration: HTTPClientConfiguration()) } catch {
            state.fail("HTTP client: \(error)")
            return
        }
        while state.firstError == nil {
            let i = state.next.wrappingAdd(1, ordering: .relaxed).oldValue
            guard i < messages else { return }
            var scheduled: Date?
            if let rate {
                let at = start.addingTimeInterval(Double(i) / rate)
                let wait = at.timeIntervalSinceNow
                if wait > 0 { Thread.sleep(forTimeInterval: wait) }
                scheduled = at
            }
            let began = Date()
            let body = "{\"to\": \"gw-b\", \"service\": \"urn:eadrese:services:delivery\", \"action\": \"DeliverDocument\", "
                + "\"payloads\": [{\"path\": \"\(payloads[i % payloads.count])\", \"mimeType\": \"application/octet-stream\"}]}"
            do {
                let endpoint = endpoints[i % endpoints.count]
                let r = try client.post(url: endpoint.url, headers: [("Content-Type", "application/json"), ("Authorization", "Bearer " + endpoint.token)],
                                        body: .bytes(Array(body.utf8)))
                guard r.status == 202, let json = try JSONSerialization.jsonObject(with: Data(r.body)) as? [String: Any],
                      let id = json["messageId"] as? String else {
                    state.fail("HTTP \(r.status): \(String(decoding: r.body, as: UTF8.self))")
                    return
                }
                state.record(.init(messageId: id, startedAt: min(scheduled ?? began, began), postedAt: Date()))
            } catch {
                state.fail("\(error)")
                return
            }
        }
    }
}

final class E2ESubmissions: Sendable {
    struct Record: Sendable {
        var messageId: String
        /// When the submission started (in rate mode: when it was scheduled to start).
        var startedAt: Date
        var postedAt: Date
    }

    let next = Atomic<Int>(0)
    private let results: Mutex<(records: [Record], error: String?)>

    init(count: Int) {
        var records: [Record] = []
        records.reserveCapacity(count)
        results = Mutex((records, nil))
    }

    func record(_ r: Record) { results.withLock { $0.records.append(r) } }
    func fail(_ reason: String) { results.withLock { if $0.error == nil { $0.error = reason } } }
    var firstError: String? { results.withLock { $0.error } }
    var records: [Record] { results.withLock { $0.records } }
}

/// Children and the temporary directory of a bench run, released on return, on error, and on
/// SIGINT/SIGTERM to the bench itself.
final class E2ECleanup: Sendable {
    static let shared = E2ECleanup()
    private let state = Mutex<(directory: String?, pids: Set<pid_t>, sources: [DispatchSourceSignal])>((nil, [], []))

    func begin(directory: String) {
        let queue = DispatchQueue(label: "as4gw.bench.signals")
        var sources: [DispatchSourceSignal] = []
        for s in [SIGINT, SIGTERM] {
            signal(s, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: s, queue: queue)
            source.setEventHandler { [self] in
                self.finish()
                exit(128 + s)
            }
            source.resume()
            sources.append(source)
        }
        state.withLock { $0.directory = directory; $0.sources = sources }
    }

    func track(_ pid: pid_t) { _ = state.withLock { $0.pids.insert(pid) } }
    func untrack(_ pid: pid_t) { _ = state.withLock { $0.pids.remove(pid) } }

    /// Kills children still running (SIGKILL: a bench being torn down needs no graceful stop) and
    /// removes the directory, unless AS4GW_KEEP_BENCH_DIR is set.
    func finish() {
        let (directory, pids) = state.withLock { s -> (String?, Set<pid_t>) in
            let taken = (s.directory, s.pids)
            s.directory = nil
            s.pids = []
            return taken
        }
        for pid in pids {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
        if let directory {
            if ProcessInfo.processInfo.environment["AS4GW_KEEP_BENCH_DIR"] != nil {
                CLI.printError("as4gw bench: kept \(directory)")
            } else {
                try? FileManager.default.removeItem(atPath: directory)
            }
        }
    }
}

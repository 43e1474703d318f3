import Foundation
import MessageStore
import EnvelopeXML
#if canImport(Glibc)
import Glibc
#endif

/// `as4gw bench codec|crypto|e2e`: throughput figures, printed (or as one JSON object).
/// A benchmark is a command that prints numbers, never a timed unit test: run it on a quiet
/// machine with a release build (`swift build -c release`).
enum BenchCommand {
    static let help = """
    Usage: as4gw bench codec|crypto [--seconds S] [--large-mb N] [--dir DIR] [--json]
           as4gw bench channel [--codes N] [--dir DIR] [--json]
           as4gw bench store [--messages N] [--concurrency T] [--dir DIR] [--json]
           as4gw bench e2e [--messages N] [--size BYTES] [--concurrency C] [--rate R] [--profile 1.15|2.0]
                           [--workers W] [--listener-threads T] [--poll-interval S] [--store URL [--nodes K]]
                           [--dir DIR] [--json]

    codec   parse and build rates for a message with one 10 KiB attachment (one core), and
            MB/s and peak RSS for one large attachment (default 200 MB) streamed through
            build and parse from files in DIR (default: the system temporary directory).
    crypto  seal (sign + encrypt) and verify+decrypt rates for a message with one 10 KiB
            attachment beside the raw RSA-2048 EVP_DigestSign rate of this machine; receipts
            for that message built and signed (receipt_sign, the receiver's side) and parsed
            and checked against the references sent (receipt_check, the sender's side); and
            MB/s and peak RSS for one large attachment sealed and opened without compression.
    e2e     two `as4gw serve` processes of this binary on loopback (HTTPS, development PKI,
            signed, encrypted, compressed, under eDelivery AS4 profile 1.15 with RSA-2048 keys or,
            with --profile 2.0, Ed25519 and X25519 keys); N messages (default 2000) with a
            pseudo-random payload of BYTES (default 10240) submitted to gateway A by C threads
            (default 8), as fast as they go or at R messages/s. Prints messages/s (N over first
            submission to last receipt), p50/p99 latency from submission to the receipt stored
            by A, each gateway's peak RSS, and the raw RSA-2048 sign rate (about three
            private-key operations per message). W outbound workers per gateway (default
            2 x cores); T the AS4 listener's pool threads (default: the daemon's, 4); S is the
            workers' idle poll interval (default: the daemon's, 0.5 s).
            --store postgres://… puts gateway A's store in that (empty) PostgreSQL database
            instead of SQLite, to compare the two. --nodes K (K ≥ 2, needs --store) runs gateway
            A as K processes on that store, submissions spread over them, after a baseline run of
            the same load on one SQLite node; the baseline's figures are prefixed sqlite_1node_.

    channel a batch channel lookup (POST /api/v1/channel's code: two queries, the lookup log
            row, the JSON answer) of N personal codes (--codes, default 10000) against a
            temporary SQLite store in DIR (default /dev/shm when there is one) holding N persons
            (a third with an e-address, a third non-digital, a third with neither); every
            answer is checked; prints min/median/max milliseconds over five runs after a warm-up,
            then min/median of the same batch POSTed to an `as4gw serve` of this binary on that
            store (http_batch_ms_*, with HTTP and the body's parsing).
    store   the SQLite store alone, T threads (--concurrency, default 8) on one store in DIR:
            N messages (default 4000) through enqueue (14 KiB sealed, durable), claim and
            Delivered (4 KiB receipt), N more queued already leased (handed to an idle worker)
            and Delivered, then N received messages recorded (10 KiB payload, with
            receipt, durable); messages/s and this process's CPU microseconds per message.

    codec and crypto rates are operations per second of the bench thread's CPU time (one
    core), so other work on the machine lowers them less than it would a wall-clock rate.
    Run one target per process: peak RSS is the process's own.
    """

    static func run(_ args: [String]) -> Int32 {
        let parsed: Arguments
        do {
            parsed = try Arguments(args, valued: ["seconds", "large-mb", "dir", "messages", "size", "concurrency", "rate",
                                                 "workers", "poll-interval", "store", "nodes", "codes", "profile", "listener-threads"], flags: ["json"])
        } catch {
            return CLI.usageError("\(error)", help: help)
        }
        if parsed.has("help") { print(help); return 0 }
        guard parsed.positionals.count == 1, ["codec", "crypto", "e2e", "channel", "store"].contains(parsed.positionals[0]) else {
            return CLI.usageError("bench needs one target: codec, crypto, e2e, channel or store", help: help)
        }
        let seconds = Double(parsed.value("seconds") ?? "2") ?? 2
        let largeMB = Int(parsed.value("large-mb") ?? "200") ?? 200
        let dir = parsed.value("dir") ?? NSTemporaryDirectory()
        var e2e = E2EBenchmark(directory: dir)
        if parsed.positionals[0] == "e2e" {
            func number<T: LosslessStringConvertible>(_ name: String, _ value: inout T) -> Bool {
                guard let text = parsed.value(name) else { return true }
                guard let v = T(text) else { return false }
                value = v
                return true
            }
            var rate = 0.0, poll = 0.0, listenerThreads = 0
            guard number("messages", &e2e.messages), number("size", &e2e.size), number("concurrency", &e2e.concurrency),
                  number("workers", &e2e.workers), number("rate", &rate), number("poll-interval", &poll),
                  number("nodes", &e2e.nodes), number("listener-threads", &listenerThreads) else {
                return CLI.usageError("--messages, --size, --concurrency, --workers, --listener-threads, --rate, --poll-interval and --nodes take numbers",
                                      help: help)
            }
            e2e.rate = parsed.value("rate") == nil ? nil : rate
            e2e.listenerThreads = parsed.value("listener-threads") == nil ? nil : listenerThreads
            if let profile = parsed.value("profile") {
                guard ["1.15", "2.0"].contains(profile) else { return CLI.usageError("--profile is 1.15 or 2.0", help: help) }
                e2e.profile = profile
            }
            e2e.pollInterval = parsed.value("poll-interval") == nil ? nil : poll
            if let url = parsed.value("store") {
                guard case .postgres = try? StoreLocation(parsing: url) else {
                    return CLI.usageError("--store takes a postgres:// URL (the default store is SQLite)", help: help)
                }
                e2e.postgresStore = url
            }
            guard e2e.nodes >= 1, e2e.nodes == 1 || e2e.postgresStore != nil else {
                return CLI.usageError("--nodes above 1 needs --store postgres://… (the nodes share that store)", help: help)
            }
        }
        do {
            let figures: [(key: String, value: Double)]
            switch parsed.positionals[0] {
            case "codec": figures = try CodecBenchmark(seconds: seconds, largeMB: largeMB, directory: dir).run()
            case "crypto": figures = try CryptoBenchmark(seconds: seconds, largeMB: largeMB, directory: dir).run()
            case "store":
                guard let messages = Int(parsed.value("messages") ?? "4000"), messages > 0,
                      let threads = Int(parsed.value("concurrency") ?? "8"), threads > 0 else {
                    return CLI.usageError("--messages and --concurrency take positive numbers", help: help)
                }
                figures = try StoreBenchmark(messages: messages, threads: threads, directory: dir).run()
            case "channel":
                guard let codes = Int(parsed.value("codes") ?? "10000"), codes >= 3 else { return CLI.usageError("--codes takes a number of at least 3", help: help) }
                let shm = FileManager.default.isWritableFile(atPath: "/dev/shm") ? "/dev/shm" : dir
                figures = try ChannelBenchmark(codes: codes, directory: parsed.value("dir") ?? shm).run()
            default: figures = e2e.nodes > 1 ? try E2ENodeComparison(benchmark: e2e).run() : try e2e.run()
            }
            if parsed.has("json") {
                print(JSON.object(figures.map { ($0.key, .double($0.value)) }).serialized(pretty: false))
            } else {
                for (key, value) in figures { print("\(key.padding(toLength: max(28, key.count), withPad: " ", startingAt: 0)) \(String(format: "%.1f", value))") }
            }
            return 0
        } catch {
            return CLI.ioError("bench failed: \(error)")
        }
    }
}

struct CodecBenchmark {
    var seconds: Double
    var largeMB: Int
    var directory: String

    func run() throws -> [(key: String, value: Double)] {
        let payload = (0..<10_240).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        let user = sampleUser(contentID: "payload-1@as4gw.bench")

        // Build: model → envelope → multipart/related in memory.
        var built: [UInt8] = []
        var contentType = ""
        let buildRate = try rate {
            let envelope = EnvelopeBuilder.envelope(Messaging(user, id: "_msg"), bodyId: "_body")
            let writer = try MultipartWriter(boundary: "MIMEBoundary_bench0123456789", rootContentID: "root@as4gw.bench")
            var sink = MemorySink()
            contentType = try writer.write(envelope: envelope,
                                           attachments: [.init(contentID: "payload-1@as4gw.bench", contentType: "application/octet-stream", body: .bytes(payload))],
                                           to: &sink)
            built = sink.bytes
        }
        // Parse: multipart → envelope → model with binding checks.
        let parseRate = try rate {
            let raw = try MessageInput.load(bytes: built, contentType: contentType)
            let message = try AS4Message.read(raw)
            guard message.attachments.count == 1 else { throw EbmsError(.other, "bench message lost its attachment") }
        }

        // Large attachment streamed from and to files.
        let bytes = UInt64(largeMB) << 20
        let payloadPath = directory + "/as4gw-bench-payload-\(getpid())"
        let messagePath = directory + "/as4gw-bench-message-\(getpid())"
        defer { unlink(payloadPath); unlink(messagePath) }
        try writePseudoRandom(path: payloadPath, bytes: bytes)
        let largeUser = sampleUser(contentID: "large@as4gw.bench")
        let t0 = now()
        let sink = try FileSink(path: messagePath)
        var fileSink = sink
        let writer = try MultipartWriter(boundary: "MIMEBoundary_benchlarge", rootContentID: "root@as4gw.bench")
        let largeType = try writer.write(envelope: EnvelopeBuilder.envelope(Messaging(largeUser)),
                                         attachments: [.init(contentID: "large@as4gw.bench", contentType: "application/octet-stream",
                                                             body: try .wholeFile(payloadPath))],
                                         to: &fileSink)
        try sink.close()
        let t1 = now()
        let raw = try MessageInput.load(path: messagePath, contentType: largeType)
        let message = try AS4Message.read(raw)
        var checksum: UInt64 = 0
        try message.attachments[0].body.forEachChunk { chunk in
            for b in chunk.prefix(16) { checksum &+= UInt64(b) }
        }
        let t2 = now()
        guard message.attachments[0].body.count == bytes else { throw EbmsError(.other, "large attachment size mismatch") }
        let mb = Double(bytes) / 1_048_576
        return [
            ("build_msgs_per_s", buildRate),
            ("parse_msgs_per_s", parseRate),
            ("message_bytes", Double(built.count)),
            ("large_mb", mb),
            ("large_build_mb_per_s", mb / (t1 - t0)),
            ("large_parse_mb_per_s", mb / (t2 - t1)),
            ("peak_rss_mb", peakRSSMegabytes()),
        ]
    }

    /// Operations per second of this thread's CPU time (user and system) of `body`, run
    /// repeatedly for about `seconds` of wall time. CPU time, not wall time: on a machine shared
    /// with other work a wall-clock rate measures the neighbours as much as the code; on a quiet
    /// one the two agree.
    func rate(_ body: () throws -> Void) throws -> Double {
        for _ in 0..<100 { try body() }  // warm-up
        var count = 0
        let start = now()
        let cpuStart = threadCPUTime()
        repeat {
            for _ in 0..<200 { try body() }
            count += 200
        } while now() - start < seconds
        return Double(count) / (threadCPUTime() - cpuStart)
    }

    func threadCPUTime() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    func sampleUser(contentID: String) -> UserMessage {
        UserMessage(messageInfo: MessageInfo(messageId: "bench-\(contentID)"),
                    from: Party(PartyId("0088:1111", type: "urn:oasis:names:tc:ebcore:partyid-type:iso6523:0088"), role: "urn:as4gw:sender"),
                    to: Party(PartyId("0088:2222", type: "urn:oasis:names:tc:ebcore:partyid-type:iso6523:0088"), role: "urn:as4gw:receiver"),
                    collaboration: CollaborationInfo(service: Service("urn:as4gw:bench"), action: "Deliver", conversationId: "bench"),
                    properties: [Property("originalSender", "_DEFAULT@40003000001"), Property("finalRecipient", "_DEFAULT@90000000001")],
                    payloads: [PartInfo(href: "cid:\(contentID)", properties: [Property("MimeType", "application/octet-stream")])])
    }

    func writePseudoRandom(path: String, bytes: UInt64) throws {
        let sink = try FileSink(path: path)
        var state: UInt64 = 0x9E3779B97F4A7C15
        var block = [UInt8](repeating: 0, count: 1 << 20)
        var written: UInt64 = 0
        while written < bytes {
            block.withUnsafeMutableBytes { raw in
                let words = raw.bindMemory(to: UInt64.self)
                for i in 0..<words.count {
                    state ^= state << 13; state ^= state >> 7; state ^= state << 17
                    words[i] = state
                }
            }
            let n = Int(min(UInt64(block.count), bytes - written))
            try sink.write(Array(block[0..<n]))
            written += UInt64(n)
        }
        try sink.close()
    }

    func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}

/// Peak resident set size of this process so far, from the kernel's own counter.
func peakRSSMegabytes() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_maxrss) / 1024
}

/// User + system CPU time of this process so far, in seconds.
func processCPUSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
    return seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

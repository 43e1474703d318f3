/// `as4gw bench e2e --nodes N` (N ≥ 2, PostgreSQL store): the multi-node run and, first, the same
/// load on one node with SQLite, so the cost or gain of going multi-node is read off one output.
/// The baseline's figures carry the prefix `sqlite_1node_`.
struct E2ENodeComparison {
    var benchmark: E2EBenchmark

    /// The figures that say how the two runs differ; the rest would only repeat the setup.
    static let compared = ["delivered", "failed", "msgs_per_s", "latency_p50_ms", "latency_p99_ms", "cpu_ms_per_msg"]

    func run() throws -> [(key: String, value: Double)] {
        var baseline = benchmark
        baseline.nodes = 1
        baseline.postgresStore = nil
        let single = try baseline.run()
        let multi = try benchmark.run()
        return multi + single.filter { Self.compared.contains($0.key) }.map { (key: "sqlite_1node_" + $0.key, value: $0.value) }
    }
}

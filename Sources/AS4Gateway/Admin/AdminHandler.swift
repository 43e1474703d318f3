import Foundation
import HTTPServer

/// The admin listener's requests: `GET /metrics` (Prometheus text format 0.0.4), `GET /healthz`
/// (the process answers: always 200) and `GET /readyz` (200 when every readiness check holds,
/// else 503; a JSON body lists each check either way). Nothing here changes any state.
struct AdminHandler: HTTPHandler {
    let report: MetricsReport
    let checks: [ReadinessCheck]
    let log: EventLog?

    static let paths: Set<String> = ["/metrics", "/healthz", "/readyz"]

    func admit(_ head: HTTPRequestHead) -> HTTPResponse? {
        guard Self.paths.contains(head.path) else { return .text(404, "the admin listener serves /metrics, /healthz and /readyz\n") }
        guard head.method == "GET" || head.method == "HEAD" else {
            var response = HTTPResponse.text(405, "\(head.path) takes GET\n")
            response.headers["Allow"] = "GET, HEAD"
            return response
        }
        return nil
    }

    func handle(_ request: HTTPRequest) -> HTTPResponse {
        switch request.head.path {
        case "/healthz":
            return .text(200, "ok\n")
        case "/readyz":
            let readiness = ReadinessReport(checks: checks)
            return .bytes(readiness.ready ? 200 : 503, contentType: "application/json", Array(readiness.json.utf8))
        default:
            do {
                return .bytes(200, contentType: PrometheusText.contentType, Array(try report.render().utf8))
            } catch {
                // Only a metric or label name of ours can be invalid: a bug, reported as one.
                log?.log(.error, "metrics-failed", ["reason": "\(error)"])
                return .text(500, "cannot render the metrics: \(error)\n")
            }
        }
    }
}

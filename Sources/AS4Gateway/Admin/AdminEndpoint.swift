import Foundation
import HTTPServer

/// Starts the admin listener: a small plain-HTTP server of its own, so scrapes and probes never
/// queue behind AS4 traffic and the AS4 port needs no extra paths.
enum AdminEndpoint {
    static func start(_ listener: GatewayConfiguration.AdminListener, context: GatewayContext, certificates: CertificateInventory) throws -> HTTPServer {
        let disk = DiskSpace(config: context.config)
        let report = MetricsReport(metrics: context.metrics, store: context.store, registry: context.registry,
                                   certificates: certificates, storeKind: context.config.store.map { String($0.prefix { $0 != ":" }) } ?? "sqlite",
                                   notices: context.notices, mailbox: context.mailbox, disk: disk, requestFailures: context.requestFailures)
        let checks: [ReadinessCheck] = [.running(context), .store(context.store), .disk(disk), .pmodes(context.registry, party: context.party), .certificates(certificates),
                                        .mailboxWorker(context.mailboxWorkerHealth, bound: listener.mailboxWorkerFailingSeconds)]
        var configuration = HTTPServerConfiguration()
        configuration.bindAddress = listener.address
        configuration.port = listener.port
        configuration.maxBodyBytes = 4096
        configuration.spoolDirectory = context.spoolDirectory
        configuration.threads = 2
        let log = context.log
        configuration.errorLogger = { message in log.log(.error, "http-internal-error", ["listener": "admin", "reason": message]) }
        let server = try HTTPServer(configuration: configuration, handler: AdminHandler(report: report, checks: checks, log: context.log))
        try server.start()
        return server
    }
}

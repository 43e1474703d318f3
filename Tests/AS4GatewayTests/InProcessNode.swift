@testable import AS4Gateway
import EnvelopeXML
import Foundation
import HTTPServer
import MessageStore
#if canImport(Glibc)
import Glibc
#endif

/// A party of a harness's P-Mode set run inside the test process, with no listener and no
/// worker thread: its `GatewayContext` (the development PKI's keys, the P-Modes, its stores) for
/// calling the handlers and workers directly, its message store behind a `FaultInjectingStore`
/// so that a test can make the store fail at an exact point. Its log goes to `logPath`.
/// `harness.configure` must have written the P-Modes first.
final class InProcessNode {
    /// Keeps the data directory's lock, and the stores it opened, for the node's life.
    let gateway: Gateway
    let context: GatewayContext
    let faults: FaultInjectingStore
    let logPath: String
    /// The harness's folder, where payload files for submissions are written.
    let root: String
    private let logDescriptor: Int32

    init(_ harness: GatewayHarness, party: String, store: String? = nil,
         configure: (inout GatewayConfiguration) -> Void = { _ in }) throws {
        var config = GatewayConfiguration()
        config.party = party
        config.dataDirectory = harness.root.appendingPathComponent("in-process-\(party)").path
        config.pmodeDirectory = harness.pmodeDirectory
        config.store = store
        if store != nil { config.payloadDirectory = config.dataDirectory + "/payloads" }
        config.adminListener = nil
        configure(&config)
        root = harness.root.path
        if config.pmodeDirectory == harness.pmodeDirectory { try harness.seedDevelopmentPKI() }
        gateway = try Gateway(config: config)
        let base = gateway.context
        logPath = harness.root.appendingPathComponent("in-process-\(party).log").path
        logDescriptor = open(logPath, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        faults = FaultInjectingStore(base.store)
        context = try GatewayContext(config: base.config, log: EventLog(format: .logfmt, minimum: .debug, fileDescriptor: logDescriptor),
                                     registry: base.registry, store: faults, signing: base.signingIdentities,
                                     decryptionKeys: base.decryptionKeys, trustAnchors: base.trustAnchors, crls: base.crls,
                                     outboundTrustFile: base.outboundTrustFile, tlsClientCertificateFile: base.tlsClientCertificateFile,
                                     tlsClientKeyFile: base.tlsClientKeyFile)
    }

    deinit {
        for c in [gateway.context, context] {
            c.mailbox.close()
            c.addresses.close()
            c.notices.close()
            c.retention.close()
            c.registrations.close()
            c.registers.close()
        }
        faults.close()
        close(logDescriptor)
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// The store as it is, without injected faults.
    var store: any MessageStore { faults.inner }

    /// Seals and queues a message to `to` as `as4gw send` would have it (its id).
    func submit(to: String, action: String = "DeliverDocument", payload: [UInt8] = Array("<doc>in process</doc>".utf8)) throws -> String {
        let file = root + "/\(UUID().uuidString).xml"
        try Data(payload).write(to: URL(fileURLWithPath: file))
        let request = SubmissionHandler.Request(to: to, service: "urn:eadrese:services:delivery", action: action,
                                                payloads: [.init(path: file, mimeType: "application/xml")])
        return try Outbound(context: context).submit(request)
    }

    /// The sealed bytes of a message queued here, as a delivery worker would POST them (the
    /// message is leased to `owner` by the claim).
    func claim(owner: String = "test/w0", lease: TimeInterval = 60) throws -> OutboundJob {
        guard let job = try store.claimDue(now: Date(), limit: 1, owner: owner, lease: lease).first else {
            throw HarnessTimeout(description: "nothing queued to claim")
        }
        return job
    }

    /// A POST to one of this node's handlers, as the listener would hand it over.
    func post(_ handler: any HTTPHandler, path: String, contentType: String, body: [UInt8],
              headers: [(String, String)] = []) -> HTTPResponse {
        let head = HTTPRequestHead(method: "POST", path: path, headers: HTTPHeaders([("Content-Type", contentType)] + headers),
                                   contentLength: UInt64(body.count), remoteAddress: "127.0.0.1")
        if let refused = handler.admit(head) { return refused }
        return handler.handle(HTTPRequest(head: head, body: .bytes(body)))
    }

    /// A GET to one of this node's handlers (the backend API's reads).
    func get(_ handler: any HTTPHandler, path: String, headers: [(String, String)] = []) -> HTTPResponse {
        let head = HTTPRequestHead(method: "GET", path: path, headers: HTTPHeaders(headers), contentLength: 0, remoteAddress: "127.0.0.1")
        if let refused = handler.admit(head) { return refused }
        return handler.handle(HTTPRequest(head: head, body: .bytes([])))
    }
}

extension HTTPResponse {
    /// The body's bytes (a file body is read).
    var bodyBytes: [UInt8] {
        switch body {
        case .bytes(let b): return b
        case .file(let path): return (try? [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))) ?? []
        case .fileRange(let path, let offset, let length):
            let all = (try? [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))) ?? []
            return Array(all.dropFirst(Int(offset)).prefix(Int(length)))
        }
    }

    var bodyText: String { String(decoding: bodyBytes, as: UTF8.self) }
}

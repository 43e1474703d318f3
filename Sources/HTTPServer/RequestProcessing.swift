import CMicroHTTPD
import Foundation

/// The request life cycle, driven by the libmicrohttpd callbacks in `MHDCallbacks.swift`:
/// ``ServerContext/beginRequest(on:url:method:)`` when the head has arrived,
/// ``ServerContext/receive(_:for:on:)`` for each body piece, ``ServerContext/completeRequest(_:on:)``
/// once the upload has ended, ``ServerContext/endRequest(_:)`` when MHD is done with it.
extension ServerContext {
    /// First access-handler call: builds the head, then screens it — graceful stop (503), framing
    /// (400, 501), a control character in the decoded target (400), client certificate (403), the
    /// handler's `admit`, the declared length (413) — before any body byte is read. Returns the state to keep in `con_cls` and the result for MHD.
    func beginRequest(on connection: OpaquePointer, url: String, method: String) -> (RequestState, MHD_Result) {
        self.requestBegan()
        self.connections.headArrived(on: connection)
        // libmicrohttpd leaves escapes in place (`keepEscapesCallback`); `+` in the query it has
        // made a space already.
        var head = HTTPRequestHead(method: method, path: PercentEncoding.decode(url), rawPath: url)
        var query: [String: String] = [:]
        for (name, value) in ConnectionValues.pairs(of: connection, kind: MHD_ValueKind.GET_ARGUMENT_KIND) {
            query[PercentEncoding.decode(name)] = PercentEncoding.decode(value)
        }
        head.query = query
        head.headers = HTTPHeaders(ConnectionValues.pairs(of: connection, kind: MHD_ValueKind.HEADER_KIND))
        head.remoteAddress = ConnectionValues.remoteAddress(of: connection)
        if !head.headers.values(for: "Transfer-Encoding").contains(where: { $0.lowercased().contains("chunked") }) {
            head.contentLength = head.headers["Content-Length"].flatMap {
                UInt64($0.trimmingCharacters(in: .whitespaces))
            }
        }

        // An answer queued here, before the body, makes libmicrohttpd (0.9.75) send it with
        // `Connection: close` and close without reading any body byte: whatever the client goes
        // on sending costs nothing, so neither the size limit nor the floor has to see it
        // (HTTPServerRefusedBodyTests pins this against a library that would drain it instead).
        func refuse(_ response: HTTPResponse, closing: Bool = false) -> (RequestState, MHD_Result) {
            (RequestState(head: head, body: nil), self.queue(response, on: connection, closing: closing))
        }
        if self.isDraining {
            var response = self.handler.refused(head, status: 503, reason: "the server is shutting down")
            // A Retry-After the handler chose itself is kept.
            if response.headers["Retry-After"] == nil { response.headers["Retry-After"] = String(HTTPServer.retryAfterWhileStoppingSeconds) }
            return refuse(response)
        }
        // RFC 9112 §6.3: differing lengths make the message's end ambiguous (a proxy in front may
        // have framed it otherwise: request smuggling), so the request is refused unread.
        let lengths = Set(head.headers.values(for: "Content-Length").flatMap { $0.split(separator: ",") }
            .map { $0.trimmingCharacters(in: .whitespaces) })
        if lengths.count > 1 {
            return refuse(self.handler.refused(head, status: 400, reason: "the request has conflicting Content-Length values"))
        }
        // RFC 9112 §6.1: both headers, or a transfer coding other than chunked alone, leave the
        // framing to whoever guesses; the bytes after such a request may be another request that a
        // proxy in front never saw. Refused unread, and the connection closed, as §6.1 requires.
        if let framing = TransferFraming.problem(in: head.headers) {
            return refuse(self.handler.refused(head, status: framing.status, reason: framing.reason), closing: true)
        }
        if let reason = RequestTarget.problem(path: head.path, query: head.query) {
            // The handler logs the path of what it refuses: the path as sent, escapes kept,
            // carries no control character into its log line or answer.
            head.path = head.rawPath
            head.query = [:]
            return refuse(self.handler.refused(head, status: 400, reason: reason))
        }
        if let tls = self.configuration.tls {
            let session = as4gw_mhd_connection_tls_session(connection)
            switch ClientCertificateCheck.evaluate(session: session, policy: tls.clientAuthentication) {
            case .accepted(let certificate):
                head.clientCertificate = certificate
            case .refused(let reason):
                return refuse(self.handler.refused(head, status: 403, reason: reason))
            }
        }
        if let refusal = self.handler.admit(head) {
            return refuse(refusal)
        }
        let maxBytes = self.configuration.maxBodyBytes
        if let declared = head.contentLength, declared > maxBytes {
            return refuse(self.handler.refused(head, status: 413, reason: "the request body (\(declared) bytes) exceeds the limit of \(maxBytes) bytes"))
        }
        let body = RequestBodyCollector(maxBytes: maxBytes, inMemoryLimit: self.configuration.inMemoryBodyLimit,
                                        spoolDirectory: self.configuration.spoolDirectory,
                                        expectedLength: head.contentLength)
        self.connections.bodyExpected(on: connection)
        return (RequestState(head: head, body: body), MHD_Result.YES)
    }

    /// A piece of the body. Returns false when MHD should close the connection.
    func receive(_ bytes: UnsafeRawBufferPointer, for request: RequestState, on connection: OpaquePointer) -> Bool {
        self.connections.bodyReceived(bytes.count, on: connection)
        guard let body = request.body else { return true }
        let keepGoing = body.append(bytes)
        if !keepGoing {
            self.log("closing the connection from \(request.head.remoteAddress): refused upload still sending")
        }
        return keepGoing
    }

    /// The upload has ended: answers a refused body, or runs the handler (blocking this pool thread),
    /// then queues its response and deletes any spool file that is still in place.
    func completeRequest(_ request: RequestState, on connection: OpaquePointer) -> MHD_Result {
        self.connections.bodyEnded(on: connection)
        guard let collector = request.body else {
            self.reportInternalError("\(request.head.method) \(request.head.path) from \(request.head.remoteAddress): no body collector; answered 500")
            return self.queue(.text(500, "internal server error\n"), on: connection)
        }
        defer { collector.removeSpoolFile() }
        if case .refusing(let status, let reason) = collector.outcome {
            // A full disk (507) is the handler's to report, as the temporary condition it is and
            // at the rate it chooses; any other spooling failure is ours, an internal error.
            if let failure = collector.spoolFailure, status != 507 {
                self.reportInternalError("\(request.head.method) \(request.head.path) from \(request.head.remoteAddress): spooling the body failed: \(failure); answered \(status)")
            }
            return self.queue(self.handler.refused(request.head, status: status, reason: reason), on: connection)
        }
        let body: HTTPRequestBody
        do {
            guard let finished = try collector.finish() else {
                self.reportInternalError("\(request.head.method) \(request.head.path) from \(request.head.remoteAddress): the body was not complete; answered 500")
                return self.queue(.text(500, "internal server error\n"), on: connection)
            }
            body = finished
        } catch {
            self.reportInternalError("\(request.head.method) \(request.head.path) from \(request.head.remoteAddress): spooling the body failed: \(error); answered 500")
            return self.queue(self.handler.refused(request.head, status: 500, reason: "the request body could not be stored"), on: connection)
        }
        guard self.handlerWillRun() else {
            self.log("dropping the request from \(request.head.remoteAddress): the server's grace period is over")
            return MHD_Result.NO
        }
        let response = self.handler.handle(HTTPRequest(head: request.head, body: body))
        self.handlerDidRun()
        return self.queue(response, on: connection, for: request.head)
    }

    /// MHD is done with the request (answered, aborted, timed out or shut down).
    func endRequest(_ request: RequestState) {
        request.body?.removeSpoolFile()
        self.requestEnded()
    }

    /// `head`: the request answered, named in the report of a 500 the server makes of the response.
    private func queue(_ response: HTTPResponse, on connection: OpaquePointer, for head: HTTPRequestHead? = nil,
                       closing: Bool = false) -> MHD_Result {
        let request = head.map { "\($0.method) \($0.path) from \($0.remoteAddress): " } ?? ""
        return ResponseQueue.queue(response, on: connection, closeConnection: closing || self.isDraining, log: { self.log($0) },
                                   failed: { self.reportInternalError(request + $0) })
    }
}

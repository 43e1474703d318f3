/// What the server keeps for one request between libmicrohttpd callbacks.
///
/// Retained into MHD's `con_cls` on the first access-handler call and released by the completion
/// callback; MHD runs a connection's callbacks on one thread at a time, so no locking is needed.
final class RequestState {
    let head: HTTPRequestHead
    /// nil when the request was answered at once (refused, or no body will be read).
    let body: RequestBodyCollector?

    init(head: HTTPRequestHead, body: RequestBodyCollector?) {
        self.head = head
        self.body = body
    }
}

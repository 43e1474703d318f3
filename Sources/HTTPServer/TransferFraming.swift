import Foundation

/// The request framings this server accepts besides a plain Content-Length (RFC 9112 §6):
/// `Transfer-Encoding: chunked` alone, which libmicrohttpd decodes. Anything else is refused before
/// a body byte is read.
enum TransferFraming {
    struct Problem {
        let status: Int
        let reason: String
    }

    /// Nil when the head's framing is unambiguous and supported.
    static func problem(in headers: HTTPHeaders) -> Problem? {
        let codings = headers.values(for: "Transfer-Encoding")
            .flatMap { $0.split(separator: ",") }
            .map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        guard !codings.isEmpty else { return nil }
        if !headers.values(for: "Content-Length").isEmpty {
            return Problem(status: 400, reason: "the request has both Transfer-Encoding and Content-Length")
        }
        // chunked must be the last coding (§6.1); any other coding is one we cannot undo (§6.1: 501).
        guard codings == ["chunked"] else {
            return Problem(status: 501, reason: "the request's transfer coding '\(codings.joined(separator: ", "))' is not supported (only chunked)")
        }
        return nil
    }
}

import EnvelopeXML
import Foundation
import HTTPServer

/// What the HTTP head of an AS4 request must say before its body is read as a message.
enum AS4RequestHead {
    /// Why the request's content coding is refused (HTTP 415), or nil when it has none. AS4
    /// compresses payloads itself (`CompressionType`, AS4-WIRE §4); a coded body read as MIME
    /// would only fail as "boundary delimiter not found", which hides what the sender must change.
    static func contentCodingRefusal(_ headers: HTTPHeaders) -> String? {
        let codings = headers.values(for: "Content-Encoding")
            .flatMap { $0.split(separator: ",") }
            .map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            .filter { !$0.isEmpty && $0 != "identity" }
        guard !codings.isEmpty else { return nil }
        return "HTTP Content-Encoding \(codings.joined(separator: ", ")) is not accepted here: send the message without a content coding "
            + "(AS4 compresses payloads itself, with the CompressionType part property)"
    }

    /// The request's one Content-Type. Two are refused (EBMS:0007) for the reason two of a MIME
    /// part's are (`MultipartRelated.refuseRepeatedFields`): a proxy in front could read the other.
    static func contentType(_ headers: HTTPHeaders) throws -> String? {
        let types = headers.values(for: "Content-Type")
        guard types.count <= 1 else {
            throw EbmsError(.mimeInconsistency, "the HTTP Content-Type header appears \(types.count) times")
        }
        return types.first
    }
}

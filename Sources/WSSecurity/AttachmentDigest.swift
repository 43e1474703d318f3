import AS4Crypto
import EnvelopeXML

/// The digest of a MIME part under the SwA Attachment-Content-Signature-Transform
/// (AS4-WIRE §3.4): XML types are canonicalised (exclusive C14N, no comments), other `text/*`
/// get CRLF line endings, everything else (gzip, octet-stream, PDF...) is digested as is. All
/// of it streaming, so a 200 MB part costs a few buffers, XML included.
public enum AttachmentDigest {
    /// `xmlLimits` bound an XML part's parse (size, depth, nodes, attributes per element).
    public static func digest(_ body: PartBody, mediaType: MediaType?, algorithm: DigestAlgorithm,
                              xmlLimits: XMLLimits = .payload) throws(EbmsError) -> [UInt8] {
        do {
            let context = try DigestContext(algorithm: algorithm)
            switch Kind(mediaType) {
            case .xml:
                // Streamed: the canonical form is digested as the parser reads the part, never a
                // tree of it (which costs about 50 bytes per byte of markup).
                do {
                    try StreamingCanonicalizer.exclusive(body, limits: xmlLimits) { try context.update($0) }
                } catch {
                    throw EbmsError(.failedAuthentication, "XML attachment cannot be canonicalised: \(error)")
                }
            case .text:
                var lastWasCR = false
                var out: [UInt8] = []
                out.reserveCapacity(PartBody.defaultChunkSize + 1024)
                try body.forEachChunk { chunk in
                    out.removeAll(keepingCapacity: true)
                    // CR, LF and CRLF each become one CRLF; state carries across chunk edges.
                    for b in chunk {
                        switch b {
                        case 0x0D:
                            out.append(0x0D); out.append(0x0A)
                            lastWasCR = true
                        case 0x0A:
                            if !lastWasCR { out.append(0x0D); out.append(0x0A) }
                            lastWasCR = false
                        default:
                            out.append(b)
                            lastWasCR = false
                        }
                    }
                    try context.update(out)
                }
            case .binary:
                try body.forEachChunk { try context.update($0) }
            }
            return try context.finalize()
        } catch let e as EbmsError {
            throw e
        } catch {
            throw EbmsError(.failedAuthentication, "cannot digest attachment: \(error)")
        }
    }

    enum Kind {
        case xml, text, binary

        init(_ type: MediaType?) {
            guard let type else { self = .binary; return }
            let t = type.type.lowercased()
            let s = type.subtype.lowercased()
            if (t == "text" || t == "application") && s == "xml" || s.hasSuffix("+xml") {
                self = .xml
            } else if t == "text" {
                self = .text
            } else {
                self = .binary
            }
        }
    }
}

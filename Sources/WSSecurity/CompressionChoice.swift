import Foundation
import EnvelopeXML

/// Which payloads the sealer compresses when the leg asks for compression.
///
/// The profile lets a sender leave already-compressed formats as they are (AS4-WIRE §4:
/// "compressing already-compressed formats is NOT REQUIRED"; receivers must take uncompressed
/// parts). Deflating them spends CPU on both sides for a few bytes or none: an e-document
/// (`.edoc`, ASiC-E), an office file or an image is a compressed container already.
///
/// Senders often label such files `application/octet-stream`, so the content decides too: a
/// payload whose first bytes are spread almost evenly over all 256 byte values (compressed or
/// encrypted data) and which a trial deflate of its first bytes does not shrink is left alone.
/// Measured on a 10 KiB payload of that kind, deflate spent about 0.1 ms per message for no
/// gain, on the sender and again on the receiver. The entropy test alone is not enough: bytes
/// can be evenly spread and still repeat (a periodic pattern), which deflate shrinks well.
public enum CompressionChoice {
    /// How much of the start of a payload the content check reads.
    static let sampleSize = 4 * 1024
    /// Below this many bytes the sample says too little about the rest: compress as the type says.
    static let minimumSample = 2 * 1024
    /// Bits of entropy per byte at or above which the sample counts as incompressible. Deflate's
    /// Huffman stage cannot shrink such bytes; text, XML and office XML sit near 4 to 6 bits.
    /// (Uniform random bytes measure about 7.95 over 4 KiB, since a sample sees no byte value
    /// exactly as often as the others.)
    static let incompressibleEntropy = 7.9
    /// The trial: this many bytes deflated at the fastest level must come out at least
    /// `trialGain` smaller for the payload to be compressed.
    static let trialSize = 2 * 1024
    static let trialGain = 0.03

    /// Media types (without parameters, lower case) whose content is already compressed.
    static let compressedTypes: Set<String> = [
        "application/zip", "application/x-zip-compressed", "application/gzip", "application/x-gzip",
        "application/x-7z-compressed", "application/x-rar-compressed", "application/vnd.rar", "application/x-bzip2",
        "application/x-xz", "application/zstd",
        "application/vnd.etsi.asic-e+zip", "application/vnd.etsi.asic-s+zip",
        "application/epub+zip", "application/java-archive",
        "image/jpeg", "image/png", "image/gif", "image/webp", "image/heic", "image/avif", "image/jp2",
    ]

    /// Whether a payload of this MIME type is worth deflating.
    public static func worthCompressing(mimeType: String) -> Bool {
        let base = mimeType.split(separator: ";", maxSplits: 1).first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        if compressedTypes.contains(base) { return false }
        // Office Open XML and OpenDocument files, audio and video: compressed containers or codecs.
        if base.hasPrefix("application/vnd.openxmlformats-officedocument.") || base.hasPrefix("application/vnd.oasis.opendocument.") {
            return false
        }
        if base.hasPrefix("audio/") || base.hasPrefix("video/") { return false }
        return true
    }

    /// Whether this payload is worth deflating: its type (`worthCompressing(mimeType:)`) and,
    /// for a payload of at least `minimumSample` bytes, its first `sampleSize` bytes.
    public static func worthCompressing(mimeType: String, body: PartBody) throws -> Bool {
        guard worthCompressing(mimeType: mimeType) else { return false }
        guard body.count >= UInt64(minimumSample) else { return true }
        let sample = try body.slice(offset: 0, length: min(body.count, UInt64(sampleSize))).readAll()
        guard entropy(of: sample) >= incompressibleEntropy else { return true }
        let trial = Array(sample.prefix(trialSize))
        let deflated = try Gzip.compress(trial, level: 1)
        return Double(deflated.count) <= Double(trial.count) * (1 - trialGain)
    }

    /// Shannon entropy of the byte values, in bits per byte (0 ... 8).
    static func entropy(of bytes: [UInt8]) -> Double {
        guard !bytes.isEmpty else { return 0 }
        var counts = [Int](repeating: 0, count: 256)
        for b in bytes { counts[Int(b)] += 1 }
        let total = Double(bytes.count)
        var bits = 0.0
        for c in counts where c > 0 {
            let p = Double(c) / total
            bits -= p * log2(p)
        }
        return bits
    }
}

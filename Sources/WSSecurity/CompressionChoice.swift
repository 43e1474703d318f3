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
/// encrypted data) and in which hardly any 4-byte sequence repeats is left alone. Measured on a
/// 10 KiB payload of that kind, deflate spent about 0.1 ms per message for no gain, on the sender
/// and again on the receiver. The entropy test alone is not enough: bytes can be evenly spread
/// and still repeat (a periodic pattern), which deflate's matches shrink well; the repeat count
/// is what those matches need. (A trial deflate of 2 KiB instead cost nearly what it saved: most
/// of zlib's cost for a small input is setting up its tables.)
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
    /// Share of the sample's positions whose 4 bytes occurred before in it, at or above which
    /// deflate finds matches worth compressing for (random bytes: about none).
    static let repeatedShare = 0.03

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
        return repeatedQuadruples(in: sample) >= repeatedShare
    }

    /// The share of positions whose 4 bytes were seen earlier in `bytes`, by a direct-mapped table
    /// of the last 4-byte value per hash slot (a collision can only hide a repeat, never invent one).
    static func repeatedQuadruples(in bytes: [UInt8]) -> Double {
        guard bytes.count >= 8 else { return 0 }
        var table = [UInt32](repeating: 0, count: 4096)
        var seen = [Bool](repeating: false, count: 4096)
        var repeats = 0
        table.withUnsafeMutableBufferPointer { t in
            seen.withUnsafeMutableBufferPointer { s in
                bytes.withUnsafeBufferPointer { b in
                    for i in 0..<(b.count - 3) {
                        let v = UInt32(b[i]) | UInt32(b[i + 1]) << 8 | UInt32(b[i + 2]) << 16 | UInt32(b[i + 3]) << 24
                        let slot = Int((v &* 2_654_435_761) >> 20)
                        if s[slot], t[slot] == v { repeats += 1 }
                        t[slot] = v
                        s[slot] = true
                    }
                }
            }
        }
        return Double(repeats) / Double(bytes.count - 3)
    }

    /// Shannon entropy of the byte values, in bits per byte (0 ... 8).
    static func entropy(of bytes: [UInt8]) -> Double {
        guard !bytes.isEmpty else { return 0 }
        var counts = [Int](repeating: 0, count: 256)
        counts.withUnsafeMutableBufferPointer { c in
            bytes.withUnsafeBufferPointer { b in for byte in b { c[Int(byte)] += 1 } }
        }
        let total = Double(bytes.count)
        var bits = 0.0
        for c in counts where c > 0 {
            let p = Double(c) / total
            bits -= p * log2(p)
        }
        return bits
    }
}

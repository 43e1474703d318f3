import Foundation

/// Which payloads the sealer compresses when the leg asks for compression.
///
/// The profile lets a sender leave already-compressed formats as they are (AS4-WIRE §4:
/// "compressing already-compressed formats is NOT REQUIRED"; receivers must take uncompressed
/// parts). Deflating them spends CPU on both sides for a few bytes or none: an e-document
/// (`.edoc`, ASiC-E), an office file or an image is a compressed container already.
public enum CompressionChoice {
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
}

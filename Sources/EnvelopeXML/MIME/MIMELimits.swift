/// Resource limits applied while a multipart message (or a dump's header block) is scanned, so an
/// oversized or hostile message is refused before it costs memory or disk (AS4-WIRE §7.6).
/// Every violation is an `EBMS:0007` MimeInconsistency naming the limit.
public struct MIMELimits: Sendable, Equatable {
    /// Parts per message, root included.
    public var maxParts: Int = 1000
    /// Bytes per header line (without the line break). A longer line is refused after at most
    /// this many bytes have been looked at.
    public var maxHeaderLineLength: Int = 8 * 1024
    /// Header lines per part (continuation lines count: this also bounds folded headers).
    public var maxHeadersPerPart: Int = 100
    /// Root part (SOAP envelope) size; it is read into memory for XML parsing.
    public var maxRootPartSize: UInt64 = 32 * 1024 * 1024
    /// Whole input (preamble, headers, bodies) in bytes. Attachments stay on disk, so this mostly
    /// bounds disk use and scan time; the default admits the large payloads AS4 is used for.
    public var maxTotalSize: UInt64 = 4 * 1024 * 1024 * 1024
    /// `base64` parts whose encoded size exceeds this are decoded into a spool file rather than
    /// memory (and are refused if no spool directory was given).
    public var maxInMemoryDecodedSize: UInt64 = 8 * 1024 * 1024

    public init() {}

    public static let `default` = MIMELimits()
}

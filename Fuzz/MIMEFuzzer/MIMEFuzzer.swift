#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import EnvelopeXML

/// libFuzzer entry point: one input in any form `MessageInput` accepts (HTTP dump, MIME entity,
/// bare multipart body, XML), read twice: from memory, and from a file as the daemon reads a
/// spooled request (windowed scanner, file-range parts, spool files). Besides not crashing, both
/// readings must agree: the same verdict and, when accepted, the same envelope and parts.
@_cdecl("LLVMFuzzerTestOneInput")
public func mimeFuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let fromMemory = ReadOutcome { try MessageInput.load(bytes: bytes) }
    FuzzScratch.store(bytes)
    let fromFile = ReadOutcome {
        try MessageInput.load(path: FuzzScratch.inputPath, spoolDirectory: FuzzScratch.spoolDirectory)
    }
    FuzzScratch.emptySpool()
    if fromMemory != fromFile {
        fatalError("memory and file readings differ:\n memory: \(fromMemory)\n file:   \(fromFile)")
    }
    return 0
}

/// What a reading produced, with every part body resolved to bytes so that memory-backed and
/// file-backed results compare by content. The header getters run too, since the daemon calls
/// them on whatever arrives.
enum ReadOutcome: Equatable, CustomStringConvertible {
    case refused
    case accepted(contentType: MediaType?, headers: MIMEHeaders, envelope: [UInt8], parts: [ResolvedPart])

    struct ResolvedPart: Equatable {
        var headers: MIMEHeaders
        var contentID: String?
        var contentType: MediaType?
        var transferEncoding: String?
        var body: [UInt8]?
    }

    init(_ read: () throws -> RawMessage) {
        guard let raw = try? read() else { self = .refused; return }
        let parts = raw.attachments.map { part in
            ResolvedPart(headers: part.headers, contentID: part.contentID, contentType: part.contentType,
                         transferEncoding: part.contentTransferEncoding, body: try? part.body.readAll())
        }
        self = .accepted(contentType: raw.contentType, headers: raw.headers, envelope: raw.envelope, parts: parts)
    }

    var description: String {
        switch self {
        case .refused: return "refused"
        case .accepted(let ct, _, let envelope, let parts):
            return "accepted \(ct?.essence ?? "-"), envelope \(envelope.count) bytes, parts "
                + parts.map { "\($0.contentID ?? "-"):\($0.body?.count ?? -1)" }.joined(separator: ",")
        }
    }
}

/// One input file and one spool directory per fuzzing process, reused for every input and
/// removed when the process exits normally. In /dev/shm when there is one: the reading code is
/// the same on any file system, and a journaling disk would spend most of each execution
/// truncating and rewriting the input file.
enum FuzzScratch {
    static let directory: String = {
        let base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp"
        var template = Array("\(base)/as4gw-mimefuzz-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { fatalError("mkdtemp failed: errno \(errno)") }
        atexit(removeFuzzScratch)
        return String(cString: made)
    }()
    static let inputPath = directory + "/input"
    static let spoolDirectory: String = {
        let path = directory + "/spool"
        guard mkdir(path, 0o700) == 0 else { fatalError("mkdir \(path) failed: errno \(errno)") }
        return path
    }()

    static func store(_ bytes: [UInt8]) {
        let fd = open(inputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { fatalError("open \(inputPath) failed: errno \(errno)") }
        defer { close(fd) }
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + done, bytes.count - done) }
            guard n > 0 else { fatalError("write \(inputPath) failed: errno \(errno)") }
            done += n
        }
    }

    /// Spool files (decoded base64, de-chunked bodies) belong to the caller; a long run would
    /// otherwise fill the disk.
    static func emptySpool() {
        guard let dir = opendir(spoolDirectory) else { return }
        defer { closedir(dir) }
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { unlink(spoolDirectory + "/" + name) }
        }
    }
}

private let removeFuzzScratch: @convention(c) () -> Void = {
    FuzzScratch.emptySpool()
    rmdir(FuzzScratch.spoolDirectory)
    unlink(FuzzScratch.inputPath)
    rmdir(FuzzScratch.directory)
}

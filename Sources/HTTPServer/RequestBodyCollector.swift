import Foundation

/// Collects one request body as it arrives: in memory up to a threshold, then in a spool file
/// (mode 0600), never more than the configured maximum.
///
/// Used by one libmicrohttpd connection thread at a time (MHD serialises the callbacks of a
/// connection), so it needs no locking. Memory use is bounded by the in-memory threshold plus
/// MHD's read buffer, whatever the body size.
final class RequestBodyCollector {
    /// What the collector is doing with arriving bytes.
    enum Outcome: Equatable {
        /// Bytes are being kept.
        case collecting
        /// The body is being refused (413 over the limit, 500 when spooling failed); arriving bytes
        /// are counted and dropped so that the refusal can still be sent once the upload ends.
        case refusing(status: Int, reason: String)
    }

    /// After a refusal, at most this many further bytes are read and dropped before the connection
    /// is closed instead (the client then sees a reset rather than the refusal).
    static let drainLimit: UInt64 = 8 << 20

    private let maxBytes: UInt64
    private let inMemoryLimit: UInt64
    private let spoolDirectory: String
    private let expectedLength: UInt64?

    private(set) var outcome: Outcome = .collecting
    private(set) var receivedBytes: UInt64 = 0
    private var drainedBytes: UInt64 = 0
    private var buffer: [UInt8] = []
    private var spoolDescriptor: Int32 = -1
    /// The spool file, once created (until ``removeSpoolFile()``).
    private(set) var spoolPath: String?
    /// Why spooling failed, for the log (the client only learns "could not be stored").
    private(set) var spoolFailure: String?

    init(maxBytes: UInt64, inMemoryLimit: UInt64, spoolDirectory: String, expectedLength: UInt64?) {
        self.maxBytes = maxBytes
        self.inMemoryLimit = inMemoryLimit
        self.spoolDirectory = spoolDirectory
        self.expectedLength = expectedLength
        if let expectedLength, expectedLength <= inMemoryLimit {
            self.buffer.reserveCapacity(Int(expectedLength))
        }
    }

    deinit {
        self.removeSpoolFile()
    }

    /// Takes the next piece of the body. Returns false when the connection should be closed
    /// (a refused upload kept coming past ``drainLimit``).
    func append(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let count = UInt64(bytes.count)
        if case .refusing = self.outcome {
            self.drainedBytes += count
            return self.drainedBytes <= Self.drainLimit
        }
        self.receivedBytes += count
        guard self.receivedBytes <= self.maxBytes else {
            self.refuse(status: 413, reason: "the request body exceeds the limit of \(self.maxBytes) bytes")
            self.drainedBytes = count
            return true
        }
        do {
            try self.store(bytes)
        } catch {
            self.spoolFailure = "\(error)"
            // A full disk is the server's temporary condition, not a broken request: 507 says so.
            if let spool = error as? SpoolError, spool.errorNumber == ENOSPC || spool.errorNumber == EDQUOT {
                self.refuse(status: 507, reason: "insufficient storage: the request body could not be stored, send it again later")
            } else {
                self.refuse(status: 500, reason: "the request body could not be stored")
            }
            self.drainedBytes = count
        }
        return true
    }

    /// The complete body once the upload has ended (nil when refusing). A spooled body's file
    /// stays in place until ``removeSpoolFile()``.
    func finish() throws -> HTTPRequestBody? {
        guard case .collecting = self.outcome else { return nil }
        if self.spoolDescriptor >= 0, let spoolPath {
            let descriptor = self.spoolDescriptor
            self.spoolDescriptor = -1
            guard close(descriptor) == 0 else { throw SpoolError("close \(spoolPath): \(Self.errnoText())") }
            return .file(path: spoolPath, length: self.receivedBytes)
        }
        return self.buffer.isEmpty ? .empty : .bytes(self.buffer)
    }

    /// Closes and deletes the spool file, if any. A file the handler moved away is simply gone (ENOENT ignored).
    func removeSpoolFile() {
        if self.spoolDescriptor >= 0 {
            close(self.spoolDescriptor)
            self.spoolDescriptor = -1
        }
        if let spoolPath {
            unlink(spoolPath)
            self.spoolPath = nil
        }
    }

    private func refuse(status: Int, reason: String) {
        self.outcome = .refusing(status: status, reason: reason)
        self.buffer = []
        self.removeSpoolFile()
    }

    private func store(_ bytes: UnsafeRawBufferPointer) throws {
        if self.spoolDescriptor < 0 {
            let spoolNow = self.expectedLength.map { $0 > self.inMemoryLimit } ?? false
            guard spoolNow || UInt64(self.buffer.count + bytes.count) > self.inMemoryLimit else {
                self.buffer.append(contentsOf: bytes)
                return
            }
            try self.openSpoolFile()
            let buffered = self.buffer
            self.buffer = []
            try buffered.withUnsafeBytes { try self.write($0) }
        }
        try self.write(bytes)
    }

    private func openSpoolFile() throws {
        var template = Array((self.spoolDirectory + "/as4gw-body-XXXXXX").utf8CString)
        // mkstemp creates the file with mode 0600.
        let descriptor = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard descriptor >= 0 else {
            throw SpoolError("cannot create a spool file in \(self.spoolDirectory): \(Self.errnoText())", errorNumber: errno)
        }
        _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC)
        self.spoolDescriptor = descriptor
        self.spoolPath = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private func write(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            let written = Glibc.write(self.spoolDescriptor, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                throw SpoolError("write \(self.spoolPath ?? "spool file"): \(Self.errnoText())", errorNumber: errno)
            }
            offset += written
        }
    }

    private static func errnoText() -> String {
        String(cString: strerror(errno))
    }

    struct SpoolError: Error, CustomStringConvertible {
        let description: String
        let errorNumber: Int32
        init(_ description: String, errorNumber: Int32 = 0) {
            self.description = description
            self.errorNumber = errorNumber
        }
    }
}

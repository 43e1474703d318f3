import AS4Crypto
import EnvelopeXML
import Foundation
import HTTPServer
import MessageStore
#if canImport(Glibc)
import Glibc
#endif

/// Resumable uploads for large documents: `POST /api/v1/uploads` announces a file, `PUT
/// …/uploads/{id}/chunks/{n}` sends chunk n (in order, each with its SHA-256 in
/// `Content-Digest`, RFC 9530), `POST …/complete` checks the whole file, and a submission then
/// names the upload in its metadata (`uploads`). Chunks go straight to a file on disk, appended
/// and fsync'd one by one, so memory stays flat whatever the size; `GET …/uploads/{id}` tells a
/// client that lost its connection where to resume.
struct UploadRoutes {
    let r: APIRequest
    init(_ r: APIRequest) { self.r = r }

    static let chunkSize: Int64 = 8 << 20
    /// The largest upload, and what one connection's open uploads may declare together.
    static let maxSize: Int64 = 64 << 30
    /// Open uploads (not taken by a document yet) one connection may hold.
    static let maxOpen = 32
    /// Disk room an upload leaves for everything else (the store, receipts, other uploads' ends).
    static let diskReserve = DiskSpace.reserve
    /// An upload no submission took by then is removed (file and record).
    static let abandonAfter: TimeInterval = 86_400

    /// Beside the store's payloads: with PostgreSQL the folder every node mounts, since the
    /// chunks of one upload may reach different nodes.
    static func directory(_ context: GatewayContext) -> String { context.config.storeDirectory + "/uploads" }

    func create() throws -> HTTPResponse {
        let body = try r.jsonObject()
        var errors: [(pointer: String, detail: String)] = []
        for key in body.keys.sorted() where !["name", "mimeType", "size"].contains(key) { errors.append(("/\(key)", "unknown field")) }
        let name = body["name"] as? String ?? ""
        do throws(DocumentFileName.Invalid) {
            _ = try DocumentFileName.check(name)
        } catch {
            errors.append(("/name", "required: a file name (\(error.reason))"))
        }
        // Kept with its charset, as a submitted file part's is (FileMediaType).
        var mimeType = "application/octet-stream"
        switch body["mimeType"] {
        case nil: break
        case let text as String where !TextInput.isCarriable(text): errors.append(("/mimeType", TextInput.refusal))
        case let text as String:
            do throws(FileMediaType.Invalid) { mimeType = try FileMediaType.parse(text).text } catch { errors.append(("/mimeType", "not a media type: \(error.reason)")) }
        default: errors.append(("/mimeType", "must be a string"))
        }
        let size = Self.integer(body["size"]) ?? 0
        if size < 1 || size > Self.maxSize { errors.append(("/size", "required: the file's length in bytes, an integer from 1 to \(Self.maxSize)")) }
        guard errors.isEmpty else { throw Problem.invalid(errors.map { "\($0.pointer) \($0.detail)" }.joined(separator: "; "), errors: errors) }
        // What a connection may hold open (not yet taken by a document), so that no client can
        // claim the disk with uploads it never sends; and no upload larger than the disk's room.
        let pending = try r.context.mailbox.openUploads(connection: r.connection.name)
        if pending.count >= Self.maxOpen {
            throw Problem.conflict("connection \(r.connection.name) holds \(pending.count) uploads no message has taken yet; "
                                   + "at most \(Self.maxOpen): send or abandon one first (unsent ones are removed after a day)")
        }
        let claimed = pending.reduce(Int64(0)) { $0 + $1.size }
        if claimed + size > Self.maxSize {
            throw Problem(413, "too-large", "Uploads too large", "connection \(r.connection.name) would hold \(claimed + size) bytes of open uploads; "
                          + "at most \(Self.maxSize) together", errors: [(pointer: "/size", detail: "\(size) bytes; \(Self.maxSize - claimed) left")])
        }
        let directory = Self.directory(r.context)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        // The free space must hold this upload and what every open upload (of any connection)
        // has still to send: counted against the disk once they are declared, not when their
        // chunks come. Not a reservation: two uploads declared at the same moment, and whatever
        // else the gateway writes, are not counted (docs/API.md); a chunk that then finds the
        // disk full is refused with 507 and may be sent again.
        let unwritten = try r.context.mailbox.openUploads(connection: nil).reduce(Int64(0)) { $0 + Self.unwritten($1) }
        if let free = DiskSpace.freeBytes(directory), free < UInt64(size) + UInt64(unwritten) + Self.diskReserve {
            throw Problem(507, "insufficient-storage", "Insufficient storage",
                          "the gateway has \(free) bytes free, of which open uploads still need \(unwritten); an upload of \(size) bytes "
                          + "would not fit beside them with \(Self.diskReserve) bytes kept free (try again when uploads have been sent or abandoned)")
        }
        let id = UUID().uuidString.lowercased()
        let path = directory + "/" + id
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw Problem.unavailable("cannot create the upload file: errno \(errno)") }
        close(fd)
        let upload = Upload(id: id, connection: r.connection.name, name: name, mimeType: mimeType,
                            size: size, chunkSize: Self.chunkSize, path: path, createdAt: Date())
        do {
            try r.context.mailbox.createUpload(upload)
        } catch {
            unlink(path)
            throw error
        }
        return Self.view(upload).response(201)
    }

    /// The bytes of `u` no chunk has brought yet.
    static func unwritten(_ u: Upload) -> Int64 { max(0, u.size - Int64(u.received) * u.chunkSize) }

    /// `DELETE …/uploads/{id}`: gives up an upload no message has used, so that its place among
    /// the connection's open uploads (and their declared bytes) is free at once rather than after
    /// a day. One that a message used is that message's file: 409.
    func delete(_ id: String) throws -> HTTPResponse {
        let u = try owned(id)
        if let used = u.usedBy { throw Problem.conflict("upload \(id) was sent as message \(used); it is that message's file now") }
        // The row first: a submission taking the upload at this moment then cannot store its
        // document and gives the file back (SubmitRoute removes it when the row is gone).
        guard try r.context.mailbox.deleteUpload(id: id) else {
            throw Problem.conflict("upload \(id) was just sent by a message; it is that message's file now")
        }
        unlink(u.path)
        r.context.log.log(.info, "upload-removed", ["upload": id, "connection": r.connection.name, "reason": "abandoned by its connection"])
        return .empty(204)
    }

    /// A JSON integer, or nil: JSONSerialization gives 5.5 and true as NSNumbers too, and
    /// `int64Value` would quietly make them 5 and 1.
    static func integer(_ value: Any?) -> Int64? {
        guard let n = value as? NSNumber, !SubmitRoute.isJSONBoolean(n) else { return nil }
        let d = n.doubleValue
        guard d.isFinite, d == d.rounded(), abs(d) < 9.0e15 else { return nil }
        return n.int64Value
    }

    func owned(_ id: String) throws -> Upload {
        guard let u = try r.context.mailbox.upload(id: id) else { throw Problem.notFound("no upload \(id)") }
        guard u.connection == r.connection.name else { throw Problem.forbidden("upload \(id) belongs to another connection") }
        return u
    }

    func status(_ id: String) throws -> HTTPResponse { Self.view(try owned(id)).response(200) }

    func chunk(_ id: String, _ text: String) throws -> HTTPResponse {
        let u = try owned(id)
        guard let n = PlainNumber.parse(text), n >= 1, n <= u.chunkCount else { throw Problem.notFound("upload \(id) has chunks 1 to \(u.chunkCount), not \(text)") }
        guard u.completedAt == nil else { throw Problem.conflict("upload \(id) is complete") }
        guard n == u.received + 1 else {
            throw Problem.conflict(n <= u.received ? "chunk \(n) of upload \(id) was already received; the next is \(u.received + 1)"
                                                   : "chunk \(n) is out of order: upload \(id) expects chunk \(u.received + 1)")
        }
        let expected = u.length(ofChunk: n)
        guard r.request.body.length == UInt64(expected) else {
            throw Problem.invalid("chunk \(n) must be \(expected) bytes, not \(r.request.body.length)", errors: [("body", "length \(expected)")])
        }
        guard let wanted = Self.sha256(contentDigest: r.request.head.headers["Content-Digest"]) else {
            throw Problem.badRequest("each chunk needs Content-Digest: sha-256=:<base64 of its SHA-256>:", errors: [("Content-Digest", "required")])
        }
        let actual: [UInt8]
        switch r.request.body {
        case .bytes(let b): actual = try Digest.sha256(b)
        case .file(let path, _): actual = try Digest.hash(contentsOf: URL(fileURLWithPath: path), algorithm: .sha256)
        case .empty: actual = try Digest.sha256([UInt8]())
        }
        guard Digest.constantTimeEquals(actual, wanted) else {
            throw Problem.invalid("chunk \(n) does not match its Content-Digest; nothing was written", errors: [("Content-Digest", "SHA-256 differs")])
        }
        try Self.write(r.request.body, to: u.path, at: Int64(n - 1) * u.chunkSize)
        do {
            try r.context.mailbox.recordChunk(uploadId: id, number: n, at: Date())
        } catch let e as MailboxStoreError {
            throw Problem.conflict(e.description)
        }
        var done = u
        done.received = n
        return Self.view(done).response(200)
    }

    func complete(_ id: String) throws -> HTTPResponse {
        let u = try owned(id)
        let body = r.request.body.length == 0 ? [:] : try r.jsonObject()
        guard u.completedAt == nil else { throw Problem.conflict("upload \(id) is already complete") }
        guard u.received == u.chunkCount else {
            throw Problem.conflict("upload \(id) has \(u.received) of \(u.chunkCount) chunks; send chunk \(u.received + 1) next")
        }
        let digest = APICredentials.hex(try Digest.hash(contentsOf: URL(fileURLWithPath: u.path), algorithm: .sha256))
        if let claimed = body["sha256"] {
            guard let text = claimed as? String, text.lowercased() == digest else {
                throw Problem.invalid("the file's SHA-256 is \(digest), not \(claimed)", errors: [("/sha256", "differs from the received file")])
            }
        }
        do {
            try r.context.mailbox.completeUpload(id: id, sha256: digest, at: Date())
        } catch let e as MailboxStoreError {
            throw Problem.conflict(e.description)
        }
        var done = u
        done.sha256 = digest
        done.completedAt = Date()
        return Self.view(done).response(200)
    }

    static func view(_ u: Upload) -> JSON {
        .object([("uploadId", .string(u.id)), ("name", .string(u.name)), ("mimeType", .string(u.mimeType)), ("size", .int(u.size)),
                 ("chunkSize", .int(u.chunkSize)), ("chunks", .int(u.chunkCount)), ("received", .int(u.received)),
                 ("complete", .bool(u.completedAt != nil)), ("sha256", .string(u.sha256)), ("usedBy", .string(u.usedBy))])
    }

    /// The SHA-256 of `sha-256=:BASE64:` in a Content-Digest field (other algorithms ignored).
    static func sha256(contentDigest: String?) -> [UInt8]? {
        guard let field = contentDigest else { return nil }
        for member in field.split(separator: ",") {
            let parts = member.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, parts[0].lowercased() == "sha-256", parts[1].hasPrefix(":"), parts[1].hasSuffix(":"), parts[1].count > 2,
                  let bytes = Data(base64Encoded: String(parts[1].dropFirst().dropLast())), bytes.count == 32 else { continue }
            return [UInt8](bytes)
        }
        return nil
    }

    /// A failed write of the upload file: a full disk is the temporary condition `DiskFull`
    /// answers (507 with Retry-After); anything else is the gateway's own fault.
    static func writeFailure(_ what: String) -> Error {
        let code = errno
        if code == ENOSPC || code == EDQUOT, let posix = POSIXErrorCode(rawValue: code) { return POSIXError(posix) }
        return Problem.unavailable("cannot \(what) the upload file: errno \(code)")
    }

    /// Puts the chunk at its offset (dropping whatever an interrupted earlier attempt left past
    /// it) and fsyncs before the chunk is recorded.
    static func write(_ body: HTTPRequestBody, to path: String, at offset: Int64) throws {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw Problem.unavailable("cannot open the upload file: errno \(errno)") }
        defer { close(fd) }
        guard ftruncate(fd, off_t(offset)) == 0, lseek(fd, off_t(offset), SEEK_SET) == off_t(offset) else {
            throw Problem.unavailable("cannot position the upload file: errno \(errno)")
        }
        func writeAll(_ raw: UnsafeRawBufferPointer) throws {
            var done = 0
            while done < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + done, raw.count - done)
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { throw writeFailure("write") }
                done += n
            }
        }
        switch body {
        case .empty: break
        case .bytes(let b): try b.withUnsafeBytes { try writeAll($0) }
        case .file(let source, let length):
            try PartBody.file(path: source, offset: 0, length: length).forEachChunk { try writeAll($0) }
        }
        guard fsync(fd) == 0 else { throw writeFailure("sync") }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Streaming base64 decoder for `Content-Transfer-Encoding: base64` parts (RFC 2045 §6.8).
/// Line breaks and blanks are skipped; any other character outside the alphabet, or data after
/// the `=` padding, is an error (RFC 2045 says to ignore them, but silently dropping bytes from a
/// signed payload would only hide tampering). An unpadded final group is accepted.
struct MIMEBase64Decoder {
    struct Failure: Error { let reason: String }

    private var accumulator: UInt32 = 0
    private var sextets = 0
    private var padding = 0
    private var done = false

    private static let invalid: UInt8 = 0xff
    private static let blank: UInt8 = 0xfe
    private static let pad: UInt8 = 0xfd
    private static let table: [UInt8] = {
        var t = [UInt8](repeating: invalid, count: 256)
        for (i, c) in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8.enumerated() {
            t[Int(c)] = UInt8(i)
        }
        for c in [0x20, 0x09, 0x0d, 0x0a] { t[c] = blank }
        t[Int(UInt8(ascii: "="))] = pad
        return t
    }()

    /// Decodes one chunk; returns the bytes it completes.
    mutating func decode(_ input: UnsafeRawBufferPointer) throws -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(input.count / 4 * 3 + 3)
        try Self.table.withUnsafeBufferPointer { table in
            for byte in input {
                let v = table[Int(byte)]
                switch v {
                case Self.blank:
                    continue
                case Self.pad:
                    guard !done, sextets >= 2 else { throw Failure(reason: "misplaced '=' padding") }
                    padding += 1
                    if sextets + padding == 4 { flushFinalGroup(into: &out); done = true }
                case Self.invalid:
                    throw Failure(reason: "character 0x\(String(byte, radix: 16)) outside the base64 alphabet")
                default:
                    guard padding == 0, !done else { throw Failure(reason: "data after '=' padding") }
                    accumulator = accumulator << 6 | UInt32(v)
                    sextets += 1
                    if sextets == 4 {
                        out.append(UInt8(truncatingIfNeeded: accumulator >> 16))
                        out.append(UInt8(truncatingIfNeeded: accumulator >> 8))
                        out.append(UInt8(truncatingIfNeeded: accumulator))
                        accumulator = 0
                        sextets = 0
                    }
                }
            }
        }
        return out
    }

    /// Completes the stream; returns the last bytes of an unpadded final group.
    mutating func finish() throws -> [UInt8] {
        if done { return [] }
        guard padding == 0 else { throw Failure(reason: "incomplete '=' padding") }
        guard sextets != 1 else { throw Failure(reason: "truncated final group") }
        var out: [UInt8] = []
        if sextets > 0 { flushFinalGroup(into: &out) }
        return out
    }

    /// Emits the 1 or 2 bytes of a final group of 2 or 3 sextets.
    private mutating func flushFinalGroup(into out: inout [UInt8]) {
        let bits = accumulator << UInt32(6 * (4 - sextets))
        out.append(UInt8(truncatingIfNeeded: bits >> 16))
        if sextets == 3 { out.append(UInt8(truncatingIfNeeded: bits >> 8)) }
        accumulator = 0
        sextets = 0
    }
}

extension MIMEBase64Decoder {
    /// Decodes an encoded part body: into memory when small (or when it is the root, which is read
    /// into memory anyway), otherwise into a new file in `spoolDirectory`.
    static func decodePart(_ encoded: PartBody, inMemory: Bool, spoolDirectory: String?,
                           context: String) throws -> PartBody {
        var decoder = MIMEBase64Decoder()
        do {
            if inMemory {
                var sink = MemorySink()
                try encoded.forEachChunk { try sink.write(try decoder.decode($0)) }
                try sink.write(try decoder.finish())
                return .bytes(sink.bytes)
            }
            guard let spoolDirectory else {
                throw EbmsError(.mimeInconsistency,
                                "\(context): base64 part of \(encoded.count) bytes is too large to decode in memory")
            }
            let sink = try FileSink.createTemporary(in: spoolDirectory, suffix: ".b64dec")
            do {
                try encoded.forEachChunk { try sink.write(try decoder.decode($0)) }
                try sink.write(try decoder.finish())
                try sink.close()
            } catch {
                try? sink.close()
                unlink(sink.path) // a half-decoded spool file is of no use to anyone
                throw error
            }
            return sink.body
        } catch let failure as Failure {
            throw EbmsError(.mimeInconsistency, "\(context): invalid base64 content: \(failure.reason)")
        }
    }
}

import Foundation
import XCTest
@testable import EnvelopeXML

final class CompressionGzipTests: XCTestCase {
    private typealias F = MIMETestFixtures

    private func expect0303(_ reason: String, file: StaticString = #filePath, line: UInt = #line,
                            _ body: () throws -> Any) {
        F.assertEbmsError(.decompressionFailure, reason, file: file, line: line, body)
    }

    func testSmallRoundTrips() throws {
        for size in [0, 1, 100, 70_000, 200_001] {
            let data = F.pseudoRandomBytes(size, seed: UInt64(size + 1))
            let gz = try Gzip.compress(data)
            XCTAssertEqual(Array(gz.prefix(2)), [0x1f, 0x8b], "RFC 1952 magic")
            XCTAssertEqual(try Gzip.decompress(gz), data, "size \(size)")
        }
        let text = Array(String(repeating: "<eb:Property name=\"MimeType\">application/xml</eb:Property>", count: 200).utf8)
        let gz = try Gzip.compress(text, level: 9)
        XCTAssertLessThan(gz.count, text.count / 20)
        XCTAssertEqual(try Gzip.decompress(gz), text)
    }

    /// zlib's memory is reused from stream to stream (`ZlibMemory`), bounded, and what a block
    /// held before never shows in the output: the same input compresses to the same bytes whatever
    /// the reused blocks contain, and everything round-trips.
    func testReusedZlibMemoryLeavesTheOutputAsItWas() throws {
        let line = Array("<cbc:Note>Invoice line with a repeated note and a number 0123456789</cbc:Note>\n".utf8)
        for size in [300, 10_240, 40_000] {
            let text = Array((0..<(size / line.count + 1)).flatMap { _ in line }.prefix(size))
            let random = F.pseudoRandomBytes(size, seed: UInt64(size))
            let first = try Gzip.compress(text)
            XCTAssertGreaterThan(ZlibMemory.pooled.blocks, 0, "a finished stream gives its blocks to the pool")
            for fill: UInt8 in [0x00, 0xFF, 0x61] {
                ZlibMemory.scribble(fill)
                XCTAssertEqual(try Gzip.compress(text), first, "size \(size), blocks filled with \(fill)")
                ZlibMemory.scribble(fill)
                XCTAssertEqual(try Gzip.decompress(try Gzip.compress(random)), random)
                ZlibMemory.scribble(fill)
                XCTAssertEqual(try Gzip.decompress(first), text)
            }
        }
        XCTAssertLessThanOrEqual(ZlibMemory.pooled.bytes, ZlibMemory.capacityBytes)
    }

    /// A small input gets a window just large enough for it, and loses no match by that: the
    /// output is byte for byte what the full 32 KiB window gives.
    func testSmallInputsUseASmallerWindowWithTheSameOutput() throws {
        XCTAssertEqual(Gzip.deflateWindowBits(inputSize: 0), 9 + 16)
        XCTAssertEqual(Gzip.deflateWindowBits(inputSize: 250), 9 + 16)
        XCTAssertEqual(Gzip.deflateWindowBits(inputSize: 251), 10 + 16)
        XCTAssertEqual(Gzip.deflateWindowBits(inputSize: 10_240), 14 + 16)
        XCTAssertEqual(Gzip.deflateWindowBits(inputSize: 16_384 - 262), 14 + 16)
        XCTAssertEqual(Gzip.deflateWindowBits(inputSize: 16_384 - 261), 15 + 16)
        XCTAssertEqual(Gzip.deflateWindowBits(inputSize: 5 << 30), 15 + 16)
        let line = "<cbc:Note>Invoice line with a repeated note and a number</cbc:Note>\n"
        for size in [0, 1, 251, 4_000, 10_240, 16_122, 16_123, 32_000] {
            let text = Array(String(repeating: line, count: size / line.utf8.count + 1).utf8.prefix(size))
            let random = F.pseudoRandomBytes(size, seed: UInt64(size + 7))
            for input in [text, random] {
                var small = MemorySink(), full = MemorySink()
                try Gzip.compress(.bytes(input), to: &small, level: 6, windowBits: Gzip.deflateWindowBits(inputSize: UInt64(size)))
                try Gzip.compress(.bytes(input), to: &full, level: 6, windowBits: Gzip.gzipWindowBits)
                XCTAssertEqual(small.bytes, full.bytes, "size \(size)")
                XCTAssertEqual(try Gzip.decompress(small.bytes), input)
            }
        }
    }

    /// Interop: gzip produced by other implementations (a JPEG and an XML document).
    func testDecompressesVectorAttachments() throws {
        let m = try MessageInput.load(path: F.vector("as4net/signed-mime/signed_holodeck_message.as4"))
        var jpeg = MemorySink()
        XCTAssertEqual(try Gzip.decompress(m.attachments[0].body, to: &jpeg), 296_454)
        XCTAssertEqual(Array(jpeg.bytes.prefix(4)), [0xff, 0xd8, 0xff, 0xe0])
        let xml = try Gzip.decompress(try m.attachments[1].body.readAll())
        XCTAssertEqual(xml.count, 206)
        XCTAssertTrue(String(decoding: xml, as: UTF8.self).hasPrefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<example-document>"))
    }

    /// 50 MB through files in both directions, compared chunk by chunk; memory stays bounded.
    func testFiftyMegabyteStreamedRoundTrip() throws {
        let dir = try MIMETemporaryDirectory()
        let mib = 1 << 20
        // Moderately compressible data (16-letter alphabet), different in every MiB.
        let block = F.pseudoRandomBytes(mib, seed: 42).map { UInt8(ascii: "a") + $0 & 0x0f }
        let source = try FileSink(path: dir.file("source.txt"))
        for i in 0..<50 {
            try source.write(Array("MiB \(i) ".utf8))
            try source.write(block)
        }
        try source.close()
        let rssBefore = F.peakRSS()

        var gz = try FileSink(path: dir.file("source.txt.gz"))
        let compressedSize = try Gzip.compress(source.body, to: &gz, level: 1)
        try gz.close()
        XCTAssertEqual(gz.bytesWritten, compressedSize)
        XCTAssertLessThan(compressedSize, source.bytesWritten * 3 / 4)

        var restored = try FileSink(path: dir.file("restored.txt"))
        let restoredSize = try Gzip.decompress(gz.body, to: &restored)
        try restored.close()
        XCTAssertEqual(restoredSize, source.bytesWritten)
        XCTAssertLessThan(F.peakRSS() - rssBefore, 32 << 20)

        // Compare in 1 MiB steps rather than loading 2 x 50 MB.
        var offset: UInt64 = 0
        while offset < source.bytesWritten {
            let n = min(UInt64(mib), source.bytesWritten - offset)
            let a = try PartBody.file(path: source.path, offset: offset, length: n).readAll()
            let b = try PartBody.file(path: restored.path, offset: offset, length: n).readAll()
            guard a == b else { return XCTFail("restored bytes differ in the MiB at \(offset)") }
            offset += n
        }
    }

    /// A 2 GiB bomb: one gzip member of 64 MiB zeros (compressed from a sparse file), repeated 32
    /// times (RFC 1952 allows concatenated members). Refused before the sink passes the bound.
    func testGzipBombIsRefusedWithoutWritingPastTheBound() throws {
        let dir = try MIMETemporaryDirectory()
        let zeros = try dir.sparseFile("zeros", size: 64 << 20)
        var member = MemorySink()
        try Gzip.compress(try PartBody.wholeFile(zeros), to: &member, level: 9)
        XCTAssertLessThan(member.bytes.count, 128 << 10)
        let bombSink = try FileSink(path: dir.file("bomb.gz"))
        for _ in 0..<32 { try bombSink.write(member.bytes) } // 2 GiB once inflated
        try bombSink.close()
        let bomb = bombSink.body

        // Ratio limit (default): trips soon after the 16 MiB grace.
        var counted = MIMECountingSink()
        expect0303("compression ratio exceeds 250:1") { try Gzip.decompress(bomb, to: &counted) }
        XCTAssertLessThanOrEqual(counted.count, GzipLimits.default.ratioGraceBytes + 64 * 1024)

        // Size limit alone (ratio disabled): nothing beyond the bound reaches the sink.
        let limits = GzipLimits(maxOutputBytes: 100 << 20, maxRatio: nil)
        counted = MIMECountingSink()
        expect0303("decompressed size exceeds the limit of 104857600 bytes") {
            try Gzip.decompress(bomb, to: &counted, limits: limits)
        }
        XCTAssertLessThanOrEqual(counted.count, 100 << 20)
        XCTAssertGreaterThan(counted.count, (100 << 20) - 64 * 1024)

        // Concatenated members are legitimate when within limits.
        let two = try Gzip.compress(Array("one ".utf8)) + (try Gzip.compress(Array("two".utf8)))
        XCTAssertEqual(try Gzip.decompress(two), Array("one two".utf8))
    }

    func testNonGzipInputIsRefused() throws {
        expect0303("input is not gzip data (too short)") { try Gzip.decompress([]) }
        expect0303("input is not gzip data (too short)") { try Gzip.decompress([0x1f]) }
        expect0303("input is not gzip data (no 1f 8b magic)") { try Gzip.decompress(Array("<?xml version=\"1.0\"?>".utf8)) }
        // zlib-wrapped deflate (RFC 1950) is not gzip, whatever some stacks send.
        expect0303("no 1f 8b magic") { try Gzip.decompress([0x78, 0x9c, 0x4b, 0x04, 0x00, 0x00, 0x62, 0x00, 0x62]) }
        // The vector whose attachment is "not gzip": AS4.NET replaced NUL/high bytes with spaces.
        let m = try MessageInput.load(path: F.vector("as4net/compression-error/as4message_missing_mime_property.txt"))
        XCTAssertFalse(m.attachments.isEmpty)
        var sink = MIMECountingSink()
        expect0303("input is not gzip data (no 1f 8b magic)") { try Gzip.decompress(m.attachments[0].body, to: &sink) }
        XCTAssertEqual(sink.count, 0)
    }

    func testCorruptTruncatedAndTrailingDataAreRefused() throws {
        let data = F.pseudoRandomBytes(100_000, seed: 5)
        let gz = try Gzip.compress(data)

        var corrupt = gz
        corrupt[gz.count / 2] ^= 0xff
        expect0303("corrupt gzip data") { try Gzip.decompress(corrupt) }

        var badCRC = gz
        badCRC[gz.count - 6] ^= 0x01 // CRC32 in the 8-byte trailer
        expect0303("corrupt gzip data (incorrect data check)") { try Gzip.decompress(badCRC) }

        expect0303("gzip stream is truncated") { try Gzip.decompress(Array(gz.prefix(gz.count - 1))) }
        expect0303("gzip stream is truncated") { try Gzip.decompress(Array(gz.prefix(gz.count / 2))) }
        expect0303("gzip stream is truncated") { try Gzip.decompress(Array(gz.prefix(10))) }

        expect0303("unexpected data after the end of the gzip stream") { try Gzip.decompress(gz + Array("junk".utf8)) }
        expect0303("unexpected data after the end of the gzip stream") { try Gzip.decompress(gz + [0, 0, 0, 0]) }
        // A second "member" that starts like gzip but is not one.
        expect0303("corrupt gzip data") { try Gzip.decompress(gz + [0x1f, 0x00, 0x00]) }
    }

    /// A zlib init that fails (here an invalid level) throws, and the stream's memory is freed
    /// once: the init used to free it and `deinit` freed it again (a double free, abort).
    func testAFailedZlibInitThrowsAndFreesOnce() {
        XCTAssertThrowsError(try Gzip.compress([1, 2, 3], level: 42))
    }
}

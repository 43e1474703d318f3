import AS4Crypto
@testable import AS4Gateway
import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Resumable uploads through the API: chunks in order with their SHA-256, refusals that write
/// nothing, completion checked against the whole file, and the upload sent by AS4 to the hub
/// serving the recipient, whose DMS downloads the same bytes there. AS4GW_UPLOAD_TEST_MB sets the
/// size (default 20; 1024 for the gigabyte run); the peak resident memory of each gateway must
/// stay under 128 MB either way.
final class BackendAPIUploadTests: XCTestCase {
    /// No connection can claim the disk with uploads it never sends: at most 32 open uploads and
    /// 64 GiB declared together; another connection's are its own.
    func testOpenUploadsPerConnectionAreBounded() throws {
        let h = try GatewayHarness()
        try h.configure(["gw-a", "gw-b"])
        let port = h.nodes["gw-a"]!.submitPort
        let dms = try BackendClient(port: port, token: try h.addConnection("gw-a", name: "dms", addresses: ["DVS@90000048472"]))
        let other = try BackendClient(port: port, token: try h.addConnection("gw-a", name: "other", addresses: ["DVS@90000048472"], shared: true))
        try h.start("gw-a")
        func create(_ client: BackendClient, size: Int64) throws -> BackendClient.Reply {
            try client.post("/api/v1/uploads", json: "{\"name\": \"f.bin\", \"size\": \(size)}")
        }
        let first = try create(dms, size: 1)
        XCTAssertEqual(first.status, 201)
        let together = try create(dms, size: 64 << 30)
        XCTAssertEqual(together.status, 413, together.text)
        XCTAssertTrue(together.text.contains("at most 68719476736 together"), together.text)
        for i in 1..<32 { XCTAssertEqual(try create(dms, size: 1).status, 201, "upload \(i)") }
        let over = try create(dms, size: 1)
        XCTAssertEqual(over.status, 409, over.text)
        XCTAssertTrue(over.text.contains("at most 32"), over.text)
        XCTAssertEqual(try create(other, size: 1).status, 201, "another connection's count is its own")
        // Abandoning one frees its place at once, not after a day.
        let id = try XCTUnwrap(first.json["uploadId"] as? String)
        XCTAssertEqual(try dms.call("DELETE", "/api/v1/uploads/\(id)", json: nil).status, 204)
        XCTAssertEqual(try create(dms, size: 1).status, 201, "room for one again")
    }

    /// `DELETE /api/v1/uploads/{id}` gives up an upload no message used: its record and its file
    /// go, and its id is unknown from then on. Another connection's upload is not its to abandon
    /// (403), and one a message used is that message's file (409, kept).
    func testAnUploadNoMessageUsedCanBeAbandonedAndOneAMessageUsedCannot() throws {
        let sender = "DVS@90000048472", recipient = "_DEFAULT@40003032949"
        let h = try GatewayHarness()
        try h.configure(["gw-a", "gw-b"], legs: GatewayHarness.eAddressLegs)
        try h.importDirectory("gw-a", [GatewayHarness.localEntry(recipient, ownerId: "40003032949", kind: "company")])
        let port = h.nodes["gw-a"]!.submitPort
        let dms = try BackendClient(port: port, token: try h.addConnection("gw-a", name: "dms", addresses: [sender]))
        let other = try BackendClient(port: port, token: try h.addConnection("gw-a", name: "other", addresses: [sender], shared: true))
        try h.start("gw-a")
        let uploads = h.nodes["gw-a"]!.data + "/uploads"
        func create() throws -> String {
            let r = try dms.post("/api/v1/uploads", json: "{\"name\": \"f.bin\", \"size\": 3}")
            XCTAssertEqual(r.status, 201, r.text)
            return try XCTUnwrap(r.json["uploadId"] as? String)
        }

        let abandoned = try create()
        XCTAssertTrue(FileManager.default.fileExists(atPath: uploads + "/" + abandoned))
        let foreign = try other.call("DELETE", "/api/v1/uploads/\(abandoned)", json: nil)
        XCTAssertEqual(foreign.status, 403, foreign.text)
        XCTAssertEqual(try dms.call("DELETE", "/api/v1/uploads/\(abandoned)", json: nil).status, 204)
        XCTAssertFalse(FileManager.default.fileExists(atPath: uploads + "/" + abandoned), "its file is gone")
        XCTAssertEqual(try dms.get("/api/v1/uploads/\(abandoned)").status, 404)
        XCTAssertEqual(try dms.call("DELETE", "/api/v1/uploads/\(abandoned)", json: nil).status, 404, "once")
        let unnamed = try dms.submit(metadata: "{\"sender\": \"\(sender)\", \"recipients\": [\"\(recipient)\"], \"subject\": \"s\", \"uploads\": [\"\(abandoned)\"]}", files: [])
        XCTAssertEqual(unnamed.status, 422, "an abandoned upload cannot be sent: \(unnamed.text)")

        let used = try create()
        let bytes = Array("abc".utf8)
        let chunk = try h.file("chunk", bytes)
        let digest = "sha-256=:" + Data(try Digest.sha256(bytes)).base64EncodedString() + ":"
        XCTAssertEqual(try dms.put("/api/v1/uploads/\(used)/chunks/1", file: chunk, headers: [("Content-Digest", digest)]).status, 200)
        XCTAssertEqual(try dms.post("/api/v1/uploads/\(used)/complete", json: "{}").status, 200)
        let sent = try dms.submit(metadata: "{\"sender\": \"\(sender)\", \"recipients\": [\"\(recipient)\"], \"subject\": \"s\", \"uploads\": [\"\(used)\"]}", files: [])
        XCTAssertEqual(sent.status, 202, sent.text)
        let messageId = try XCTUnwrap(sent.json["messageId"] as? String)
        let refused = try dms.call("DELETE", "/api/v1/uploads/\(used)", json: nil)
        XCTAssertEqual(refused.status, 409, refused.text)
        XCTAssertTrue(refused.text.contains("was sent as message \(messageId)"), refused.text)
        XCTAssertEqual(try dms.get("/api/v1/uploads/\(used)").json["usedBy"] as? String, messageId, "kept")
        let method = try dms.call("PATCH", "/api/v1/uploads/\(used)", json: "{}")
        XCTAssertEqual(method.status, 405)
    }

    /// One submission sent to two nodes at once, or again to another node after a timeout, naming
    /// an upload: the request whose upload the other moved in first meets its file gone between
    /// its checks and its move (removed here, as that move would). It is answered 409, to send
    /// again for the other's answer, not as a store failure; it stores nothing, and the upload
    /// stays free for the request that holds it.
    func testAnUploadTakenByAConcurrentSubmissionIsAConflictNotAFailure() throws {
        let sender = "DVS@90000048472", recipient = "_DEFAULT@40003032949"
        let h = try GatewayHarness()
        try h.configure(["gw-a", "gw-b"], legs: GatewayHarness.eAddressLegs)
        // The second is served by another access point under a signing agreement: the XML check
        // of its submission reads the upload's file before the move, and meets it gone there too.
        let remote = "_DEFAULT@40003032950"
        try h.importDirectory("gw-a", [GatewayHarness.localEntry(recipient, ownerId: "40003032949", kind: "company"),
                                       h.remoteEntry(remote, ownerId: "40003032950", kind: "company", party: "gw-b")])
        let port = h.nodes["gw-a"]!.submitPort
        let dms = try BackendClient(port: port, token: try h.addConnection("gw-a", name: "dms", addresses: [sender]))
        try h.start("gw-a")
        let created = try dms.post("/api/v1/uploads", json: "{\"name\": \"f.bin\", \"size\": 3}")
        XCTAssertEqual(created.status, 201, created.text)
        let id = try XCTUnwrap(created.json["uploadId"] as? String)
        let bytes = Array("abc".utf8)
        let digest = "sha-256=:" + Data(try Digest.sha256(bytes)).base64EncodedString() + ":"
        XCTAssertEqual(try dms.put("/api/v1/uploads/\(id)/chunks/1", file: try h.file("chunk", bytes), headers: [("Content-Digest", digest)]).status, 200)
        XCTAssertEqual(try dms.post("/api/v1/uploads/\(id)/complete", json: "{}").status, 200)
        XCTAssertEqual(unlink(h.nodes["gw-a"]!.data + "/uploads/" + id), 0, "moved in by the other request")

        for (key, to) in [("k-1", recipient), (nil, recipient), ("k-2", remote)] as [(String?, String)] {
            let keyField = key.map { ", \"idempotencyKey\": \"\($0)\"" } ?? ""
            let taken = try dms.submit(metadata: "{\"sender\": \"\(sender)\", \"recipients\": [\"\(to)\"], \"subject\": \"s\", "
                                           + "\"uploads\": [\"\(id)\"]\(keyField)}", files: [])
            XCTAssertEqual(taken.status, 409, taken.text)
            XCTAssertTrue(taken.text.contains("upload \(id) is being sent by another request"), taken.text)
            XCTAssertEqual(taken.text.contains("send it again with the same idempotencyKey"), key != nil, taken.text)
            XCTAssertNil(try dms.get("/api/v1/uploads/\(id)").json["usedBy"] as? String, "nothing stored")
        }
    }

    /// The disk must hold what open uploads have declared and not yet sent, not only the upload
    /// being declared: uploads of several connections, each fitting the free space alone, are
    /// refused with 507 once they would promise more than the disk has together (keeping
    /// `UploadRoutes.diskReserve` free); abandoning one makes room again. The sizes are chosen
    /// from the free space found, with half an upload's slack either side of the boundary.
    func testDeclaredButUnsentUploadsCountAgainstTheFreeDisk() throws {
        let h = try GatewayHarness()
        try h.configure(["gw-a", "gw-b"])
        let free = try XCTUnwrap(DiskSpace.freeBytes(h.root.path))
        let room = Int64(free) - Int64(UploadRoutes.diskReserve)
        guard room > 64 << 20 else { throw XCTSkip("only \(free) bytes free") }
        // `fitting` uploads of `size` fit with half an upload to spare; one more does not.
        let fitting = Int((room + UploadRoutes.maxSize - 1) / UploadRoutes.maxSize)
        let size = Int64(Double(room) / (Double(fitting) + 0.5))
        XCTAssertLessThanOrEqual(size, UploadRoutes.maxSize)
        // One connection each: a connection may declare at most maxSize together.
        let port = h.nodes["gw-a"]!.submitPort
        let clients = try (0...fitting).map { try BackendClient(port: port, token: try h.addConnection("gw-a", name: "dms\($0)", addresses: ["DVS@90000048472"], shared: true)) }
        try h.start("gw-a")
        var ids: [String] = []
        for client in clients.prefix(fitting) {
            let r = try client.post("/api/v1/uploads", json: "{\"name\": \"f.bin\", \"size\": \(size)}")
            XCTAssertEqual(r.status, 201, r.text)
            ids.append((r.json["uploadId"] as? String) ?? "")
        }
        let last = try XCTUnwrap(clients.last)
        let refused = try last.post("/api/v1/uploads", json: "{\"name\": \"f.bin\", \"size\": \(size)}")
        XCTAssertEqual(refused.status, 507, "alone it would fit; with the others' declared bytes it does not: \(refused.text)")
        XCTAssertEqual(refused.json["type"] as? String, "urn:as4gw:problem:insufficient-storage")
        XCTAssertTrue(refused.text.contains("open uploads still need \(Int64(fitting) * size)"), refused.text)
        XCTAssertEqual(try clients[0].call("DELETE", "/api/v1/uploads/\(ids[0])", json: nil).status, 204)
        XCTAssertEqual(try last.post("/api/v1/uploads", json: "{\"name\": \"f.bin\", \"size\": \(size)}").status, 201, "room again")
    }

    func testChunkedUploadIsCheckedResumedAndSent() throws {
        let megabytes = Int(ProcessInfo.processInfo.environment["AS4GW_UPLOAD_TEST_MB"] ?? "") ?? 20
        let sender = "DVS@90000048472", recipient = "_DEFAULT@40003032949"
        let h = try GatewayHarness()
        // Limits above the document: the AS4 request (gateway) and the P-Mode legs.
        let limit = (megabytes + 64) << 20
        try h.configure(["gw-a", "gw-b"], legs: GatewayHarness.eAddressLegs.map { var leg = $0; leg.maxMessageBytes = limit; return leg })
        let config = try h.file("large-messages.json", Array("{\"maxMessageBytes\": \(limit)}".utf8))
        for node in ["gw-a", "gw-b"] { h.nodes[node]!.extraArguments = ["--config", config] }
        try h.importDirectory("gw-a", [h.remoteEntry(recipient, ownerId: "40003032949", kind: "company", party: "gw-b")])
        try h.importDirectory("gw-b", [GatewayHarness.localEntry(recipient, ownerId: "40003032949", kind: "company")])
        let port = h.nodes["gw-a"]!.submitPort
        let dms = try BackendClient(port: port, token: try h.addConnection("gw-a", name: "dms", addresses: [sender]))
        let other = try BackendClient(port: port, token: try h.addConnection("gw-a", name: "other", addresses: [sender], shared: true))
        let reader = try BackendClient(port: h.nodes["gw-b"]!.submitPort, token: try h.addConnection("gw-b", name: "reader", addresses: [recipient]))
        try h.start("gw-a")
        try h.start("gw-b")

        let size = Int64(megabytes) << 20
        let created = try dms.post("/api/v1/uploads", json: "{\"name\": \"archive.bin\", \"mimeType\": \"application/octet-stream\", \"size\": \(size)}")
        XCTAssertEqual(created.status, 201, created.text)
        let id = try XCTUnwrap(created.json["uploadId"] as? String)
        let chunkSize = try XCTUnwrap((created.json["chunkSize"] as? NSNumber)?.int64Value)
        let chunks = Int((size + chunkSize - 1) / chunkSize)
        XCTAssertEqual((created.json["chunks"] as? NSNumber)?.intValue, chunks)
        XCTAssertGreaterThanOrEqual(chunks, 3)

        // Chunk n's bytes, made on the fly (never the whole file in the test's memory either).
        let whole = try DigestContext(algorithm: .sha256)
        func chunkFile(_ n: Int, corrupt: Bool = false) throws -> (path: String, digest: String) {
            let length = n < chunks ? chunkSize : size - Int64(chunks - 1) * chunkSize
            var bytes = [UInt8](repeating: 0, count: Int(length))
            var x = UInt32(truncatingIfNeeded: n &* 2654435761)
            for i in 0..<bytes.count { x = x &* 1664525 &+ 1013904223; bytes[i] = UInt8(truncatingIfNeeded: x >> 24) }
            let digest = "sha-256=:" + Data(try Digest.sha256(bytes)).base64EncodedString() + ":"
            if corrupt { bytes[0] ^= 1 }
            let path = h.root.appendingPathComponent("chunk-\(n)").path
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            return (path, digest)
        }
        func put(_ n: Int, _ c: (path: String, digest: String), client: BackendClient? = nil) throws -> BackendClient.Reply {
            try (client ?? dms).put("/api/v1/uploads/\(id)/chunks/\(n)", file: c.path, headers: [("Content-Digest", c.digest)])
        }
        func received() throws -> Int { (try dms.get("/api/v1/uploads/\(id)").json["received"] as? NSNumber)?.intValue ?? -1 }

        let second = try chunkFile(2)
        XCTAssertEqual(try put(2, second).status, 409, "out of order")
        let bad = try chunkFile(1, corrupt: true)
        let refused = try put(1, bad)
        XCTAssertEqual(refused.status, 422, refused.text)
        XCTAssertTrue(refused.text.contains("does not match its Content-Digest"), refused.text)
        XCTAssertEqual(try dms.put("/api/v1/uploads/\(id)/chunks/1", file: bad.path).status, 400, "no Content-Digest")
        XCTAssertEqual(try put(1, try chunkFile(1), client: other).status, 403, "another connection's upload")
        XCTAssertEqual(try received(), 0, "nothing was written")
        XCTAssertEqual(try dms.post("/api/v1/uploads/\(id)/complete", json: "{}").status, 409, "not all chunks yet")

        for n in 1...chunks {
            let c = try chunkFile(n)
            try whole.update(try Data(contentsOf: URL(fileURLWithPath: c.path)))
            let r = try put(n, c)
            XCTAssertEqual(r.status, 200, r.text)
            try FileManager.default.removeItem(atPath: c.path)
            if n == 1 { XCTAssertEqual(try put(1, try chunkFile(1)).status, 409, "chunk 1 again") }
        }
        XCTAssertEqual(try received(), chunks)
        let digest = APIDigest.hex(try whole.finalize())
        let wrong = try dms.post("/api/v1/uploads/\(id)/complete", json: "{\"sha256\": \"\(String(repeating: "0", count: 64))\"}")
        XCTAssertEqual(wrong.status, 422, wrong.text)
        let done = try dms.post("/api/v1/uploads/\(id)/complete", json: "{\"sha256\": \"\(digest)\"}")
        XCTAssertEqual(done.status, 200, done.text)
        XCTAssertEqual(done.json["sha256"] as? String, digest)

        let metadata = "{\"sender\": \"\(sender)\", \"recipients\": [\"\(recipient)\"], \"subject\": \"big\", \"uploads\": [\"\(id)\"]}"
        let sent = try dms.submit(metadata: metadata, files: [])
        XCTAssertEqual(sent.status, 202, sent.text)
        let messageId = try XCTUnwrap(sent.json["messageId"] as? String)
        let again = try other.submit(metadata: metadata, files: [])
        XCTAssertEqual(again.status, 422, "another connection cannot send it")
        XCTAssertEqual(try dms.submit(metadata: metadata, files: []).status, 422, "an upload is sent once")

        // Receipted by the hub (Accepted at A), then in the recipient's mailbox there.
        try h.waitUntil(timeout: 600, "the hub's receipt for the upload") {
            let r = try dms.get("/api/v1/messages/\(messageId)")
            return ((r.json["recipients"] as? [[String: Any]])?.first?["status"] as? String) == "Accepted"
        }
        try h.waitUntil(timeout: 60, "the upload in the recipient's mailbox at the hub") {
            ((try reader.get("/api/v1/inbox?address=\(recipient)").json["items"] as? [Any])?.count ?? 0) == 1
        }
        // The recipient downloads it at the hub: the same bytes (compared by digest, streamed to disk).
        let out = h.root.appendingPathComponent("download.bin").path
        let curl = Process()
        curl.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        curl.arguments = ["-s", "-o", out, "-H", "Authorization: Bearer \(reader.token!)", "\(reader.base)/api/v1/messages/\(messageId)/files/1"]
        try curl.run()
        curl.waitUntilExit()
        XCTAssertEqual(APIDigest.hex(try Digest.hash(contentsOf: URL(fileURLWithPath: out), algorithm: .sha256)), digest)

        for node in ["gw-a", "gw-b"] {
            let status = try String(contentsOfFile: "/proc/\(h.nodes[node]!.process!.processIdentifier)/status", encoding: .utf8)
            let peakKB = Int(status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") }?.split(separator: " ").dropFirst().first ?? "") ?? .max
            print("upload of \(megabytes) MB: \(node) peak RSS \(peakKB / 1024) MB")
            XCTAssertLessThan(peakKB, 128 * 1024, "peak resident memory of \(node)")
        }
    }
}

enum APIDigest {
    static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }
}

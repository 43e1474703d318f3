import AS4Crypto
import Foundation

/// `as4gw evidence verify FILE`: checks an evidence bundle offline.
enum EvidenceCommand {
    static let help = """
    Usage: as4gw evidence verify FILE [--truststore PEM]... [--sealer PEM]... [--json]

    Checks an evidence bundle fetched from GET /api/v1/messages/{id}/evidence without the
    gateway (docs/EVIDENCE.md): its shape; the SHA-256 digest of its content against the
    gateway's seal; the seal's signature with the certificate it carries; that certificate's
    chain to the trust anchors (judged at the time the bundle was sealed); every event's hash
    against its own fields; and every embedded AS4 receipt again: signed by the receiver's
    certificate named in the bundle (chained to the anchors, or pinned as at sending), for the
    AS4 message, acknowledging exactly the parts that were signed.

    --truststore PEM  trust anchors, a PEM file or a folder of them (repeatable); default the
                      development CA, pmode/certs/dev-ca.pem
    --sealer PEM      the gateway's signing certificate(s) (repeatable): the seal must be by one
                      of them. Without, any certificate the anchors vouch for is accepted, which
                      in a shared PKI includes other access points (a warning says so)
    --json            the summary as JSON on stdout

    Exit status: 0 the bundle is valid; 1 it is not (the reason on stderr); 2 usage or I/O error.
    """

    static func run(_ args: [String]) -> Int32 {
        let a: Arguments
        do {
            a = try Arguments(args, valued: ["truststore", "sealer"], flags: ["json"])
        } catch {
            return CLI.usageError("\(error)", help: help)
        }
        if a.has("help") { print(help); return 0 }
        guard a.positionals.count == 2, a.positionals[0] == "verify" else {
            return CLI.usageError("expected: evidence verify FILE", help: help)
        }
        let path = a.positionals[1]
        let anchorPaths = a.values("truststore").isEmpty ? ["pmode/certs/dev-ca.pem"] : a.values("truststore")
        var anchors: [Certificate] = []
        do {
            for p in anchorPaths { anchors += try KeyMaterial.certificateDirectory(p) }
        } catch {
            return CLI.ioError("cannot read the trust anchors: \(error)")
        }
        guard !anchors.isEmpty else { return CLI.ioError("no trust anchors in \(anchorPaths.joined(separator: ", "))") }
        var sealers: [Certificate] = []
        do {
            for p in a.values("sealer") { sealers += try KeyMaterial.certificateDirectory(p) }
        } catch {
            return CLI.ioError("cannot read the sealer certificates: \(error)")
        }
        if sealers.isEmpty {
            CLI.printError("as4gw: warning: no --sealer given: a seal by any certificate the trust anchors vouch for is accepted")
        }
        let bytes: [UInt8]
        do {
            bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        } catch {
            return CLI.ioError("cannot read \(path): \(error.localizedDescription)")
        }
        do {
            let summary = try EvidenceVerifier(anchors: anchors, sealers: sealers).verify(bytes)
            if a.has("json") {
                print(JSON.object([
                    ("valid", .bool(true)), ("messageId", .string(summary.messageId)), ("sealedBy", .string(summary.sealedBy)),
                    ("generatedAt", .string(summary.generatedAt)), ("events", .int(Int64(summary.events))),
                    ("receipts", .int(Int64(summary.receipts))),
                    ("recipients", .array(summary.recipients.map { r in
                        .object([("address", .string(r.address)), ("sent", .bool(r.sent)),
                                 ("deemedNotifiedOn", r.deemedNotifiedOn.map(JSON.string) ?? .null)])
                    })),
                ]).serialized(pretty: false))
            } else {
                print("valid: message \(summary.messageId), sealed by \(summary.sealedBy) at \(summary.generatedAt); \(summary.events) events, \(summary.receipts) receipts verified")
                for r in summary.recipients {
                    print("  \(r.address): \(r.sent ? "sent, deemed notified on \(r.deemedNotifiedOn ?? "?")" : "not sent")")
                }
            }
            return 0
        } catch {
            CLI.printError("as4gw: evidence invalid: \(error)")
            return 1
        }
    }
}

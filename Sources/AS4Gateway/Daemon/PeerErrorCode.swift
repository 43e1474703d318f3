import EnvelopeXML

/// An `eb:Error/@errorCode` as the receiving side gave it, checked before it is recorded. The
/// schema wants `EBMS:` and four digits, but implementations have codes of their own (phase4's
/// EBMS:4001, vendor codes without the prefix, codes of later specifications), and the sender's
/// DMS and the operators need the code the receiver said, not the nearest one we know. The code
/// goes to the store, the API, the notices, a terminal running the CLI and the log, and the peer
/// writes it: so it is kept as given only when it is 1 to `maxLength` visible ASCII characters
/// (no space, no control or format character, nothing a reader could take for more than a code).
/// Any other code is recorded as EBMS:0004 Other, and the reason shows it escaped. So is one in
/// the shape of the codes the queue records itself (lower case and hyphens: `retry-requested`,
/// `lease-expired`, `local-storage`), which the history is read by: a peer's answer must never
/// pass for an operator's retry or a lease the queue gave up (`AttemptFailure.isPeerAnswer`).
struct PeerErrorCode: Equatable {
    static let maxLength = 64

    /// The code as the peer gave it.
    let given: String

    init(_ given: String) {
        self.given = given
    }

    var isRecordable: Bool {
        !given.isEmpty && given.unicodeScalars.count <= Self.maxLength && given.unicodeScalars.allSatisfy { (0x21...0x7E).contains($0.value) }
            && !Self.hasOurShape(given)
    }

    /// Lower case letters and hyphens only: the shape of the queue's own event codes.
    static func hasOurShape(_ code: String) -> Bool {
        code.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || $0 == "-" }
    }

    /// The code the message's error is recorded with.
    var recorded: String { isRecordable ? given : EbmsError.Code.other.rawValue }

    /// The code as a reason names it: the code itself, or what stands for one not recordable
    /// (its first `maxLength` characters, each one outside printable ASCII, a backslash or a
    /// quote escaped as `\u{…}`).
    var shown: String {
        guard !isRecordable else { return given }
        let scalars = given.unicodeScalars
        let head = scalars.prefix(Self.maxLength).map { u -> String in
            (0x20...0x7E).contains(u.value) && u != "\\" && u != "\"" ? String(u) : "\\u{" + String(u.value, radix: 16, uppercase: true) + "}"
        }.joined()
        let cut = scalars.count > Self.maxLength ? "… (\(scalars.count) characters)" : ""
        return "\(EbmsError.Code.other.rawValue) (for the code \"\(head)\"\(cut), which is not recorded as given)"
    }

    /// Peer text (a description, a detail) on one line: every control, format or line separator
    /// character becomes a space, so that no peer can start a line of its own wherever the
    /// reason is shown.
    static func oneLine(_ text: String) -> String {
        String(String.UnicodeScalarView(text.unicodeScalars.map { u in
            switch u.properties.generalCategory {
            case .control, .format, .lineSeparator, .paragraphSeparator: return " "
            default: return u
            }
        }))
    }
}

/// The form of an eb:MessageId we send. ebMS3 §5.2.2.1 asks for an RFC 5322 msg-id without its
/// angle brackets; Oxalis (Peppol) holds every received id to its dot-atom form, `left@right`
/// with both sides dot-atoms of ASCII atext, and refuses any other with EBMS:0009. A receiver is
/// lenient (`EnvelopeParser.checkMessageId`); what we send keeps to the form every peer takes.
public enum MessageIdForm {
    /// `left@right`, both RFC 5322 dot-atom-text: no quoted local part, no `[literal]` domain,
    /// no obsolete forms (all of which Oxalis refuses).
    public static func isDotAtom(_ id: String) -> Bool {
        let bytes = Array(id.utf8)
        guard let at = bytes.firstIndex(of: UInt8(ascii: "@")) else { return false }
        return isDotAtomText(bytes[..<at]) && isDotAtomText(bytes[(at + 1)...])
    }

    /// The right-hand side of the ids we make, from our party's name (a parties.json key, free
    /// text): ASCII letters, digits and `-` kept, dots only between labels, at most `maxLength`
    /// bytes; `as4gw` when nothing is left. A name such as "Ministère" or "acme corp." would
    /// otherwise give ids Oxalis refuses.
    public static func domain(from name: String, maxLength: Int) -> String {
        var out: [UInt8] = []
        for b in name.utf8 where out.count < maxLength {
            if isAlphanumeric(b) || b == UInt8(ascii: "-") {
                out.append(b)
            } else if b == UInt8(ascii: "."), let last = out.last, last != UInt8(ascii: ".") {
                out.append(b)
            }
        }
        while out.last == UInt8(ascii: ".") { out.removeLast() }
        return out.isEmpty ? "as4gw" : String(decoding: out, as: UTF8.self)
    }

    static func isDotAtomText(_ bytes: ArraySlice<UInt8>) -> Bool {
        let dot = UInt8(ascii: ".")
        guard let first = bytes.first, let last = bytes.last, first != dot, last != dot else { return false }
        var previous: UInt8 = 0
        for b in bytes {
            if b == dot {
                if previous == dot { return false }
            } else if !isAtext(b) {
                return false
            }
            previous = b
        }
        return true
    }

    static func isAlphanumeric(_ b: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(b) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(b)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b)
    }

    static let atextSymbols = Set("!#$%&'*+-/=?^_`{|}~".utf8)

    /// RFC 5322 §3.2.3 atext.
    static func isAtext(_ b: UInt8) -> Bool {
        isAlphanumeric(b) || atextSymbols.contains(b)
    }
}

import EnvelopeXML
import Foundation

/// Free text that clients and partners send and the gateway keeps (reasons, codes, file names,
/// party ids): it must be carriable everywhere it goes. XML 1.0 cannot hold C0 control
/// characters other than tab, LF and CR, not even as character references, so one such
/// character in a stored reason would make every later evidence bundle of the document
/// unwritable; PostgreSQL text cannot hold NUL. U+FFFE and U+FFFF are outside XML 1.0's `Char`
/// too. (Lone surrogates cannot reach here: a Swift `String` holds only scalar values, and the
/// JSON reader refuses or replaces them.) Refused where it enters, with a precise problem.
enum TextInput {
    static let refusal = "contains a character XML cannot carry (a control character other than tab, line feed and carriage return, or U+FFFE/U+FFFF)"

    /// The rule itself is `XMLText`'s, shared with the evidence bundle, so the API cannot accept
    /// a character the bundle could not then write as it is.
    static func isCarriable(_ s: String) -> Bool { XMLText.isCarriable(s) }

    /// A text's length as the API's limits count it: in Unicode code points, as JSON Schema's
    /// `maxLength` does (docs/openapi.yaml), not in grapheme clusters (`String.count`), which
    /// would let "a" with 5,000 combining accents pass as one character.
    static func length(_ s: String) -> Int { s.unicodeScalars.count }

    /// Why `s` is refused, or nil.
    static func problem(_ s: String, maxLength: Int) -> String? {
        if !isCarriable(s) { return refusal }
        if length(s) > maxLength { return "longer than \(maxLength) characters (Unicode code points)" }
        return nil
    }

    /// An optional string member: absent or null gives nil; anything else must be a carriable string.
    static func optional(_ value: Any?, pointer: String, maxLength: Int) throws -> String? {
        guard let value, !(value is NSNull) else { return nil }
        guard let s = value as? String else { throw Problem.invalid("\(pointer) must be a string", errors: [(pointer, "must be a string")]) }
        if let p = problem(s, maxLength: maxLength) { throw Problem.invalid("\(pointer) \(p)", errors: [(pointer, p)]) }
        return s
    }
}

/// An electronic address in its canonical spelling: two spellings of one address compare equal,
/// so a lookup cannot miss an entry (or dodge a block) by writing it differently.
///
/// Forms (docs/DIRECTORY.md):
/// - `_DEFAULT@<registration number>`: the main mailbox of a company or institution.
/// - `_PRIVATE@<personal code>`: a natural person's mailbox; the personal code is validated
///   (birth date and check digit, or the 32… format) and kept as 11 digits without the hyphen.
/// - `<ALIAS>@<registration number>`: another mailbox of that legal person. The alias is 1–64
///   ASCII letters, digits, `_`, `-` and `.`, starts with a letter or digit, and is kept in upper
///   case (`_DEFAULT` and `_PRIVATE` are upper case too, so `_default@…` is `_DEFAULT@…`). Other
///   names starting with `_` are reserved and refused.
/// - `<scheme>::<value>`: a participant of another eDelivery network (e.g.
///   `iso6523-actorid-upis::0190:…`). The scheme is kept in lower case; the value as written,
///   except for `iso6523-actorid-upis`, whose values are case-insensitive (Peppol policy) and
///   kept in lower case.
public struct EAddress: Sendable, Hashable, Comparable, CustomStringConvertible {
    public enum Form: Sendable, Hashable {
        case defaultMailbox(registrationNumber: String)
        case privatePerson(personalCode: String)
        case alias(name: String, registrationNumber: String)
        case participant(scheme: String, value: String)
    }

    public let form: Form
    /// The canonical spelling, e.g. `_PRIVATE@01019012349`.
    public let canonical: String

    public static let maxAliasLength = 64
    public static let maxParticipantLength = 256
    static let peppolScheme = "iso6523-actorid-upis"

    /// Parses `text` (exactly: surrounding whitespace is an error, not trimmed).
    public init(_ text: String) throws(EAddressError) {
        func fail(_ reason: String) -> EAddressError { EAddressError(text: text, reason: reason) }
        guard !text.isEmpty else { throw fail("an e-address must not be empty") }
        guard text.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F }) else {
            throw fail("an e-address is printable ASCII without spaces")
        }
        if let separator = Self.firstDoubleColon(in: text) {
            self = try Self.participant(scheme: text[..<separator.lowerBound], value: text[separator.upperBound...], fail: fail)
            return
        }
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2 else {
            throw fail(parts.count == 1 ? "an e-address is NAME@NUMBER (e.g. _DEFAULT@<registration number>) or SCHEME::VALUE"
                                        : "an e-address has one @")
        }
        let name = parts[0].uppercased(), number = parts[1]
        if name != "_PRIVATE" && name != "_DEFAULT" { try Self.checkAlias(name, fail: fail) }
        do throws(LatvianIdentifiers.Invalid) {
            switch name {
            case "_PRIVATE": form = .privatePerson(personalCode: try LatvianIdentifiers.personalCode(number))
            case "_DEFAULT": form = .defaultMailbox(registrationNumber: try LatvianIdentifiers.registrationNumber(number))
            default: form = .alias(name: name, registrationNumber: try LatvianIdentifiers.registrationNumber(number))
            }
        } catch {
            throw fail("the \(error.reason)")
        }
        canonical = Self.spell(form)
    }

    private init(form: Form) {
        self.form = form
        canonical = Self.spell(form)
    }

    private static func spell(_ form: Form) -> String {
        switch form {
        case .defaultMailbox(let number): return "_DEFAULT@" + number
        case .privatePerson(let code): return "_PRIVATE@" + code
        case .alias(let name, let number): return name + "@" + number
        case .participant(let scheme, let value): return scheme + "::" + value
        }
    }

    private static func checkAlias(_ name: String, fail: (String) -> EAddressError) throws(EAddressError) {
        guard !name.isEmpty else { throw fail("the name before @ is empty") }
        guard name.count <= maxAliasLength else { throw fail("an alias has at most \(maxAliasLength) characters") }
        guard let first = name.unicodeScalars.first, first != "_" else {
            throw fail("names starting with _ are reserved; the system names are _DEFAULT and _PRIVATE")
        }
        guard isAlphanumeric(first) else { throw fail("an alias starts with a letter or digit") }
        if let bad = name.unicodeScalars.first(where: { !isAlphanumeric($0) && !"_-.".unicodeScalars.contains($0) }) {
            throw fail("an alias has only letters A–Z, digits, _, - and . (found '\(bad)')")
        }
    }

    private static func participant(scheme rawScheme: Substring, value rawValue: Substring,
                                    fail: (String) -> EAddressError) throws(EAddressError) -> EAddress {
        let scheme = rawScheme.lowercased()
        guard let first = scheme.unicodeScalars.first, isAlphanumeric(first) else {
            throw fail("the scheme before :: must start with a letter or digit")
        }
        guard scheme.unicodeScalars.allSatisfy({ isAlphanumeric($0) || "-._".unicodeScalars.contains($0) }) else {
            throw fail("the scheme before :: has only letters, digits, -, . and _")
        }
        guard !rawValue.isEmpty else { throw fail("the value after :: is empty") }
        guard rawScheme.count + 2 + rawValue.count <= maxParticipantLength else {
            throw fail("a participant address has at most \(maxParticipantLength) characters")
        }
        var value = String(rawValue)
        if scheme == peppolScheme {
            // ISO 6523 form: a four-digit ICD, a colon, the identifier within that catalogue.
            let pieces = value.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            guard pieces.count == 2, pieces[0].utf8.count == 4, pieces[0].utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }), !pieces[1].isEmpty else {
                throw fail("an \(peppolScheme) value is ICD:IDENTIFIER with a four-digit ICD (e.g. 0190:…)")
            }
            value = value.lowercased()
        }
        return EAddress(form: .participant(scheme: scheme, value: value))
    }

    /// Where `::` first occurs (a byte scan: Foundation's `range(of:)` was a tenth of an import).
    private static func firstDoubleColon(in text: String) -> Range<String.Index>? {
        let bytes = text.utf8
        var previous: String.Index?
        for i in bytes.indices {
            if bytes[i] == UInt8(ascii: ":") {
                if let previous { return previous..<bytes.index(after: i) }
                previous = i
            } else {
                previous = nil
            }
        }
        return nil
    }

    private static func isAlphanumeric(_ s: Unicode.Scalar) -> Bool {
        s.isASCIILetter || ("0"..."9").contains(s)
    }

    /// The registration number or personal code of a Latvian address; nil for a participant.
    public var latvianIdentifier: String? {
        switch form {
        case .defaultMailbox(let n), .alias(_, let n): return n
        case .privatePerson(let c): return c
        case .participant: return nil
        }
    }

    public var description: String { canonical }

    public static func < (a: EAddress, b: EAddress) -> Bool { a.canonical < b.canonical }
    public static func == (a: EAddress, b: EAddress) -> Bool { a.canonical == b.canonical }
    public func hash(into hasher: inout Hasher) { hasher.combine(canonical) }
}

/// Why a text is not an e-address.
public struct EAddressError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The text as given.
    public var text: String
    public var reason: String

    public var description: String { "\"\(text)\" is not an e-address: \(reason)" }
}

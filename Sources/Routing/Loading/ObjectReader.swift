/// Reads the members of one JSON object for a decoder, reporting every problem with its path and
/// position: unknown keys (with a spelling suggestion), missing required members, wrong types,
/// values outside their enumeration. Accessors return nil after reporting, so decoding goes on and
/// all problems of a file are found in one run.
///
/// Positions: a member's problems point at its key (`"profile": ...` → the `"` of `"profile"`),
/// an array element's at the element, a missing member's at the `{` of its object.
struct ObjectReader {
    let file: String
    let path: String
    let value: JSONValue
    let log: DiagnosticLog
    private let members: [String: JSONValue.Member]

    init?(_ value: JSONValue, path: String, file: String, log: DiagnosticLog, known: [String]) {
        guard let list = value.members else {
            log.error(file, value.location, "\(path.isEmpty ? "the top level" : path) must be an object, not \(value.typeDescription)")
            return nil
        }
        self.file = file
        self.path = path
        self.value = value
        self.log = log
        var members: [String: JSONValue.Member] = [:]
        for member in list {
            members[member.key] = member
            if !known.contains(member.key) {
                var message = "\(Self.join(path, member.key)) is not a known key"
                if let suggestion = Self.suggestion(for: member.key, among: known) { message += " (did you mean \"\(suggestion)\"?)" }
                log.error(file, member.keyLocation, message)
            }
        }
        self.members = members
    }

    static func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }
    func childPath(_ key: String) -> String { Self.join(path, key) }

    var location: JSONLocation { value.location }

    func has(_ key: String) -> Bool { members[key] != nil }

    /// Where a member's problems are reported (its key), or the object itself when it is absent.
    func location(of key: String) -> JSONLocation { members[key]?.keyLocation ?? value.location }

    /// Reports a problem of member `key`: `<path>.<key> <message>` at the key.
    func report(_ key: String, _ message: String) {
        log.error(file, location(of: key), "\(childPath(key)) \(message)")
    }

    func member(_ key: String, required: Bool) -> JSONValue? {
        if let m = members[key] { return m.value }
        if required { log.error(file, value.location, "\(childPath(key)) is required") }
        return nil
    }

    // MARK: Scalars

    /// A non-empty string without surrounding whitespace.
    func string(_ key: String, required: Bool = false) -> String? {
        guard let v = member(key, required: required) else { return nil }
        return Self.checkedString(v, path: childPath(key), at: location(of: key), file: file, log: log)
    }

    /// An absolute URI (`scheme:rest`).
    func uri(_ key: String, required: Bool = false) -> String? {
        guard let s = string(key, required: required) else { return nil }
        guard URISyntax.isAbsolute(s) else { report(key, "must be an absolute URI, not \"\(s)\""); return nil }
        return s
    }

    func bool(_ key: String) -> Bool? {
        guard let v = member(key, required: false) else { return nil }
        guard let b = v.bool else { report(key, "must be true or false, not \(v.typeDescription)"); return nil }
        return b
    }

    func integer(_ key: String, in range: ClosedRange<Int>) -> Int? {
        guard let v = member(key, required: false) else { return nil }
        guard let i = v.integer else {
            report(key, v.double != nil ? "must be a whole number" : "must be an integer, not \(v.typeDescription)")
            return nil
        }
        guard range.contains(i) else { report(key, "must be \(Self.describe(range))"); return nil }
        return i
    }

    func number(_ key: String, _ check: (Double) -> Bool, _ requirement: String) -> Double? {
        guard let v = member(key, required: false) else { return nil }
        guard let d = v.double, d.isFinite else { report(key, "must be a number, not \(v.typeDescription)"); return nil }
        guard check(d) else { report(key, "must be \(requirement)"); return nil }
        return d
    }

    func enumeration<E: RawRepresentable & CaseIterable>(_ key: String, required: Bool = false) -> E? where E.RawValue == String {
        guard let v = member(key, required: required) else { return nil }
        let allowed = E.allCases.map { "\"\($0.rawValue)\"" }
        let list = allowed.count == 2 ? allowed.joined(separator: " or ")
            : allowed.dropLast().joined(separator: ", ") + " or " + allowed.last!
        guard let s = v.string, let e = E(rawValue: s) else { report(key, "must be \(list)"); return nil }
        return e
    }

    // MARK: Containers

    func object(_ key: String, known: [String], required: Bool = false) -> ObjectReader? {
        guard let v = member(key, required: required) else { return nil }
        guard v.members != nil else { report(key, "must be an object, not \(v.typeDescription)"); return nil }
        return ObjectReader(v, path: childPath(key), file: file, log: log, known: known)
    }

    /// The elements of an array member with their paths (`legs[0]`...).
    func array(_ key: String, required: Bool = false, nonEmpty: Bool = false) -> [(value: JSONValue, path: String)]? {
        guard let v = member(key, required: required) else { return nil }
        guard let elements = v.elements else { report(key, "must be an array, not \(v.typeDescription)"); return nil }
        if nonEmpty && elements.isEmpty { report(key, "must not be empty"); return nil }
        return elements.enumerated().map { (value: $1, path: "\(childPath(key))[\($0)]") }
    }

    /// An array of checked strings with their positions; bad elements are reported and skipped.
    func strings(_ key: String, required: Bool = false, nonEmpty: Bool = false, uris: Bool = false)
        -> [(value: String, location: JSONLocation, path: String)]? {
        guard let elements = array(key, required: required, nonEmpty: nonEmpty) else { return nil }
        return elements.compactMap { element in
            guard let s = Self.checkedString(element.value, path: element.path, at: element.value.location, file: file, log: log) else { return nil }
            if uris && !URISyntax.isAbsolute(s) {
                log.error(file, element.value.location, "\(element.path) must be an absolute URI, not \"\(s)\"")
                return nil
            }
            return (s, element.value.location, element.path)
        }
    }

    // MARK: Helpers

    static func checkedString(_ v: JSONValue, path: String, at location: JSONLocation, file: String, log: DiagnosticLog) -> String? {
        guard let s = v.string else { log.error(file, location, "\(path) must be a string, not \(v.typeDescription)"); return nil }
        if s.isEmpty { log.error(file, location, "\(path) must not be empty"); return nil }
        if s.first!.isWhitespace || s.last!.isWhitespace {
            log.error(file, location, "\(path) must not start or end with whitespace")
            return nil
        }
        return s
    }

    private static func describe(_ range: ClosedRange<Int>) -> String {
        if range.upperBound == Int.max { return "at least \(range.lowerBound)" }
        return "between \(range.lowerBound) and \(range.upperBound)"
    }

    /// The known key closest to a misspelt one (edit distance ≤ 2, or differing only in case).
    static func suggestion(for key: String, among known: [String]) -> String? {
        let lowered = key.lowercased()
        if let same = known.first(where: { $0.lowercased() == lowered }) { return same }
        let scored = known.map { ($0, editDistance(Array(lowered), Array($0.lowercased()))) }
        guard let best = scored.min(by: { $0.1 < $1.1 }), best.1 <= 2, best.1 < key.count else { return nil }
        return best.0
    }

    private static func editDistance(_ a: [Character], _ b: [Character]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var row = [i] + Array(repeating: 0, count: b.count)
            for j in 1...b.count {
                row[j] = min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = row
        }
        return previous[b.count]
    }
}

/// Just enough URI syntax for configuration values (RFC 3986 §3.1 scheme, then something).
enum URISyntax {
    static func isAbsolute(_ s: String) -> Bool {
        guard let colon = s.firstIndex(of: ":"), colon != s.startIndex, s.index(after: colon) != s.endIndex else { return false }
        let scheme = s[..<colon]
        guard let first = scheme.unicodeScalars.first, first.isASCIILetter else { return false }
        guard scheme.unicodeScalars.allSatisfy({ $0.isASCIILetter || ("0"..."9").contains($0) || "+-.".unicodeScalars.contains($0) }) else {
            return false
        }
        return !s.contains(where: { $0.isWhitespace })
    }
}

extension Unicode.Scalar {
    var isASCIILetter: Bool { ("a"..."z").contains(self) || ("A"..."Z").contains(self) }
}

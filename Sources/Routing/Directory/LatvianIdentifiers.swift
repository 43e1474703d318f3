/// The two Latvian identifiers an e-address is built on, checked digit by digit. Only ASCII digits
/// count (a fullwidth or Arabic-Indic digit is refused, so no two spellings map to one number).
enum LatvianIdentifiers {
    /// Why a personal code or registration number is not one; the text reads after "the ...".
    struct Invalid: Error {
        var reason: String
    }

    /// Checks a personal code written as 11 digits or as 6 digits, `-`, 5 digits, and returns it
    /// as 11 digits.
    ///
    /// Codes issued since 1 July 2017 start with 32 and carry neither a date nor a check digit.
    /// Older codes start with the birth date DDMMYY; the 7th digit gives the century (0: 1800s,
    /// 1: 1900s, 2: 2000s) and the 11th is a check digit: (1101 − Σ wᵢ·dᵢ) mod 11 with weights
    /// 1 6 3 7 9 10 5 8 4 2 over the first ten digits; a remainder of 10 is never issued.
    static func personalCode(_ text: Substring) throws(Invalid) -> String {
        let digits: [UInt8]
        let bytes = Array(text.utf8)
        if bytes.count == 12 && bytes[6] == UInt8(ascii: "-") {
            digits = Array(bytes[0..<6] + bytes[7...])
        } else if bytes.count == 11 {
            digits = bytes
        } else {
            throw Invalid(reason: "personal code must be 11 digits, optionally with a hyphen after the sixth (DDMMYY-NNNNN)")
        }
        guard digits.allSatisfy(isDigit) else {
            throw Invalid(reason: "personal code must be 11 digits, optionally with a hyphen after the sixth (DDMMYY-NNNNN)")
        }
        let d = digits.map { Int($0 - UInt8(ascii: "0")) }
        let code = String(decoding: digits, as: UTF8.self)
        if d[0] == 3 && d[1] == 2 { return code }

        let day = d[0] * 10 + d[1], month = d[2] * 10 + d[3], yy = d[4] * 10 + d[5]
        guard d[6] <= 2 else {
            throw Invalid(reason: "personal code \(code) has century digit \(d[6]) (7th digit); it is 0, 1 or 2 (1800s, 1900s, 2000s)")
        }
        let year = 1800 + 100 * d[6] + yy
        guard CalendarDay(year: year, month: month, day: day) != nil else {
            throw Invalid(reason: "personal code \(code) does not start with a birth date DDMMYY (\(twoDigits(day)).\(twoDigits(month)).\(year) is no date) and is not a new-format code starting with 32")
        }
        let weights = [1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
        let sum = zip(weights, d).reduce(0) { $0 + $1.0 * $1.1 }
        let check = (1101 - sum) % 11
        guard check == d[10] else {
            if check == 10 { throw Invalid(reason: "personal code \(code) cannot exist: no check digit fits its first ten digits") }
            throw Invalid(reason: "personal code \(code) has check digit \(d[10]), expected \(check) (mistyped digit?)")
        }
        return code
    }

    /// Checks a registration number of a company, institution or other legal person: 11 ASCII
    /// digits. Numbers starting 0–3 are the personal-code range (DDMMYY dates and 32…), never
    /// issued to a legal person, so they are refused with a pointer to `_PRIVATE@`.
    ///
    /// The register's check digit is deliberately not verified: public descriptions of it
    /// disagree for some institution numbers, and refusing a real institution's address would be
    /// worse than accepting a mistyped one that then matches no directory entry.
    static func registrationNumber(_ text: Substring) throws(Invalid) -> String {
        let bytes = Array(text.utf8)
        guard bytes.count == 11, bytes.allSatisfy(isDigit) else {
            throw Invalid(reason: "registration number must be 11 digits, not \"\(text)\"")
        }
        guard bytes[0] >= UInt8(ascii: "4") else {
            throw Invalid(reason: "registration number \(text) starts like a personal code; a natural person's address is _PRIVATE@<personal code>")
        }
        return String(text)
    }

    private static func isDigit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }

    private static func twoDigits(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
}

/// A number the API reads from a query value or a path segment: plain ASCII digits only.
/// Swift's `Int("+5")` is 5, and a DMS that sends "+5" or "٣" has a bug it should hear about
/// (400 or 404 as the route answers any other bad value) rather than a guess at what it meant.
enum PlainNumber {
    /// `text` as a non-negative number of `T`, or nil when it is empty, has anything but the
    /// digits 0 to 9, or does not fit.
    static func parse<T: FixedWidthInteger>(_ text: String, as _: T.Type = Int.self) -> T? {
        guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else { return nil }
        return T(text)
    }
}

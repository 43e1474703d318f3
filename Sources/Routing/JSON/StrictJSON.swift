/// The strict reader's verdict on JSON that is otherwise read by Foundation, which keeps one of a
/// key given twice without a word: text that is kept and passed on as it came (a received
/// document's metadata) must not mean one thing here and another to the next reader.
public enum StrictJSON {
    /// What keeps `text` from being strict JSON (`JSONReader`: each key once, no lone surrogate,
    /// …), with where; nil when it is.
    public static func problem(_ text: String) -> String? {
        do {
            _ = try JSONReader.parse(text)
            return nil
        } catch {
            return "\(error.message) at \(error.location)"
        }
    }

    /// The JSON Pointer of the first member whose object already has its name (names compared
    /// decoded: `"a"` and `"\u0061"` are one), for text Foundation has read; nil when the strict
    /// reader finds none before its first other objection, which Foundation's verdict covers.
    public static func duplicateMember(in bytes: [UInt8]) -> String? {
        do {
            _ = try JSONReader.parse(bytes)
            return nil
        } catch {
            return error.duplicatePointer
        }
    }
}

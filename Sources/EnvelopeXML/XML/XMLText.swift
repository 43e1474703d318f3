/// Which text XML 1.0 can carry. The API refuses text that fails this and the evidence bundle
/// base64-encodes stored text that fails it; both ask here, so the API can never accept a
/// character the bundle would then be unable to write as it is.
public enum XMLText {
    /// Whether XML 1.0's `Char` production admits every scalar of `s`: C0 controls other than
    /// tab, LF and CR are outside it (not even a character reference may name them), and so are
    /// U+FFFE and U+FFFF. Surrogates need no check: a `String` holds only scalar values.
    public static func isCarriable(_ s: String) -> Bool {
        !s.unicodeScalars.contains { v in
            let c = v.value
            return (c < 0x20 && c != 0x09 && c != 0x0A && c != 0x0D) || c == 0xFFFE || c == 0xFFFF
        }
    }
}

import EnvelopeXML
import Foundation

/// How the evidence bundle carries a stored value that XML 1.0 cannot hold (docs/EVIDENCE.md,
/// "Values XML cannot carry"). The API refuses such text now, but documents stored before it
/// did may hold some, and their bundles must still be written, and exactly: an event's detail
/// is part of its chain hash, so dropping or replacing a character would make the event fail
/// verification. Such a value is written whole as base64 of its UTF-8 bytes instead: an
/// attribute `name` becomes `nameBase64`, an element's text gets `encoding="base64"`.
/// Values XML can carry are written as before, so existing bundles keep their shape.
enum EvidenceText {
    static let attributeSuffix = "Base64"

    static func base64(_ s: String) -> String { Data(s.utf8).base64EncodedString() }

    /// The attributes as written: those XML cannot carry renamed and base64-encoded.
    static func attributes(_ list: [(String, String?)]) -> [(String, String?)] {
        list.map { name, value in
            guard let value, !XMLText.isCarriable(value) else { return (name, value) }
            return (name + attributeSuffix, base64(value))
        }
    }

    /// An element's text and the attribute that says how it is encoded, if it had to be.
    static func text(_ s: String) -> (encoding: [(String, String?)], text: String) {
        XMLText.isCarriable(s) ? ([], s) : ([("encoding", "base64")], base64(s))
    }

    enum DecodingError: Error, CustomStringConvertible {
        case notBase64(attribute: String)
        case notUTF8(attribute: String)
        var description: String {
            switch self {
            case .notBase64(let a): "attribute \(a) is not base64"
            case .notUTF8(let a): "attribute \(a) is not base64 of UTF-8 text"
            }
        }
    }

    /// The value an attribute stands for: `name` as written, or `nameBase64` decoded.
    static func value(of name: String, in attribute: (String) -> String?) throws(DecodingError) -> String? {
        if let plain = attribute(name) { return plain }
        let encodedName = name + attributeSuffix
        guard let encoded = attribute(encodedName) else { return nil }
        guard let data = Data(base64Encoded: encoded) else { throw .notBase64(attribute: encodedName) }
        guard let text = String(data: data, encoding: .utf8) else { throw .notUTF8(attribute: encodedName) }
        return text
    }
}

/// `XMLWriter` for the bundle: every attribute and text goes through `EvidenceText`, so no
/// stored value can make the bundle unwritable.
struct EvidenceXMLWriter {
    private var w: XMLWriter
    var bytes: [UInt8] { w.bytes }

    init(capacity: Int) { w = XMLWriter(capacity: capacity) }

    mutating func open(_ name: String, _ attributes: [(String, String?)] = [], selfClosing: Bool = false) {
        w.open(name, EvidenceText.attributes(attributes), selfClosing: selfClosing)
    }

    mutating func close(_ name: String) { w.close(name) }

    mutating func element(_ name: String, _ attributes: [(String, String?)] = [], text: String) {
        let encoded = EvidenceText.text(text)
        w.element(name, EvidenceText.attributes(attributes) + encoded.encoding, text: encoded.text)
    }
}

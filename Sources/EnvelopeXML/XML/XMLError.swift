/// Why an XML document was refused or an XML operation failed.
public struct XMLError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        case notWellFormed
        case forbiddenConstruct   // DTD, entity declaration, processing instruction where not allowed
        case limitExceeded        // size, depth or node count
        case xpath
        case canonicalization
        case serialization
    }
    public var kind: Kind
    public var message: String
    public var line: Int?

    public init(_ kind: Kind, _ message: String, line: Int? = nil) {
        self.kind = kind
        self.message = message
        self.line = line
    }

    public var description: String {
        if let line { return "\(message) (line \(line))" }
        return message
    }

    /// The ebMS error a receiver reports when the envelope itself is refused (ebMS3 §6.7.1: a header
    /// that is not well formed is EBMS:0009 InvalidHeader).
    public var ebmsError: EbmsError { EbmsError(.invalidHeader, "XML: \(description)") }
}

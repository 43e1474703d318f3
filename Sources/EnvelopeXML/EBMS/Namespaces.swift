/// Namespace URIs used on the wire (AS4-WIRE §0). Prefixes here are only what we write; on input
/// every lookup goes by URI.
public enum NS {
    public static let soap12 = "http://www.w3.org/2003/05/soap-envelope"
    public static let soap11 = "http://schemas.xmlsoap.org/soap/envelope/"
    public static let eb = "http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/"
    public static let ebbp = "http://docs.oasis-open.org/ebxml-bp/ebbp-signals-2.0"
    public static let wsse = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
    public static let wsse11 = "http://docs.oasis-open.org/wss/oasis-wss-wssecurity-secext-1.1.xsd"
    public static let wsu = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
    public static let ds = "http://www.w3.org/2000/09/xmldsig#"
    public static let dsig11 = "http://www.w3.org/2009/xmldsig11#"
    public static let dsigMore2021 = "http://www.w3.org/2021/04/xmldsig-more#"
    public static let xenc = "http://www.w3.org/2001/04/xmlenc#"
    public static let xenc11 = "http://www.w3.org/2009/xmlenc11#"
    public static let excC14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
    public static let xml = "http://www.w3.org/XML/1998/namespace"
}

/// Fixed ebMS values (AS4-WIRE §0).
public enum EbmsConstants {
    public static let defaultMPC = "http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/defaultMPC"
    public static let defaultRole = "http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/defaultRole"
    public static let testService = "http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/service"
    public static let testAction = "http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/test"
    public static let originalSender = "originalSender"
    public static let finalRecipient = "finalRecipient"
    public static let compressionType = "CompressionType"
    public static let mimeType = "MimeType"
    public static let characterSet = "CharacterSet"
    public static let gzip = "application/gzip"
}

/// The SOAP version of an envelope. We always send 1.2; 1.1 is read because ebMS3 Core allows it.
public enum SOAPVersion: String, Sendable, Equatable {
    case soap12 = "1.2"
    case soap11 = "1.1"

    public var namespace: String { self == .soap12 ? NS.soap12 : NS.soap11 }
    public var contentType: String { self == .soap12 ? "application/soap+xml" : "text/xml" }

    public init?(namespace: String) {
        switch namespace {
        case NS.soap12: self = .soap12
        case NS.soap11: self = .soap11
        default: return nil
        }
    }
}

/// An ebMS3 error as defined by ebMS 3.0 Core §6.7 and AS4 §3.6: what a receiver reports back on the
/// wire. Every refusal anywhere in the stack (XML, MIME, header validation, security, compression)
/// ends up as one of these, so a bad message always maps to a precise error code, never a crash.
public struct EbmsError: Error, Equatable, Sendable, CustomStringConvertible {
    public var code: Code
    /// Human readable reason (safe to send to the peer: no payload bytes, keys or paths).
    public var reason: String
    /// Optional detail: e.g. the offending element or `cid:` reference.
    public var detail: String?
    public var refToMessageId: String?

    public init(_ code: Code, _ reason: String, detail: String? = nil, refToMessageId: String? = nil) {
        self.code = code
        self.reason = reason
        self.detail = detail
        self.refToMessageId = refToMessageId
    }

    public var description: String { "\(code.rawValue) \(code.shortDescription): \(reason)" }

    public enum Severity: String, Sendable { case warning, failure }

    public enum Code: String, Sendable, CaseIterable {
        case valueNotRecognized = "EBMS:0001"
        case featureNotSupported = "EBMS:0002"
        case valueInconsistent = "EBMS:0003"
        case other = "EBMS:0004"
        case connectionFailure = "EBMS:0005"
        case emptyMessagePartitionChannel = "EBMS:0006"
        case mimeInconsistency = "EBMS:0007"
        case featureNotSupportedUnpackaging = "EBMS:0008"
        case invalidHeader = "EBMS:0009"
        case processingModeMismatch = "EBMS:0010"
        case externalPayloadError = "EBMS:0011"
        case failedAuthentication = "EBMS:0101"
        case failedDecryption = "EBMS:0102"
        case policyNoncompliance = "EBMS:0103"
        case dysfunctionalReliability = "EBMS:0201"
        case deliveryFailure = "EBMS:0202"
        case missingReceipt = "EBMS:0301"
        case invalidReceipt = "EBMS:0302"
        case decompressionFailure = "EBMS:0303"

        public var shortDescription: String {
            switch self {
            case .valueNotRecognized: return "ValueNotRecognized"
            case .featureNotSupported, .featureNotSupportedUnpackaging: return "FeatureNotSupported"
            case .valueInconsistent: return "ValueInconsistent"
            case .other: return "Other"
            case .connectionFailure: return "ConnectionFailure"
            case .emptyMessagePartitionChannel: return "EmptyMessagePartitionChannel"
            case .mimeInconsistency: return "MimeInconsistency"
            case .invalidHeader: return "InvalidHeader"
            case .processingModeMismatch: return "ProcessingModeMismatch"
            case .externalPayloadError: return "ExternalPayloadError"
            case .failedAuthentication: return "FailedAuthentication"
            case .failedDecryption: return "FailedDecryption"
            case .policyNoncompliance: return "PolicyNoncompliance"
            case .dysfunctionalReliability: return "DysfunctionalReliability"
            case .deliveryFailure: return "DeliveryFailure"
            case .missingReceipt: return "MissingReceipt"
            case .invalidReceipt: return "InvalidReceipt"
            case .decompressionFailure: return "DecompressionFailure"
            }
        }

        public var severity: Severity {
            switch self {
            case .featureNotSupported, .emptyMessagePartitionChannel: return .warning
            default: return .failure
            }
        }

        public var category: String {
            switch self {
            case .valueNotRecognized, .featureNotSupported, .valueInconsistent, .other, .externalPayloadError:
                return "Content"
            case .connectionFailure, .emptyMessagePartitionChannel, .deliveryFailure, .missingReceipt,
                 .invalidReceipt, .decompressionFailure:
                return "Communication"
            case .mimeInconsistency, .featureNotSupportedUnpackaging, .invalidHeader:
                return "Unpackaging"
            case .processingModeMismatch, .failedAuthentication, .failedDecryption, .policyNoncompliance,
                 .dysfunctionalReliability:
                return "Processing"
            }
        }

        /// The `origin` attribute value (ebMS3 §6.2.4).
        public var origin: String {
            switch self {
            case .failedAuthentication, .failedDecryption, .policyNoncompliance: return "security"
            case .dysfunctionalReliability: return "reliability"
            default: return "ebMS"
            }
        }
    }
}

import Foundation

/// A SOAP Fault for the Body of an ebMS Error signal answered with HTTP 500 (ebMS3 §6.6: a
/// failure may go back as a SOAP Fault beside the eb:Error). SOAP stacks that read a 500 expect
/// one; the eb:Error in the header still carries the ebMS code.
public struct SOAPFault: Sendable, Equatable {
    public enum Code: Sendable, Equatable {
        /// The message was at fault (env:Sender; SOAP 1.1 Client).
        case sender
        /// The receiver could not process a message that may be fine (env:Receiver; SOAP 1.1 Server).
        case receiver
        /// A header block aimed at us with mustUnderstand that we do not process (SOAP 1.2 Part 1
        /// §5.4.8; SOAP 1.1 MustUnderstand).
        case mustUnderstand
        /// An envelope of a SOAP version we do not process (SOAP 1.2 Part 1 §5.4.7, Appendix A):
        /// answered in the sender's version, with an Upgrade header block naming SOAP 1.2.
        case versionMismatch
    }

    public var code: Code
    public var reason: String
    /// The header blocks a MustUnderstand fault is about: one env:NotUnderstood header block each
    /// in the fault's envelope (SOAP 1.2 Part 1 §5.4.8), so the sender learns which ones.
    public var notUnderstood: [HeaderBlockName]
    /// The `eb:Error`s a peer's Fault carries in its Detail (read, never written): some
    /// implementations answer a refusal with a bare Fault and put the ebMS error there, and its
    /// code and words are what the sender must record, not the Fault's generic reason.
    public var errors: [ErrorDetail]

    public init(code: Code, reason: String, notUnderstood: [HeaderBlockName] = [], errors: [ErrorDetail] = []) {
        self.code = code
        self.reason = reason
        self.notUnderstood = notUnderstood
        self.errors = errors
    }

    /// The fault's header blocks: for a VersionMismatch the Upgrade block naming the envelope we
    /// support (SOAP 1.2 Part 1 §5.4.7, in the SOAP 1.2 namespace whatever the envelope's), else
    /// the env:NotUnderstood blocks (SOAP 1.2 only: 1.1 has none). Each declares the prefix its
    /// qname attribute uses on itself, so the QName resolves whatever surrounds it.
    func writeHeaderBlocks(soapPrefix env: String, soapVersion: SOAPVersion, into w: inout XMLWriter) {
        if code == .versionMismatch {
            w.open("upg:Upgrade", [("xmlns:upg", NS.soap12)])
            w.open("upg:SupportedEnvelope", [("xmlns:ns1", NS.soap12), ("qname", "ns1:Envelope")])
            w.close("upg:SupportedEnvelope")
            w.close("upg:Upgrade")
            return
        }
        guard soapVersion == .soap12 else { return }
        for (n, block) in notUnderstood.enumerated() {
            let (qname, declaration) = block.qualifiedName(avoiding: env, fallback: "ns\(n + 1)")
            w.open("\(env):NotUnderstood", (declaration.map { [$0] } ?? []) + [("qname", qname)])
            w.close("\(env):NotUnderstood")
        }
    }

    /// Writes the Fault element; `env` is the envelope's SOAP prefix, declared on the Body.
    func write(soapPrefix env: String, soapVersion: SOAPVersion, into w: inout XMLWriter) {
        w.open("\(env):Fault")
        switch soapVersion {
        case .soap12:
            w.open("\(env):Code")
            w.element("\(env):Value", text: "\(env):" + name(soap11: false))
            w.close("\(env):Code")
            w.open("\(env):Reason")
            w.element("\(env):Text", [("xml:lang", "en")], text: reason)
            w.close("\(env):Reason")
        case .soap11:
            w.element("faultcode", text: "\(env):" + name(soap11: true))
            w.element("faultstring", text: reason)
        }
        w.close("\(env):Fault")
    }

    /// The fault code's local name in SOAP 1.2 or 1.1.
    private func name(soap11: Bool) -> String {
        switch code {
        case .sender: return soap11 ? "Client" : "Sender"
        case .receiver: return soap11 ? "Server" : "Receiver"
        case .mustUnderstand: return "MustUnderstand"
        case .versionMismatch: return "VersionMismatch"
        }
    }
}

extension SOAPFault {
    /// The Fault in the Body of a SOAP 1.2 or 1.1 envelope, if it holds one: for an answer that
    /// is a bare SOAP Fault (no eb:Messaging), so the sender can report what the peer said
    /// instead of its own parser's complaint. The reason is cut to 500 characters. An `eb:Error`
    /// in the Detail that cannot be read (no errorCode, an unknown severity) is left out.
    public static func read(envelope bytes: [UInt8]) -> SOAPFault? {
        guard let document = try? XMLDocument(parsing: bytes, limits: .envelope), let root = document.root else { return nil }
        for ns in [NS.soap12, NS.soap11] where root.isElement("Envelope", ns) {
            guard let fault = root.firstChild("Body", ns)?.firstChild("Fault", ns) else { return nil }
            let code: String?
            let reason: String?
            let detail: XMLElement?
            if ns == NS.soap12 {
                code = fault.firstChild("Code", ns)?.firstChild("Value", ns)?.text
                reason = fault.firstChild("Reason", ns)?.firstChild("Text", ns)?.text
                detail = fault.firstChild("Detail", ns)
            } else {
                code = fault.firstChild("faultcode", nil)?.text
                reason = fault.firstChild("faultstring", nil)?.text
                detail = fault.firstChild("detail", nil)
            }
            let errors = detail?.children("Error", NS.eb).compactMap { try? EnvelopeParser.readError($0) } ?? []
            let local = code.map { String($0.split(separator: ":").last ?? "") } ?? ""
            let text = [code, reason].compactMap { $0?.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty }.joined(separator: " ")
            let kinds: [String: Code] = ["MustUnderstand": .mustUnderstand, "VersionMismatch": .versionMismatch, "Sender": .sender, "Client": .sender]
            return SOAPFault(code: kinds[local] ?? .receiver,
                             reason: String((text.isEmpty ? "(no reason given)" : text).prefix(500)), errors: errors)
        }
        return nil
    }
}

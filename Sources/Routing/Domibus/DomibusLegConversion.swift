import EnvelopeXML
import Foundation

/// Converts one Domibus `legConfiguration` with what it refers to (service, action, MPC, security,
/// reception awareness, reliability, error handling, payload profile).
extension DomibusConversion {
    mutating func convert(leg d: DomibusConfiguration.Definition) -> (leg: Leg, notes: [String])? {
        var notes: [String] = []
        let serviceDef = configuration.resolve(\.services, d["service"], kind: "service", from: d, attribute: "service")
        let actionDef = configuration.resolve(\.actions, d["action"], kind: "action", from: d, attribute: "action")
        let mpcDef = configuration.resolve(\.mpcs, d["defaultMpc"], kind: "mpc", from: d, attribute: "defaultMpc")
        let securityDef = configuration.resolve(\.securities, d["security"], kind: "security", from: d, attribute: "security")
        let raDef = configuration.resolve(\.receptionAwareness, d["receptionAwareness"], kind: "receptionAwareness", from: d,
                                          attribute: "receptionAwareness")
        let ehDef = configuration.resolve(\.errorHandlings, d["errorHandling"], kind: "errorHandling", from: d, attribute: "errorHandling")
        if let reliabilityName = d.nonEmpty("reliability"),
           let r = configuration.resolve(\.reliability, reliabilityName, kind: "reliability", from: d, attribute: "reliability") {
            if r["nonRepudiation"] == "false" { notes.append("Domibus reliability \(reliabilityName) has nonRepudiation=false; as4gw always sends NRR receipts.") }
            if let pattern = r["replyPattern"], pattern.lowercased() != "response" {
                notes.append("Domibus replyPattern \(pattern) ignored: receipts always travel on the HTTP response.")
            }
        }
        var payload = PayloadSettings(compress: d["compressPayloads"] == "true")
        if let profileName = d.nonEmpty("payloadProfile"),
           let p = configuration.resolve(\.payloadProfiles, profileName, kind: "payloadProfile", from: d, attribute: "payloadProfile"),
           let size = p.nonEmpty("maxSize").flatMap(Int.init), size > 0 {
            payload.maxMessageBytes = size
        }
        if d.nonEmpty("splitting") != nil { notes.append("Domibus splitting (SplitAndJoin) is not supported and was left out.") }
        // Converted before the guard so every problem of the leg is reported in one run.
        let security = securityDef.flatMap { self.security($0, notes: &notes) }
        let reception = raDef.flatMap { receptionAwareness($0, notes: &notes) }

        guard let serviceDef, let actionDef, let mpcDef, let ehDef, let security, let reception else { return nil }
        guard let serviceValue = serviceDef.nonEmpty("value"), let action = actionDef.nonEmpty("value"),
              let mpc = mpcDef.nonEmpty("qualifiedName") else {
            configuration.problem(d.line, "legConfiguration \"\(d["name"] ?? "")\": its service, action or MPC has no value")
            return nil
        }
        let serviceType = serviceDef.nonEmpty("type")
        if serviceType == nil && !URISyntax.isAbsolute(serviceValue) {
            configuration.warning(d.line, "leg \(d["name"] ?? ""): service \"\(serviceValue)\" has no type and is not a URI (ebMS 3.0 §5.2.2.8)")
            return nil
        }
        guard URISyntax.isAbsolute(mpc) else {
            configuration.warning(d.line, "leg \(d["name"] ?? ""): MPC \"\(mpc)\" is not a URI")
            return nil
        }
        var errorHandling = ErrorHandling(
            notifyProducer: ehDef["businessErrorNotifyProducer"] == "true" || ehDef["deliveryFailureNotifyProducer"] == "true",
            notifyConsumer: ehDef["businessErrorNotifyConsumer"] == "true")
        if ehDef["errorAsResponse"] == "false" {
            notes.append("Domibus errorHandling \(ehDef["name"] ?? "") has errorAsResponse=false; as4gw always reports errors as responses.")
        }
        errorHandling.reportAsResponse = true
        let leg = Leg(service: Service(serviceValue, type: serviceType), action: action, mpc: mpc, security: security,
                      payload: payload, receptionAwareness: reception, errorHandling: errorHandling)
        return (leg, notes)
    }

    /// Sign/encrypt and key reference from the policy file name (the policy is a separate file),
    /// the profile from `signatureMethod` (RSA_* → 1.15) or the newer `profile` (RSA / ECC).
    private mutating func security(_ s: DomibusConfiguration.Definition, notes: inout [String]) -> LegSecurity? {
        var security = LegSecurity()
        let policy = (s["policy"] ?? "").lowercased()
        if policy.contains("donothing") {
            security.sign = false
            security.encrypt = false
        } else if policy.contains("signonly") {
            security.encrypt = false
        } else if policy.contains("encryptonly") || policy.contains("encryptiononly") {
            // Read as "sign and encrypt" it would refuse every message of a partner that does
            // not sign; read as it says, the loader refuses it (LegDecoder: encrypt needs sign).
            configuration.problem(s.line, "security \"\(s["name"] ?? "")\": policy \(s["policy"] ?? "") encrypts without signing, which as4gw "
                + "refuses: a receiver would decrypt messages nobody is authenticated for, and the eDelivery AS4 profiles always sign")
            return nil
        }
        // The _IS policies require issuer/serial references for both tokens. The plain
        // eDeliveryAS4Policy leaves both tokens out (IncludeToken/Never) and, declaring
        // MustSupportRefKeyIdentifier first, has WSS4J name both by Subject Key Identifier: Domibus
        // messages and receipts under it carry SKI references for the signature and the
        // EncryptedKey alike. The recipient's certificate is named so here too (`ski`, our
        // default): the peer finds its own decryption key by it. Our signature keeps `bst`, the
        // reference eDelivery AS4 says every implementation should resolve and that Domibus' own
        // test data receives (signed messages with a BST beside ones with an SKI), while `ski`
        // would fail outright for a signing certificate without the extension.
        if policy.contains("_is.") || policy.hasSuffix("_is") {
            security.keyReference = .issuerSerial
            security.encryptionKeyReference = .issuerSerial
        }
        notes.append("Security from the Domibus policy file name \(s["policy"] ?? "?"), which was not read.")
        let method = (s.nonEmpty("signatureMethod") ?? "").uppercased()
        let profile = (s.nonEmpty("profile") ?? "").uppercased()
        switch (method, profile) {
        case ("RSA_SHA256", _), ("", "RSA"), ("", ""):
            security.profile = .v1_15
        case ("RSA_SHA384", _):
            security.algorithms.signature = ["http://www.w3.org/2001/04/xmldsig-more#rsa-sha384"]
        case ("RSA_SHA512", _):
            security.algorithms.signature = ["http://www.w3.org/2001/04/xmldsig-more#rsa-sha512"]
        case (_, "ECC"), ("ECC_SHA256", _), ("ED25519", _):
            security.profile = .v2_0
        default:
            configuration.problem(s.line, "security \"\(s["name"] ?? "")\": signatureMethod \"\(method)\" / profile \"\(profile)\" is not supported")
            return nil
        }
        return security
    }

    /// `retry="T;N;STRATEGY"`: T = total retry window in minutes, N = attempts. CONSTANT spaces the
    /// N retries T/N apart; PROGRESSIVE doubles the interval, starting so the N retries fit in T;
    /// SEND_ONCE (or N = 0) never retries. Domibus has no duplicate-detection window: ours is kept.
    private mutating func receptionAwareness(_ r: DomibusConfiguration.Definition, notes: inout [String]) -> ReceptionAwareness? {
        var ra = ReceptionAwareness(jitterFraction: 0)
        if r["duplicateDetection"] == "false" {
            notes.append("Domibus duplicateDetection=false ignored: as4gw always eliminates duplicates.")
        }
        guard let retry = r.nonEmpty("retry") else {
            notes.append("Domibus receptionAwareness \(r["name"] ?? "") has no retry: as4gw defaults kept.")
            return ReceptionAwareness()
        }
        let parts = retry.split(separator: ";", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts.count == 3, let minutes = Int(parts[0]), let attempts = Int(parts[1]), minutes >= 0, attempts >= 0, attempts <= 100 else {
            configuration.problem(r.line, "receptionAwareness \"\(r["name"] ?? "")\": retry \"\(retry)\" is not T;N;STRATEGY")
            return nil
        }
        let window = Double(minutes * 60)
        switch parts[2].uppercased() {
        case "SEND_ONCE":
            ra.retries = 0
        case "CONSTANT":
            ra.retries = attempts
            if attempts > 0 {
                ra.initialInterval = max(1, (window / Double(attempts)).rounded(.down))
                ra.backoffFactor = 1
                ra.maxInterval = ra.initialInterval
            }
        case "PROGRESSIVE":
            ra.retries = attempts
            if attempts > 0 {
                ra.initialInterval = max(1, (window / (pow(2, Double(attempts)) - 1)).rounded(.down))
                ra.backoffFactor = 2
                ra.maxInterval = ra.initialInterval * pow(2, Double(attempts - 1))
            }
        default:
            configuration.problem(r.line, "receptionAwareness \"\(r["name"] ?? "")\": retry strategy \"\(parts[2])\" is not CONSTANT, PROGRESSIVE or SEND_ONCE")
            return nil
        }
        if ra.retries == 0 {
            ra.initialInterval = ReceptionAwareness().initialInterval
            ra.backoffFactor = 1
            ra.maxInterval = ra.initialInterval
        }
        return ra
    }
}

import EnvelopeXML

/// A leg as read, with the positions of what later checks refer to.
struct DecodedLeg {
    var leg: Leg
    var location: JSONLocation
    var path: String
    /// `pullAuthorization.parties` entries with their positions (names are checked against parties.json later).
    var pullParties: [(name: String, location: JSONLocation)]
    var pullAuthorizationLocation: JSONLocation?
    /// Where `security.keyReference` is written (nil: not written, the default applies).
    var keyReferenceLocation: JSONLocation?
}

/// Decodes one element of `legs` (format: docs/PMODES.md). Absent settings take the defaults of
/// the model types, which are the eDelivery common-profile values.
struct LegDecoder {
    let file: String
    let log: DiagnosticLog

    static let keys = ["service", "action", "mpc", "security", "payload", "receptionAwareness", "errorHandling", "pullAuthorization"]

    func decode(_ value: JSONValue, path: String) -> DecodedLeg? {
        guard let o = ObjectReader(value, path: path, file: file, log: log, known: Self.keys) else { return nil }
        let service = decodeService(o)
        let action = o.string("action", required: true)
        let mpc = o.uri("mpc")
        var keyReferenceLocation: JSONLocation?
        let security = decodeSecurity(o, keyReferenceLocation: &keyReferenceLocation)
        let payload = decodePayload(o)
        let reception = decodeReceptionAwareness(o)
        let errorHandling = decodeErrorHandling(o)
        var pullParties: [(name: String, location: JSONLocation)] = []
        var pullAuthorization: PullAuthorization?
        if let p = o.object("pullAuthorization", known: ["parties"]) {
            let names = p.strings("parties", required: true, nonEmpty: true) ?? []
            pullParties = names.map { ($0.value, $0.location) }
            pullAuthorization = PullAuthorization(parties: names.map(\.value))
        }
        guard let service, let action, let security, let payload, let reception, let errorHandling else { return nil }
        let leg = Leg(service: service, action: action, mpc: mpc ?? EbmsConstants.defaultMPC, security: security, payload: payload,
                      receptionAwareness: reception, errorHandling: errorHandling, pullAuthorization: pullAuthorization)
        return DecodedLeg(leg: leg, location: value.location, path: path, pullParties: pullParties,
                          pullAuthorizationLocation: o.has("pullAuthorization") ? o.location(of: "pullAuthorization") : nil,
                          keyReferenceLocation: keyReferenceLocation)
    }

    private func decodeService(_ o: ObjectReader) -> Service? {
        guard let s = o.object("service", known: ["value", "type"], required: true) else { return nil }
        guard let value = s.string("value", required: true) else { return nil }
        let type = s.string("type")
        if !s.has("type") && !URISyntax.isAbsolute(value) {
            s.report("value", "\"\(value)\" has no type, so it must be an absolute URI (ebMS 3.0 §5.2.2.8)")
            return nil
        }
        if s.has("type") && type == nil { return nil }
        return Service(value, type: type)
    }

    private func decodeSecurity(_ o: ObjectReader, keyReferenceLocation: inout JSONLocation?) -> LegSecurity? {
        var security = LegSecurity()
        guard o.has("security") else { return security }
        guard let s = o.object("security", known: ["profile", "sign", "encrypt", "keyReference", "encryptionKeyReference", "algorithms"]) else { return nil }
        var ok = true
        func take<T>(_ key: String, _ value: T?, _ apply: (T) -> Void) {
            if let value { apply(value) } else if s.has(key) { ok = false }
        }
        take("profile", s.enumeration("profile") as SecurityProfile?) { security.profile = $0 }
        take("sign", s.bool("sign")) { security.sign = $0 }
        take("encrypt", s.bool("encrypt")) { security.encrypt = $0 }
        take("keyReference", s.enumeration("keyReference") as KeyReference?) { security.keyReference = $0 }
        if s.has("keyReference") { keyReferenceLocation = s.location(of: "keyReference") }
        take("encryptionKeyReference", s.enumeration("encryptionKeyReference") as KeyReference?) { security.encryptionKeyReference = $0 }
        if let a = s.object("algorithms", known: AlgorithmCatalog.Category.allCases.map(\.rawValue)) {
            var overrides = AlgorithmOverrides()
            for category in AlgorithmCatalog.Category.allCases {
                guard a.has(category.rawValue) else { continue }
                guard let list = decodeAlgorithms(a, category) else { ok = false; continue }
                switch category {
                case .signature: overrides.signature = list
                case .digest: overrides.digest = list
                case .keyEncryption: overrides.keyEncryption = list
                case .dataEncryption: overrides.dataEncryption = list
                }
            }
            security.algorithms = overrides
        } else if s.has("algorithms") {
            ok = false
        }
        // The receiver judges the signer before it decrypts (SignatureVerifier's two phases); a
        // leg that encrypts unsigned would have it decrypt input nobody authenticated, key
        // transport and GCM included, for anyone who can reach the endpoint. eDelivery's AS4
        // profiles always sign; neither they nor any partner need encryption alone.
        if ok && security.encrypt && !security.sign {
            s.report("sign", "is false while encrypt is true, which as4gw refuses: a receiver would decrypt messages nobody is "
                + "authenticated for (the signer is judged before any decryption), and the eDelivery AS4 profiles always sign. "
                + "Sign as well, or turn encryption off too")
            ok = false
        }
        return ok ? security : nil
    }

    private func decodeAlgorithms(_ a: ObjectReader, _ category: AlgorithmCatalog.Category) -> [String]? {
        guard let list = a.strings(category.rawValue, nonEmpty: true) else { return nil }
        let supported = AlgorithmCatalog.supported(category)
        var ok = true
        for entry in list where !supported.contains(entry.value) {
            ok = false
            if AlgorithmCatalog.weak.contains(entry.value) {
                log.error(file, entry.location, "\(entry.path) \(entry.value) is a weak algorithm as4gw never accepts (SHA-1, RSA 1.5, CBC)")
            } else {
                log.error(file, entry.location, "\(entry.path) \(entry.value) is not a \(category.rawValue) algorithm as4gw supports")
            }
        }
        return ok ? list.map(\.value) : nil
    }

    private func decodePayload(_ o: ObjectReader) -> PayloadSettings? {
        var payload = PayloadSettings()
        guard o.has("payload") else { return payload }
        guard let p = o.object("payload", known: ["compress", "maxMessageBytes"]) else { return nil }
        var ok = true
        if let v = p.bool("compress") { payload.compress = v } else if p.has("compress") { ok = false }
        if let v = p.integer("maxMessageBytes", in: 1...Int.max) { payload.maxMessageBytes = v } else if p.has("maxMessageBytes") { ok = false }
        return ok ? payload : nil
    }

    private func decodeReceptionAwareness(_ o: ObjectReader) -> ReceptionAwareness? {
        var ra = ReceptionAwareness()
        guard o.has("receptionAwareness") else { return ra }
        guard let r = o.object("receptionAwareness", known: ["retries", "initialIntervalSeconds", "backoffFactor", "maxIntervalSeconds",
                                                              "jitterFraction", "duplicateDetectionWindowSeconds"]) else { return nil }
        var ok = true
        func take<T>(_ key: String, _ value: T?, _ apply: (T) -> Void) {
            if let value { apply(value) } else if r.has(key) { ok = false }
        }
        take("retries", r.integer("retries", in: 0...100)) { ra.retries = $0 }
        take("initialIntervalSeconds", r.number("initialIntervalSeconds", { $0 > 0 }, "greater than 0")) { ra.initialInterval = $0 }
        take("backoffFactor", r.number("backoffFactor", { $0 >= 1 && $0 <= 10 }, "between 1 and 10")) { ra.backoffFactor = $0 }
        take("maxIntervalSeconds", r.number("maxIntervalSeconds", { $0 > 0 }, "greater than 0")) { ra.maxInterval = $0 }
        take("jitterFraction", r.number("jitterFraction", { $0 >= 0 && $0 < 1 }, "at least 0 and less than 1")) { ra.jitterFraction = $0 }
        take("duplicateDetectionWindowSeconds", r.number("duplicateDetectionWindowSeconds", { $0 > 0 }, "greater than 0")) {
            ra.duplicateDetectionWindow = $0
        }
        if ok && ra.maxInterval < ra.initialInterval {
            if r.has("maxIntervalSeconds") {
                r.report("maxIntervalSeconds", "must be at least initialIntervalSeconds (\(secondsText(ra.initialInterval)))")
            } else {
                r.report("initialIntervalSeconds", "must not exceed maxIntervalSeconds (default \(secondsText(ra.maxInterval)))")
            }
            ok = false
        }
        return ok ? ra : nil
    }

    private func decodeErrorHandling(_ o: ObjectReader) -> ErrorHandling? {
        var eh = ErrorHandling()
        guard o.has("errorHandling") else { return eh }
        guard let e = o.object("errorHandling", known: ["reportAsResponse", "notifyProducer", "notifyConsumer"]) else { return nil }
        var ok = true
        if let v = e.bool("reportAsResponse") {
            if !v {
                e.report("reportAsResponse", "must be true: eDelivery forbids asynchronous error reporting")
                ok = false
            }
        } else if e.has("reportAsResponse") {
            ok = false
        }
        if let v = e.bool("notifyProducer") { eh.notifyProducer = v } else if e.has("notifyProducer") { ok = false }
        if let v = e.bool("notifyConsumer") { eh.notifyConsumer = v } else if e.has("notifyConsumer") { ok = false }
        return ok ? eh : nil
    }
}

/// `60` rather than `60.0` in messages.
func secondsText(_ value: Double) -> String {
    value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(value)
}

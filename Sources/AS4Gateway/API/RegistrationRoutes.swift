import AS4Crypto
import Foundation
import HTTPServer
import MessageStore
import Routing

/// `/api/v1/registrations…` (docs/SELF-SERVICE.md): a company registers its DMS or access point
/// with its own TLS client certificate, an operator approves or rejects, either side rolls over
/// or revokes certificates. These routes admit two kinds of caller: a backend connection (the
/// operator routes need its `operator` role) and a registrant, a client certificate that chains
/// to the listener's truststore and names a company but is no connection (yet).
struct RegistrationRoutes {
    let request: HTTPRequest
    let connection: BackendConnection?
    let context: GatewayContext
    let now = Date()

    static let limits = (addresses: 100, certificates: 10, text: 1000, pendingPerCompany: 10)

    static func handles(_ head: HTTPRequestHead) -> Bool {
        APIHandler.segments(head).first == "registrations"
    }

    /// The company behind the request's client certificate, when it names one.
    struct Registrant {
        var certificate: Certificate
        var sha256: String
        var registrationNumber: String
        var actor: String { "registrant:\(registrationNumber)/\(sha256.prefix(16))" }
    }

    var store: any RegistrationStore { context.registrations }

    var registrant: Registrant? {
        guard let c = request.head.clientCertificate, isFromARegistrationCA, let number = SelfService.registrationNumber(of: c),
              let sha = try? APICredentials.fingerprint(c) else { return nil }
        return Registrant(certificate: c, sha256: sha, registrationNumber: number)
    }

    /// The listener checked the chain to the truststore; `selfService.registrationTrust`, when
    /// configured, narrows which of those CAs may vouch for a company.
    private var isFromARegistrationCA: Bool {
        guard let trust = context.registrationTrust, let c = request.head.clientCertificate else { return true }
        return trust.validate(leaf: c, at: now, checkRevocation: !trust.trustStore.crls.isEmpty).isValid
    }

    var isOperator: Bool { connection?.roles.contains(.operatorRole) ?? false }

    // MARK: Routing

    func route() throws -> HTTPResponse {
        let path = request.head.path
        let segments = Array(APIHandler.segments(request.head).dropFirst())
        do {
            switch segments.count {
            case 0 where request.head.method == "GET": return try list()
            case 0: return try only("POST", register, allow: "GET, POST")
            case 1 where segments[0] == "expiring": return try only("GET", report)
            case 1 where !segments[0].isEmpty: return try only("GET") { try show(segments[0]) }
            case 2 where segments[1] == "approve": return try only("POST") { try approve(segments[0]) }
            case 2 where segments[1] == "reject": return try only("POST") { try reject(segments[0]) }
            case 2 where segments[1] == "certificates": return try only("POST") { try addCertificate(segments[0]) }
            case 4 where segments[1] == "certificates" && segments[3] == "revoke":
                return try only("POST") { try revoke(segments[0], sha256: segments[2].lowercased()) }
            default: throw Problem.notFound("no route at \(path)")
            }
        } catch let e as MailboxStoreError {
            switch e {
            case .notFound(let s): throw Problem.notFound(s)
            case .conflict(let s): throw Problem.conflict(s)
            }
        }
    }

    private func only(_ allowed: String, _ body: () throws -> HTTPResponse, allow: String? = nil) throws -> HTTPResponse {
        guard request.head.method == allowed else {
            let methods = allow ?? allowed
            var response = Problem(405, "method-not-allowed", "Method not allowed", "\(request.head.path) answers \(methods) only").response
            response.headers = ["Content-Type": "application/problem+json", "Allow": methods]
            return response
        }
        return try body()
    }

    // MARK: Who may

    /// Operators only: a registrant or a plain connection is known but not allowed (403); a
    /// request that is neither was not authenticated (401).
    private func requireOperator() throws -> String {
        if let connection, isOperator { return "operator:\(connection.name)" }
        if connection == nil && request.head.clientCertificate == nil { throw Problem.unauthenticated }
        throw Problem.forbidden("this route needs a connection with the operator role (as4gw connections add --role operator)")
    }

    /// The registration, if the caller may see it: an operator, or a certificate of the same
    /// company that this registration has not revoked.
    private func visible(_ id: String) throws -> (Registration, actor: String) {
        guard let r = try store.registration(id: id) else {
            if connection == nil && registrant == nil { throw unidentified }
            throw Problem.notFound("no registration \(id)")
        }
        if let connection, isOperator { return (r, "operator:\(connection.name)") }
        guard let registrant else { throw unidentified }
        guard registrant.registrationNumber == r.registrationNumber else {
            throw Problem.forbidden("registration \(id) belongs to another company than \(registrant.registrationNumber), the one your certificate names")
        }
        if try store.certificates(registrationId: id).contains(where: { $0.sha256 == registrant.sha256 && $0.revokedAt != nil }) {
            throw Problem.forbidden("the certificate you authenticated with was revoked for registration \(id)")
        }
        return (r, registrant.actor)
    }

    /// As `visible`, and a registrant must authenticate with a certificate of the registration
    /// that is usable now; the one it registered with counts only while the registration is
    /// pending (after a decision it would otherwise outlive roll-over and revocation).
    private func manageable(_ id: String) throws -> (Registration, actor: String) {
        let (r, actor) = try visible(id)
        guard !isOperator, let registrant else { return (r, actor) }
        let usable = try store.certificates(registrationId: id).contains { $0.sha256 == registrant.sha256 && $0.isUsable(at: now) }
        guard usable || (registrant.sha256 == r.registrantSHA256 && r.status == .pending) else {
            throw Problem.forbidden("changing registration \(id) needs one of its certificates that is usable now "
                + "(the certificate it was registered with counts only while it is pending)")
        }
        return (r, actor)
    }

    private var unidentified: Problem {
        if let c = request.head.clientCertificate, !isFromARegistrationCA {
            return Problem.forbidden("the TLS client certificate (\(c.subject)) is not issued by a CA this gateway accepts for "
                + "registrations (selfService.registrationTrust)")
        }
        if let c = request.head.clientCertificate, connection == nil {
            return Problem.forbidden("the TLS client certificate (\(c.subject)) names no company: its subject needs an organizationIdentifier "
                + "(e.g. NTRLV-40003032949) or serialNumber with the registration number")
        }
        if connection != nil {
            return Problem.forbidden("registrations are made with the company's TLS client certificate (its subject organizationIdentifier "
                + "or serialNumber names the company); a connection's token names no company")
        }
        return Problem.unauthenticated
    }

    // MARK: Registrant routes

    func register() throws -> HTTPResponse {
        guard let registrant else { throw unidentified }
        // A company waits for at most a few decisions at a time: registrations cost the
        // operators' attention and stay in the append-only history.
        let waiting = try store.registrations(status: .pending).filter { $0.registrationNumber == registrant.registrationNumber }.count
        guard waiting < Self.limits.pendingPerCompany else {
            throw Problem.conflict("company \(registrant.registrationNumber) has \(waiting) registrations waiting for a decision; "
                + "at most \(Self.limits.pendingPerCompany) at a time")
        }
        let body = try jsonBody(required: true)
        var errors: [(pointer: String, detail: String)] = []
        let kind = (body["kind"] as? String).flatMap(RegistrationKind.init(rawValue:))
        if kind == nil { errors.append(("/kind", "kind is \"dms\" or \"accessPoint\"")) }

        var addresses: [String] = []
        var foreign: [(pointer: String, detail: String)] = []
        if let list = body["addresses"] as? [Any], !list.isEmpty, list.count <= Self.limits.addresses {
            for (i, item) in list.enumerated() {
                guard let text = item as? String, let address = try? EAddress(text) else {
                    errors.append(("/addresses/\(i)", "not an e-address (e.g. _DEFAULT@\(registrant.registrationNumber))"))
                    continue
                }
                let isOwn: Bool
                switch address.form {
                case .defaultMailbox(let n), .alias(_, let n): isOwn = n == registrant.registrationNumber
                default: isOwn = false
                }
                if isOwn {
                    if addresses.contains(address.canonical) { errors.append(("/addresses/\(i)", "\(address.canonical) is given twice")) }
                    addresses.append(address.canonical)
                } else {
                    foreign.append(("/addresses/\(i)", "\(address.canonical) is not an address of company \(registrant.registrationNumber), "
                                    + "the one your certificate names (only _DEFAULT@\(registrant.registrationNumber) and NAME@\(registrant.registrationNumber))"))
                }
            }
        } else {
            errors.append(("/addresses", "addresses is a list of 1 to \(Self.limits.addresses) e-addresses"))
        }
        let endpoint = body["endpoint"] as? String
        let partyId = body["partyId"] as? String
        switch kind {
        case .accessPoint:
            if endpoint.flatMap(URL.init(string:))?.scheme != "https" || endpoint.flatMap(URL.init(string:))?.host?.isEmpty != false {
                errors.append(("/endpoint", "an access point's endpoint is its https:// AS4 URL"))
            }
            if partyId?.isEmpty != false || TextInput.length(partyId!) > 256 || !TextInput.isCarriable(partyId!) {
                errors.append(("/partyId", "an access point needs its AS4 party id (no control characters, at most 256)"))
            }
        case .dms:
            if body["endpoint"] != nil { errors.append(("/endpoint", "a DMS has no endpoint: it calls this API")) }
            if body["partyId"] != nil { errors.append(("/partyId", "a DMS has no party id")) }
        case nil: break
        }
        let contact = try contactText(body["contact"], errors: &errors)
        var certificates: [Certificate] = []
        if let given = body["certificates"] {
            let parsed = parseCertificates(given, pointer: "/certificates", errors: &errors)
            certificates = parsed.map(\.certificate)
            if kind == .dms {
                for (at, c) in parsed where SelfService.registrationNumber(of: c) != registrant.registrationNumber {
                    errors.append((at, "a DMS's client certificate must name company \(registrant.registrationNumber) (organizationIdentifier)"))
                }
            }
        } else if kind == .dms {
            certificates = [registrant.certificate]
        } else if kind == .accessPoint {
            errors.append(("/certificates", "an access point registers its AS4 signing and encryption certificates (PEM)"))
        }
        if !foreign.isEmpty && errors.isEmpty {
            var p = Problem.forbidden("a company may register only its own addresses")
            p.errors = foreign
            throw p
        }
        guard errors.isEmpty, let kind else { throw Problem.invalid("the registration is not acceptable", errors: errors + foreign) }

        // A party id names one partner: never a configured one. (An address or party id another
        // open registration holds is refused by the store, in the insert's transaction.)
        if let partyId, kind == .accessPoint,
           context.registry.current.parties.contains(where: { $0.partyIds.contains { $0.value == partyId } }) {
            throw Problem.conflict("party id \(partyId) belongs to a partner configured in this gateway's P-Modes")
        }
        // Nor one the directory already names for someone else's address: routing finds an
        // access point by its party id, so the registrant would receive that address's documents
        // (SelfServicePartyIds). Which address is not said: that is another company's business.
        if let partyId, kind == .accessPoint,
           try !SelfServicePartyIds.foreignAddresses(partyId: partyId, own: addresses, directory: context.addresses).isEmpty {
            throw Problem.conflict("party id \(partyId) is already the access point of addresses in this gateway's e-address directory "
                + "that are not in this registration; choose another party id (or ask the operator)")
        }
        let id = "reg-" + APICredentials.hex(try SecureRandom.bytes(12))
        let registration = Registration(id: id, kind: kind, registrationNumber: registrant.registrationNumber,
                                        registrantSubject: registrant.certificate.subject, registrantSHA256: registrant.sha256,
                                        addresses: addresses, endpoint: kind == .accessPoint ? endpoint : nil,
                                        partyId: kind == .accessPoint ? partyId : nil, contact: contact, createdAt: now)
        try store.addRegistration(registration, certificates: try certificates.map { try held($0, by: id) }, actor: registrant.actor, at: now)
        context.log.log(.info, "registration-received", ["registration": id, "kind": kind.rawValue, "company": registrant.registrationNumber])
        var response = try view(registration, history: false).response(202)
        response.headers["Location"] = APIHandler.prefix + "registrations/" + id
        return response
    }

    func show(_ id: String) throws -> HTTPResponse {
        let (r, _) = try visible(id)
        return try view(r, history: true).response(200)
    }

    func addCertificate(_ id: String) throws -> HTTPResponse {
        let (r, actor) = try manageable(id)
        guard r.status != .rejected else { throw Problem.conflict("registration \(id) was rejected; register again") }
        let body = try jsonBody(required: true)
        var errors: [(pointer: String, detail: String)] = []
        let certificate = parseCertificates([body["certificate"] as Any], pointer: "/certificate", errors: &errors).first?.certificate
        var overlapUntil: Date?
        if let text = body["overlapUntil"] {
            if let s = text as? String, let d = try? Date(s, strategy: .iso8601), d > now {
                overlapUntil = d
            } else {
                errors.append(("/overlapUntil", "overlapUntil is a future RFC 3339 time (e.g. 2026-12-31T00:00:00Z)"))
            }
        }
        if r.kind == .dms, let certificate, SelfService.registrationNumber(of: certificate) != r.registrationNumber {
            errors.append(("/certificate", "a DMS's client certificate must name company \(r.registrationNumber) (organizationIdentifier)"))
        }
        let current = try store.certificates(registrationId: id).filter { $0.revokedAt == nil && $0.notAfter > now }
        if current.count >= Self.limits.certificates {
            errors.append(("/certificate", "registration \(id) holds \(current.count) certificates that are not revoked or expired; "
                + "at most \(Self.limits.certificates): revoke one first"))
        }
        guard errors.isEmpty, let certificate else { throw Problem.invalid("the certificate is not acceptable", errors: errors) }
        // An access point's certificates have roles (signing, encryption; told apart by key
        // usage): a successor retires only those of its own role(s), or a signing roll-over
        // would end the encryption certificate too. A DMS's client certificates are all one role.
        let replacing = r.kind == .accessPoint ? try current.filter { held in
            let old = try Certificate(pemEncoded: held.pem)
            return (SelfServicePModes.signs(certificate) && SelfServicePModes.signs(old))
                || (SelfServicePModes.encrypts(certificate) && SelfServicePModes.encrypts(old))
        }.map(\.sha256) : nil
        try store.addCertificate(try held(certificate, by: id), overlapUntil: overlapUntil, replacing: replacing, actor: actor, at: now)
        try refreshDirectory(r, actor: actor)
        context.log.log(.info, "registration-certificate-added", ["registration": id, "by": actor])
        return try view(try store.registration(id: id) ?? r, history: false).response(201)
    }

    func revoke(_ id: String, sha256: String) throws -> HTTPResponse {
        let (r, actor) = try manageable(id)
        let body = try jsonBody(required: false)
        let reason = try TextInput.optional(body["reason"], pointer: "/reason", maxLength: Self.limits.text)
        guard try store.revokeCertificate(registrationId: id, sha256: sha256, actor: actor, reason: reason, at: now) else {
            throw Problem.conflict("certificate \(sha256) of registration \(id) was revoked already")
        }
        try refreshDirectory(r, actor: actor)
        context.log.log(.warning, "registration-certificate-revoked", ["registration": id, "sha256": sha256, "by": actor])
        return try view(r, history: false).response(200)
    }

    // MARK: Operator routes

    func list() throws -> HTTPResponse {
        _ = try requireOperator()
        var status: RegistrationStatus?
        if let text = request.head.query["status"] {
            guard let s = RegistrationStatus(rawValue: text) else {
                throw Problem.invalid("status is pending, approved or rejected", errors: [("status", "not pending, approved or rejected: \(text)")])
            }
            status = s
        }
        let items = try store.registrations(status: status).map { try view($0, history: false) }
        return JSON.object([("items", .array(items))]).response(200)
    }

    func approve(_ id: String) throws -> HTTPResponse {
        let actor = try requireOperator()
        let body = try jsonBody(required: false)
        let shared = try Self.flag(body, "shared"), move = try Self.flag(body, "move")
        // Approving an approved registration again re-runs its (idempotent) effects: the way to
        // finish an approval whose effects failed half-way.
        let decided: Registration
        let existing = try store.registration(id: id)
        var conflicts = ApprovalConflicts()
        // The directory may have changed since the submission: a party id it now names for
        // another address is not approved (nor re-applied); the registration stays as it was.
        if let existing, existing.status != .rejected {
            do {
                try SelfServicePartyIds.check(existing, directory: context.addresses)
            } catch let conflict as SelfServicePartyIds.Conflict {
                context.log.log(.error, "registration-party-conflict", ["registration": id, "reason": conflict.description])
                throw Problem.conflict("\(conflict); routing finds an access point by its party id, so approving it would send those "
                    + "addresses' documents to this registration's access point: reject it, or correct the directory")
            }
            conflicts = try ApprovalConflicts.of(existing, connectionName: SelfService.connectionName(id), mailbox: context.mailbox,
                                                 directory: context.addresses)
            if let refusal = conflicts.refusal(of: existing, shared: shared, move: move) {
                let event = conflicts.holders.isEmpty || shared ? "registration-address-move-refused" : "registration-address-held"
                context.log.log(.warning, event, ["registration": id, "reason": refusal])
                throw Problem.conflict(refusal)
            }
        }
        if let r = existing, r.status == .approved {
            decided = r
        } else {
            let comment = try TextInput.optional(body["comment"], pointer: "/comment", maxLength: Self.limits.text)
            decided = try store.decide(id: id, status: .approved, actor: actor, reason: comment, at: now)
        }
        try recordOnPurpose(conflicts, of: decided, actor: actor)
        do {
            try SelfService.applyApproval(decided, actor: actor, context: context, now: now)
        } catch {
            // Approved but not yet in effect: the log says why; approving again re-runs the effects.
            context.log.log(.error, "registration-approval-incomplete", ["registration": id, "reason": "\(error)"])
            throw error
        }
        context.log.log(.info, "registration-approved", ["registration": id, "by": actor])
        if decided.kind == .accessPoint && context.config.selfService?.template == nil {
            context.log.log(.warning, "registration-not-routable",
                            ["registration": id, "reason": "no selfService.template is configured: the access point gets no P-Modes"])
        }
        return try view(decided, history: true).response(200)
    }

    /// An approval's optional true/false field.
    private static func flag(_ body: [String: Any], _ name: String) throws -> Bool {
        switch body[name] {
        case nil: return false
        case let b as NSNumber where SubmitRoute.isJSONBoolean(b): return b.boolValue
        default: throw Problem.invalid("\(name) is true or false", errors: [("/\(name)", "true or false")])
        }
    }

    /// What the operator's `shared` or `move` let through, in the log and in the registration's
    /// history: the company and a later operator see that an address was shared or moved, and by whom.
    private func recordOnPurpose(_ conflicts: ApprovalConflicts, of r: Registration, actor: String) throws {
        if !conflicts.holders.isEmpty {
            let detail = conflicts.holders.map(\.description).joined(separator: "; ")
            context.log.log(.warning, "registration-address-shared", ["registration": r.id, "reason": "shared on purpose: " + detail])
            try store.appendHistory(RegistrationEvent(registrationId: r.id, at: now, actor: actor, action: "addresses-shared", detail: detail))
        }
        if !conflicts.moves.isEmpty {
            let detail = conflicts.moves.map(\.description).joined(separator: "; ")
            context.log.log(.warning, "registration-address-moved", ["registration": r.id, "reason": "moved on purpose: " + detail])
            try store.appendHistory(RegistrationEvent(registrationId: r.id, at: now, actor: actor, action: "addresses-moved", detail: detail))
        }
    }

    func reject(_ id: String) throws -> HTTPResponse {
        let actor = try requireOperator()
        let body = try jsonBody(required: true)
        guard let reason = body["reason"] as? String, !reason.trimmingCharacters(in: .whitespaces).isEmpty, TextInput.length(reason) <= Self.limits.text,
              TextInput.isCarriable(reason) else {
            throw Problem.invalid("a rejection needs a reason the company can read", errors: [("/reason", "a text of 1 to \(Self.limits.text) characters")])
        }
        let decided = try store.decide(id: id, status: .rejected, actor: actor, reason: reason, at: now)
        context.log.log(.info, "registration-rejected", ["registration": id, "by": actor])
        return try view(decided, history: true).response(200)
    }

    func report() throws -> HTTPResponse {
        _ = try requireOperator()
        var days = 30
        if let text = request.head.query["days"] {
            guard let n = PlainNumber.parse(text), (0...3650).contains(n) else {
                throw Problem.invalid("days is a whole number from 0 to 3650", errors: [("days", "not a number of days: \(text)")])
            }
            days = n
        }
        let items = try SelfService.expiring(within: days, store: store, now: now).map(SelfService.json)
        return JSON.object([("days", .int(days)), ("certificates", .array(items))]).response(200)
    }

    // MARK: Helpers

    /// After a certificate change of an approved access point: its directory rows carry the
    /// certificates usable now.
    private func refreshDirectory(_ r: Registration, actor: String) throws {
        guard r.kind == .accessPoint, let current = try store.registration(id: r.id), current.status == .approved else { return }
        try SelfService.applyApproval(current, actor: actor, context: context, now: now, ownRowsOnly: true)
    }

    private func held(_ c: Certificate, by id: String) throws -> RegisteredCertificate {
        RegisteredCertificate(registrationId: id, sha256: try APICredentials.fingerprint(c), pem: try c.pemEncoded(), subject: c.subject,
                              notBefore: c.notBefore, notAfter: c.notAfter, addedAt: now)
    }

    /// PEM texts, one certificate each, valid now or later, none twice; each with its pointer.
    private func parseCertificates(_ value: Any, pointer: String,
                                   errors: inout [(pointer: String, detail: String)]) -> [(pointer: String, certificate: Certificate)] {
        guard let list = value as? [Any], !list.isEmpty, list.count <= Self.limits.certificates else {
            errors.append((pointer, "a list of 1 to \(Self.limits.certificates) PEM certificates"))
            return []
        }
        var out: [(pointer: String, certificate: Certificate)] = []
        for (i, item) in list.enumerated() {
            let at = pointer == "/certificate" ? pointer : "\(pointer)/\(i)"
            guard let pem = item as? String, let parsed = try? Certificate.certificates(fromPEM: pem), parsed.count == 1, let c = parsed.first else {
                errors.append((at, "one PEM certificate (-----BEGIN CERTIFICATE-----)"))
                continue
            }
            if c.notAfter <= now {
                errors.append((at, "the certificate expired at \(SelfService.timestamp(c.notAfter))"))
            } else if out.contains(where: { $0.certificate == c }) {
                errors.append((at, "the certificate is given twice"))
            } else {
                out.append((at, c))
            }
        }
        return out
    }

    private func contactText(_ value: Any?, errors: inout [(pointer: String, detail: String)]) throws -> String? {
        guard let value, !(value is NSNull) else { return nil }
        let text: String
        if let s = value as? String {
            text = s
        } else if JSONSerialization.isValidJSONObject(value) {
            text = String(decoding: try JSONSerialization.data(withJSONObject: value, options: [.sortedKeys]), as: UTF8.self)
        } else {
            text = ""
        }
        guard !text.isEmpty, TextInput.length(text) <= Self.limits.text, TextInput.isCarriable(text) else {
            errors.append(("/contact", "contact is a text or object of at most \(Self.limits.text) characters, without control characters"))
            return nil
        }
        return text
    }

    private func jsonBody(required: Bool) throws -> [String: Any] {
        switch request.body {
        case .empty:
            if required { throw Problem.badRequest("the request body is empty; send a JSON object") }
            return [:]
        case .bytes(let b):
            guard b.count <= 256 << 10 else { throw Problem(413, "too-large", "Request body too large", "this route takes a JSON object of at most 256 KiB") }
            return try APIRequest.object(Data(b), what: "the request body")
        case .file: throw Problem(413, "too-large", "Request body too large", "this route takes a JSON object of at most 256 KiB")
        }
    }

    private func view(_ r: Registration, history: Bool) throws -> JSON {
        let certificates = try store.certificates(registrationId: r.id).map { c -> JSON in
            .object([("sha256", .string(c.sha256)), ("subject", .string(c.subject)), ("notBefore", .string(SelfService.timestamp(c.notBefore))),
                     ("notAfter", .string(SelfService.timestamp(c.notAfter))), ("usableUntil", .string(SelfService.timestamp(c.usableUntil))),
                     ("revokedAt", .string(c.revokedAt.map(SelfService.timestamp))), ("usable", .bool(c.isUsable(at: now)))])
        }
        var fields: [(String, JSON)] = [
            ("id", .string(r.id)), ("kind", .string(r.kind.rawValue)), ("status", .string(r.status.rawValue)),
            ("registrationNumber", .string(r.registrationNumber)), ("registrant", .string(r.registrantSubject)),
            ("addresses", .array(r.addresses.map { .string($0) })), ("endpoint", .string(r.endpoint)), ("partyId", .string(r.partyId)),
            ("contact", .string(r.contact)), ("createdAt", .string(SelfService.timestamp(r.createdAt))),
            ("decidedAt", .string(r.decidedAt.map(SelfService.timestamp))), ("decidedBy", .string(r.decidedBy)), ("reason", .string(r.reason)),
            ("connection", .string(r.kind == .dms && r.status == .approved ? SelfService.connectionName(r.id) : nil)),
            ("certificates", .array(certificates)),
        ]
        if history {
            fields.append(("history", .array(try store.history(registrationId: r.id).map { e in
                .object([("at", .string(SelfService.timestamp(e.at))), ("actor", .string(e.actor)), ("action", .string(e.action)),
                         ("detail", .string(e.detail))])
            })))
        }
        return .object(fields)
    }
}
